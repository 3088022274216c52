package azure

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	tm "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager"

	"github.com/fleetplan/fleetplan/fleet"
)

// Traffic Manager: a fleet profile is a Traffic Manager profile with
// priority routing; an endpoint's Target is its targetResourceId (an Azure
// endpoint, an App Service slot for example) or its target host name (an
// external endpoint).

func (t *Target) profileCall(op, profile string) call {
	return call{op: op, target: "traffic-manager profile " + profile, role: roleTrafficManager}
}

// endpointType is the path segment of an endpoint's type
// ("Microsoft.Network/trafficManagerProfiles/azureEndpoints" -> AzureEndpoints).
func endpointType(e *tm.Endpoint) tm.EndpointType {
	switch strings.ToLower(lastSegment(str(e.Type))) {
	case "azureendpoints":
		return tm.EndpointTypeAzureEndpoints
	case "nestedendpoints":
		return tm.EndpointTypeNestedEndpoints
	}
	return tm.EndpointTypeExternalEndpoints
}

func endpointTarget(e *tm.Endpoint) string {
	if e.Properties == nil {
		return ""
	}
	if id := str(e.Properties.TargetResourceID); id != "" {
		return id
	}
	return str(e.Properties.Target)
}

func online(e *tm.Endpoint) bool {
	return e.Properties != nil && e.Properties.EndpointStatus != nil && *e.Properties.EndpointStatus == tm.EndpointStatusEnabled
}

// healthy: Traffic Manager's probe does not rule the endpoint out.
func healthy(e *tm.Endpoint) bool {
	if e.Properties == nil || e.Properties.EndpointMonitorStatus == nil {
		return true
	}
	switch *e.Properties.EndpointMonitorStatus {
	case tm.EndpointMonitorStatusDegraded, tm.EndpointMonitorStatusStopped, tm.EndpointMonitorStatusDisabled, tm.EndpointMonitorStatusInactive:
		return false
	}
	return true
}

func priority(e *tm.Endpoint) int {
	if e.Properties == nil || e.Properties.Priority == nil {
		return 0
	}
	return int(*e.Properties.Priority)
}

// profileOf converts a profile; Serving is the online, healthy endpoint
// with the lowest priority, as priority routing picks it.
func profileOf(p *tm.Profile) fleet.Profile {
	out := fleet.Profile{Name: str(p.Name)}
	if p.Properties == nil {
		return out
	}
	eps := append([]*tm.Endpoint(nil), p.Properties.Endpoints...)
	sort.SliceStable(eps, func(i, j int) bool {
		if priority(eps[i]) != priority(eps[j]) {
			return priority(eps[i]) < priority(eps[j])
		}
		return str(eps[i].Name) < str(eps[j].Name)
	})
	for _, e := range eps {
		out.Endpoints = append(out.Endpoints, fleet.Endpoint{Profile: out.Name, Name: str(e.Name), Target: endpointTarget(e), Online: online(e), Priority: priority(e)})
		if out.Serving == "" && online(e) && healthy(e) {
			out.Serving = str(e.Name)
		}
	}
	return out
}

