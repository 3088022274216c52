package gitops

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/fleetplan/fleetplan/engine"
	"github.com/fleetplan/fleetplan/plans"
	"github.com/fleetplan/fleetplan/runner"
)

// RunIndex finds the newest run of each plan document in a state folder.
// Runs that ended are read once: their status cannot change any more.
type RunIndex struct {
	mu    sync.Mutex
	ended map[string]*runner.RunStatus // by run folder and id
	tops  map[string]string            // git top by config folder ("" outside git)
}

// NewRunIndex returns an empty index.
func NewRunIndex() *RunIndex {
	return &RunIndex{ended: map[string]*runner.RunStatus{}, tops: map[string]string{}}
}

// Newest returns the newest run of doc in its state folder (nil when it
// never ran), with the file its provenance names relative to
// fleetplan.yaml ("" when it recorded none).
func (x *RunIndex) Newest(doc *plans.Document) (last *LastRun, file string, err error) {
	if doc.Config == nil {
		return nil, "", nil
	}
	dir := filepath.Join(doc.Config.Dir, runner.StateDirName)
	runs, err := runner.List(dir)
	if err != nil {
		return nil, "", err
	}
	target := engine.TargetOf(doc)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Plan != doc.Metadata.Name || r.Target != target {
			continue
		}
		st, err := x.status(dir, r.ID)
		if err != nil {
			return nil, "", err
		}
		if st.Kind != "" && st.Kind != doc.Kind {
			continue
		}
		last = &LastRun{ID: st.ID, Status: st.Status, Reason: st.Reason}
		if p := st.Provenance; p != nil {
			last.Hash = p.ContentHash
			file = x.configRelative(doc.Config, p)
		}
		return last, file, nil
	}
	return nil, "", nil
}

func (x *RunIndex) status(dir, id string) (*runner.RunStatus, error) {
	key := dir + "\x00" + id
	x.mu.Lock()
	st := x.ended[key]
	x.mu.Unlock()
	if st != nil {
		return st, nil
	}
	st, err := runner.Status(dir, id)
	if err != nil {
		return nil, err
	}
	switch st.Status {
	case runner.StatusDone, runner.StatusRolledBack, runner.StatusCancelled:
		x.mu.Lock()
		x.ended[key] = st
		x.mu.Unlock()
	}
	return st, nil
}

// configRelative turns a run's provenance file (relative to its git
// repository, or to fleetplan.yaml outside git) into a path relative to
// fleetplan.yaml, as ContentHash names files.
func (x *RunIndex) configRelative(cfg *plans.Config, p *runner.Provenance) string {
	if p.File == "" || p.Commit == "" {
		return p.File
	}
	x.mu.Lock()
	top, ok := x.tops[cfg.Dir]
	x.mu.Unlock()
	if !ok {
		if repo, err := OpenRepo(context.Background(), cfg.Dir); err == nil {
			top = repo.Top
		}
		x.mu.Lock()
		x.tops[cfg.Dir] = top
		x.mu.Unlock()
	}
	if top == "" {
		return p.File
	}
	rel, err := filepath.Rel(Normalize(cfg.Dir), filepath.Join(top, filepath.FromSlash(p.File)))
	if err != nil {
		return p.File
	}
	return filepath.ToSlash(rel)
}
