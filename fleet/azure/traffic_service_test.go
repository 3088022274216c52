package azure

import (
	"context"
	"net/http"
	"strings"
	"sync"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	tm "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager"
	tmfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager/fake"
)

// trafficService is the test's Traffic Manager, behind armtrafficmanager/fake.
type trafficService struct {
	mu       sync.Mutex
	profiles map[string]*tm.Profile
	puts     int // whole-profile writes
}

func newTrafficService() *trafficService { return &trafficService{profiles: map[string]*tm.Profile{}} }

func typeName(t tm.EndpointType) string {
	return "Microsoft.Network/trafficManagerProfiles/" + strings.ToLower(string(t)[:1]) + string(t)[1:]
}

func (ts *trafficService) endpoint(profile, name string) *tm.Endpoint {
	p := ts.profiles[strings.ToLower(profile)]
	if p == nil {
		return nil
	}
	return findEndpoint(p, name)
}

func (ts *trafficService) factory() tmfake.ServerFactory {
	return tmfake.ServerFactory{
		ProfilesServer: tmfake.ProfilesServer{
			Get: func(_ context.Context, rg, name string, _ *tm.ProfilesClientGetOptions) (resp azfake.Responder[tm.ProfilesClientGetResponse], errResp azfake.ErrorResponder) {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				p, ok := ts.profiles[strings.ToLower(name)]
				if !ok {
					return resp, notFound()
				}
				resp.SetResponse(http.StatusOK, tm.ProfilesClientGetResponse{Profile: *clone(p)}, nil)
				return resp, errResp
			},
			NewListByResourceGroupPager: func(rg string, _ *tm.ProfilesClientListByResourceGroupOptions) (resp azfake.PagerResponder[tm.ProfilesClientListByResourceGroupResponse]) {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				var page tm.ProfileListResult
				for _, p := range ts.profiles {
					page.Value = append(page.Value, clone(p))
				}
				resp.AddPage(http.StatusOK, tm.ProfilesClientListByResourceGroupResponse{ProfileListResult: page}, nil)
				return resp
			},
			CreateOrUpdate: func(_ context.Context, rg, name string, p tm.Profile, _ *tm.ProfilesClientCreateOrUpdateOptions) (resp azfake.Responder[tm.ProfilesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				ts.puts++
				p.Name = to.Ptr(name)
				if p.Properties == nil {
					p.Properties = &tm.ProfileProperties{}
				}
				// Traffic Manager refuses duplicate priorities in a profile.
				seen := map[int]bool{}
				for _, e := range p.Properties.Endpoints {
					if seen[priority(e)] {
						var bad azfake.ErrorResponder
						bad.SetResponseError(http.StatusBadRequest, "BadRequest")
						return resp, bad
					}
					seen[priority(e)] = true
				}
				ts.profiles[strings.ToLower(name)] = clone(&p)
				resp.SetResponse(http.StatusOK, tm.ProfilesClientCreateOrUpdateResponse{Profile: p}, nil)
				return resp, errResp
			},
		},
		EndpointsServer: tmfake.EndpointsServer{
			CreateOrUpdate: func(_ context.Context, rg, profile string, typ tm.EndpointType, name string, e tm.Endpoint, _ *tm.EndpointsClientCreateOrUpdateOptions) (resp azfake.Responder[tm.EndpointsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				p := ts.profiles[strings.ToLower(profile)]
				if p == nil {
					return resp, notFound()
				}
				e.Name, e.Type = to.Ptr(name), to.Ptr(typeName(typ))
				e.Properties.EndpointMonitorStatus = to.Ptr(tm.EndpointMonitorStatusOnline)
				p.Properties.Endpoints = append(p.Properties.Endpoints, &e)
				resp.SetResponse(http.StatusCreated, tm.EndpointsClientCreateOrUpdateResponse{Endpoint: e}, nil)
				return resp, errResp
			},
			Update: func(_ context.Context, rg, profile string, typ tm.EndpointType, name string, e tm.Endpoint, _ *tm.EndpointsClientUpdateOptions) (resp azfake.Responder[tm.EndpointsClientUpdateResponse], errResp azfake.ErrorResponder) {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				have := ts.endpoint(profile, name)
				if have == nil {
					return resp, notFound()
				}
				if e.Properties != nil && e.Properties.EndpointStatus != nil {
					have.Properties.EndpointStatus = e.Properties.EndpointStatus
				}
				resp.SetResponse(http.StatusOK, tm.EndpointsClientUpdateResponse{Endpoint: *have}, nil)
				return resp, errResp
			},
			Delete: func(_ context.Context, rg, profile string, typ tm.EndpointType, name string, _ *tm.EndpointsClientDeleteOptions) (resp azfake.Responder[tm.EndpointsClientDeleteResponse], errResp azfake.ErrorResponder) {
				ts.mu.Lock()
				defer ts.mu.Unlock()
				p := ts.profiles[strings.ToLower(profile)]
				if p == nil {
					return resp, notFound()
				}
				var keep []*tm.Endpoint
				for _, e := range p.Properties.Endpoints {
					if !strings.EqualFold(str(e.Name), name) {
						keep = append(keep, e)
					}
				}
				p.Properties.Endpoints = keep
				resp.SetResponse(http.StatusOK, tm.EndpointsClientDeleteResponse{}, nil)
				return resp, errResp
			},
		},
	}
}

// clone copies a profile deeply enough that the driver's changes reach the
// service only through requests.
func clone(p *tm.Profile) *tm.Profile {
	c := *p
	if p.Properties != nil {
		props := *p.Properties
		props.Endpoints = nil
		for _, e := range p.Properties.Endpoints {
			ec := *e
			if e.Properties != nil {
				ep := *e.Properties
				ec.Properties = &ep
			}
			props.Endpoints = append(props.Endpoints, &ec)
		}
		c.Properties = &props
	}
	return &c
}
