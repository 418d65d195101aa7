package relay_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"appealhub/router/relay"
	"appealhub/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeOutbox holds pending rows in memory and applies RelayBatch's contract.
type fakeOutbox struct {
	mu        sync.Mutex
	pending   []schemas.OutboxMessage
	published []int64
	notify    chan struct{}
}

func (f *fakeOutbox) add(ids ...int64) {
	f.mu.Lock()
	for _, id := range ids {
		f.pending = append(f.pending, schemas.OutboxMessage{ID: id, DeliveryID: "d", Authority: "00000001"})
	}
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

func (f *fakeOutbox) RelayBatch(ctx context.Context, _ time.Time, limit int, _ time.Duration,
	publish func(context.Context, []schemas.OutboxMessage) []error) (int, int, error) {
	f.mu.Lock()
	n := min(limit, len(f.pending))
	batch := append([]schemas.OutboxMessage(nil), f.pending[:n]...)
	f.mu.Unlock()
	if n == 0 {
		return 0, 0, nil
	}
	errs := publish(ctx, batch)
	f.mu.Lock()
	defer f.mu.Unlock()
	published, failed := 0, 0
	var keep []schemas.OutboxMessage
	for i, m := range batch {
		if errs[i] == nil {
			f.published = append(f.published, m.ID)
			published++
		} else {
			keep = append(keep, m)
			failed++
		}
	}
	f.pending = append(keep, f.pending[n:]...)
	return published, failed, nil
}

func (f *fakeOutbox) NextOutboxDue(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

func (f *fakeOutbox) WatchOutbox(context.Context) (<-chan struct{}, error) { return f.notify, nil }

func (f *fakeOutbox) publishedIDs() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.published...)
}

type fakePublisher struct {
	connected atomic.Bool
	failNext  atomic.Int64
	calls     atomic.Int64
}

func (p *fakePublisher) Connected() bool { return p.connected.Load() }

func (p *fakePublisher) Publish(_ context.Context, msgs []schemas.OutboxMessage) []error {
	p.calls.Add(1)
	errs := make([]error, len(msgs))
	for i := range msgs {
		if p.failNext.Load() > 0 {
			p.failNext.Add(-1)
			errs[i] = errors.New("nack")
		}
	}
	return errs
}

func TestRelayPublishesInBatchesOnNotification(t *testing.T) {
	t.Parallel()
	ob := &fakeOutbox{notify: make(chan struct{}, 1)}
	pub := &fakePublisher{}
	pub.connected.Store(true)
	r := relay.New(relay.Config{BatchSize: 10, PollInterval: time.Hour}, ob, pub, zaptest.NewLogger(t))
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()

	ids := make([]int64, 25)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	ob.add(ids...)
	require.Eventually(t, func() bool { return len(ob.publishedIDs()) == 25 }, 5*time.Second, time.Millisecond,
		"woken by the notification although the poll interval is an hour")
	require.Equal(t, ids, ob.publishedIDs(), "published in outbox order, each once")
	require.Equal(t, int64(3), pub.calls.Load(), "batches of at most 10")
}

func TestRelayRetriesWhatWasNotConfirmed(t *testing.T) {
	t.Parallel()
	ob := &fakeOutbox{notify: make(chan struct{}, 1)}
	pub := &fakePublisher{}
	pub.connected.Store(true)
	pub.failNext.Store(2)
	r := relay.New(relay.Config{BatchSize: 10, PollInterval: 20 * time.Millisecond}, ob, pub, zaptest.NewLogger(t))
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	ob.add(1, 2, 3)
	require.Eventually(t, func() bool { return len(ob.publishedIDs()) == 3 }, 5*time.Second, time.Millisecond)
	require.ElementsMatch(t, []int64{1, 2, 3}, ob.publishedIDs())
}

func TestRelayWaitsForTheBroker(t *testing.T) {
	t.Parallel()
	ob := &fakeOutbox{notify: make(chan struct{}, 1)}
	pub := &fakePublisher{}
	r := relay.New(relay.Config{BatchSize: 10, PollInterval: 10 * time.Millisecond}, ob, pub, zaptest.NewLogger(t))
	require.NoError(t, r.Start(context.Background()))
	defer func() { require.NoError(t, r.Stop(context.Background())) }()
	ob.add(1)
	time.Sleep(100 * time.Millisecond) // nothing may be published while disconnected
	require.Zero(t, pub.calls.Load())
	pub.connected.Store(true)
	require.Eventually(t, func() bool { return len(ob.publishedIDs()) == 1 }, 5*time.Second, time.Millisecond)
}
