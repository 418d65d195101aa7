package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingFlush is a flush that doubles each request (odd ones fail), records its batches and
// the most flushes that ran at once, and, while gate is set, waits for it before returning.
type recordingFlush struct {
	mu      sync.Mutex
	batches [][]int
	gate    chan struct{}
	running atomic.Int32
	most    atomic.Int32
}

func (f *recordingFlush) flush(ctx context.Context, reqs []int, res []int, errs []error) {
	if ctx.Err() != nil {
		panic("the flush runs with a context no caller can cancel")
	}
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.most.Load()
		if n <= m || f.most.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.batches = append(f.batches, append([]int(nil), reqs...))
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	for i, r := range reqs {
		if r%2 != 0 {
			errs[i] = fmt.Errorf("odd %d", r)
			continue
		}
		res[i] = 2 * r
	}
}

func (f *recordingFlush) recorded() [][]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]int(nil), f.batches...)
}

// waiting returns how many requests wait for a flush.
func (b *batcher[Req, Res]) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// idle says whether no flush runs and no request waits: every slot was given back.
func (b *batcher[Req, Res]) idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running == 0 && len(b.pending) == 0
}

// TestBatcherLoneCallerRunsAtOnce: with no one else about, every call is its own flush (nothing
// waits for company: a timer would gather nothing, as the calls come one after the other).
func TestBatcherLoneCallerRunsAtOnce(t *testing.T) {
	t.Parallel()
	f := &recordingFlush{}
	b := newBatcher(64, 2, nil, f.flush)
	for i := range 1000 {
		got, err := b.do(context.Background(), 2*i)
		require.NoError(t, err)
		require.Equal(t, 4*i, got)
	}
	batches := f.recorded()
	require.Len(t, batches, 1000)
	for i, batch := range batches {
		require.Equal(t, []int{2 * i}, batch)
	}
	require.True(t, b.idle())
}

// TestBatcherSharesFlushes: callers that come while the flushes run wait and share the next ones,
// at most maxBatch to a flush and maxFlushes at once, and each gets its own result or error.
func TestBatcherSharesFlushes(t *testing.T) {
	t.Parallel()
	for _, flushes := range []int{1, 2} {
		t.Run(fmt.Sprint(flushes), func(t *testing.T) {
			t.Parallel()
			f := &recordingFlush{gate: make(chan struct{})}
			b := newBatcher(4, flushes, nil, f.flush)
			results := make([]int, 2+20)
			errs := make([]error, len(results))
			var wg sync.WaitGroup
			// The first callers take every slot and hold it at the gate.
			for i := range flushes {
				wg.Go(func() { results[i], errs[i] = b.do(context.Background(), i) })
			}
			require.Eventually(t, func() bool { return len(f.recorded()) == flushes }, 5*time.Second, time.Millisecond)
			for i := flushes; i < len(results); i++ {
				wg.Go(func() { results[i], errs[i] = b.do(context.Background(), i) })
			}
			require.Eventually(t, func() bool { return b.waiting() == len(results)-flushes }, 5*time.Second, time.Millisecond)
			f.mu.Lock()
			close(f.gate)
			f.gate = nil
			f.mu.Unlock()
			wg.Wait()

			for i := range results {
				if i%2 != 0 {
					require.EqualError(t, errs[i], fmt.Sprintf("odd %d", i))
					continue
				}
				require.NoError(t, errs[i])
				require.Equal(t, 2*i, results[i])
			}
			batches := f.recorded()
			seen := map[int]bool{}
			for _, batch := range batches {
				require.LessOrEqual(t, len(batch), 4)
				for _, r := range batch {
					require.False(t, seen[r], "request %d flushed twice", r)
					seen[r] = true
				}
			}
			require.Len(t, seen, len(results))
			if waited := len(results) - flushes; flushes == 1 {
				require.Len(t, batches, 1+(waited+3)/4, "the waiting requests went in full batches: %v", batches)
			} else {
				// Two slots handed on at once may split what waits between them.
				require.Less(t, len(batches), len(results)-flushes, "the waiting requests shared flushes: %v", batches)
			}
			require.LessOrEqual(t, int(f.most.Load()), flushes)
			require.True(t, b.idle())
		})
	}
}

