package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	"github.com/google/uuid"

	"github.com/fleetplan/fleetplan/faults"
	"github.com/fleetplan/fleetplan/fleet"
)

// Checkpoint keys: an operation's record under opKey, and the operation a
// client request id started under requestKey.
const (
	opKeyPrefix      = "azure.operation/"
	requestKeyPrefix = "azure.request/"
)

// Operation kinds: which SDK call's poller a resume token belongs to.
const (
	kindInstanceCreate = "managedInstance.create"
	kindInstanceUpdate = "managedInstance.update"
	kindInstanceDelete = "managedInstance.delete"
)

// record is what the driver checkpoints about one long-running operation:
// enough to rebuild its poller after a restart.
type record struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Type     string    `json:"type"`                   // fleet.Instance* for instance operations
	Resource string    `json:"resource"`               // the instance (or server/database) it changes
	Request  string    `json:"request,omitempty"`      // the client request id that started it
	Token    string    `json:"token,omitempty"`        // the poller's resume token; "" when it ended at once
	Started  time.Time `json:"started"`                // when Begin returned
	ARMOp    string    `json:"armOperation,omitempty"` // the service's operation id, once known
	// Pending marks an intent: the record is written before the Begin
	// request is sent and replaced once Begin returned, so a record still
	// pending after a restart means the request may or may not have reached
	// Azure. Resuming it reads the resource instead of sending again.
	Pending bool `json:"pending,omitempty"`
	// Before is what the resource was before the request (a failover
	// group's primary), for the reading a pending record resumes with.
	Before string `json:"before,omitempty"`
	// Follow, when set, says the operation is followed through the
	// service's own operation record (followARMOperation), found after a
	// restart without a resume token, rather than through a poller.
	Follow string `json:"follow,omitempty"`
}

// FaultBegun is the fault point (package faults) between an operation's
// Begin request and the checkpoint of its resume token: a process killed
// there started the operation in Azure and recorded only its intent.
const FaultBegun = "azure.operation.begun"

// begunHook runs at FaultBegun; tests replace it to stop a session there.
var begunHook = func(ctx context.Context) error { return faults.Hit(FaultBegun) }

// poller is what the driver needs of a runtime.Poller, whatever its result
// type.
type poller interface {
	Done() bool
	Poll(ctx context.Context) (*http.Response, error)
	Result(ctx context.Context) error
	ResumeToken() (string, error)
}

type pollerOf[T any] struct{ p *runtime.Poller[T] }

func (w pollerOf[T]) Done() bool { return w.p.Done() }
func (w pollerOf[T]) Poll(ctx context.Context) (*http.Response, error) {
	return w.p.Poll(ctx)
}
func (w pollerOf[T]) Result(ctx context.Context) error { _, err := w.p.Result(ctx); return err }
func (w pollerOf[T]) ResumeToken() (string, error)     { return w.p.ResumeToken() }

func wrapPoller[T any](p *runtime.Poller[T], err error) (poller, error) {
	if err != nil {
		return nil, err
	}
	return pollerOf[T]{p}, nil
}

// live is an operation this process follows: its poller and the last
// status it read.
type live struct {
	mu     sync.Mutex // held while the service is asked
	rec    record
	p      poller
	polled time.Time // when the service was last asked
	state  fleet.InstanceOpState
	err    error // the operation's failure, once ended
	// arm is the service's record of the operation (phases, progress) as
	// last read, at armAt.
	arm   *armsql.ManagedInstanceOperation
	armAt time.Time
}

// operations holds the operations this process started or re-attached to.
// The records themselves live in the run's checkpoints (see
// fleet.Checkpoints); memory only caches them and their pollers.
type operations struct {
	mu   sync.Mutex
	byID map[string]*live
	// records saved without a run's checkpoints (a program that uses the
	// driver directly): they last as long as the process.
	mem map[string]string
}

func newOperations() *operations {
	return &operations{byID: map[string]*live{}, mem: map[string]string{}}
}

// save checkpoints rec (into the run journal when ctx carries the run's
// checkpoints) before the caller reports the operation as started.
func (o *operations) save(ctx context.Context, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	vals := map[string]string{opKeyPrefix + rec.ID: string(b)}
	if rec.Request != "" {
		vals[requestKeyPrefix+rec.Request] = rec.ID
	}
	cp := fleet.CheckpointsFrom(ctx)
	for _, k := range []string{opKeyPrefix + rec.ID, requestKeyPrefix + rec.Request} {
		v, ok := vals[k]
		if !ok {
			continue
		}
		if cp != nil {
			if err := cp.Save(ctx, k, v); err != nil {
				return fmt.Errorf("checkpoint the operation's resume token: %w", err)
			}
		}
		o.mu.Lock()
		o.mem[k] = v
		o.mu.Unlock()
	}
	return nil
}

// load returns the value saved under key: from this process, or from the
// run's checkpoints (an earlier session, before a restart).
func (o *operations) load(ctx context.Context, key string) (string, bool) {
	o.mu.Lock()
	v, ok := o.mem[key]
	o.mu.Unlock()
	if ok {
		return v, true
	}
	if cp := fleet.CheckpointsFrom(ctx); cp != nil {
		return cp.Load(key)
	}
	return "", false
}

// record returns the checkpointed record of an operation.
func (o *operations) record(ctx context.Context, id string) (record, bool, error) {
	v, ok := o.load(ctx, opKeyPrefix+id)
	if !ok {
		return record{}, false, nil
	}
	var rec record
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return record{}, false, fmt.Errorf("checkpointed operation %s: %w", id, err)
	}
	return rec, true, nil
}

