package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRootHelpVersionCompletion(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"version":    {[]string{"--version"}, "fleetplan version"},
		"help":       {[]string{"--help"}, "Examples:"},
		"completion": {[]string{"completion", "bash"}, "bash completion"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &out, &errb)
			if code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}

// Every command must document itself with an example.
func TestEveryCommandHasExample(t *testing.T) {
	var out, errb bytes.Buffer
	root := newRootCmd(strings.NewReader(""), &out, &errb)
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("command %q has no example", c.Name())
		}
		for _, sub := range c.Commands() {
			if sub.Example == "" {
				t.Errorf("command %q has no example", c.Name()+" "+sub.Name())
			}
		}
	}
}
