package recovery

import (
	"context"
	"fmt"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// span is a key range [Min, Max) of encoded keys (Max nil = +inf) and the
// shard the global shard map sends it to (Owner nil: no shard).
type span struct {
	Min, Max []byte
	Owner    *fleet.Location
}

// pointMax gives a list map's point its key range end.
func pointMax(m fleet.ShardMap, min, max []byte) []byte {
	if m.Type == fleet.ListMap && max == nil {
		return shardkey.Next(m.KeyType, min)
	}
	return max
}

// elsewhere splits the whole key space minus the mappings of shard loc into
// spans, each owned by the shard the GSM mappings give it to, or by none.
func elsewhere(m fleet.ShardMap, mappings []fleet.Mapping, loc fleet.Location) []span {
	var out []span
	at := []byte{} // the minimum key
	for _, mp := range mappings {
		max := pointMax(m, mp.Min, mp.Max)
		if shardkey.Compare(mp.Min, at) > 0 {
			out = append(out, span{Min: at, Max: mp.Min})
		}
		if !mp.Location.Equal(loc) {
			l := mp.Location
			out = append(out, span{Min: mp.Min, Max: max, Owner: &l})
		}
		if max == nil {
			return out
		}
		if shardkey.Compare(max, at) > 0 {
			at = max
		}
	}
	return append(out, span{Min: at, Max: nil})
}

// Misplaced is rows of one table on a shard whose keys the global shard map
// sends elsewhere (To) or nowhere (To nil).
type Misplaced struct {
	Shard    fleet.Location  `json:"shard"`
	Table    string          `json:"table"`
	Min, Max []byte          `json:"-"`
	Low      string          `json:"low"`
	High     string          `json:"high"`
	To       *fleet.Location `json:"to,omitempty"`
	Rows     int64           `json:"rows"`
	// first and last are the rows' own lowest and highest keys (nil when
	// the driver cannot say): Low and High name [first, last] rather than
	// the batches the rows were read in.
	first, last []byte
}

// keyBounder is a DataMover that can say the lowest and highest key of a
// table's rows in a range (the local driver).
type keyBounder interface {
	KeyBounds(ctx context.Context, loc fleet.Location, table, keyCol string, r fleet.KeyRange) (min, max any, err error)
}

// ownKeys returns the encoded lowest and highest key of table's rows in
// r, or nils when dm cannot say.
func ownKeys(ctx context.Context, dm fleet.DataMover, m fleet.ShardMap, loc fleet.Location, t fleet.ShardedTable, r fleet.KeyRange) ([]byte, []byte, error) {
	kb, ok := dm.(keyBounder)
	if !ok {
		return nil, nil, nil
	}
	lo, hi, err := kb.KeyBounds(ctx, loc, t.Table, t.KeyColumn, r)
	if err != nil || lo == nil || hi == nil {
		return nil, nil, err
	}
	first, err1 := shardkey.Encode(m.KeyType, lo)
	last, err2 := shardkey.Encode(m.KeyType, hi)
	if err1 != nil || err2 != nil {
		return nil, nil, nil // a stored form the key type does not read back: name the batch
	}
	return first, last, nil
}

// placement counts, in batches of about batch distinct keys, the rows of
// every sharded table on shard loc whose keys the map's mappings send
// elsewhere. progress is told after each batch.
func placement(ctx context.Context, dm fleet.DataMover, m fleet.ShardMap, mappings []fleet.Mapping, tables []fleet.ShardedTable,
	loc fleet.Location, batch int, progress func(done int64)) ([]Misplaced, error) {
	var out []Misplaced
	var batches int64
	for _, sp := range elsewhere(m, mappings, loc) {
		lo := sp.Min
		for {
			r, err := shardkey.Range(m.KeyType, lo, sp.Max)
			if err != nil {
				return nil, err
			}
			b, err := dm.NextBound(ctx, loc, tables, r, batch)
			if err != nil {
				return nil, err
			}
			var hi []byte
			if b != nil {
				if hi, err = shardkey.Encode(m.KeyType, b); err != nil {
					return nil, err
				}
			}
			if shardkey.Compare(hi, sp.Max) > 0 {
				hi = sp.Max
			}
			if r, err = shardkey.Range(m.KeyType, lo, hi); err != nil {
				return nil, err
			}
			for _, t := range tables {
				n, err := dm.CountRange(ctx, loc, t.Table, t.KeyColumn, r)
				if err != nil {
					return nil, err
				}
				if n > 0 {
					first, last, err := ownKeys(ctx, dm, m, loc, t, r)
					if err != nil {
						return nil, err
					}
					out = addMisplaced(out, Misplaced{Shard: loc, Table: t.Table, Min: lo, Max: hi, To: sp.Owner, Rows: n, first: first, last: last})
				}
			}
			batches++
			if progress != nil {
				progress(batches)
			}
			if shardkey.Compare(hi, sp.Max) >= 0 || hi == nil || shardkey.Compare(hi, lo) <= 0 {
				break
			}
			lo = hi
		}
	}
	for i := range out {
		x := &out[i]
		x.Low, x.High = shardkey.FormatBound(m.KeyType, x.Min), shardkey.FormatBound(m.KeyType, x.Max)
		if x.first != nil && x.last != nil {
			x.Low, x.High = shardkey.FormatBound(m.KeyType, x.first), shardkey.FormatBound(m.KeyType, shardkey.Next(m.KeyType, x.last))
		}
	}
	return out, nil
}

// addMisplaced merges a batch into the previous finding of the same table
// and owner when they are adjacent.
func addMisplaced(out []Misplaced, x Misplaced) []Misplaced {
	for i := len(out) - 1; i >= 0; i-- {
		p := &out[i]
		if p.Table == x.Table && sameOwner(p.To, x.To) && p.Max != nil && shardkey.Compare(p.Max, x.Min) == 0 {
			p.Max, p.Rows = x.Max, p.Rows+x.Rows
			if p.first == nil || x.first == nil {
				p.first, p.last = nil, nil
			} else {
				p.last = x.last
			}
			return out
		}
	}
	return append(out, x)
}

func sameOwner(a, b *fleet.Location) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// rowsIn counts the rows of the sharded tables on loc in [min, max).
func rowsIn(ctx context.Context, dm fleet.DataMover, m fleet.ShardMap, tables []fleet.ShardedTable, loc fleet.Location, min, max []byte) (int64, error) {
	r, err := shardkey.Range(m.KeyType, min, pointMax(m, min, max))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tables {
		n, err := dm.CountRange(ctx, loc, t.Table, t.KeyColumn, r)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func boundsText(m fleet.ShardMap, min, max []byte) string { return elasticdb.BoundsText(m, min, max) }

func fmtRows(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

// keysText names the rows' keys for a finding ("with key 20", "with keys
// in [20, 31)"), and what the rest of the sentence calls them.
func (x Misplaced) keysText() (string, string) {
	if x.first != nil && string(x.first) == string(x.last) {
		return "with key " + x.Low, "this key"
	}
	return "with keys in [" + x.Low + ", " + x.High + ")", "these keys"
}

// rowDiffer is a DataMover that can count rows that another database holds
// under the same primary key with other values (the local driver).
type rowDiffer interface {
	DifferingRows(ctx context.Context, src, dst fleet.Location, table, keyCol string, r fleet.KeyRange) (n int64, min, max any, err error)
}

// differing returns the RowsDiffer finding for the misplaced rows x whose
// shard's copy differs from the row with the same primary key on the shard
// their key routes to, or nil when there are none (or dm cannot tell).
// Doctor cannot tell which copy is right, so it plans no move over them.
func differing(ctx context.Context, dm fleet.DataMover, m fleet.ShardMap, tables []fleet.ShardedTable, x Misplaced) (*Finding, error) {
	rd, ok := dm.(rowDiffer)
	if !ok || x.To == nil {
		return nil, nil
	}
	var t fleet.ShardedTable
	for _, tb := range tables {
		if tb.Table == x.Table {
			t = tb
		}
	}
	r, err := shardkey.Range(m.KeyType, x.Min, x.Max)
	if err != nil {
		return nil, err
	}
	n, lo, hi, err := rd.DifferingRows(ctx, *x.To, x.Shard, t.Table, t.KeyColumn, r)
	if err != nil || n == 0 {
		return nil, err
	}
	d := Misplaced{Shard: x.Shard, Table: x.Table, To: x.To, Rows: n, Min: x.Min, Max: x.Max}
	if first, err1 := shardkey.Encode(m.KeyType, lo); err1 == nil {
		if last, err2 := shardkey.Encode(m.KeyType, hi); err2 == nil {
			d.first, d.last = first, last
		}
	}
	d.Low, d.High = shardkey.FormatBound(m.KeyType, d.Min), shardkey.FormatBound(m.KeyType, d.Max)
	if d.first != nil {
		d.Low, d.High = shardkey.FormatBound(m.KeyType, d.first), shardkey.FormatBound(m.KeyType, shardkey.Next(m.KeyType, d.last))
	}
	keys, _ := d.keysText()
	return &Finding{Severity: SevError, Kind: "RowsDiffer", ShardMap: m.Name, Shard: x.Shard, Low: d.Low, High: d.High,
		Detail: fmt.Sprintf("%s of %s %s on %s %s from the %s with the same primary key on %s, where %s: doctor cannot tell which copy is right",
			fmtRows(n), x.Table, keys, x.Shard, isAre(n, "differs", "differ"), isAre(n, "row", "rows"), x.To, isAre(n, "its key routes", "their keys route")),
		Fix: fmt.Sprintf("compare the copies and delete the stale one by hand (here, or on %s after copying this one there), then run doctor again", x.To)}, nil
}
