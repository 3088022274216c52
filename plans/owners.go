package plans

import (
	"fmt"
	"path/filepath"
	"strings"
)

// checkShardMapOwners refuses two ShardLayout documents for one shard map
// among everything one command reads (every file and folder given to one
// validate or plan, one file included): applying them all would have each
// undo the other's layout. Documents clash when they lay out the same shard
// map (names compare case-insensitively, as the Elastic Database library
// does) of the same fleet, whatever target name reaches it; the later one in
// load order is reported, naming the first.
func (l *loader) checkShardMapOwners() {
	type owner struct{ fleet, shardMap string }
	first := map[owner]*Document{}
	for _, doc := range l.documents {
		s := doc.ShardLayout()
		if s == nil || s.Target == "" || s.ShardMap == "" {
			continue
		}
		k := owner{fleet: fleetOf(doc), shardMap: strings.ToLower(s.ShardMap)}
		prev, dup := first[k]
		if !dup {
			first[k] = doc
			continue
		}
		same := ""
		if prev.ShardLayout().Target != s.Target {
			same = fmt.Sprintf(", for the same fleet (target %q)", prev.ShardLayout().Target)
		}
		l.diags.Errorf(s.ShardMapPos, "shard map %q of target %q is already laid out by ShardLayout %q at %s%s",
			s.ShardMap, s.Target, prev.Metadata.Name, prev.ShardLayout().ShardMapPos, same).
			WithHint("one shard map has one ShardLayout: merge the two documents into one, or remove one")
		l.failed[doc] = true
	}
}

// fleetOf names the fleet a document's target reaches: the local folder or
// the server and database of the shard map manager, as fleetplan.yaml says.
// A target fleetplan.yaml does not have (refused elsewhere) is named by its
// plan repository and its name.
func fleetOf(doc *Document) string {
	name := doc.ShardLayout().Target
	if doc.Config == nil {
		return "folder " + filepath.Dir(absPath(doc.File)) + " target " + name
	}
	t, ok := doc.Config.Targets[name]
	switch {
	case !ok || t.Path == "" && t.Server == "" && t.Database == "":
		return "config " + doc.Config.Path + " target " + name
	case t.Path != "":
		return t.Driver + " " + filepath.Clean(t.Path)
	}
	return fmt.Sprintf("%s %s:%d/%s", t.Driver, strings.ToLower(t.Server), t.Port, strings.ToLower(t.Database))
}
