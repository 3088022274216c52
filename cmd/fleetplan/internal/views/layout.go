package views

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// Layout shows a live shard layout as tables or as JSON.
// recovery, when set, says what shard map recovery steps connect with (see
// plans.TargetSpec.RecoveryCredentials).
func (v *View) Layout(l *fleet.Layout, format, recovery string) error {
	if format == JSON {
		lv := layoutView(l)
		lv.RecoveryCredentials = recovery
		return v.json(lv)
	}
	if err := printLayout(v.Out, l); err != nil {
		return err
	}
	if recovery != "" {
		v.printf("\nRecovery steps connect with: %s\n", recovery)
	}
	return nil
}

// The JSON view decodes key bounds and keeps their stored hex.
type LayoutJSON struct {
	Target      string    `json:"target"`
	Fingerprint string    `json:"fingerprint"`
	Maps        []mapJSON `json:"maps"`
	// RecoveryCredentials says what shard map recovery steps connect with.
	RecoveryCredentials string `json:"recoveryCredentials,omitempty"`
}

type mapJSON struct {
	Name        string                   `json:"name"`
	ID          string                   `json:"id"`
	Type        string                   `json:"type"`
	KeyType     string                   `json:"keyType"`
	Shards      []shardJSON              `json:"shards"`
	Mappings    []mappingJSON            `json:"mappings"`
	Tables      fleet.SchemaInfo         `json:"tables"`
	Pending     []fleet.PendingOperation `json:"pending"`
	Differences []diffJSON               `json:"differences"`
}

type shardJSON struct {
	Server      string           `json:"server"`
	Database    string           `json:"database"`
	ID          string           `json:"id"`
	Version     string           `json:"version"`
	LSMVersion  string           `json:"lsmVersion"`
	Status      int              `json:"status"`
	Exists      bool             `json:"exists"`
	RowCounts   map[string]int64 `json:"rowCounts"`
	OperationID string           `json:"operationId,omitempty"`
}

type mappingJSON struct {
	ID          string  `json:"id"`
	Low         string  `json:"low"`
	High        string  `json:"high"`
	MinValue    string  `json:"minValue"`
	MaxValue    *string `json:"maxValue"`
	Server      string  `json:"server"`
	Database    string  `json:"database"`
	Online      bool    `json:"online"`
	LockOwner   string  `json:"lockOwner,omitempty"`
	OperationID string  `json:"operationId,omitempty"`
	// Problem says why routing would refuse the mapping although the GSM
	// has it online: its database is missing, or the shard's LSM differs.
	Problem string `json:"problem,omitempty"`
}

type diffJSON struct {
	Server    string `json:"server"`
	Database  string `json:"database"`
	Kind      string `json:"kind"`
	Detail    string `json:"detail"`
	MappingID string `json:"mappingId,omitempty"`
	// Token is the difference's stable recovery token.
	Token string `json:"token"`
	// Low and High bound the keys involved ("" for the whole shard).
	Low     string          `json:"low,omitempty"`
	High    string          `json:"high,omitempty"`
	MovedTo *fleet.Location `json:"movedTo,omitempty"`
}

func hex0x(b []byte) string { return "0x" + strings.ToUpper(hex.EncodeToString(b)) }

func layoutView(l *fleet.Layout) LayoutJSON {
	out := LayoutJSON{Target: l.Target, Fingerprint: l.Fingerprint, Maps: []mapJSON{}}
	for _, m := range l.Maps {
		k := m.Map.KeyType
		mj := mapJSON{Name: m.Map.Name, ID: m.Map.ID.String(), Type: m.Map.Type.String(), KeyType: k.String(),
			Shards: []shardJSON{}, Mappings: []mappingJSON{}, Tables: m.Tables, Pending: m.Pending, Differences: []diffJSON{}}
		for _, s := range m.Shards {
			sj := shardJSON{Server: s.Shard.Location.Server, Database: s.Shard.Location.Database, ID: s.Shard.ID.String(),
				Version: s.Shard.Version.String(), LSMVersion: s.LSMVersion.String(), Status: s.Shard.Status, Exists: s.Exists, RowCounts: s.RowCounts}
			if s.Shard.OperationID != nil {
				sj.OperationID = s.Shard.OperationID.String()
			}
			mj.Shards = append(mj.Shards, sj)
		}
		for _, mp := range m.Mappings {
			mm := mappingJSON{ID: mp.ID.String(), Low: shardkey.FormatBound(k, mp.Min), High: shardkey.FormatBound(k, mp.Max),
				MinValue: hex0x(mp.Min), Server: mp.Location.Server, Database: mp.Location.Database, Online: mp.Online}
			if mp.Max != nil {
				h := hex0x(mp.Max)
				mm.MaxValue = &h
			}
			if mp.LockOwner != fleet.NoLock {
				mm.LockOwner = mp.LockOwner.String()
			}
			if mp.OperationID != nil {
				mm.OperationID = mp.OperationID.String()
			}
			mm.Problem = mappingProblem(&m, mp)
			mj.Mappings = append(mj.Mappings, mm)
		}
		for _, d := range m.Differences {
			dj := diffJSON{Server: d.Shard.Server, Database: d.Shard.Database, Kind: d.Kind, Detail: d.Detail, Token: d.Token, MovedTo: d.MovedTo}
			if d.MappingID != (fleet.Mapping{}).ID {
				dj.MappingID = d.MappingID.String()
			}
			if d.Min != nil {
				dj.Low, dj.High = shardkey.FormatBound(m.Map.KeyType, d.Min), shardkey.FormatBound(m.Map.KeyType, d.Max)
			}
			mj.Differences = append(mj.Differences, dj)
		}
		out.Maps = append(out.Maps, mj)
	}
	return out
}

