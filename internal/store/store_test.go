package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type testBundle struct {
	store *store.Store
	ctx   context.Context
	now   time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	s := storetest.New(t)
	ctx := context.Background()
	for _, code := range []string{"00000001", "00000002"} {
		require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: code, Name: "A " + code, Adapter: "json", Endpoint: "http://127.0.0.1:1/"}))
	}
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, hash("secret")))
	return &testBundle{store: s, ctx: ctx, now: time.Now().UTC().Truncate(time.Microsecond)}
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func (b *testBundle) newCase(t *testing.T, key string, authorities ...string) schemas.StoredCase {
	t.Helper()
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: key,
		RequestSHA256: hash(key), CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealComplaint,
		Body: []byte(`{"x":1}`), ReceivedAt: b.now}
	for _, a := range authorities {
		nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: uuid.Must(uuid.NewV7()).String(), Authority: a})
	}
	c, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	return c
}

func TestCreateCaseIsIdempotentByKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.newCase(t, "k1", "00000001", "00000002")
	require.True(t, first.Created)
	require.Regexp(t, `^ZV-2026-\d{8}$`, first.TrackingNumber)

	again := b.newCase(t, "k1", "00000001")
	require.False(t, again.Created)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.TrackingNumber, again.TrackingNumber)

	pending, _, err := b.store.OutboxStats(b.ctx, b.now)
	require.NoError(t, err)
	require.Equal(t, 2, pending, "the replay stored no new outbox rows")

	c, err := b.store.Case(b.ctx, "portal", first.ID)
	require.NoError(t, err)
	require.Len(t, c.Deliveries, 2)
	require.Equal(t, schemas.StatusAccepted, c.Deliveries[0].Status)
	require.Len(t, c.Events, 1)

	_, err = b.store.Case(b.ctx, "other-portal", first.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestCreateCaseConcurrentSameKeyStoresOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() { ids[i] = b.newCase(t, "same", "00000001").ID })
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	counts, err := b.store.DeliveryCounts(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, counts[schemas.StatusAccepted])
}

func TestCreateCaseUnknownAuthorityStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: "x",
		RequestSHA256: hash("x"), CaseKind: schemas.CaseAppeal, Body: []byte(`{}`), ReceivedAt: b.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "99999999"}}}
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.Error(t, err)
	_, err = b.store.Case(b.ctx, "portal", nc.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	pending, _, err := b.store.OutboxStats(b.ctx, b.now)
	require.NoError(t, err)
	require.Zero(t, pending)
}

func TestRelayBatchMarksOnlyConfirmedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "k", "00000001", "00000002")
	published, failed, err := b.store.RelayBatch(b.ctx, b.now, 10, time.Minute,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error {
			require.Len(t, msgs, 2)
			errs := make([]error, len(msgs))
			for i, m := range msgs {
				require.Equal(t, c.ID, m.AppealID)
				require.Equal(t, c.TrackingNumber, m.TrackingNumber)
				if m.Authority == "00000002" {
					errs[i] = errors.New("nacked")
				}
			}
			return errs
		})
	require.NoError(t, err)
	require.Equal(t, 1, published)
	require.Equal(t, 1, failed)

	pending, _, err := b.store.OutboxStats(b.ctx, b.now)
	require.NoError(t, err)
	require.Equal(t, 1, pending)

	// The failed row is not due again until retryAfter has passed.
	calls := 0
	_, _, err = b.store.RelayBatch(b.ctx, b.now.Add(time.Second), 10, time.Minute,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error {
			calls++
			return make([]error, len(msgs))
		})
	require.NoError(t, err)
	require.Zero(t, calls)
	published, _, err = b.store.RelayBatch(b.ctx, b.now.Add(2*time.Minute), 10, time.Minute,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error { return make([]error, len(msgs)) })
	require.NoError(t, err)
	require.Equal(t, 1, published)

	cs, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	for _, d := range cs.Deliveries {
		require.Equal(t, schemas.StatusQueued, d.Status)
	}
}

