package stepspec

import "time"

// Generic actions.
const (
	NoopName    = "generic.noop"
	WaitName    = "generic.wait"
	ApproveName = "generic.approve"
	HTTPName    = "generic.http"
	ExecName    = "generic.exec"
)

var _ = declare(Noop{}, Wait{}, Approve{}, HTTP{}, Exec{})

// Noop does nothing: a step to sequence others, or to hang a guard or an
// approval on.
type Noop struct{}

// Wait holds the run until Until (an expression over live, params, steps
// and run) holds, polling every Interval for at most Timeout. The planner
// turns it into the step's guard.
type Wait struct {
	Until    string        `json:"until" yaml:"until" input:"required"`
	Timeout  time.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty" input:"default=10m"`
	Interval time.Duration `json:"interval,omitempty" yaml:"interval,omitempty" input:"default=1s"`
}

// Approve makes a person approve before the run goes on (unless Required
// is false).
type Approve struct {
	Required bool   `json:"required" yaml:"required" input:"default=true"`
	Message  string `json:"message,omitempty" yaml:"message,omitempty"`
}

// HTTP sends one request and checks the status.
type HTTP struct {
	URL     string            `json:"url" yaml:"url" input:"required"`
	Method  string            `json:"method,omitempty" yaml:"method,omitempty" input:"default=GET"`
	Body    string            `json:"body,omitempty" yaml:"body,omitempty"`
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"` // a value env:VAR or file:PATH is a secret reference
	Timeout time.Duration     `json:"timeout,omitempty" yaml:"timeout,omitempty" input:"default=30s"`
	// ExpectStatus is a status code or a list of them; none means any 2xx.
	ExpectStatus any `json:"expectStatus,omitempty" yaml:"expectStatus,omitempty"`
}

// Exec runs a command.
type Exec struct {
	// Command is a string (run by /bin/sh -c) or a list (the program and
	// its arguments).
	Command any               `json:"command" yaml:"command"`
	Env     map[string]string `json:"env,omitempty" yaml:"env,omitempty"` // a value env:VAR or file:PATH is a secret reference
	Dir     string            `json:"dir,omitempty" yaml:"dir,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty" yaml:"timeout,omitempty" input:"default=10m"`
	// Creates is a path: when it exists the step's effect is live.
	Creates string `json:"creates,omitempty" yaml:"creates,omitempty"`
}

// Action implements Spec.
func (Noop) Action() string { return NoopName }

// Action implements Spec.
func (Wait) Action() string { return WaitName }

// Action implements Spec.
func (Approve) Action() string { return ApproveName }

// Action implements Spec.
func (HTTP) Action() string { return HTTPName }

// Action implements Spec.
func (Exec) Action() string { return ExecName }
