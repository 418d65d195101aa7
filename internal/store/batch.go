package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"appealhub/schemas"
)

// batcher lets concurrent callers share one flush (one statement) without a timer: a caller puts
// its request in and, if fewer than maxFlushes flushes run, runs a flush at once with its own
// request and every other one waiting (up to maxBatch). Requests that arrive while the flushes
// run wait, and the next flush takes them: as a flush ends, it hands its slot to the oldest
// caller still waiting, which runs it. A lone caller therefore runs its statement as soon as it
// comes, and under load the statements carry many requests each.
//
// Flushes run with a context of their own, not a caller's: a caller whose context ends stops
// waiting (its request is dropped if no flush took it yet), and no other caller's work is cut.
type batcher[Req, Res any] struct {
	maxBatch   int
	maxFlushes int
	// key, when set, keeps two requests with the same key out of one batch: the second waits for
	// a later flush.
	key func(Req) string
	// flush does reqs, setting res[i] and errs[i] for each reqs[i].
	flush func(ctx context.Context, reqs []Req, res []Res, errs []error)

	mu      sync.Mutex
	pending []*batchCall[Req, Res] // in arrival order
	running int                    // slots in use: flushes running, and slots handed to a caller not yet running
}

// batchCall is one caller's request waiting for its result.
type batchCall[Req, Res any] struct {
	req  Req
	res  Res
	err  error
	done chan struct{} // closed once res and err are set
	lead chan struct{} // carries the slot handed to this caller (one at most)
	// promoted is true (under mu) from when a slot is handed to this caller until it runs the
	// flush or gives the slot on: no other flush takes its request meanwhile.
	promoted bool
}

// errFlushPanicked is the error of the requests of a flush that panicked.
var errFlushPanicked = errors.New("store: batch flush panicked")

func newBatcher[Req, Res any](maxBatch, maxFlushes int, key func(Req) string,
	flush func(ctx context.Context, reqs []Req, res []Res, errs []error)) *batcher[Req, Res] {
	return &batcher[Req, Res]{maxBatch: max(maxBatch, 1), maxFlushes: max(maxFlushes, 1), key: key, flush: flush}
}

