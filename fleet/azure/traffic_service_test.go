package azure

import (
	tmfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/trafficmanager/armtrafficmanager/fake"
)

// trafficService is the test's Traffic Manager, behind armtrafficmanager/fake.
type trafficService struct{}

func newTrafficService() *trafficService { return &trafficService{} }

func (ts *trafficService) factory() tmfake.ServerFactory { return tmfake.ServerFactory{} }
