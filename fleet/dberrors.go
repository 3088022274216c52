package fleet

import "errors"

// Classes of database errors. Drivers classify what their database returns
// by its error code (never by the text of the message) into one of these,
// wrapped in *Error with a hint, so a caller tests errors.Is and a user never
// sees a database engine's raw message for a condition fleetplan knows.
var (
	// ErrBusy: another writer held the database longer than the driver
	// waits. Transient: retry.
	ErrBusy = errors.New("the database is busy: another writer held it too long")
	// ErrConstraint: the change would break a key or constraint of the
	// database (a row with the same key exists already). In shard map
	// tables it means the global and local shard maps differ.
	ErrConstraint = errors.New("the change conflicts with rows already in the database")
	// ErrStorage: the database file could not be read or written (disk
	// full, I/O error, permissions, a damaged file).
	ErrStorage = errors.New("the database file cannot be read or written")
)
