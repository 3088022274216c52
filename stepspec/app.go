package stepspec

// App-slot actions.
const (
	DeployName = "app.deploy-app"
	RemoveName = "app.remove-app"
)

var _ = declare(Deploy{}, Remove{})

// Deploy points an app slot at a database (and records the version).
type Deploy struct {
	Slot string `json:"slot" yaml:"slot" input:"required"`
	Location
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
}

// Remove removes an app slot that serves no traffic.
type Remove struct {
	Slot string `json:"slot" yaml:"slot" input:"required"`
}

// Action implements Spec.
func (Deploy) Action() string { return DeployName }

// Action implements Spec.
func (Remove) Action() string { return RemoveName }
