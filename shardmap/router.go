package shardmap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// Router routes sharding keys of one shard map to connections on the shards
// that hold them. It is safe for concurrent use; share one per process and
// shard map, so its mapping cache serves every goroutine.
type Router struct {
	store fleet.ShardMapStore
	conn  fleet.ShardConnector
	m     fleet.ShardMap
	opts  Options
	cache cache
	stats counters
}

// Options tune a Router. The zero value is ready to use.
type Options struct {
	// Retry is the policy of Router.InTx; zero fields take DefaultRetry's.
	Retry RetryPolicy
}

// New returns a router for the named shard map of an opened target. The
// target's driver must offer a shard map store and shard connections
// (fleet.ShardMapStore and fleet.ShardConnector); the local driver does.
// The router does not own t: close t after the last use of the router.
func New(ctx context.Context, t fleet.Target, mapName string, opts Options) (*Router, error) {
	store, ok := t.(fleet.ShardMapStore)
	if !ok {
		return nil, &fleet.Error{Op: "open shard map", Target: t.Name(), Err: fmt.Errorf("the %s driver has no shard maps", t.Driver())}
	}
	conn, ok := t.(fleet.ShardConnector)
	if !ok {
		return nil, &fleet.Error{Op: "open shard map", Target: t.Name(),
			Err: fmt.Errorf("the %s driver cannot hand out shard connections for data-dependent routing", t.Driver())}
	}
	m, err := store.ShardMap(ctx, mapName)
	if err != nil {
		return nil, err
	}
	opts.Retry = opts.Retry.withDefaults()
	return &Router{store: store, conn: conn, m: m, opts: opts, cache: cache{m: m}}, nil
}

// ShardMap returns the map the router routes.
func (r *Router) ShardMap() fleet.ShardMap { return r.m }

// Stats counts what the router did since New.
type Stats struct {
	// Opens is the number of OpenForKey calls that returned a connection.
	Opens int64
	// CacheHits is the number of keys found online in the mapping cache.
	CacheHits int64
	// StoreLookups is the number of mappings read from the global shard map.
	StoreLookups int64
	// Refreshes is the number of cached mappings a shard's local shard map
	// no longer held (the mapping moved or changed), each dropped and read
	// again from the global shard map.
	Refreshes int64
	// Offline is the number of OfflineErrors returned.
	Offline int64
	// Validations is the number of transactions validated against a local
	// shard map.
	Validations int64
}

type counters struct {
	opens, hits, lookups, refreshes, offline, validations atomic.Int64
}

// Stats returns the counters.
func (r *Router) Stats() Stats {
	s := &r.stats
	return Stats{Opens: s.opens.Load(), CacheHits: s.hits.Load(), StoreLookups: s.lookups.Load(),
		Refreshes: s.refreshes.Load(), Offline: s.offline.Load(), Validations: s.validations.Load()}
}

// Invalidate empties the mapping cache; the next keys are read from the
// global shard map again. Routing never needs it for correctness.
func (r *Router) Invalidate() { r.cache.clear() }

// routedKey is one key: its value as given, encoded, and as text.
type routedKey struct {
	enc  []byte
	text string
}

func (r *Router) encode(key any) (routedKey, error) {
	enc, err := shardkey.Encode(r.m.KeyType, key)
	if err != nil {
		return routedKey{}, &fleet.Error{Op: "route key", Target: r.m.Name, Err: err,
			Hint: fmt.Sprintf("%s is keyed by %s", r.m.Name, r.m.KeyType)}
	}
	return routedKey{enc: enc, text: shardkey.FormatBound(r.m.KeyType, enc)}, nil
}

// mapping returns the mapping that holds the key: the cached one when it is
// online there, else the global shard map's (which is then cached). An
// offline mapping is never trusted from the cache: the global shard map
// tells whether the move that holds it has finished.
func (r *Router) mapping(ctx context.Context, k routedKey) (fleet.Mapping, error) {
	if mp, ok := r.cache.find(k.enc); ok && mp.Online {
		r.stats.hits.Add(1)
		return mp, nil
	}
	r.stats.lookups.Add(1)
	mp, err := r.store.MappingForKey(ctx, r.m.Name, k.enc)
	if err != nil {
		return fleet.Mapping{}, err
	}
	r.cache.put(mp)
	return mp, nil
}

// offline builds the OfflineError for a key whose mapping is offline.
func (r *Router) offline(k routedKey, mp fleet.Mapping, err error) error {
	r.stats.offline.Add(1)
	if err == nil {
		err = fmt.Errorf("%w: %s is offline in the global shard map", fleet.ResultMappingIsOffline, elasticdb.BoundsText(r.m, mp.Min, mp.Max))
	}
	return &OfflineError{ShardMap: r.m.Name, Key: k.text, Range: elasticdb.BoundsText(r.m, mp.Min, mp.Max), Shard: mp.Location, Err: err}
}

// OpenForKey returns a connection to the shard that holds key (a Go value
// of the map's key type: int64 for an int64 map, uuid.UUID for guid, ...),
// like the library's OpenConnectionForKey. The mapping comes from the cache
// or the global shard map; every transaction begun on the connection checks
// it against the shard's local shard map first (see Conn.BeginTx).
//
// Errors: an *OfflineError (IsOffline) while a move holds the key; an error
// matching fleet.ErrNotFound when no mapping holds the key;
// fleet.ErrInvalidArgument for a key of the wrong type. Transient errors
// (fleet.IsTransient) are worth retrying; Retry does both.
func (r *Router) OpenForKey(ctx context.Context, key any) (*Conn, error) {
	k, err := r.encode(key)
	if err != nil {
		return nil, err
	}
	return r.open(ctx, k)
}

