// Package confine keeps the files a plan names inside its repository: the
// folder holding fleetplan.yaml, plus the folders fleetplan.yaml lists under
// allowPaths. Plans come from pull requests, so a path in a plan is untrusted
// input: it is resolved (symlinks included) before it is checked, and errors
// name the file, never its contents.
package confine
