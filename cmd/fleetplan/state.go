package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/fleet/sqlserver"
)

func init() { commands = append(commands, newStateCmd) }

// stateTarget opens the sqlserver target whose database keeps the state.
func (a *app) stateTarget(ctx context.Context, target string) (*sqlserver.State, func(), error) {
	cfg, err := engine.LoadConfig(a.configPath)
	if err != nil {
		return nil, nil, err
	}
	if target == "" {
		if len(cfg.Targets) != 1 {
			return nil, nil, usageErr("--target is required: "+cfg.Path+" names "+views.Plural(len(cfg.Targets), "target"),
				"name the driver: sqlserver target whose shard map manager database keeps the runs")
		}
		for n := range cfg.Targets {
			target = n
		}
	}
	t, err := a.openTarget(ctx, cfg, target)
	if err != nil {
		return nil, nil, err
	}
	sq, ok := t.(*sqlserver.Target)
	if !ok {
		t.Close()
		return nil, nil, usageErr(fmt.Sprintf("target %q is driver %s; the state backend is a sqlserver target's", target, t.Driver()),
			"name a driver: sqlserver target")
	}
	st, err := sq.State(ctx)
	if err != nil {
		t.Close()
		return nil, nil, err
	}
	return st, func() { t.Close() }, nil
}

func newStateCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "state",
		Short: "Keep runs, and the lease of replicas, in a sqlserver target's database",
		Long: `state keeps runs beyond one machine, in fleetplan's own schema (fleetplan.*) of a
sqlserver target's shard map manager database, never in the library's tables:
push copies a run of this state folder there, pull copies it into this
machine's state folder (then fleetplan resume continues it here), and lease
runs a command only while this replica holds the target's lease, so several
replicas can stand by and one takes over when the holder dies.`,
		Example: `  fleetplan state push 20261203T091500-1a2b --target prod
  fleetplan state pull 20261203T091500-1a2b --target prod && fleetplan resume 20261203T091500-1a2b
  fleetplan state lease --target prod --status-dir /run/fleetplan -- fleetplan apply plans/ --auto-approve`,
	}
	var target, dir string
	pushPull := func(use, short string, do func(*sqlserver.State, context.Context, string, string) (int, error), verb string) *cobra.Command {
		cmd := &cobra.Command{
			Use:     use + " RUN",
			Short:   short,
			Example: "  fleetplan state " + use + " 20261203T091500-1a2b --target prod",
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				st, closeFn, err := a.stateTarget(cmd.Context(), target)
				if err != nil {
					return err
				}
				defer closeFn()
				d, err := a.stateDir(dir)
				if err != nil {
					return err
				}
				n, err := do(st, cmd.Context(), filepath.Join(d, "runs"), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "run %s: %s %s\n", args[0], views.Plural(n, "journal record"), verb)
				return nil
			},
		}
		cmd.Flags().StringVar(&target, flagTarget, "", helpTarget)
		addStateDirFlag(cmd, &dir)
		return cmd
	}
	root.AddCommand(
		pushPull("push", "Copy a run (plan and journal) of this state folder to the target's database", (*sqlserver.State).Push, "pushed"),
		pushPull("pull", "Copy a run from the target's database into this state folder", (*sqlserver.State).Pull, "pulled"),
		newLeaseCmd(a),
	)
	return root
}

