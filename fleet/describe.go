package fleet

import "context"

// SchemaDescriber is implemented by drivers that can tell which tables a
// SQL script creates without touching the fleet (the local driver runs it
// in a scratch in-memory database). ok is false when the driver cannot tell
// for this script; the error is for a script that does not run.
type SchemaDescriber interface {
	DescribeSQL(ctx context.Context, script string) (tables []TableInfo, ok bool, err error)
}

// KeyColumnChecker is implemented by drivers that know which declared
// column types can hold the keys of a shard map. KeyColumnFits returns
// false, and the kind of type it wants, when a column of columnType cannot.
type KeyColumnChecker interface {
	KeyColumnFits(kt KeyType, columnType string) (ok bool, want string)
}

// ServerLister is implemented by drivers that can list the fleet's servers.
type ServerLister interface {
	// Servers lists every server, ordered by name.
	Servers(ctx context.Context) ([]string, error)
}
