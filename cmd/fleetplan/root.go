package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Flag names shared by several commands, spelled once.
const (
	flagConfig = "config"
	flagFormat = "format"
	flagTarget = "target"
)

// app holds what every command needs: the streams and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
}

// commands registered by the files of this package (one file per command).
var commands []func(*app) *cobra.Command

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "fleetplan",
		Short: "Plan and apply declarative YAML plans against SQL Server / Azure SQL fleets",
		Long: `fleetplan reads YAML plans (shard layouts, rolling upgrades, instance changes),
diffs them against the live fleet, shows the step graph it would run, and applies
it with a checkpoint after every step.`,
		Example: `  fleetplan validate examples/
  fleetplan fleet init --demo /tmp/fleet
  fleetplan plan examples/shards/split.yaml`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configPath, flagConfig, "", "path to fleetplan.yaml (default: found in the plan's folder or the nearest parent)")
	for _, c := range commands {
		root.AddCommand(c(a))
	}
	return root
}

func (a *app) printf(format string, args ...any) { fmt.Fprintf(a.stdout, format, args...) }
