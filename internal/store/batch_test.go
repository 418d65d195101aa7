package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// These tests hold the statements many delivery workers share (DeliveryTasks, RecordOutcomes,
// DeliveryBatcher) to what the one-delivery statements do.

// deliveryState is everything recorded of one delivery, as JSON: its row (but its ids), its events
// and its outbox rows (but theirs), so that two deliveries' states compare whole.
func (b *testBundle) deliveryState(t *testing.T, id string) string {
	t.Helper()
	var row, events, outbox string
	require.NoError(t, b.store.DBForTest().QueryRowContext(b.ctx, `
		SELECT (SELECT to_jsonb(d) - 'id' - 'appeal_id' FROM deliveries d WHERE d.id = $1)::text,
		       (SELECT coalesce(jsonb_agg(jsonb_build_object('type', e.type, 'status', e.status, 'detail', e.detail,
		                'created_at', e.created_at) ORDER BY e.seq), '[]') FROM events e WHERE e.delivery_id = $1)::text,
		       (SELECT coalesce(jsonb_agg(to_jsonb(o) - 'id' - 'delivery_id' ORDER BY o.id), '[]')
		        FROM outbox o WHERE o.delivery_id = $1)::text`, id).Scan(&row, &events, &outbox))
	return row + "\n" + events + "\n" + outbox
}

// TestRecordOutcomesAsRecordOutcome: one RecordOutcomes statement leaves every delivery as
// RecordOutcome leaves its twin (row, events, outbox rows), with the same answers: delivered,
// sent, a retry with its outbox row, dead, a stale attempt, a second attempt, and a delivery still
// accepted (the worker outran the relay: queued first). Its events go in by outcome, then by event.
func TestRecordOutcomesAsRecordOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	zone := time.FixedZone("", 3*3600)
	at := func(i int) time.Time { return b.now.Add(time.Duration(i)*time.Second + 789).In(zone) } // not whole microseconds
	type scenario struct {
		name  string
		prior []schemas.DeliveryOutcome // recorded first, the same for both twins
		o     schemas.DeliveryOutcome
		relay bool
	}
	scenarios := []scenario{
		{name: "delivered", relay: true, o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusDelivered, Reference: "R-1"}},
		{name: "sent", relay: true, o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusSent, Reference: "S-1"}},
		{name: "retry", relay: true, o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusQueued, Error: "http 503",
			NextAttemptAt: at(90)}},
		{name: "dead", relay: true, o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusDead,
			Error: "permanent: " + strings.Repeat("é", 600)}}, // truncated to 1000 bytes, on a rune
		{name: "stale", relay: true, prior: []schemas.DeliveryOutcome{{Attempt: 1, Status: schemas.StatusQueued, Error: "timeout",
			NextAttemptAt: at(60)}}, o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusDelivered}},
		{name: "second attempt", relay: true, prior: []schemas.DeliveryOutcome{{Attempt: 1, Status: schemas.StatusQueued,
			Error: "timeout", NextAttemptAt: at(60)}}, o: schemas.DeliveryOutcome{Attempt: 2, Status: schemas.StatusDelivered, Reference: "R-2"}},
		{name: "accepted", o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusDelivered}},
		{name: "accepted retry", o: schemas.DeliveryOutcome{Attempt: 1, Status: schemas.StatusQueued, Error: "http 502", NextAttemptAt: at(80)}},
	}
	single, batch := make([]string, len(scenarios)), make([]string, len(scenarios))
	for pass, relay := range []bool{true, false} {
		for i, sc := range scenarios {
			if sc.relay == relay {
				single[i] = b.deliveryOf(t, b.newCase(t, fmt.Sprintf("single-%d", i), "00000001"))
				batch[i] = b.deliveryOf(t, b.newCase(t, fmt.Sprintf("batch-%d", i), "00000001"))
			}
		}
		if pass == 0 {
			b.relayAll(t)
		}
	}
	var outcomes []schemas.DeliveryOutcome
	for i, sc := range scenarios {
		for _, p := range sc.prior {
			for _, id := range []string{single[i], batch[i]} {
				p.DeliveryID, p.At = id, at(10)
				applied, err := b.store.RecordOutcome(b.ctx, p)
				require.NoError(t, err)
				require.True(t, applied)
			}
		}
		scenarios[i].o.At = at(20 + i)
		o := scenarios[i].o
		o.DeliveryID = batch[i]
		outcomes = append(outcomes, o)
	}
	var lastSeq int64
	require.NoError(t, b.store.DBForTest().QueryRowContext(b.ctx, `SELECT max(seq) FROM events`).Scan(&lastSeq))

	applied, err := b.store.RecordOutcomes(b.ctx, outcomes)
	require.NoError(t, err)
	for i, sc := range scenarios {
		o := sc.o
		o.DeliveryID = single[i]
		want, err := b.store.RecordOutcome(b.ctx, o)
		require.NoError(t, err)
		require.Equal(t, want, applied[i], sc.name)
		require.Equal(t, sc.name != "stale", applied[i], sc.name)
		require.Equal(t, b.deliveryState(t, single[i]), b.deliveryState(t, batch[i]), sc.name)
	}
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM outbox WHERE delivery_id = $1 AND attempt = 1 AND status = 'pending' AND available_at = $2`,
		batch[2], at(90)), "the retry's outbox row")
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM events WHERE delivery_id = $1 AND seq > $2`, batch[6], lastSeq),
		"queued, then delivered")

	// The batch's events, in the order of the outcomes, queued before the attempt's own.
	rows, err := b.store.DBForTest().QueryContext(b.ctx, `SELECT delivery_id, type FROM events WHERE seq > $1 AND delivery_id = ANY($2::uuid[]) ORDER BY seq`,
		lastSeq, "{"+strings.Join(batch, ",")+"}")
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var got []string
	for rows.Next() {
		var id, typ string
		require.NoError(t, rows.Scan(&id, &typ))
		got = append(got, id+" "+typ)
	}
	require.NoError(t, rows.Err())
	var want []string
	for i, o := range outcomes {
		switch {
		case scenarios[i].name == "stale":
			continue
		case !scenarios[i].relay:
			want = append(want, batch[i]+" "+string(schemas.EventDeliveryQueued))
		}
		typ := map[schemas.DeliveryStatus]schemas.EventType{schemas.StatusDelivered: schemas.EventDeliveryDelivered,
			schemas.StatusSent: schemas.EventDeliverySent, schemas.StatusQueued: schemas.EventDeliveryAttempt,
			schemas.StatusDead: schemas.EventDeliveryDead}[o.Status]
		want = append(want, batch[i]+" "+string(typ))
	}
	require.Equal(t, want, got)
}