func (r *Router) open(ctx context.Context, k routedKey) (*Conn, error) {
	mp, err := r.mapping(ctx, k)
	if err != nil {
		return nil, err
	}
	if !mp.Online {
		return nil, r.offline(k, mp, nil)
	}
	c := &Conn{r: r, key: k, mp: mp}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	r.stats.opens.Add(1)
	return c, nil
}

// Conn is a connection routed for one key. It is not safe for concurrent
// use (like *sql.Conn); close it when done.
type Conn struct {
	r   *Router
	key routedKey
	mp  fleet.Mapping
	sc  *sql.Conn
}

// connect pins a connection of the mapping's shard.
func (c *Conn) connect(ctx context.Context) error {
	db, err := c.r.conn.ShardDB(ctx, c.mp.Location)
	if err != nil {
		return err
	}
	sc, err := db.Conn(ctx)
	if err != nil {
		return &fleet.Error{Op: "connect to shard", Target: c.mp.Location.String(), Err: err}
	}
	c.sc = sc
	return nil
}

// Shard returns where the connection is: the shard of the key's mapping.
func (c *Conn) Shard() fleet.Location { return c.mp.Location }

// Mapping returns the mapping the connection was last validated against
// (or read from the cache or the global shard map, before its first
// transaction).
func (c *Conn) Mapping() fleet.Mapping { return c.mp }

// Close returns the connection to the shard's pool. Safe to call twice.
func (c *Conn) Close() error {
	if c.sc == nil {
		return nil
	}
	err := c.sc.Close()
	c.sc = nil
	return err
}

// maxFollow bounds how often one BeginTx follows a mapping that changed
// under it before it reports the change as a transient error.
const maxFollow = 3

// BeginTx begins a transaction on the key's shard and, inside it, checks
// that the shard's local shard map holds the key's mapping online, so a
// write made in the transaction can never land on a shard the key has left:
// the driver keeps the answer true until the transaction ends (on the local
// driver the transaction holds the database's write lock from its start;
// read-only transactions read one snapshot).
//
// When the local shard map no longer holds the mapping (it moved, or was
// split or merged), the cached mapping is dropped, the global shard map is
// read again and the connection follows the key to its shard. While a move
// holds the key it returns an *OfflineError. The returned transaction is the
// caller's to commit or roll back.
func (c *Conn) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	if c.sc == nil {
		return nil, &fleet.Error{Op: "begin transaction", Target: c.r.m.Name, Err: sql.ErrConnDone}
	}
	for follow := 0; ; follow++ {
		c.r.stats.validations.Add(1)
		tx, verr := c.r.conn.BeginRoutedTx(ctx, c.sc, opts, c.r.m, c.mp.Location, c.mp)
		if verr == nil {
			return tx, nil
		}
		switch {
		case errors.Is(verr, fleet.ResultMappingIsOffline):
			c.r.cache.drop(c.mp)
			return nil, c.r.offline(c.key, c.mp, verr)
		case !errors.Is(verr, fleet.ResultMappingDoesNotExist):
			return nil, verr
		}
		c.r.stats.refreshes.Add(1)
		c.r.cache.drop(c.mp)
		if follow == maxFollow {
			return nil, &fleet.Error{Op: "route key " + c.key.text, Target: c.r.m.Name, Err: verr, Transient: true,
				Hint: "the mapping kept changing while it was read; retry"}
		}
		mp, err := c.r.mapping(ctx, c.key)
		if err != nil {
			return nil, err
		}
		if !mp.Online {
			c.mp = mp
			return nil, c.r.offline(c.key, mp, nil)
		}
		if !mp.Location.Equal(c.mp.Location) {
			_ = c.Close()
			c.mp = mp
			if err := c.connect(ctx); err != nil {
				return nil, err
			}
		}
		c.mp = mp
	}
}

// InTx runs fn in a transaction on the shard that holds key and commits it,
// retrying with the router's policy (Options.Retry) while the key is offline
// or an error is transient. fn may run more than once, each time in a new
// transaction whose earlier attempt was rolled back; it must not keep
// effects outside the transaction. A failed Commit is returned, not
// retried: its outcome may be unknown.
func (r *Router) InTx(ctx context.Context, key any, fn func(tx *sql.Tx) error) error {
	k, err := r.encode(key)
	if err != nil {
		return err
	}
	return Retry(ctx, r.opts.Retry, func(ctx context.Context) error { return r.inTx(ctx, k, fn) })
}

// InTxOnce is one attempt of InTx, for callers that retry with a policy
// (or hooks) of their own: Retry(ctx, p, func(ctx) error { return
// r.InTxOnce(ctx, key, fn) }). Retry never retries its failed Commit.
func (r *Router) InTxOnce(ctx context.Context, key any, fn func(tx *sql.Tx) error) error {
	k, err := r.encode(key)
	if err != nil {
		return err
	}
	return r.inTx(ctx, k, fn)
}

func (r *Router) inTx(ctx context.Context, k routedKey, fn func(tx *sql.Tx) error) error {
	c, err := r.open(ctx, k)
	if err != nil {
		return err
	}
	defer c.Close()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return permanent(&fleet.Error{Op: "commit", Target: c.Shard().String(), Err: fmt.Errorf("%w: %w", ErrCommitOutcomeUnknown, err),
			Hint: "the transaction may or may not have been applied; check before writing again"})
	}
	return nil
}
