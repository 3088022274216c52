package local

import (
	"context"
	"database/sql"
	"sync"
)

// The shard map executor runs the same few dozen statements in every
// operation. Parsing them again each time was the largest part of an
// operation's CPU, so they run as prepared statements kept per database
// pool: database/sql prepares each once per connection and Tx.StmtContext
// reuses it inside a transaction.

// stmtSet is one database pool's prepared statements.
type stmtSet struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// stmts returns db's prepared statements.
func (t *Target) stmts(db *sql.DB) *stmtSet {
	if s, ok := t.prepared.Load(db); ok {
		return s.(*stmtSet)
	}
	s, _ := t.prepared.LoadOrStore(db, &stmtSet{db: db, m: map[string]*sql.Stmt{}})
	return s.(*stmtSet)
}

// closeDB closes db and the statements prepared on it, so that a pool
// closed by a read-only switch, a failover or a replaced file leaves no
// statement set behind.
func (t *Target) closeDB(db *sql.DB) error {
	if s, ok := t.prepared.LoadAndDelete(db); ok {
		set := s.(*stmtSet)
		set.mu.Lock()
		for q, st := range set.m {
			st.Close()
			delete(set.m, q)
		}
		set.mu.Unlock()
	}
	return db.Close()
}

func (s *stmtSet) get(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.m[q]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	// Not under the lock: preparing may wait for a connection of the pool.
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if had, ok := s.m[q]; ok {
		st.Close()
		return had, nil
	}
	s.m[q] = st
	return st, nil
}

// ptx is a transaction whose statements run prepared. A statement that
// does not prepare runs as it is, so that its error is the statement's own.
type ptx struct {
	tx    *sql.Tx
	stmts *stmtSet
}

// Commit commits the transaction.
func (p ptx) Commit() error { return p.tx.Commit() }

func (p ptx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := p.stmts.get(ctx, q)
	if err != nil {
		return p.tx.ExecContext(ctx, q, args...)
	}
	return p.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

func (p ptx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := p.stmts.get(ctx, q)
	if err != nil {
		return p.tx.QueryContext(ctx, q, args...)
	}
	return p.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

func (p ptx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := p.stmts.get(ctx, q)
	if err != nil {
		return p.tx.QueryRowContext(ctx, q, args...)
	}
	return p.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}

// pdb is a database pool whose statements run prepared (a querier).
type pdb struct {
	db    *sql.DB
	stmts *stmtSet
}

// pq returns q with its statements prepared when q is a pool; a
// transaction is returned as it is.
func (t *Target) pq(q querier) querier {
	if db, ok := q.(*sql.DB); ok {
		return pdb{db, t.stmts(db)}
	}
	return q
}

func (p pdb) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := p.stmts.get(ctx, q)
	if err != nil {
		return p.db.ExecContext(ctx, q, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (p pdb) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := p.stmts.get(ctx, q)
	if err != nil {
		return p.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (p pdb) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := p.stmts.get(ctx, q)
	if err != nil {
		return p.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
