package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// walk calls fn for every command under root, root included.
func walk(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, sub := range cmd.Commands() {
		walk(sub, fn)
	}
}

// TestSharedFlagsAgree walks every command and checks that a flag name used
// by several commands has one type and one help text everywhere (a choice
// flag: one shared text, then its values), and that a hidden alias writes
// into the value of a visible flag of the same command.
func TestSharedFlagsAgree(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	type seen struct {
		cmd, typ, usage string
	}
	first := map[string]seen{}
	uses := map[string]int{}
	walk(root, func(c *cobra.Command) {
		visible := map[any]bool{}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				visible[target(f)] = true
			}
		})
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				if !visible[target(f)] {
					t.Errorf("%s: hidden --%s is no alias of a visible flag", c.CommandPath(), f.Name)
				}
				return
			}
			uses[f.Name]++
			usage := f.Usage
			if ch, ok := f.Value.(*choice); ok {
				usage = strings.TrimSuffix(usage, ": "+orList(ch.allowed))
				if ch.name != f.Name {
					t.Errorf("%s: --%s reports its errors as --%s", c.CommandPath(), f.Name, ch.name)
				}
			}
			s := seen{cmd: c.CommandPath(), typ: f.Value.Type(), usage: usage}
			prev, ok := first[f.Name]
			if !ok {
				first[f.Name] = s
				return
			}
			if prev.typ != s.typ || prev.usage != s.usage {
				t.Errorf("--%s differs:\n  %s: %s %q\n  %s: %s %q", f.Name, prev.cmd, prev.typ, prev.usage, s.cmd, s.typ, s.usage)
			}
		})
	})
	// The flags this test is about must be there, so it cannot pass empty.
	for _, name := range []string{flagFormat, flagOutput, flagTarget, flagFleet, flagStateDir, flagShardMap, flagAs} {
		if uses[name] < 2 {
			t.Errorf("--%s is on %d commands, want it shared", name, uses[name])
		}
	}
}

// target is where a flag stores its value.
func target(f *pflag.Flag) any {
	if ch, ok := f.Value.(*choice); ok {
		return ch.value
	}
	return f.Value
}

// TestUsageErrorsExitOne checks that every kind of command-line mistake
// exits 1 (never 2, which plan --detailed-exitcode means "changes") with a
// hint that names the command's help.
func TestUsageErrorsExitOne(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown flag":            {[]string{"validate", "--nope", "x.yaml"}, "error: usage: unknown flag: --nope\n"},
		"bad format":              {[]string{"validate", "--format", "xml", "x.yaml"}, "error: usage: unknown --format \"xml\": use text or json\n"},
		"bad plan format":         {[]string{"plan", "--format=html", "x.yaml"}, "error: usage: unknown --format \"html\": use text, markdown or json\n"},
		"bad output":              {[]string{"apply", "--output", "yaml", "x.yaml"}, "error: usage: unknown --output \"yaml\": use text or json\n"},
		"bad output alias":        {[]string{"runs", "--output", "yaml"}, "error: usage: unknown --output \"yaml\": use text or json\n"},
		"bad int":                 {[]string{"fleet", "init", "--customers", "many", "d"}, "error: usage: invalid argument \"many\" for \"--customers\" flag: "},
		"missing flag value":      {[]string{"status", "--format"}, "error: usage: flag needs an argument: --format\n"},
		"too many args":           {[]string{"apply", "a.yaml", "b.yaml"}, "error: usage: accepts 1 arg(s), received 2\n"},
		"unknown command":         {[]string{"plna", "x.yaml"}, "error: usage: unknown command \"plna\" for \"fleetplan\"\n"},
		"unknown subcommand":      {[]string{"fleet", "ini", "d"}, "error: usage: unknown command \"ini\" for \"fleetplan fleet\"\n"},
		"unknown subcommand flag": {[]string{"fleet", "init", "--demo", "--bogus", "d"}, "error: usage: unknown flag: --bogus\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &out, &errb)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
			}
			if !strings.HasPrefix(errb.String(), tc.want) {
				t.Fatalf("stderr:\n%s\nwant it to start with %q", errb.String(), tc.want)
			}
			if !strings.Contains(errb.String(), "\nhint: ") || !strings.HasSuffix(errb.String(), " --help` lists its arguments and flags\n") {
				t.Fatalf("no hint naming the command's help:\n%s", errb.String())
			}
			if out.Len() != 0 {
				t.Fatalf("stdout: %s", out.String())
			}
		})
	}
}