// byRequest returns the id of the operation a client request id started.
func (o *operations) byRequest(ctx context.Context, request string) (string, bool) {
	if request == "" {
		return "", false
	}
	return o.load(ctx, requestKeyPrefix+request)
}

// intend checkpoints that a request for an operation is about to be sent
// (a pending record under the client request id), so that a process killed
// after the request and before the resume token's checkpoint leaves a trace
// resume can act on. Without a client request id nothing could find it
// again, and nothing is written.
func (o *operations) intend(ctx context.Context, kind, typ, resource, request, before string) (record, error) {
	rec := record{ID: uuid.NewString(), Kind: kind, Type: typ, Resource: resource, Request: request, Started: time.Now().UTC(), Pending: true, Before: before}
	if request == "" {
		return rec, nil
	}
	if err := o.save(ctx, rec); err != nil {
		return rec, fmt.Errorf("checkpoint the operation's intent: %w", err)
	}
	return rec, nil
}

// pending returns the pending record (an intent with no outcome) that a
// client request id left, if any.
func (o *operations) pending(ctx context.Context, request string) (record, bool, error) {
	id, ok := o.byRequest(ctx, request)
	if !ok {
		return record{}, false, nil
	}
	rec, ok, err := o.record(ctx, id)
	if err != nil || !ok || !rec.Pending {
		return record{}, false, err
	}
	return rec, true, nil
}

// start records a new operation begun with p and returns it.
func (o *operations) start(ctx context.Context, kind, typ, resource, request string, p poller) (*live, error) {
	rec := record{ID: uuid.NewString(), Kind: kind, Type: typ, Resource: resource, Request: request, Started: time.Now().UTC()}
	return o.begun(ctx, rec, p)
}

// begun records the operation rec (an intent, or a new record) as begun
// with p: its resume token replaces the intent.
func (o *operations) begun(ctx context.Context, rec record, p poller) (*live, error) {
	if err := begunHook(ctx); err != nil {
		return nil, err
	}
	rec.Pending, rec.Before = false, ""
	l := &live{rec: rec, p: p, state: fleet.OpInProgress}
	if p.Done() {
		// The service finished at once (a no-op update): nothing to resume.
		l.state, l.err = finalState(ctx, p)
	} else {
		tok, err := p.ResumeToken()
		if err != nil {
			return nil, fmt.Errorf("resume token: %w", err)
		}
		l.rec.Token = tok
	}
	if err := o.save(ctx, l.rec); err != nil {
		return nil, err
	}
	l.polled = time.Now()
	o.mu.Lock()
	o.byID[rec.ID] = l
	o.mu.Unlock()
	return l, nil
}

// settled records a pending operation as ended without this process
// following it (the resource shows its effect): resuming it again finds
// it done.
func (o *operations) settled(ctx context.Context, rec record) error {
	rec.Pending, rec.Before, rec.Token = false, "", ""
	return o.save(ctx, rec)
}

// attach returns the operation id follows, rebuilding its poller from the
// checkpointed resume token after a restart; nil when there is none.
func (o *operations) attach(ctx context.Context, id string, resume func(rec record) (poller, error)) (*live, error) {
	o.mu.Lock()
	l := o.byID[id]
	o.mu.Unlock()
	if l != nil {
		return l, nil
	}
	rec, ok, err := o.record(ctx, id)
	if err != nil || !ok {
		return nil, err
	}
	if rec.Pending {
		// An intent: only the caller can tell, from the resource, what
		// became of it (see intend).
		return nil, fmt.Errorf("%w: operation %s was being started when the process stopped", errPending, id)
	}
	l = &live{rec: rec, state: fleet.OpInProgress}
	if rec.Token == "" && rec.Follow == "" {
		l.state = fleet.OpSucceeded
	} else if l.p, err = resume(rec); err != nil {
		return nil, err
	}
	o.mu.Lock()
	if have := o.byID[id]; have != nil {
		l = have
	} else {
		o.byID[id] = l
	}
	o.mu.Unlock()
	return l, nil
}

// errPending is attach's error for an intent (see intend).
var errPending = errors.New("the operation's start was not recorded")

// refresh asks the service for the operation's status unless it did less
// than every ago or the operation ended.
func (o *operations) refresh(ctx context.Context, l *live, every time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state.Ended() || l.p == nil {
		return nil
	}
	if !l.polled.IsZero() && time.Since(l.polled) < every {
		return nil
	}
	if !l.p.Done() {
		if _, err := l.p.Poll(ctx); err != nil && !l.p.Done() {
			if !terminal(err) {
				return err
			}
			// The service answered the poll with the operation's
			// failure.
			l.polled = time.Now()
			l.state, l.err = fleet.OpFailed, err
			if isCancelled(err) {
				l.state = fleet.OpCancelled
			}
			return nil
		}
	}
	l.polled = time.Now()
	if l.p.Done() {
		l.state, l.err = finalState(ctx, l.p)
	}
	return nil
}

// terminal reports whether a poll's error is the operation's own failure
// rather than a failure to ask: an ARM error response other than a refused
// sign-in or permission, throttling, a timeout or a server error (those
// azcore retried already, and the next poll may get through).
func terminal(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	switch s := re.StatusCode; {
	case s == http.StatusUnauthorized, s == http.StatusForbidden, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return false
	case s >= 400:
		return true
	}
	return false
}

// finalState reads how an ended operation ended.
func finalState(ctx context.Context, p poller) (fleet.InstanceOpState, error) {
	err := p.Result(ctx)
	switch {
	case err == nil:
		return fleet.OpSucceeded, nil
	case isCancelled(err):
		return fleet.OpCancelled, err
	}
	return fleet.OpFailed, err
}
