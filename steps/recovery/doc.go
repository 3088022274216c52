// Package recovery holds the shard map recovery actions: the library's
// RecoveryManager operations (detach, attach, detect, resolve), a location
// update, the snapshot a run keeps in its journal before each change and
// the restore that puts it back, and the move of misplaced rows.
package recovery
