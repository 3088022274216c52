package fleet

import "context"

// Checkpoints keeps what a step must find again when its run resumes after
// a restart: the resume token of a cloud operation in flight, for example.
// The runner keeps them in the run journal, one set per step, and hands them
// to the step's Apply through its context; a driver reads them with
// CheckpointsFrom. Without them (a program that uses a driver directly) a
// driver keeps its tokens in memory only.
type Checkpoints interface {
	// Save makes value durable under key before it returns.
	Save(ctx context.Context, key, value string) error
	// Load returns what Save stored under key, in this session of the run
	// or an earlier one.
	Load(key string) (value string, ok bool)
}

type checkpointsKey struct{}

// WithCheckpoints returns a context that carries c.
func WithCheckpoints(ctx context.Context, c Checkpoints) context.Context {
	return context.WithValue(ctx, checkpointsKey{}, c)
}

// CheckpointsFrom returns the checkpoints ctx carries; nil when none.
func CheckpointsFrom(ctx context.Context) Checkpoints {
	c, _ := ctx.Value(checkpointsKey{}).(Checkpoints)
	return c
}