func printLayout(w io.Writer, l *fleet.Layout) error {
	fmt.Fprintf(w, "Target %s  (fingerprint %s)\n", l.Target, l.Fingerprint)
	if len(l.Maps) == 0 {
		fmt.Fprintln(w, "\nNo shard maps.")
		return nil
	}
	for _, m := range l.Maps {
		k := m.Map.KeyType
		fmt.Fprintf(w, "\nShard map %s (%s, %s)\n", m.Map.Name, m.Map.Type, k)
		tables := m.Tables.Tables()
		extra := map[string]bool{}
		for _, s := range m.Shards {
			for t := range s.RowCounts {
				extra[t] = true
			}
		}
		for _, t := range tables {
			delete(extra, t)
		}
		var more []string
		for t := range extra {
			more = append(more, t)
		}
		sort.Strings(more)
		tables = append(tables, more...)

		fmt.Fprintln(w, "  Shards:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		head := "    SHARD\tSTATUS\tVERSION"
		for _, t := range tables {
			head += "\t" + t
		}
		fmt.Fprintln(tw, head)
		for _, s := range m.Shards {
			status := "online"
			if s.Shard.Status != fleet.ShardOnline {
				status = "offline"
			}
			if !s.Exists {
				status += ", database missing"
			}
			line := fmt.Sprintf("    %s\t%s\t%s", s.Shard.Location, status, s.Shard.Version.String()[:8])
			for _, t := range tables {
				if n, ok := s.RowCounts[t]; ok {
					line += fmt.Sprintf("\t%d", n)
				} else {
					line += "\t-"
				}
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()

		fmt.Fprintln(w, "  Mappings:")
		if len(m.Mappings) == 0 {
			fmt.Fprintln(w, "    none")
		} else {
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "    RANGE\tSHARD\tSTATUS\tLOCK\tMAPPING ID")
			for _, mp := range m.Mappings {
				rng := fmt.Sprintf("[%s, %s)", shardkey.FormatBound(k, mp.Min), shardkey.FormatBound(k, mp.Max))
				if m.Map.Type == fleet.ListMap {
					rng = shardkey.FormatBound(k, mp.Min)
				}
				status := "online"
				if !mp.Online {
					status = "OFFLINE"
				}
				if mp.OperationID != nil {
					status += " (operation pending)"
				}
				if p := mappingProblem(&m, mp); p != "" {
					status = "UNAVAILABLE: " + p
				}
				lock := "-"
				if mp.LockOwner != fleet.NoLock {
					lock = mp.LockOwner.String()
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", rng, mp.Location, status, lock, mp.ID)
			}
			tw.Flush()
		}

		var sharded []string
		for _, t := range m.Tables.Sharded {
			sharded = append(sharded, t.Table+"("+t.KeyColumn+")")
		}
		fmt.Fprintf(w, "  Tables: sharded %s; reference %s\n", orNone(strings.Join(sharded, ", ")), orNone(strings.Join(m.Tables.Reference, ", ")))
		if len(m.Pending) == 0 {
			fmt.Fprintln(w, "  Pending operations: none")
		} else {
			fmt.Fprintln(w, "  Pending operations (rolled back by the next shard map writer):")
			for _, p := range m.Pending {
				fmt.Fprintf(w, "    %s %s (code %d)\n", p.ID, p.Name, p.Code)
			}
		}
		if len(m.Differences) == 0 {
			fmt.Fprintln(w, "  Differences (GSM vs LSM): none")
		} else {
			fmt.Fprintln(w, "  Differences (GSM vs LSM):")
			for _, d := range m.Differences {
				rng := ""
				if d.Min != nil {
					if m.Map.Type == fleet.ListMap {
						rng = " point " + shardkey.FormatBound(k, d.Min)
					} else {
						rng = fmt.Sprintf(" [%s, %s)", shardkey.FormatBound(k, d.Min), shardkey.FormatBound(k, d.Max))
					}
				}
				fmt.Fprintf(w, "    %s %s%s: %s\n", d.Shard, d.Kind, rng, d.Detail)
				fmt.Fprintf(w, "      token %s\n", d.Token)
			}
			fmt.Fprintln(w, "  fleetplan refuses to route to or change these shards and ranges. `fleetplan doctor --write-plan FILE` writes the")
			fmt.Fprintln(w, "  ShardMapRecovery plan that resolves them (each token above names one difference); apply it, then check again here.")
		}
	}
	return nil
}

// mappingProblem says why a mapping cannot be routed to although the GSM may
// have it online: its shard's database is missing, or the shard's local shard
// map differs from the GSM (for this mapping or for the whole shard).
func mappingProblem(m *fleet.MapLayout, mp fleet.Mapping) string {
	for _, s := range m.Shards {
		if s.Shard.ID == mp.ShardID && !s.Exists {
			return "database missing"
		}
	}
	for _, d := range m.Differences {
		if !d.Shard.Equal(mp.Location) {
			continue
		}
		switch {
		case d.MappingID == mp.ID:
			return "not in the shard's local shard map as in the global one"
		case d.Kind == fleet.DiffShardVersionMismatch || d.Kind == fleet.DiffShardMissingInShard:
			return "the shard's local shard map differs"
		}
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
