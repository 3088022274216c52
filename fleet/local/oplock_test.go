package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
	"github.com/fleetplan/fleetplan/fleet/elasticdb"
	"github.com/fleetplan/fleetplan/fleet/shardkey"
)

// Environment of the slow writer child process.
const (
	slowChildDir   = "LOCAL_SLOW_CHILD_DIR"   // the fleet
	slowChildTo    = "LOCAL_SLOW_CHILD_TO"    // database the mapping at key 0 moves to
	slowChildReady = "LOCAL_SLOW_CHILD_READY" // file written once the move is held half-way
)

// heldExecutor holds an operation after its source shard's LSM, writing
// ready and waiting for its stdin to close: a slow owner in mid-operation.
type heldExecutor struct {
	executor
	ready string
}

func (h heldExecutor) Checkpoint(op *elasticdb.Operation, point string) error {
	if point == elasticdb.CrashAfterLSMSource {
		if err := os.WriteFile(h.ready, []byte(op.ID.String()), 0o644); err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return h.executor.Checkpoint(op, point)
}

// slowChild moves the mapping at key 0 of map M to another shard as a
// client of the library does: the operation's lock and the protocol, not
// fleetplan's writer lock, so the parent's writers meet its pending rows.
func slowChild(dir, to, ready string) error {
	ctx := context.Background()
	tg, err := Open(ctx, dir)
	if err != nil {
		return err
	}
	defer tg.Close()
	g, err := tg.gsm(ctx, false)
	if err != nil {
		return err
	}
	m, err := tg.ShardMap(ctx, "M")
	if err != nil {
		return err
	}
	mp, err := tg.MappingForKey(ctx, "M", slowKey(0))
	if err != nil {
		return err
	}
	src, err := tg.shardByID(ctx, g, mp.ShardID)
	if err != nil {
		return err
	}
	dst, err := tg.shardAt(ctx, g, m, fleet.Location{Server: "sql-1", Database: to})
	if err != nil {
		return err
	}
	op := elasticdb.RepointOp(m, src, dst, mp, false, fleet.NoLock)
	if err := elasticdb.Run(ctx, heldExecutor{tg.executor(g), ready}, op); err != nil {
		return err
	}
	fmt.Println("moved")
	return nil
}

func slowKey(v int64) []byte { b, _ := shardkey.Encode(fleet.KeyInt64, v); return b }

// slowChildProc is a running slow writer child.
type slowChildProc struct {
	cmd    *exec.Cmd
	resume io.WriteCloser   // close to let the held operation go on
	done   chan struct{}    // closed when the child exited
	err    error            // its exit, once done
	out    *strings.Builder // its output, once it exited
	opID   string           // the held operation
}

// startSlowChild starts a child process moving the mapping at key 0 to
// database to, and waits until it holds the move half-way.
func startSlowChild(t *testing.T, dir, to string) *slowChildProc {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOperationRunningInAnotherProcess$")
	cmd.Env = append(os.Environ(), slowChildDir+"="+dir, slowChildTo+"="+to, slowChildReady+"="+ready)
	p := &slowChildProc{cmd: cmd, out: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	var err error
	if p.resume, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			t.Fatalf("the child ended before it held its move: %v\n%s", p.err, p.out)
		case <-tick.C:
		}
		if id, err := os.ReadFile(ready); err == nil && len(id) > 0 {
			p.opID = string(id)
			return p
		}
	}
}

