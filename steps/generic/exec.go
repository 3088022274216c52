package generic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/secret"
	"github.com/fleetplan/fleetplan/steps"
	"github.com/fleetplan/fleetplan/stepspec"
)

// maxOutput bounds how much of a command's output becomes step outputs.
const maxOutput = 64 << 10

func init() { steps.Register(stepspec.ExecName, Exec{}) }

var (
	_ steps.Action   = Exec{}
	_ steps.FileUser = Exec{}
)

// Exec runs a command.
//
// Inputs: command (a string run by /bin/sh -c, or a list: the program and
// its arguments), env (extra environment variables; a value env:VAR or
// file:PATH is a secret reference, resolved when the command starts and
// redacted from outputs and messages), dir (working folder, relative to the
// plan's folder; default the plan's folder), timeout (default 10m), creates
// (a path: when it exists the step's effect is live). dir and creates must
// lie inside the plan repository.
// Observe: creates exists. Apply: runs the command; outputs stdout, stderr
// (trimmed, at most 64 KiB each) and exitCode; a non-zero exit or a timeout
// fails the step with the end of stderr. Rollback: none (give the step a
// rollback branch running the compensating command). Estimate: the timeout
// is an upper bound, a nominal 10s otherwise.
type Exec struct{}

type execArgs struct {
	argv    []string
	env     map[string]string
	dir     string
	timeout time.Duration
	creates string
}

func parseExec(env *steps.Env, in steps.Inputs) (execArgs, error) {
	spec, ar := steps.Parse[stepspec.Exec](in)
	x := execArgs{env: spec.Env, dir: spec.Dir, timeout: spec.Timeout, creates: spec.Creates}
	// The command is read first: its problem is the one reported.
	cmd := steps.ArgsOf(stepspec.ExecName, in)
	switch c := spec.Command.(type) {
	case string:
		if strings.TrimSpace(c) != "" {
			x.argv = []string{"/bin/sh", "-c", c}
		}
	default:
		x.argv = cmd.Strings("command")
	}
	if err := cmd.Err(); err != nil {
		return x, err
	}
	if len(x.argv) == 0 {
		return x, &fleet.Error{Op: stepspec.ExecName, Err: fmt.Errorf("%w: input \"command\" is missing or empty", fleet.ErrInvalidArgument),
			Hint: `command: "make migrate" runs through /bin/sh; command: [prog, arg] runs prog directly`}
	}
	if err := ar.Err(); err != nil {
		return x, err
	}
	var err error
	switch {
	case x.dir != "":
		if x.dir, err = env.Path("dir", x.dir); err != nil {
			return x, err
		}
	case env != nil:
		x.dir = env.BaseDir // the plan's own folder
	}
	if x.creates != "" {
		name := x.creates
		if !filepath.IsAbs(name) {
			name = filepath.Join(x.dir, name)
		}
		if x.creates, err = env.Path("creates", name); err != nil {
			return x, err
		}
	}
	return x, nil
}

// FileInputs implements steps.FileUser.
func (Exec) FileInputs() []string {
	var in stepspec.Exec
	return []string{stepspec.KeyOf(&in, &in.Dir), stepspec.KeyOf(&in, &in.Creates)}
}

// environ builds the command's environment: fleetplan's own plus the env
// input, where a value written env:VAR or file:PATH is a secret reference
// resolved now (a file inside the plan repository). The values resolved are
// added to red, so they never reach outputs, the journal or messages.
func (x execArgs) environ(env *steps.Env, red *secret.Redactor) ([]string, error) {
	out := os.Environ()
	for _, k := range steps.SortedKeys(x.env) {
		v := x.env[k]
		if ref, ok := secret.Parse(v); ok {
			resolved, err := env.Secret(ref)
			if err != nil {
				return nil, &fleet.Error{Op: stepspec.ExecName, Target: "env " + k, Err: fmt.Errorf("%w: %v", fleet.ErrInvalidArgument, err),
					Hint: "set the variable, or create the file (relative to the plan's folder, inside the plan repository)"}
			}
			red.Add(resolved)
			v = resolved
		}
		out = append(out, k+"="+v)
	}
	return out, nil
}

// Observe implements steps.Action.
func (Exec) Observe(_ context.Context, env *steps.Env, in steps.Inputs) (bool, error) {
	x, err := parseExec(env, in)
	if err != nil || x.creates == "" {
		return false, err
	}
	_, err = os.Stat(x.creates)
	return err == nil, nil
}

// capped keeps the first maxOutput bytes written to it.
type capped struct {
	bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	room := maxOutput - c.Len()
	if room < len(p) {
		c.dropped += len(p) - max(room, 0)
		if room > 0 {
			c.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

func (c *capped) text() string {
	s := strings.TrimSpace(c.String())
	if c.dropped > 0 {
		s += fmt.Sprintf("\n[%d more bytes not kept]", c.dropped)
	}
	return s
}

// lastLine is the end of a command's error output, for messages.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// Apply implements steps.Action.
func (Exec) Apply(ctx context.Context, env *steps.Env, in steps.Inputs) (steps.Outputs, error) {
	x, err := parseExec(env, in)
	if err != nil {
		return nil, err
	}
	if err := steps.HitFault(stepspec.ExecName); err != nil {
		return nil, err
	}
	var red secret.Redactor
	environ, err := x.environ(env, &red)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, x.argv[0], x.argv[1:]...)
	cmd.Dir = x.dir
	cmd.Env = environ
	cmd.WaitDelay = time.Second
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	out := steps.Outputs{"stdout": red.String(stdout.text()), "stderr": red.String(stderr.text()), "exitCode": cmd.ProcessState.ExitCode()}
	what := strings.Join(x.argv, " ")
	if len(x.argv) == 3 && x.argv[0] == "/bin/sh" {
		what = x.argv[2]
	}
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, &fleet.Error{Op: stepspec.ExecName, Target: what, Err: fmt.Errorf("timed out after %s", x.timeout),
			Hint: "raise the step's timeout input, or make the command faster"}
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := fmt.Sprintf("exit status %d", ee.ExitCode())
			if l := lastLine(red.String(stderr.String())); l != "" {
				msg += ": " + l
			}
			return nil, &fleet.Error{Op: stepspec.ExecName, Target: what, Err: errors.New(msg)}
		}
		return nil, &fleet.Error{Op: stepspec.ExecName, Target: what, Err: err}
	}
	env.Logf("%s: exit 0", what)
	return out, nil
}

// Rollback implements steps.Action.
func (Exec) Rollback(context.Context, *steps.Env, steps.Inputs) error { return steps.ErrNoRollback }

// Estimate implements steps.Action.
func (Exec) Estimate(steps.Inputs) steps.Estimate {
	return steps.Estimate{Duration: 10 * time.Second, Basis: "nominal for a command"}
}