// Profiles implements fleet.ControlPlane.
func (t *Target) Profiles(ctx context.Context) ([]fleet.Profile, error) {
	list, err := all(ctx, call{op: "list traffic-manager profiles", target: t.rg(), role: roleReader},
		t.tm.NewProfilesClient().NewListByResourceGroupPager(t.cfg.ResourceGroup, nil),
		func(p tm.ProfilesClientListByResourceGroupResponse) []*tm.Profile { return p.Value })
	if err != nil {
		return nil, err
	}
	out := make([]fleet.Profile, 0, len(list))
	for _, p := range list {
		out = append(out, profileOf(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// rawProfile reads a profile as ARM has it; found is false when missing.
func (t *Target) rawProfile(ctx context.Context, name string) (*tm.Profile, bool, error) {
	got, err := t.tm.NewProfilesClient().Get(ctx, t.cfg.ResourceGroup, name, nil)
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, call{op: "read", target: "traffic-manager profile " + name, role: roleReader}.wrap(err)
	}
	return &got.Profile, true, nil
}

func notFoundErr(op, target, what string) error {
	return &fleet.Error{Op: op, Target: target, Err: fmt.Errorf("%w: %s", fleet.ErrNotFound, what),
		Hint: "check the name, the subscription and the resource group in fleetplan.yaml"}
}

// Profile implements fleet.ControlPlane.
func (t *Target) Profile(ctx context.Context, name string) (fleet.Profile, error) {
	p, ok, err := t.rawProfile(ctx, name)
	if err != nil || !ok {
		if err == nil {
			err = notFoundErr("read", "traffic-manager profile "+name, "no such profile in resource group "+t.cfg.ResourceGroup)
		}
		return fleet.Profile{}, err
	}
	return profileOf(p), nil
}

func findEndpoint(p *tm.Profile, name string) *tm.Endpoint {
	if p == nil || p.Properties == nil {
		return nil
	}
	for _, e := range p.Properties.Endpoints {
		if strings.EqualFold(str(e.Name), name) {
			return e
		}
	}
	return nil
}

// AddEndpoint implements fleet.ControlPlane. A new profile gets priority
// routing, a DNS name like its own and an HTTPS probe of "/".
func (t *Target) AddEndpoint(ctx context.Context, e fleet.Endpoint) (fleet.Endpoint, error) {
	c := t.profileCall("add endpoint "+e.Name+" to", e.Profile)
	p, ok, err := t.rawProfile(ctx, e.Profile)
	if err != nil {
		return fleet.Endpoint{}, err
	}
	if !ok {
		created, err := t.tm.NewProfilesClient().CreateOrUpdate(ctx, t.cfg.ResourceGroup, e.Profile, tm.Profile{
			Location: to.Ptr("global"),
			Properties: &tm.ProfileProperties{
				ProfileStatus:        to.Ptr(tm.ProfileStatusEnabled),
				TrafficRoutingMethod: to.Ptr(tm.TrafficRoutingMethodPriority),
				DNSConfig:            &tm.DNSConfig{RelativeName: to.Ptr(strings.ToLower(e.Profile)), TTL: to.Ptr(int64(30))},
				MonitorConfig:        &tm.MonitorConfig{Protocol: to.Ptr(tm.MonitorProtocolHTTPS), Port: to.Ptr(int64(443)), Path: to.Ptr("/")},
			}}, nil)
		if err != nil {
			return fleet.Endpoint{}, c.wrap(err)
		}
		p = &created.Profile
	}
	if have := findEndpoint(p, e.Name); have != nil {
		if !strings.EqualFold(endpointTarget(have), e.Target) {
			return fleet.Endpoint{}, &fleet.Error{Op: c.op, Target: c.target, Err: fmt.Errorf("%w: endpoint %s sends traffic to %s, not %s", fleet.ErrConflict, e.Name, endpointTarget(have), e.Target),
				Hint: "pick another endpoint name, or remove the existing endpoint first"}
		}
		return fleet.Endpoint{Profile: e.Profile, Name: str(have.Name), Target: endpointTarget(have), Online: online(have), Priority: priority(have)}, nil
	}
	prio := e.Priority
	if prio == 0 {
		prio = 1
		if p.Properties != nil {
			for _, other := range p.Properties.Endpoints {
				prio = max(prio, priority(other)+1)
			}
		}
	}
	status := tm.EndpointStatusDisabled
	if e.Online {
		status = tm.EndpointStatusEnabled
	}
	props := &tm.EndpointProperties{EndpointStatus: to.Ptr(status), Priority: to.Ptr(int64(prio))}
	typ := tm.EndpointTypeExternalEndpoints
	if strings.HasPrefix(e.Target, "/subscriptions/") {
		typ, props.TargetResourceID = tm.EndpointTypeAzureEndpoints, to.Ptr(e.Target)
	} else {
		props.Target = to.Ptr(e.Target)
	}
	got, err := t.tm.NewEndpointsClient().CreateOrUpdate(ctx, t.cfg.ResourceGroup, e.Profile, typ, e.Name, tm.Endpoint{Name: to.Ptr(e.Name), Properties: props}, nil)
	if err != nil {
		return fleet.Endpoint{}, c.wrap(err)
	}
	return fleet.Endpoint{Profile: e.Profile, Name: e.Name, Target: endpointTarget(&got.Endpoint), Online: online(&got.Endpoint), Priority: priority(&got.Endpoint)}, nil
}

// endpoint reads a profile and one of its endpoints, or says which is
// missing.
func (t *Target) endpoint(ctx context.Context, op, profile, name string) (*tm.Profile, *tm.Endpoint, error) {
	p, ok, err := t.rawProfile(ctx, profile)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, notFoundErr(op, "traffic-manager profile "+profile, "no such profile in resource group "+t.cfg.ResourceGroup)
	}
	e := findEndpoint(p, name)
	if e == nil {
		return p, nil, notFoundErr(op, "traffic-manager profile "+profile, "no endpoint "+name)
	}
	return p, e, nil
}

// SetEndpointStatus implements fleet.ControlPlane.
func (t *Target) SetEndpointStatus(ctx context.Context, profile, name string, on bool) error {
	op := "set status of endpoint " + name + " in"
	_, e, err := t.endpoint(ctx, op, profile, name)
	if err != nil {
		return err
	}
	if online(e) == on {
		return nil
	}
	status := tm.EndpointStatusDisabled
	if on {
		status = tm.EndpointStatusEnabled
	}
	_, err = t.tm.NewEndpointsClient().Update(ctx, t.cfg.ResourceGroup, profile, endpointType(e), str(e.Name),
		tm.Endpoint{Properties: &tm.EndpointProperties{EndpointStatus: to.Ptr(status)}}, nil)
	return t.profileCall(op, profile).wrap(err)
}

// SwitchTraffic implements fleet.ControlPlane in one request: the profile
// is written back whole, with `to` enabled, `from` disabled, and their
// priorities swapped when `from`'s was lower (Traffic Manager wants
// priorities unique within a profile). It refuses when `to`'s probe rules
// it out, and when another endpoint would still serve.
func (t *Target) SwitchTraffic(ctx context.Context, profile, from, into string) error {
	op := "switch traffic of"
	c := t.profileCall(op, profile)
	p, toE, err := t.endpoint(ctx, op, profile, into)
	if err != nil {
		return err
	}
	fromE := findEndpoint(p, from)
	if online(toE) && (fromE == nil || !online(fromE)) && profileOf(p).Serving == str(toE.Name) {
		return nil // switched already
	}
	if !healthy(toE) {
		return &fleet.Error{Op: op, Target: c.target, Err: fmt.Errorf("%w: Traffic Manager's probe rules out %s (%s)", fleet.ErrConflict, into, *toE.Properties.EndpointMonitorStatus),
			Hint: "the endpoint's app must answer the profile's health probe before traffic can move there"}
	}
	if fromE != nil && priority(fromE) < priority(toE) {
		fp, tp := fromE.Properties.Priority, toE.Properties.Priority
		fromE.Properties.Priority, toE.Properties.Priority = tp, fp
	}
	toE.Properties.EndpointStatus = to.Ptr(tm.EndpointStatusEnabled)
	if fromE != nil {
		fromE.Properties.EndpointStatus = to.Ptr(tm.EndpointStatusDisabled)
	}
	for _, e := range p.Properties.Endpoints {
		if e != toE && online(e) && healthy(e) && priority(e) < priority(toE) {
			return &fleet.Error{Op: op, Target: c.target, Err: fmt.Errorf("%w: endpoint %s (priority %d) would still serve before %s", fleet.ErrConflict, str(e.Name), priority(e), into),
				Hint: "take that endpoint offline first, or switch from it"}
		}
	}
	_, err = t.tm.NewProfilesClient().CreateOrUpdate(ctx, t.cfg.ResourceGroup, profile, *p, nil)
	return c.wrap(err)
}

// RemoveEndpoint implements fleet.ControlPlane; it refuses the serving
// endpoint, and a missing one is removed already.
func (t *Target) RemoveEndpoint(ctx context.Context, profile, name string) error {
	op := "remove endpoint " + name + " from"
	p, ok, err := t.rawProfile(ctx, profile)
	if err != nil || !ok {
		return err
	}
	e := findEndpoint(p, name)
	if e == nil {
		return nil
	}
	if profileOf(p).Serving == str(e.Name) {
		return &fleet.Error{Op: op, Target: "traffic-manager profile " + profile, Err: fmt.Errorf("%w: %s serves the profile's traffic", fleet.ErrConflict, name),
			Hint: "switch traffic to another endpoint first"}
	}
	_, err = t.tm.NewEndpointsClient().Delete(ctx, t.cfg.ResourceGroup, profile, endpointType(e), str(e.Name), nil)
	if isNotFound(err) {
		return nil
	}
	return t.profileCall(op, profile).wrap(err)
}
