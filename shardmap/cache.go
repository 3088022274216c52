package shardmap

import (
	"sort"
	"sync"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// cache holds mappings read from the global shard map, sorted by Min and
// never overlapping, like the library's client-side cache. A cached mapping
// is only a guess: every transaction validates it against the local shard
// map of its shard, and a mapping that fails is dropped.
type cache struct {
	m  fleet.ShardMap
	mu sync.RWMutex
	mp []fleet.Mapping
}

// holds reports whether mp holds the encoded key.
func (c *cache) holds(mp fleet.Mapping, key []byte) bool {
	if c.m.Type == fleet.ListMap {
		return string(mp.Min) == string(key)
	}
	return shardkey.Compare(mp.Min, key) <= 0 && (mp.Max == nil || shardkey.Compare(key, mp.Max) < 0)
}

// at returns the index of the last mapping whose Min is <= key, or -1.
func (c *cache) at(key []byte) int {
	return sort.Search(len(c.mp), func(i int) bool { return shardkey.Compare(c.mp[i].Min, key) > 0 }) - 1
}

func (c *cache) find(key []byte) (fleet.Mapping, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if i := c.at(key); i >= 0 && c.holds(c.mp[i], key) {
		return c.mp[i], true
	}
	return fleet.Mapping{}, false
}

// overlaps reports whether a and b share a key.
func (c *cache) overlaps(a, b fleet.Mapping) bool {
	if c.m.Type == fleet.ListMap {
		return string(a.Min) == string(b.Min)
	}
	return (a.Max == nil || shardkey.Compare(b.Min, a.Max) < 0) && (b.Max == nil || shardkey.Compare(a.Min, b.Max) < 0)
}

// put caches mp, replacing every cached mapping it overlaps.
func (c *cache) put(mp fleet.Mapping) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.mp[:0]
	for _, o := range c.mp {
		if !c.overlaps(o, mp) {
			kept = append(kept, o)
		}
	}
	i := sort.Search(len(kept), func(i int) bool { return shardkey.Compare(kept[i].Min, mp.Min) > 0 })
	kept = append(kept, fleet.Mapping{})
	copy(kept[i+1:], kept[i:])
	kept[i] = mp
	c.mp = kept
}

// drop forgets mp (by id); a newer mapping cached meanwhile stays.
func (c *cache) drop(mp fleet.Mapping) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.mp {
		if o.ID == mp.ID {
			c.mp = append(c.mp[:i], c.mp[i+1:]...)
			return
		}
	}
}

func (c *cache) clear() {
	c.mu.Lock()
	c.mp = nil
	c.mu.Unlock()
}
