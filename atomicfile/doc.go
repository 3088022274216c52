// Package atomicfile writes a file so that a crash leaves either the old
// content or the new one, never a part: through a temporary file in the
// same folder, fsync, rename, and an fsync of the folder.
package atomicfile
