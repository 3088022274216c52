package plans

import (
	"path/filepath"
	"strings"
)

// checkShardMapOwners refuses two ShardLayout documents for one shard map in
// one folder (one file included): applying the folder would have each undo
// the other's layout. Documents clash when they name the same target and
// shard map (names compare case-insensitively, as the Elastic Database
// library does); the later one in load order is reported, naming the first.
func (l *loader) checkShardMapOwners() {
	type owner struct{ scope, target, shardMap string }
	first := map[owner]*Document{}
	for _, doc := range l.documents {
		s := doc.ShardLayout
		if s == nil || s.Target == "" || s.ShardMap == "" {
			continue
		}
		k := owner{scope: filepath.Dir(absPath(doc.File)), target: s.Target, shardMap: strings.ToLower(s.ShardMap)}
		prev, dup := first[k]
		if !dup {
			first[k] = doc
			continue
		}
		l.diags.Errorf(s.ShardMapPos, "shard map %q of target %q is already laid out by ShardLayout %q at %s",
			s.ShardMap, s.Target, prev.Metadata.Name, prev.ShardLayout.ShardMapPos).
			WithHint("one shard map has one ShardLayout: merge the two documents into one, or remove one")
		l.failed[doc] = true
	}
}