// A slow operation in one process (a library client: the operation's lock,
// no fleetplan writer lock) is not undone by fleetplan writers in another
// process that meet it: they wait for its lock, then refuse, naming it; a
// write that does not meet it goes ahead. The operation then finishes. A
// second such operation whose process is killed mid-way is undone by the
// next writer that meets it, and that writer goes ahead.
func TestOperationRunningInAnotherProcess(t *testing.T) {
	if dir := os.Getenv(slowChildDir); dir != "" {
		if err := slowChild(dir, os.Getenv(slowChildTo), os.Getenv(slowChildReady)); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctx := context.Background()
	dir := t.TempDir()
	tg, err := Init(ctx, dir, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	a, b, c := fleet.Location{Server: "sql-1", Database: "db_a"}, fleet.Location{Server: "sql-1", Database: "db_b"}, fleet.Location{Server: "sql-1", Database: "db_c"}
	for _, loc := range []fleet.Location{a, b, c} {
		if err := tg.CreateDatabase(ctx, loc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tg.CreateShardMap(ctx, "M", fleet.RangeMap, fleet.KeyInt64); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []fleet.Location{a, b, c} {
		if _, err := tg.AddShard(ctx, "M", loc); err != nil {
			t.Fatal(err)
		}
	}
	mp, err := tg.AddMapping(ctx, "M", a, slowKey(0), slowKey(100))
	if err != nil {
		t.Fatal(err)
	}
	if mp, err = tg.SetMappingOnline(ctx, "M", mp.ID, false); err != nil {
		t.Fatal(err)
	}
	pendingOf := func() []fleet.PendingOperation {
		t.Helper()
		lay, err := tg.Observe(ctx, "M")
		if err != nil {
			t.Fatal(err)
		}
		return lay.Maps[0].Pending
	}

	t.Run("running", func(t *testing.T) {
		child := startSlowChild(t, dir, "db_b")
		opID := child.opID
		for name, write := range map[string]func(ctx context.Context) error{
			"the same mapping": func(ctx context.Context) error {
				_, err := tg.SetMappingOnline(ctx, "M", mp.ID, true)
				return err
			},
			"the target shard": func(ctx context.Context) error {
				_, err := tg.AddMapping(ctx, "M", b, slowKey(100), slowKey(200))
				return err
			},
		} {
			for _, wait := range []time.Duration{0, 100 * time.Millisecond} {
				err := write(elasticdb.WithPendingWait(ctx, wait))
				var running *elasticdb.OperationRunningError
				if !errors.As(err, &running) || running.ID.String() != opID || !errors.Is(err, fleet.ResultPendingOperation) {
					t.Fatalf("write meeting %s (wait %s) = %v, want the running operation %s refused", name, wait, err, opID)
				}
				var fe *fleet.Error
				if !errors.As(err, &fe) || !strings.Contains(fe.Hint, "wait for it to finish") {
					t.Fatalf("write meeting %s: %v has no hint to wait", name, err)
				}
			}
		}
		if ids, err := tg.RecoverPending(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("RecoverPending while the operation runs = %v, %v; want nothing undone", ids, err)
		}
		if p := pendingOf(); len(p) != 1 || p[0].ID.String() != opID {
			t.Fatalf("pending after the writers: %+v, want the running operation", p)
		}
		if _, err := tg.AddMapping(ctx, "M", c, slowKey(1000), slowKey(2000)); err != nil {
			t.Fatalf("a write that does not meet the operation: %v", err)
		}
		child.resume.Close()
		<-child.done
		if child.err != nil || !strings.Contains(child.out.String(), "moved") {
			t.Fatalf("the slow operation, after the writers met it: %v\n%s", child.err, child.out)
		}
		lay, err := tg.Observe(ctx, "M")
		if err != nil {
			t.Fatal(err)
		}
		if m := lay.Maps[0]; len(m.Pending) != 0 || len(m.Differences) != 0 {
			t.Fatalf("after the operation: pending %+v, differences %+v", m.Pending, m.Differences)
		}
		got, err := tg.MappingForKey(ctx, "M", slowKey(0))
		if err != nil || !got.Location.Equal(b) {
			t.Fatalf("mapping at 0 = %+v, %v; want it moved to %s", got, err, b)
		}
		mp = got
	})

	t.Run("owner killed", func(t *testing.T) {
		child := startSlowChild(t, dir, "db_a")
		opID := child.opID
		if err := child.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-child.done
		if p := pendingOf(); len(p) != 1 || p[0].ID.String() != opID {
			t.Fatalf("pending after the kill: %+v", p)
		}
		got, err := tg.SetMappingOnline(ctx, "M", mp.ID, true)
		if err != nil {
			t.Fatalf("the write meeting the dead owner's operation: %v", err)
		}
		if !got.Online || !got.Location.Equal(b) {
			t.Fatalf("mapping %+v, want it online on %s (the killed move undone)", got, b)
		}
		lay, err := tg.Observe(ctx, "M")
		if err != nil {
			t.Fatal(err)
		}
		if m := lay.Maps[0]; len(m.Pending) != 0 || len(m.Differences) != 0 {
			t.Fatalf("after the undo: pending %+v, differences %+v", m.Pending, m.Differences)
		}
	})
}
