package main

import (
	"context"
	"fmt"

	"github.com/fleetplan/fleetplan/cmd/fleetplan/internal/views"
	"github.com/fleetplan/fleetplan/fleet"
)

// routeProfile prints the endpoint that serves a traffic-manager profile
// (route --profile).
func routeProfile(ctx context.Context, a *app, ff *fleetFlags, name, format string, args []string) error {
	if len(args) > 0 {
		return usageErr("route takes a KEY or --profile, not both", "")
	}
	t, err := ff.open(ctx, a)
	if err != nil {
		return err
	}
	defer t.Close()
	cp, ok := t.(fleet.ControlPlane)
	if !ok {
		return &fleet.Error{Op: "route", Target: t.Name(), Err: fmt.Errorf("the %s driver has no traffic manager", t.Driver())}
	}
	p, err := cp.Profile(ctx, name)
	if err != nil {
		return err
	}
	out := views.Profile{Profile: p.Name, Serving: p.Serving, Others: p.Endpoints}
	var ep fleet.Endpoint
	for _, e := range p.Endpoints {
		if e.Name == p.Serving {
			ep = e
		}
	}
	if p.Serving != "" {
		if s, err := cp.Slot(ctx, ep.Target); err == nil {
			out.Slot = &s
			if info, err := cp.Database(ctx, s.Database); err == nil {
				out.DB = &views.ProfileDatabase{DatabaseInfo: info, Writable: info.Writable()}
				if dp, ok := t.(databasePather); ok {
					out.DB.File, _ = dp.DatabasePath(ctx, info.Location)
				}
			}
		}
	}
	return a.view.Profile(out, ep, format)
}
