package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetplan/fleetplan/fleet"
)

// Flag names, spelled once for every command that has the flag. The rule:
// --format picks how a command prints what it shows (a table, a document, a
// plan); --output picks how apply, resume and rollback stream run events.
// runs and status took --output before: it stays there as a hidden alias of
// --format, so scripts that use it keep working.
const (
	flagConfig      = "config"
	flagTimeScale   = "time-scale"
	flagFormat      = "format"
	flagOutput      = "output"
	flagTarget      = "target"
	flagFleet       = "fleet"
	flagStateDir    = "state-dir"
	flagShardMap    = "shard-map"
	flagAs          = "as"
	flagAutoApprove = "auto-approve"

	// Flags of one command each, spelled here too so the list is complete.
	flagOut              = "out"
	flagDetailedExitcode = "detailed-exitcode"
	flagDemo             = "demo"
	flagCustomers        = "customers"
	flagSeed             = "seed"
	flagForce            = "force"
	flagShardMapManager  = "shard-map-manager"
	flagReason           = "reason"
	flagDiscardWrites    = "discard-writes-since-switch"
	flagIgnoreWindow     = "ignore-window"
	flagProfile          = "profile"
	flagSource           = "source"
	flagChangedSince     = "changed-since"
	flagCommentDir       = "comment-dir"
	flagRequireClean     = "require-clean"
	flagApply            = "apply"
	flagOnce             = "once"
	flagSelfHeal         = "self-heal"
	flagDebounce         = "debounce"
	flagMaxWait          = "max-wait"
	flagDriftInterval    = "drift-interval"
	flagRecheck          = "recheck"
)

// Help texts of the shared flags: one text per flag, whichever command has it.
const (
	helpFormat   = "output format"
	helpOutput   = "event output: text (progress bars on a terminal) or json (one event per line)"
	helpTarget   = "target name in fleetplan.yaml (default: the only target)"
	helpFleet    = "open a local fleet directory directly instead of a target"
	helpStateDir = "the .fleetplan folder holding runs (default: beside fleetplan.yaml, else ./.fleetplan)"
	helpShardMap = "only this shard map (layout: default every map; route: default the only map)"
	helpAs       = "who approves or rejects (default: the current user)"
)

// Values of --format and --output.
const (
	formatText     = "text"
	formatJSON     = "json"
	formatMarkdown = "markdown"
)

// choice is a string flag that takes one of a fixed set of values; any other
// value is a usage error when the flags are parsed, before the command runs.
type choice struct {
	name    string   // the flag, for messages
	value   *string  // where the value goes
	allowed []string // the values listed in help and errors
	also    []string // accepted spellings that are not listed
}

func (c *choice) String() string { return *c.value }
func (c *choice) Type() string   { return "string" }

func (c *choice) Set(v string) error {
	if !slices.Contains(c.allowed, v) && !slices.Contains(c.also, v) {
		return usageErr(fmt.Sprintf("unknown --%s %q: use %s", c.name, v, orList(c.allowed)), "")
	}
	*c.value = v
	return nil
}

// usage is the help text of a choice flag: the shared text and its values.
func (c *choice) usage(help string) string { return help + ": " + orList(c.allowed) }

func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// addFormatFlag adds --format with the values a command prints in; the
// first is the default.
func addFormatFlag(cmd *cobra.Command, format *string, allowed ...string) *choice {
	*format = allowed[0]
	c := &choice{name: flagFormat, value: format, allowed: allowed}
	cmd.Flags().Var(c, flagFormat, c.usage(helpFormat))
	return c
}

// addFormatFlagWithOutputAlias adds --format and, hidden, the --output it
// replaces on runs and status.
func addFormatFlagWithOutputAlias(cmd *cobra.Command, format *string, allowed ...string) {
	c := addFormatFlag(cmd, format, allowed...)
	alias := &choice{name: flagOutput, value: format, allowed: c.allowed}
	cmd.Flags().Var(alias, flagOutput, c.usage(helpFormat))
	_ = cmd.Flags().MarkHidden(flagOutput)
}

// addOutputFlag adds --output, the format of a run's event stream.
func addOutputFlag(cmd *cobra.Command, output *string) {
	*output = formatText
	c := &choice{name: flagOutput, value: output, allowed: []string{formatText, formatJSON}}
	cmd.Flags().Var(c, flagOutput, helpOutput)
}

// addStateDirFlag adds --state-dir to a command that reads or marks runs.
func addStateDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, flagStateDir, "", helpStateDir)
}

// addAsFlag adds --as to the commands that answer an approval gate.
func addAsFlag(cmd *cobra.Command, who *string) {
	cmd.Flags().StringVar(who, flagAs, "", helpAs)
}

// addShardMapFlag adds --shard-map to the commands that read shard maps.
func addShardMapFlag(cmd *cobra.Command, name *string) {
	cmd.Flags().StringVar(name, flagShardMap, "", helpShardMap)
}

// usageErr is a command-line mistake with a hint.
func usageErr(msg, hint string) error {
	return &fleet.Error{Op: "usage", Err: errors.New(msg), Hint: hint}
}

// helpHint points at the help of the command a usage error came from.
func helpHint(cmd *cobra.Command) string {
	return fmt.Sprintf("`%s --help` lists its arguments and flags", cmd.CommandPath())
}

// flagError turns a flag the command cannot parse (unknown, missing its
// value, a bad value) into a usage error with a hint, as for every other
// mistake on the command line.
func flagError(cmd *cobra.Command, err error) error {
	var fe *fleet.Error
	if errors.As(err, &fe) && fe.Op == "usage" {
		if fe.Hint == "" {
			return &fleet.Error{Op: fe.Op, Err: fe.Err, Hint: helpHint(cmd)}
		}
		return fe
	}
	return usageErr(err.Error(), helpHint(cmd))
}

// groupArgs makes a command that only groups subcommands (fleetplan,
// fleetplan fleet) refuse an unknown subcommand as a usage error, naming the
// nearest ones, instead of printing its help; with no argument it prints
// its help as before.
func groupArgs(cmd *cobra.Command) {
	cmd.Args = cobra.ArbitraryArgs
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // as cobra's own suggestions
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		hint := helpHint(c)
		if sug := c.SuggestionsFor(args[0]); len(sug) > 0 {
			hint = fmt.Sprintf("did you mean %s? %s", orList(sug), hint)
		}
		return usageErr(fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath()), hint)
	}
}

// usageArgs makes every command's argument check a usage error with a hint.
func usageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return usageErr(err.Error(), helpHint(c))
			}
			return nil
		}
	}
	cmd.SetFlagErrorFunc(flagError)
	for _, sub := range cmd.Commands() {
		usageArgs(sub)
	}
}