// TestRecordOutcomesOfOneDelivery: outcomes of one delivery given together are recorded one after
// the other, in their order, whatever the spelling of its id.
func TestRecordOutcomesOfOneDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.deliveryOf(t, b.newCase(t, "one", "00000001"))
	other := b.deliveryOf(t, b.newCase(t, "other", "00000001"))
	b.relayAll(t)
	applied, err := b.store.RecordOutcomes(b.ctx, []schemas.DeliveryOutcome{
		{DeliveryID: id, Attempt: 1, Status: schemas.StatusQueued, Error: "http 503", NextAttemptAt: b.now.Add(time.Minute), At: b.now},
		{DeliveryID: strings.ToUpper(id), Attempt: 1, Status: schemas.StatusDelivered, At: b.now}, // the same attempt again
		{DeliveryID: other, Attempt: 1, Status: schemas.StatusDelivered, At: b.now},
		{DeliveryID: id, Attempt: 2, Status: schemas.StatusDelivered, Reference: "R-2", At: b.now.Add(time.Minute)},
	})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, true, true}, applied)
	task, err := b.store.DeliveryTask(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, schemas.StatusDelivered, task.Status)
	require.Equal(t, 2, task.Attempts)
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM events WHERE delivery_id = $1 AND type IN ($2, $3)`, id,
		string(schemas.EventDeliveryAttempt), string(schemas.EventDeliveryDelivered)))
}

// TestRecordOutcomesOneBadOutcome: an outcome that fails the batch statement (its id is no UUID)
// fails alone; the others are recorded.
func TestRecordOutcomesOneBadOutcome(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.deliveryOf(t, b.newCase(t, "first", "00000001"))
	last := b.deliveryOf(t, b.newCase(t, "last", "00000001"))
	b.relayAll(t)
	applied, err := b.store.RecordOutcomes(b.ctx, []schemas.DeliveryOutcome{
		{DeliveryID: first, Attempt: 1, Status: schemas.StatusDelivered, At: b.now},
		{DeliveryID: "not-a-uuid", Attempt: 1, Status: schemas.StatusDelivered, At: b.now},
		{DeliveryID: uuid.Must(uuid.NewV7()).String(), Attempt: 1, Status: schemas.StatusDelivered, At: b.now}, // no such delivery
		{DeliveryID: last, Attempt: 1, Status: schemas.StatusDelivered, At: b.now},
	})
	require.ErrorContains(t, err, "record delivery outcome")
	require.Equal(t, []bool{true, false, false, true}, applied)
	counts, err := b.store.DeliveryCounts(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, counts[schemas.StatusDelivered])
}

// TestRecordOutcomesPassesALockedDelivery: a delivery another transaction holds does not hold up
// the batch: the others are committed while its outcome waits, on its own, for the lock.
func TestRecordOutcomesPassesALockedDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	locked := b.deliveryOf(t, b.newCase(t, "locked", "00000001"))
	free := b.deliveryOf(t, b.newCase(t, "free", "00000001"))
	b.relayAll(t)
	tx, err := b.store.DBForTest().BeginTx(b.ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(b.ctx, `SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE`, locked)
	require.NoError(t, err)
	type result struct {
		applied []bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		applied, err := b.store.RecordOutcomes(b.ctx, []schemas.DeliveryOutcome{
			{DeliveryID: locked, Attempt: 1, Status: schemas.StatusDelivered, At: b.now},
			{DeliveryID: free, Attempt: 1, Status: schemas.StatusDelivered, At: b.now},
		})
		done <- result{applied, err}
	}()
	require.Eventually(t, func() bool {
		return b.countRows(t, `SELECT count(*) FROM deliveries WHERE id = $1 AND status = 'delivered'`, free) == 1
	}, 10*time.Second, 5*time.Millisecond, "the free delivery is recorded while the other is locked")
	select {
	case r := <-done:
		t.Fatalf("returned before the lock was released: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []bool{true, true}, r.applied)
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM deliveries WHERE status = 'delivered'`))
}