// TestBatcherKeepsAKeyToOneRequestPerBatch: two requests with one key never share a flush; the
// second goes to a later one.
func TestBatcherKeepsAKeyToOneRequestPerBatch(t *testing.T) {
	t.Parallel()
	f := &recordingFlush{gate: make(chan struct{})}
	b := newBatcher(64, 1, func(r int) string { return fmt.Sprint(r / 10) }, f.flush)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.do(context.Background(), 0) })
	require.Eventually(t, func() bool { return len(f.recorded()) == 1 }, 5*time.Second, time.Millisecond)
	reqs := []int{10, 12, 20, 14, 30, 22}
	for _, r := range reqs {
		wg.Go(func() { _, _ = b.do(context.Background(), r) })
		require.Eventually(t, func() bool { return b.waiting() > 0 && b.pendingHas(r) }, 5*time.Second, time.Millisecond)
	}
	f.mu.Lock()
	close(f.gate)
	f.gate = nil
	f.mu.Unlock()
	wg.Wait()
	batches := f.recorded()
	require.Equal(t, [][]int{{0}, {10, 20, 30}, {12, 22}, {14}}, batches)
	require.True(t, b.idle())
}

func (b *batcher[Req, Res]) pendingHas(r Req) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.pending {
		if any(c.req) == any(r) {
			return true
		}
	}
	return false
}

// TestBatcherCallerGivesUp: a caller whose context ends stops waiting; its request is not done,
// and the others' are, by flushes that its leaving does not stall.
func TestBatcherCallerGivesUp(t *testing.T) {
	t.Parallel()
	f := &recordingFlush{gate: make(chan struct{})}
	b := newBatcher(64, 1, nil, f.flush)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.do(context.Background(), 0) })
	require.Eventually(t, func() bool { return len(f.recorded()) == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := b.do(ctx, 2); gaveUp <- err }()
	require.Eventually(t, func() bool { return b.waiting() == 1 }, 5*time.Second, time.Millisecond)
	var got int
	var err error
	wg.Go(func() { got, err = b.do(context.Background(), 4) })
	require.Eventually(t, func() bool { return b.waiting() == 2 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-gaveUp, context.Canceled)
	f.mu.Lock()
	close(f.gate)
	f.gate = nil
	f.mu.Unlock()
	wg.Wait()
	require.NoError(t, err)
	require.Equal(t, 8, got)
	require.Equal(t, [][]int{{0}, {4}}, f.recorded())
	require.True(t, b.idle())
}

// TestBatcherManyCallersSomeGivingUp: under churn (callers coming all the time, a third giving up
// at random moments, including just as a slot is handed to them) every caller that waits gets its
// own result, no flush exceeds its bounds, and every slot is given back.
func TestBatcherManyCallersSomeGivingUp(t *testing.T) {
	t.Parallel()
	f := &recordingFlush{}
	b := newBatcher(8, 3, nil, func(ctx context.Context, reqs []int, res []int, errs []error) {
		time.Sleep(100 * time.Microsecond)
		f.flush(ctx, reqs, res, errs)
	})
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for i := range 2000 {
		wg.Go(func() {
			ctx := context.Background()
			if i%3 == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(i%50)*10*time.Microsecond)
				defer cancel()
			}
			got, err := b.do(ctx, 2*i)
			switch {
			case errors.Is(err, context.DeadlineExceeded) && i%3 == 0:
			case err != nil || got != 4*i:
				wrong.Add(1)
			}
		})
	}
	wg.Wait()
	require.Zero(t, wrong.Load())
	require.LessOrEqual(t, int(f.most.Load()), 3)
	for _, batch := range f.recorded() {
		require.LessOrEqual(t, len(batch), 8)
	}
	require.True(t, b.idle())
}

// TestBatcherFlushPanics: the callers of a flush that panics get an error rather than waiting
// forever, the panic reaches the caller that ran it, and the batcher goes on working.
func TestBatcherFlushPanics(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	var calls atomic.Int32
	b := newBatcher(64, 1, nil, func(_ context.Context, reqs []int, res []int, _ []error) {
		switch calls.Add(1) {
		case 1:
			<-gate
		case 2:
			panic("boom")
		}
		copy(res, reqs)
	})
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = b.do(context.Background(), 1) })
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	// 2 runs the next flush (the oldest waiting), with 3 in it.
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = b.do(context.Background(), 2)
	}()
	require.Eventually(t, func() bool { return b.waiting() == 1 }, 5*time.Second, time.Millisecond)
	waited := make(chan error, 1)
	go func() { _, err := b.do(context.Background(), 3); waited <- err }()
	require.Eventually(t, func() bool { return b.waiting() == 2 }, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	require.Equal(t, "boom", <-panicked)
	require.ErrorIs(t, <-waited, errFlushPanicked)
	got, err := b.do(context.Background(), 4)
	require.NoError(t, err)
	require.Equal(t, 4, got)
	require.True(t, b.idle())
}
