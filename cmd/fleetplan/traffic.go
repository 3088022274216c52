package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

type trafficJSON struct {
	Profile string           `json:"profile"`
	Serving string           `json:"serving"`
	Slot    *fleet.Slot      `json:"slot,omitempty"`
	DB      *fleetDatabase   `json:"database,omitempty"`
	Others  []fleet.Endpoint `json:"endpoints"`
}

type fleetDatabase struct {
	fleet.DatabaseInfo
	Writable bool   `json:"writable"`
	File     string `json:"file,omitempty"`
}

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
	out := trafficJSON{Profile: p.Name, Serving: p.Serving, Others: p.Endpoints}
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
				out.DB = &fleetDatabase{DatabaseInfo: info, Writable: info.Writable()}
				if dp, ok := t.(databasePather); ok {
					out.DB.File, _ = dp.DatabasePath(ctx, info.Location)
				}
			}
		}
	}
	if format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		if p.Serving == "" {
			fmt.Fprintf(a.stdout, "profile %s -> nothing serves\n", p.Name)
		} else {
			fmt.Fprintf(a.stdout, "profile %s -> endpoint %s (priority %d)\n", p.Name, ep.Name, ep.Priority)
			if out.Slot != nil {
				fmt.Fprintf(a.stdout, "  app slot: %s, version %s\n", out.Slot.Name, out.Slot.Version)
			}
			if out.DB != nil {
				mode := "read-write"
				if !out.DB.Writable {
					mode = "read-only"
				}
				fmt.Fprintf(a.stdout, "  database: %s (%s, %s)\n", out.DB.Location, mode, out.DB.Role)
				if out.DB.File != "" {
					fmt.Fprintf(a.stdout, "  file:     %s\n", out.DB.File)
				}
			}
		}
		var others []string
		for _, e := range p.Endpoints {
			if e.Name != p.Serving {
				status := "offline"
				if e.Online {
					status = "online"
				}
				others = append(others, fmt.Sprintf("%s (priority %d, %s, slot %s)", e.Name, e.Priority, status, e.Target))
			}
		}
		if len(others) > 0 {
			fmt.Fprintf(a.stdout, "  other endpoints: %s\n", strings.Join(others, "; "))
		}
	}
	if p.Serving == "" {
		return &fleet.Error{Op: "route", Target: p.Name, Err: fmt.Errorf("no endpoint of profile %s serves", p.Name),
			Hint: "an endpoint serves when it is online and its app slot and database exist"}
	}
	return nil
}