// TestDeliveryTasksAsDeliveryTask: the tasks read together are those read one by one, each given
// back to the id that asked for it (repeated, spelled otherwise, or missing).
func TestDeliveryTasksAsDeliveryTask(t *testing.T) {
	t.Parallel()
	b := setupInZone(t, "Europe/Kyiv")
	claimed := time.Date(2026, 3, 1, 11, 59, 58, 123456000, time.UTC)
	nc := b.signedCase("signed", verified(0, "text", &claimed, schemas.RevocationGood), verified(1, "a1", nil, schemas.RevocationUnchecked))
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	signed := nc.Deliveries[0].ID
	unsigned := b.deliveryOf(t, b.newCase(t, "unsigned", "00000002"))
	missing := uuid.Must(uuid.NewV7()).String()
	ids := []string{unsigned, signed, missing, strings.ToUpper(signed), unsigned}
	tasks, err := b.store.DeliveryTasks(b.ctx, ids)
	require.NoError(t, err)
	require.Len(t, tasks, len(ids))
	for i, id := range ids {
		if id == missing {
			require.Empty(t, tasks[i].DeliveryID)
			continue
		}
		want, err := b.store.DeliveryTask(b.ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, tasks[i], id)
	}
	require.Len(t, tasks[1].Signatures, 2)
	require.NotNil(t, tasks[0].Signatures)

	_, err = b.store.DeliveryTasks(b.ctx, []string{signed, "not-a-uuid"})
	require.Error(t, err, "an id that is no UUID fails the statement")
}

