package runner

// Provenance is where a run's plan came from, recorded in its run-started
// record: the git commit checked out, whether the working tree differed
// from it, the plan file (relative to the repository, or to fleetplan.yaml
// outside git) and the SHA-256 of what the plan was made from (the file and
// every template and SQL file it reads).
type Provenance struct {
	Commit      string `json:"commit,omitempty"`
	Dirty       bool   `json:"dirty,omitempty"`
	File        string `json:"file,omitempty"`
	ContentHash string `json:"contentHash,omitempty"`
}