func TestRelayBatchConcurrentRelaysNeverShareRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 60 {
		b.newCase(t, "k"+string(rune('A'+i%26))+string(rune('a'+i/26)), "00000001")
	}
	var seen sync.Map
	var dup, total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				n, _, err := b.store.RelayBatch(b.ctx, b.now, 7, time.Minute,
					func(_ context.Context, msgs []schemas.OutboxMessage) []error {
						for _, m := range msgs {
							if _, loaded := seen.LoadOrStore(m.ID, true); loaded {
								dup.Add(1)
							}
						}
						time.Sleep(5 * time.Millisecond) // hold the claim while others try
						return make([]error, len(msgs))
					})
				require.NoError(t, err)
				total.Add(int64(n))
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, dup.Load())
	require.Equal(t, int64(60), total.Load())
}

func TestRecordOutcomeAppliesOnceAndSchedulesRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "k", "00000001")
	cs, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	id := cs.Deliveries[0].ID

	next := b.now.Add(time.Minute)
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 1,
		Status: schemas.StatusQueued, Error: "http 503", NextAttemptAt: next, At: b.now})
	require.NoError(t, err)
	require.True(t, applied)
	// A duplicate of the same attempt changes nothing.
	applied, err = b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 1,
		Status: schemas.StatusDelivered, At: b.now})
	require.NoError(t, err)
	require.False(t, applied)

	task, err := b.store.DeliveryTask(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, task.Attempts)
	require.Equal(t, "json", task.Adapter)
	require.Equal(t, []byte(`{"x":1}`), task.Body)

	pending, _, err := b.store.OutboxStats(b.ctx, b.now)
	require.NoError(t, err)
	require.Equal(t, 2, pending, "first send and the scheduled retry")

	applied, err = b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 2,
		Status: schemas.StatusDelivered, Reference: "R-1", At: b.now})
	require.NoError(t, err)
	require.True(t, applied)
	// Delivered is final for the delivery worker.
	applied, err = b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 3,
		Status: schemas.StatusDead, At: b.now})
	require.NoError(t, err)
	require.False(t, applied)

	cs, err = b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Equal(t, schemas.StatusDelivered, cs.Deliveries[0].Status)
	require.NotNil(t, cs.Deliveries[0].DeliveredAt)
	types := []schemas.EventType{}
	for _, e := range cs.Events {
		types = append(types, e.Type)
	}
	require.Equal(t, []schemas.EventType{schemas.EventSubmissionAccepted, schemas.EventDeliveryQueued,
		schemas.EventDeliveryAttempt, schemas.EventDeliveryDelivered}, types, "queued shows even when the worker outran the relay")
}

func TestWatchOutboxSignalsOnNotify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	ch, err := b.store.WatchOutbox(ctx)
	require.NoError(t, err)
	require.NoError(t, b.store.NotifyOutbox(ctx))
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
}

func TestSchemaVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.CheckSchema(b.ctx))
	cur, want, err := b.store.SchemaVersion(b.ctx)
	require.NoError(t, err)
	require.Equal(t, want, cur)

	// A schema that was never migrated is refused with a message saying to migrate.
	cfg := storetest.Config()
	s, err := store.Open(b.ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.DropSchema(context.Background()); _ = s.Close() })
	require.NoError(t, s.CreateSchema(b.ctx))
	err = s.CheckSchema(b.ctx)
	require.ErrorIs(t, err, store.ErrSchemaOutdated)
	require.Contains(t, err.Error(), "appealhub migrate")
}

func TestSeedingNeverChangesAnExistingStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The registry suspended 00000001; a restart seeds it again as active with a new endpoint.
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000009", Name: "X", Adapter: "json", Status: "suspended"}))
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000009", Name: "X", Adapter: "json",
		Endpoint: "http://new.example/", Status: "active"}))
	got, err := b.store.Authorities(b.ctx, []string{"00000009"})
	require.NoError(t, err)
	require.Equal(t, "suspended", got["00000009"].Status, "the registry, not the seed, decides the status")
	require.Equal(t, "http://new.example/", got["00000009"].Endpoint, "connection fields follow the seed")
}