// TestDeliveryBatcherConcurrentWorkers: many workers at once, two of them with the same attempt of
// each delivery in flight, read their tasks and record their outcomes through the batcher: each
// attempt is applied once, each delivery has one delivered event, and a bad id fails alone.
func TestDeliveryBatcherConcurrentWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.deliveryOf(t, b.newCase(t, fmt.Sprintf("c-%d", i), "00000001"))
	}
	b.relayAll(t)
	db := store.NewDeliveryBatcher(b.store)
	var wg sync.WaitGroup
	applied := make([][2]bool, n)
	errs := make([][2]error, n)
	for i, id := range ids {
		for k := range 2 {
			wg.Go(func() {
				task, err := db.DeliveryTask(b.ctx, id)
				if err != nil {
					errs[i][k] = err
					return
				}
				if task.DeliveryID != id || task.Attempts != 0 && task.Attempts != 1 {
					errs[i][k] = fmt.Errorf("task %+v", task)
					return
				}
				applied[i][k], errs[i][k] = db.RecordOutcome(context.WithoutCancel(b.ctx), schemas.DeliveryOutcome{DeliveryID: id,
					Attempt: 1, Status: schemas.StatusDelivered, Reference: fmt.Sprint(k), At: b.now})
			})
		}
	}
	var badErr, missingErr error
	wg.Go(func() { _, badErr = db.DeliveryTask(b.ctx, "not-a-uuid") })
	wg.Go(func() { _, missingErr = db.DeliveryTask(b.ctx, uuid.Must(uuid.NewV7()).String()) })
	wg.Wait()
	for i := range ids {
		require.NoError(t, errs[i][0])
		require.NoError(t, errs[i][1])
		require.True(t, applied[i][0] != applied[i][1], "one of the two applied: %v", applied[i])
	}
	require.Error(t, badErr)
	require.NotErrorIs(t, badErr, schemas.ErrNotFound)
	require.ErrorIs(t, missingErr, store.ErrNotFound)
	per, err := b.store.DeliveredEventsPerDelivery(b.ctx)
	require.NoError(t, err)
	require.Len(t, per, n)
	for _, c := range per {
		require.Equal(t, 1, c)
	}

	added, err := db.InboxPut(b.ctx, ids[0], b.now)
	require.NoError(t, err)
	require.False(t, added, "a delivered delivery goes in no inbox")
}

// TestBatchStatementsGenericPlans: the batch statements, kept prepared, find their deliveries by
// primary key in their generic plans too, not through the partial index of deliveries in transit.
func TestBatchStatementsGenericPlans(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A table of the size production has, analyzed, a third of it in transit.
	_, db := bulkAppeals(t, ctx)
	for _, q := range []string{
		`INSERT INTO deliveries SELECT (jsonb_populate_record(NULL::deliveries, to_jsonb(d) || jsonb_build_object('id', gen_random_uuid(),
			'appeal_id', a.id, 'status', CASE WHEN random() < 0.3 THEN 'queued' ELSE 'delivered' END))).*
		 FROM deliveries d, appeals a WHERE a.idempotency_key LIKE 'bulk-%'`,
		`ANALYZE appeals, deliveries`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	ids := `'{00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002}'`
	for name, stmt := range map[string]struct{ prepare, execute string }{
		"outcomes": {`PREPARE outcomes (uuid[], int[], text[], text[], text[], text[], text[], text[], text, text, text) AS ` +
			store.RecordOutcomesSQL, `EXECUTE outcomes (` + ids + `, '{1,1}', '{delivered,queued}', '{"",x}', '{"","2026-01-01 00:00:00Z"}',
			'{"2026-01-01 00:00:00Z","2026-01-01 00:00:00Z"}', '{"",""}', '{delivery_delivered,delivery_attempt}',
			'delivery_queued', 'queued', 'accepted')`},
		"tasks": {`PREPARE tasks (uuid[]) AS ` + store.DeliveryTasksSQL, `EXECUTE tasks (` + ids + `)`},
	} {
		text := genericPlan(t, ctx, db, stmt.prepare, stmt.execute)
		require.NotContains(t, text, "deliveries_in_transit", name+"\n"+text)
		require.NotContains(t, text, "Seq Scan on deliveries", name+"\n"+text)
		require.Contains(t, text, "deliveries_pkey", name+"\n"+text)
	}
}