func newLeaseCmd(a *app) *cobra.Command {
	var target, name, statusDir, dir string
	var poll time.Duration
	var sync bool
	cmd := &cobra.Command{
		Use:   "lease -- COMMAND [ARG...]",
		Short: "Run a command only while this replica holds the lease",
		Long: `lease waits until this process holds the lease NAME of the target (sp_getapplock on
a pinned session of its shard map manager database), runs COMMAND, and gives
the lease back when it exits. When the lease is lost (the session was cut),
COMMAND gets SIGTERM at once, since another replica may take over. Holding
the lease, it first pulls the runs the target keeps into the state folder
(so fleetplan resume continues a run a dead replica left), then pushes the
folder's runs every poll and when COMMAND ends. With --status-dir, the file heartbeat is touched every poll and the file leader
exists while the lease is held: liveness and readiness probes read them.`,
		Example: `  fleetplan state lease --target prod -- fleetplan apply plans/customers.yaml --auto-approve`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, closeFn, err := a.stateTarget(ctx, target)
			if err != nil {
				return err
			}
			defer closeFn()
			status := statusFiles{dir: statusDir}
			if err := status.init(); err != nil {
				return err
			}
			beat, stopBeat := context.WithCancel(ctx)
			defer stopBeat()
			go status.heartbeat(beat, poll)
			fmt.Fprintf(cmd.ErrOrStderr(), "waiting for lease %s of %s\n", name, target)
			lease, err := st.Lease(ctx, name, poll)
			if err != nil {
				return err
			}
			defer lease.Release()
			status.leader(true)
			defer status.leader(false)
			runsDir := ""
			if sync {
				d, err := a.stateDir(dir)
				if err != nil {
					return err
				}
				runsDir = filepath.Join(d, "runs")
				n, err := st.PullAll(ctx, runsDir)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "pulled %s from %s\n", views.Plural(n, "run"), target)
				syncCtx, stopSync := context.WithCancel(ctx)
				defer stopSync()
				go func() {
					for {
						select {
						case <-syncCtx.Done():
							return
						case <-time.After(poll):
						}
						if _, err := st.PushAll(syncCtx, runsDir); err != nil && syncCtx.Err() == nil {
							fmt.Fprintf(cmd.ErrOrStderr(), "push runs: %v\n", err)
						}
					}
				}()
				defer func() {
					pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
					defer cancel()
					if _, err := st.PushAll(pctx, runsDir); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "push runs: %v\n", err)
					}
				}()
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "holding lease %s; running %s\n", name, args[0])
			run, stop := context.WithCancel(context.WithoutCancel(ctx))
			defer stop()
			c := exec.CommandContext(run, args[0], args[1:]...)
			c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
			c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
			c.WaitDelay = 2 * time.Minute
			if err := c.Start(); err != nil {
				return err
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			var lost bool
			select {
			case err = <-done:
			case <-lease.Lost():
				lost = true
				stop()
				err = <-done
			case <-ctx.Done():
				stop()
				err = <-done
			}
			if lost {
				return &views.ExitError{Code: 1, Err: errors.New("lease " + name + " lost: the command was stopped, another replica may take over")}
			}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &views.ExitError{Code: ee.ExitCode()}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&target, flagTarget, "", helpTarget)
	cmd.Flags().StringVar(&name, "name", "watch", "the lease's name: replicas of one deployment share it")
	cmd.Flags().DurationVar(&poll, "poll", 5*time.Second, "how often a standby tries the lease, and the holder checks it still has it")
	cmd.Flags().StringVar(&statusDir, "status-dir", "", "folder for the heartbeat and leader files that probes read")
	cmd.Flags().BoolVar(&sync, "sync", true, "pull the stored runs into the state folder once the lease is held, and push the folder's runs every poll and at the end")
	addStateDirFlag(cmd, &dir)
	return cmd
}

// statusFiles are what Kubernetes probes read: heartbeat (liveness, touched
// every poll) and leader (readiness, present while the lease is held).
type statusFiles struct{ dir string }

func (s statusFiles) init() error {
	if s.dir == "" {
		return nil
	}
	_ = os.Remove(filepath.Join(s.dir, "leader"))
	return os.MkdirAll(s.dir, 0o755)
}

func (s statusFiles) heartbeat(ctx context.Context, every time.Duration) {
	if s.dir == "" {
		return
	}
	p := filepath.Join(s.dir, "heartbeat")
	for {
		_ = os.WriteFile(p, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (s statusFiles) leader(held bool) {
	if s.dir == "" {
		return
	}
	p := filepath.Join(s.dir, "leader")
	if held {
		_ = os.WriteFile(p, []byte("1\n"), 0o644)
		return
	}
	_ = os.Remove(p)
}
