package local

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"os"
	"strings"
	"sync"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
)

// A move copies each batch on a connection to the target that has the
// source attached read-only. Attaching opens the source and reads its
// schema, and detaching expires every statement prepared on the connection,
// so the connection is kept, attached, between the calls of a move: one per
// pair of a target pool and a source file. It is taken out while in use,
// and it is used again only when its source is still the same file and the
// catalog still gives the same target pool (so a database set read-only or
// failing over is seen as before). closePools drops those of a file.

// attachKey names a kept connection: the target's pool and the source's file.
type attachKey struct {
	pool *sql.DB
	src  string
}

// attachedConn is a connection of pool with the file src attached as "src".
type attachedConn struct {
	key   attachKey
	conn  *sql.Conn
	file  os.FileInfo // the source file as it was attached
	gen   int         // attachedConns.gen when it was taken out
	stmts map[string]*sql.Stmt
}

// attachedConns are the kept connections of a Target.
type attachedConns struct {
	mu  sync.Mutex
	m   map[attachKey]*attachedConn
	gen int // counts drops: a connection out during one is not kept
}

// take removes and returns the kept connection of key, nil when none, and
// the generation a connection taken out now belongs to.
func (a *attachedConns) take(key attachKey) (*attachedConn, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.m[key]
	delete(a.m, key)
	return c, a.gen
}

// keep puts c back, or closes it when another one is kept already or
// connections were dropped while it was out.
func (a *attachedConns) keep(c *attachedConn) {
	a.mu.Lock()
	if _, had := a.m[c.key]; !had && c.gen == a.gen {
		if a.m == nil {
			a.m = map[attachKey]*attachedConn{}
		}
		a.m[c.key] = c
		c = nil
	}
	a.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// drop closes the kept connections for which gone is true.
func (a *attachedConns) drop(gone func(attachKey) bool) {
	a.mu.Lock()
	a.gen++
	var closing []*attachedConn
	for k, c := range a.m {
		if gone(k) {
			closing = append(closing, c)
			delete(a.m, k)
		}
	}
	a.mu.Unlock()
	for _, c := range closing {
		c.close()
	}
}

// close detaches the source and closes the connection (or discards it if
// detaching fails).
func (c *attachedConn) close() {
	for _, st := range c.stmts {
		st.Close()
	}
	if _, err := c.conn.ExecContext(context.Background(), `DETACH DATABASE src`); err != nil {
		_ = c.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	c.conn.Close()
}

// dropAttached closes the kept connections whose source is the file p or
// whose target pool is one of pools.
func (t *Target) dropAttached(p string, pools ...*sql.DB) {
	t.attached.drop(func(k attachKey) bool {
		for _, db := range pools {
			if k.pool == db {
				return true
			}
		}
		return k.src == p
	})
}

// attach returns a dedicated connection to dst with src attached as "src".
// release(reuse) keeps it for the next call when reuse is true, else
// detaches and closes it.
func (t *Target) attach(ctx context.Context, src, dst fleet.Location) (*attachedConn, func(reuse bool), error) {
	if err := faults.Unavailable(src.String()); err != nil {
		return nil, nil, err
	}
	_, srcPath, err := t.resolve(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	if _, err := t.dbAt(src, srcPath); err != nil { // checks that the file is SQLite
		return nil, nil, err
	}
	db, err := t.db(ctx, dst)
	if err != nil {
		return nil, nil, err
	}
	key := attachKey{db, srcPath}
	file, err := os.Stat(srcPath)
	if err != nil {
		return nil, nil, &fleet.Error{Op: "attach " + src.String(), Target: dst.String(), Err: err}
	}
	c, gen := t.attached.take(key)
	if c != nil && !os.SameFile(c.file, file) {
		c.close() // the source was replaced since
		c = nil
	}
	if c == nil {
		conn, err := db.Conn(ctx)
		if err != nil {
			return nil, nil, sqlErr("connect", dst, err)
		}
		if _, err := conn.ExecContext(ctx, `ATTACH DATABASE ? AS src`, "file:"+strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(srcPath)+"?mode=ro"); err != nil {
			conn.Close()
			return nil, nil, sqlErr("attach "+src.String(), dst, err)
		}
		c = &attachedConn{key: key, conn: conn, file: file}
	}
	c.gen = gen
	release := func(reuse bool) {
		if reuse && ctx.Err() == nil {
			t.attached.keep(c)
			return
		}
		c.close()
	}
	return c, release, nil
}

// stmt returns q prepared on the connection.
func (c *attachedConn) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.stmts[q]; ok {
		return st, nil
	}
	st, err := c.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = map[string]*sql.Stmt{}
	}
	c.stmts[q] = st
	return st, nil
}

// The connection is a querier whose statements run prepared. A statement
// that does not prepare runs as it is, so that its error is the statement's own.

func (c *attachedConn) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return c.conn.ExecContext(ctx, q, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (c *attachedConn) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return c.conn.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (c *attachedConn) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return c.conn.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// attachedTx is the transaction attachTx began on an attached connection.
type attachedTx struct {
	*attachedConn
	ctx       context.Context
	committed bool
}

// Commit commits the transaction.
func (tx *attachedTx) Commit() error {
	_, err := tx.conn.ExecContext(tx.ctx, `COMMIT`)
	tx.committed = err == nil
	return err
}

// attachTx begins a dst transaction on a connection with src attached,
// whose statements run prepared on that connection; done rolls it back
// unless committed and releases the connection, which is kept for the next
// call when the transaction ended cleanly. The transaction is SQL BEGIN
// IMMEDIATE and COMMIT on the connection: a database/sql transaction would
// prepare every statement again.
func (t *Target) attachTx(ctx context.Context, src, dst fleet.Location, what string) (committer, func(), error) {
	c, release, err := t.attach(ctx, src, dst)
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		release(false)
		return nil, nil, sqlErr(what, dst, err)
	}
	tx := &attachedTx{attachedConn: c, ctx: ctx}
	return tx, func() {
		ok := tx.committed
		if !ok {
			_, err := c.conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
			ok = err == nil
		}
		release(ok)
	}, nil
}
