package views

import "fmt"

// Route is where a key routes to.
type Route struct {
	Key      string `json:"key"`
	ShardMap string `json:"shardMap"`
	Server   string `json:"server"`
	Database string `json:"database"`
	File     string `json:"file,omitempty"`
	Low      string `json:"low"`
	High     string `json:"high"`
	Online   bool   `json:"online"`
	Mapping  string `json:"mappingId"`
}

// Route shows where a key routes to. An offline mapping exits 3: routing
// refuses it, as the Elastic Database library does.
func (v *View) Route(r Route, listMap bool, format string) error {
	if format == JSON {
		if err := v.json(r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(v.Out, "key %s -> shard %s/%s\n", r.Key, r.Server, r.Database)
		fmt.Fprintf(v.Out, "  server:   %s\n  database: %s\n", r.Server, r.Database)
		if r.File != "" {
			fmt.Fprintf(v.Out, "  file:     %s\n", r.File)
		}
		status := "online"
		if !r.Online {
			status = "OFFLINE"
		}
		rng := fmt.Sprintf("[%s, %s)", r.Low, r.High)
		if listMap {
			rng = "point " + r.Low
		}
		fmt.Fprintf(v.Out, "  mapping:  %s %s (id %s)\n", rng, status, r.Mapping)
	}
	if !r.Online {
		return &ExitError{Code: 3, Err: fmt.Errorf("the mapping of key %s on %s is offline: routing refuses it until it is back online (a move may be in progress)",
			r.Key, r.Server+"/"+r.Database)}
	}
	return nil
}
