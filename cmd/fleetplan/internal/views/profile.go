package views

import (
	"fmt"
	"strings"

	"github.com/fleetplan/fleetplan/fleet"
)

// Profile is which endpoint of a traffic-manager profile serves.
type Profile struct {
	Profile string           `json:"profile"`
	Serving string           `json:"serving"`
	Slot    *fleet.Slot      `json:"slot,omitempty"`
	DB      *ProfileDatabase `json:"database,omitempty"`
	Others  []fleet.Endpoint `json:"endpoints"`
}

// ProfileDatabase is the database behind the serving endpoint.
type ProfileDatabase struct {
	fleet.DatabaseInfo
	Writable bool   `json:"writable"`
	File     string `json:"file,omitempty"`
}

// Profile shows which endpoint serves a profile; ep is that endpoint. A
// profile nothing serves is an error.
func (v *View) Profile(p Profile, ep fleet.Endpoint, format string) error {
	if format == JSON {
		if err := v.json(p); err != nil {
			return err
		}
	} else {
		if p.Serving == "" {
			fmt.Fprintf(v.Out, "profile %s -> nothing serves\n", p.Profile)
		} else {
			fmt.Fprintf(v.Out, "profile %s -> endpoint %s (priority %d)\n", p.Profile, ep.Name, ep.Priority)
			if p.Slot != nil {
				fmt.Fprintf(v.Out, "  app slot: %s, version %s\n", p.Slot.Name, p.Slot.Version)
			}
			if p.DB != nil {
				mode := "read-write"
				if !p.DB.Writable {
					mode = "read-only"
				}
				fmt.Fprintf(v.Out, "  database: %s (%s, %s)\n", p.DB.Location, mode, p.DB.Role)
				if p.DB.File != "" {
					fmt.Fprintf(v.Out, "  file:     %s\n", p.DB.File)
				}
			}
		}
		var others []string
		for _, e := range p.Others {
			if e.Name != p.Serving {
				status := "offline"
				if e.Online {
					status = "online"
				}
				others = append(others, fmt.Sprintf("%s (priority %d, %s, slot %s)", e.Name, e.Priority, status, e.Target))
			}
		}
		if len(others) > 0 {
			fmt.Fprintf(v.Out, "  other endpoints: %s\n", strings.Join(others, "; "))
		}
	}
	if p.Serving == "" {
		return &fleet.Error{Op: "route", Target: p.Profile, Err: fmt.Errorf("no endpoint of profile %s serves", p.Profile),
			Hint: "an endpoint serves when it is online and its app slot and database exist"}
	}
	return nil
}
