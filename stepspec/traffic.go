package stepspec

// Traffic-manager actions.
const (
	AddEndpointName    = "traffic.add-endpoint"
	RemoveEndpointName = "traffic.remove-endpoint"
	SetStatusName      = "traffic.set-endpoint-status"
	SwitchName         = "traffic.switch-traffic"
)

var _ = declare(AddEndpoint{}, RemoveEndpoint{}, SetStatus{}, Switch{})

// Endpoint names an endpoint of a traffic-manager profile.
type Endpoint struct {
	Profile  string `json:"profile" yaml:"profile" input:"required"`
	Endpoint string `json:"endpoint" yaml:"endpoint" input:"required"`
}

// AddEndpoint adds an endpoint pointing at an app slot.
type AddEndpoint struct {
	Endpoint
	Target   string `json:"target" yaml:"target" input:"required"` // the app slot
	Online   bool   `json:"online,omitempty" yaml:"online,omitempty"`
	Priority int    `json:"priority,omitempty" yaml:"priority,omitempty"`
}

// RemoveEndpoint removes an endpoint that serves no traffic.
type RemoveEndpoint struct{ Endpoint }

// SetStatus sets an endpoint "online" or "offline".
type SetStatus struct {
	Endpoint
	Status string `json:"status" yaml:"status" input:"required"`
}

// Switch moves a profile's traffic from one endpoint to another.
type Switch struct {
	Profile string `json:"profile" yaml:"profile" input:"required"`
	From    string `json:"from" yaml:"from" input:"required"`
	To      string `json:"to" yaml:"to" input:"required"`
}

// Action implements Spec.
func (AddEndpoint) Action() string { return AddEndpointName }

// Action implements Spec.
func (RemoveEndpoint) Action() string { return RemoveEndpointName }

// Action implements Spec.
func (SetStatus) Action() string { return SetStatusName }

// Action implements Spec.
func (Switch) Action() string { return SwitchName }
