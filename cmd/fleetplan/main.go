package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/diag"
	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"

	// The drivers and actions fleetplan is built with register themselves
	// (fleet.Register, steps.Register); the plan kinds register with the
	// live-state adapters, which the engine links.
	_ "github.com/fleetplan/fleetplan/fleet/azure"
	_ "github.com/fleetplan/fleetplan/fleet/local"
	_ "github.com/fleetplan/fleetplan/fleet/sqlserver"
	_ "github.com/fleetplan/fleetplan/steps/app"
	_ "github.com/fleetplan/fleetplan/steps/database"
	_ "github.com/fleetplan/fleetplan/steps/generic"
	_ "github.com/fleetplan/fleetplan/steps/instance"
	_ "github.com/fleetplan/fleetplan/steps/recovery"
	_ "github.com/fleetplan/fleetplan/steps/shardmap"
	_ "github.com/fleetplan/fleetplan/steps/traffic"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the CLI and returns the process exit code. Only this function
// turns errors into exit codes and hints.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// The first Ctrl-C (or SIGTERM) stops gracefully: running steps finish
	// what they are doing (a move, its current batch) and the run can be
	// resumed. A second one force-stops, as the default handler does.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer close(done)
	defer signal.Stop(sigs)
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		signal.Stop(sigs)
		fmt.Fprintln(stderr, "stopping: running steps finish their current work and production is made read-write if the run froze it; `fleetplan status` says what comes next. Press Ctrl-C again to force-stop.")
		cancel(fmt.Errorf("interrupted by %v", sig))
	}()
	// Fault injection must be asked for twice; a half-set environment stops here.
	if err := faults.Check(); err != nil {
		return exitCode(err, stderr)
	}
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var printed *views.DiagsShown
	if errors.As(err, &printed) {
		return 1
	}
	var ee *views.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			printError(stderr, ee.Err)
		}
		return ee.Code
	}
	printError(stderr, err)
	return 1
}

func printError(w io.Writer, err error) {
	var le *diag.ListError
	if errors.As(err, &le) {
		_ = diag.Write(w, le.List, "text")
		return
	}
	fmt.Fprintf(w, "error: %v\n", err)
	if hint := fleet.HintOf(err); hint != "" {
		fmt.Fprintf(w, "hint: %s\n", hint)
	}
}