// do puts req in and returns its result, once a flush did it, or ctx's error if ctx ends first.
func (b *batcher[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	var zero Res
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	c := &batchCall[Req, Res]{req: req, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	lead := b.running < b.maxFlushes
	if lead {
		b.running++
	}
	b.mu.Unlock()
	if lead {
		b.run(c)
	}
	for {
		select {
		case <-c.done:
			return c.res, c.err
		case <-c.lead:
			b.run(c)
		case <-ctx.Done():
			select {
			case <-c.done: // done as ctx ended: the result is there
				return c.res, c.err
			default:
			}
			b.abandon(c)
			return zero, ctx.Err()
		}
	}
}

// run runs one flush on a slot the caller holds (self's request first, when no other flush took
// it), then hands the slot on.
func (b *batcher[Req, Res]) run(self *batchCall[Req, Res]) {
	b.mu.Lock()
	self.promoted = false
	batch := b.take(self)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.handOff()
		b.mu.Unlock()
	}()
	if len(batch) == 0 {
		return
	}
	finished := false
	defer func() {
		if !finished { // flush panicked: no caller of the batch waits forever
			for _, c := range batch {
				c.err = errFlushPanicked
				close(c.done)
			}
		}
	}()
	reqs := make([]Req, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	res, errs := make([]Res, len(batch)), make([]error, len(batch))
	// Not a caller's context: the batch is every caller's work.
	b.flush(context.Background(), reqs, res, errs)
	finished = true
	for i, c := range batch {
		c.res, c.err = res[i], errs[i]
		close(c.done)
	}
}

// take removes from pending and returns the next batch: self first if still pending, then the
// oldest requests, skipping those of callers handed a slot and those whose key is in the batch.
// b.mu is held.
func (b *batcher[Req, Res]) take(self *batchCall[Req, Res]) []*batchCall[Req, Res] {
	var batch []*batchCall[Req, Res]
	var keys map[string]bool
	if b.key != nil {
		keys = map[string]bool{}
	}
	fits := func(c *batchCall[Req, Res]) bool {
		if len(batch) >= b.maxBatch {
			return false
		}
		if keys != nil {
			k := b.key(c.req)
			if keys[k] {
				return false
			}
			keys[k] = true
		}
		return true
	}
	selfPending := slices.Contains(b.pending, self)
	if selfPending {
		fits(self)
		batch = append(batch, self)
	}
	kept := b.pending[:0]
	for _, c := range b.pending {
		switch {
		case c == self && selfPending:
		case !c.promoted && fits(c):
			batch = append(batch, c)
		default:
			kept = append(kept, c)
		}
	}
	clear(b.pending[len(kept):])
	b.pending = kept
	return batch
}

// handOff gives the slot of a flush that ended to the oldest caller waiting that holds none, or
// frees it when none waits. b.mu is held.
func (b *batcher[Req, Res]) handOff() {
	for _, c := range b.pending {
		if !c.promoted {
			c.promoted = true
			c.lead <- struct{}{} // never blocks: a caller holds one slot at most
			return
		}
	}
	b.running--
}

// abandon withdraws c, whose caller stops waiting: its request if no flush took it, and the slot
// handed to it, which goes on to another caller.
func (b *batcher[Req, Res]) abandon(c *batchCall[Req, Res]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.pending, c); i >= 0 {
		b.pending = slices.Delete(b.pending, i, i+1)
	}
	if c.promoted {
		c.promoted = false
		<-c.lead // sent under mu with promoted set, and not received: c's caller is here
		b.handOff()
	}
}

// Batch sizes of DeliveryBatcher.
const (
	// deliveryBatchMax caps the requests of one statement.
	deliveryBatchMax = 64
	// taskFlushes and outcomeFlushes cap the statements of each kind running at once: callers
	// that come while they run wait for one to end, and share the next.
	taskFlushes    = 4
	outcomeFlushes = 2
)

// DeliveryBatcher is the delivery worker's view of a Store in which concurrent workers share
// statements: the task reads of the workers waiting at one moment are one DeliveryTasks
// statement, their outcomes one RecordOutcomes statement (never two outcomes of one delivery in
// one statement). A lone worker runs its own statement at once, as with the Store. Results and
// errors are each caller's own: when a shared statement fails, its requests are done one by one
// with DeliveryTask and RecordOutcome, so that one bad request fails alone. It starts no
// goroutine and is safe for concurrent use.
type DeliveryBatcher struct {
	store    *Store
	tasks    *batcher[string, schemas.DeliveryTask]
	outcomes *batcher[schemas.DeliveryOutcome, bool]
}

// NewDeliveryBatcher returns a DeliveryBatcher over s.
func NewDeliveryBatcher(s *Store) *DeliveryBatcher {
	return &DeliveryBatcher{
		store: s,
		tasks: newBatcher(deliveryBatchMax, taskFlushes, nil, s.flushDeliveryTasks),
		outcomes: newBatcher(deliveryBatchMax, outcomeFlushes,
			func(o schemas.DeliveryOutcome) string { return deliveryKey(o.DeliveryID) }, s.recordOutcomes),
	}
}

// DeliveryTask is Store.DeliveryTask, sharing its statement with the concurrent callers'.
func (b *DeliveryBatcher) DeliveryTask(ctx context.Context, deliveryID string) (schemas.DeliveryTask, error) {
	return b.tasks.do(ctx, deliveryID)
}

// RecordOutcome is Store.RecordOutcome, sharing its statement with the concurrent callers'. Once
// its outcome is taken into a statement, ctx ending no longer stops it (it is the other callers'
// statement too), only the wait for its result: callers pass context.WithoutCancel to always
// learn it.
func (b *DeliveryBatcher) RecordOutcome(ctx context.Context, o schemas.DeliveryOutcome) (applied bool, err error) {
	return b.outcomes.do(ctx, o)
}

// InboxPut is Store.InboxPut.
func (b *DeliveryBatcher) InboxPut(ctx context.Context, deliveryID string, at time.Time) (added bool, err error) {
	return b.store.InboxPut(ctx, deliveryID, at)
}

// flushDeliveryTasks reads the tasks of ids: in one statement, or one by one when there is one
// or the statement fails (an id that is not a UUID fails it: it must fail alone).
func (s *Store) flushDeliveryTasks(ctx context.Context, ids []string, tasks []schemas.DeliveryTask, errs []error) {
	if len(ids) > 1 {
		got, err := s.DeliveryTasks(ctx, ids)
		if err == nil {
			for i, t := range got {
				if t.DeliveryID == "" {
					errs[i] = fmt.Errorf("read delivery task: %w", ErrNotFound)
					continue
				}
				tasks[i] = t
			}
			return
		}
	}
	for i, id := range ids {
		tasks[i], errs[i] = s.DeliveryTask(ctx, id)
	}
}
