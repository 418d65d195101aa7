package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// reconcileRule is the rule of the tests: quiet 15m (10s + 30s for an authority without a request
// timeout of its own) judged at now.
func reconcileRule(now time.Time) store.ReconcileRule {
	return store.ReconcileRule{Now: now, After: 15 * time.Minute, PublishTimeout: 10 * time.Second,
		RequestTimeout: 30 * time.Second, Limit: 100}
}

// relayAt publishes every outbox row due at now.
func (b *testBundle) relayAt(t *testing.T, now time.Time) {
	t.Helper()
	_, _, err := b.store.RelayBatch(b.ctx, now, 1000, time.Second,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error { return make([]error, len(msgs)) })
	require.NoError(t, err)
}

func (b *testBundle) reconcile(t *testing.T, now time.Time) map[string]string {
	t.Helper()
	got, err := b.store.ReconcileStuck(b.ctx, reconcileRule(now))
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range got {
		require.NotEmpty(t, r.TrackingNumber)
		require.NotEmpty(t, r.AppealID)
		out[r.DeliveryID] = r.Reason
	}
	return out
}

func (b *testBundle) addAuthority(t *testing.T, a schemas.AuthorityRoute) {
	t.Helper()
	a.Name, a.Adapter, a.Endpoint = "A "+a.Code, "json", "http://127.0.0.1:1/"
	require.NoError(t, b.store.UpsertAuthority(b.ctx, a))
}

func TestReconcileFindsStuckDeliveriesAndNotFreshOnes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addAuthority(t, schemas.AuthorityRoute{Code: "00000003", Mode: "pull"})
	b.addAuthority(t, schemas.AuthorityRoute{Code: "00000004", Status: "suspended"})
	b.addAuthority(t, schemas.AuthorityRoute{Code: "00000005", Status: "closed"})
	b.addAuthority(t, schemas.AuthorityRoute{Code: "00000006", RequestTimeout: 20 * time.Minute})
	published := b.now.Add(time.Minute)
	id := func(key, authority string) string { return b.deliveryOf(t, b.newCase(t, key, authority)) }
	lost, noRow, retry, delivered := id("lost", "00000001"), id("no-row", "00000001"), id("retry", "00000002"), id("delivered", "00000002")
	pull, suspended, closed, slow := id("pull", "00000003"), id("suspended", "00000004"), id("closed", "00000005"), id("slow", "00000006")
	b.relayAt(t, published)
	unpublished := id("unpublished", "00000001") // due at b.now, never published
	require.NoError(t, b.store.ExecForTest(b.ctx, `DELETE FROM outbox WHERE delivery_id = $1`, noRow))
	record := func(id string, o schemas.DeliveryOutcome) {
		o.DeliveryID, o.Attempt, o.At = id, 1, published
		applied, err := b.store.RecordOutcome(b.ctx, o)
		require.NoError(t, err)
		require.True(t, applied)
	}
	record(retry, schemas.DeliveryOutcome{Status: schemas.StatusQueued, Error: "http 503", NextAttemptAt: published.Add(20 * time.Minute)})
	record(delivered, schemas.DeliveryOutcome{Status: schemas.StatusDelivered})

	// Within the quiet time nothing is stuck.
	require.Empty(t, b.reconcile(t, published.Add(14*time.Minute)))

	now := published.Add(16 * time.Minute)
	require.Equal(t, map[string]string{lost: store.ReconcileLostAfterPublish, noRow: store.ReconcileNoOutboxRow},
		b.reconcile(t, now), "pull, suspended, closed, retry scheduled, delivered, unpublished and slow ones are left")
	for _, d := range []string{lost, noRow} {
		require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM outbox WHERE delivery_id = $1 AND status = 'pending' AND attempt = 0
			AND available_at = $2`, d, now), "a new outbox row for the same attempt, due at once")
	}
	c, err := b.store.Case(b.ctx, "portal", b.newCase(t, "lost", "00000001").ID) // the same case again (idempotent)
	require.NoError(t, err)
	var reconciled []schemas.Event
	for _, e := range c.Events {
		if e.Type == schemas.EventDeliveryReconciled {
			reconciled = append(reconciled, e)
		}
	}
	require.Len(t, reconciled, 1)
	require.Equal(t, schemas.StatusQueued, reconciled[0].Status, "the status is left as it is")
	require.True(t, strings.HasPrefix(reconciled[0].Detail, store.ReconcileLostAfterPublish+": attempt 1 sent again"), reconciled[0].Detail)
	_, shown := schemas.PortalStateOf(schemas.EventDeliveryReconciled, schemas.StatusQueued, schemas.StatusQueued)
	require.False(t, shown, "the portal is shown nothing of it")

	// What cannot be fixed is reported, not sent again.
	report, err := b.store.StuckReport(b.ctx, reconcileRule(now))
	require.NoError(t, err)
	kinds := map[string]string{}
	for _, s := range report {
		kinds[s.DeliveryID] = s.Kind
	}
	require.Equal(t, map[string]string{unpublished: store.StuckUnpublished, closed: store.StuckAuthorityClosed}, kinds)
	for _, d := range []string{pull, suspended, closed, retry, delivered, unpublished, slow} {
		require.Zero(t, b.countRows(t, `SELECT count(*) FROM events WHERE delivery_id = $1 AND type = 'delivery_reconciled'`, d),
			"left alone: %s", d)
	}

	// Once is enough until the new rows are published and their quiet time passes again.
	require.Empty(t, b.reconcile(t, now))
	later := published.Add(21 * time.Minute)
	require.Equal(t, map[string]string{slow: store.ReconcileLostAfterPublish}, b.reconcile(t, later),
		"the slow authority's own request timeout (20m) stretched its quiet time")
	b.relayAt(t, later)
	require.Empty(t, b.reconcile(t, later.Add(14*time.Minute)))
	require.Equal(t, map[string]string{lost: store.ReconcileLostAfterPublish, noRow: store.ReconcileLostAfterPublish,
		retry: store.ReconcileLostAfterPublish, unpublished: store.ReconcileLostAfterPublish},
		b.reconcile(t, later.Add(16*time.Minute)), "every push delivery published at later and silent since; never pull, suspended or closed")
}

func TestReconcileTwoProcessesSendEachDeliveryAgainOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 30
	for i := range n {
		b.newCase(t, "k"+string(rune('A'+i)), "00000001")
	}
	b.relayAt(t, b.now)
	now := b.now.Add(time.Hour)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				rule := reconcileRule(now)
				rule.Limit = 4
				got, err := b.store.ReconcileStuck(b.ctx, rule)
				if !assertNoError(t, err) || len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					seen[r.DeliveryID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n)
	for id, times := range seen {
		require.Equal(t, 1, times, id)
	}
	require.Equal(t, n, b.countRows(t, `SELECT count(*) FROM events WHERE type = 'delivery_reconciled'`))
	require.Equal(t, n, b.countRows(t, `SELECT count(*) FROM outbox WHERE status = 'pending'`))
}

// assertNoError reports err from a goroutine that must not call FailNow.
func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("reconcile: %v", err)
		return false
	}
	return true
}

func TestReconcileLeavesADeliveryWhoseOutcomeIsRecordedMeanwhile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	done, undone := b.deliveryOf(t, b.newCase(t, "done", "00000001")), b.deliveryOf(t, b.newCase(t, "undone", "00000001"))
	b.relayAt(t, b.now)
	now := b.now.Add(time.Hour)

	// An outcome is being recorded for each (its transaction holds the delivery): both are skipped.
	record := `UPDATE deliveries SET status = 'delivered', attempts = 1, updated_at = $2 WHERE id = $1`
	doneTx, err := b.store.HoldForTest(b.ctx, record, done, now)
	require.NoError(t, err)
	undoneTx, err := b.store.HoldForTest(b.ctx, record, undone, now)
	require.NoError(t, err)
	require.Empty(t, b.reconcile(t, now))

	// One commits, the other rolls back: only the latter is still stuck.
	require.NoError(t, doneTx.Commit())
	require.NoError(t, undoneTx.Rollback())
	require.Equal(t, map[string]string{undone: store.ReconcileLostAfterPublish}, b.reconcile(t, now))
	require.Zero(t, b.countRows(t, `SELECT count(*) FROM outbox WHERE delivery_id = $1 AND status = 'pending'`, done))
}

func TestReconcileSendsAgainWhatAStaleClaimHolds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	claimed := b.deliveryOf(t, b.newCase(t, "claimed", "00000001"))
	free := b.deliveryOf(t, b.newCase(t, "free", "00000002"))
	// A relay claimed the row and hangs with its transaction open.
	claim, err := b.store.HoldForTest(b.ctx, `SELECT id FROM outbox WHERE delivery_id = $1 FOR UPDATE`, claimed)
	require.NoError(t, err)
	t.Cleanup(func() { _ = claim.Rollback() })
	// The claim's age is measured by the database's clock: judge an hour from now.
	now := time.Now().Add(time.Hour)

	report, err := b.store.StuckReport(b.ctx, reconcileRule(now))
	require.NoError(t, err)
	require.Len(t, report, 1, "the unclaimed row is reported; the stale claim is the reconciler's to fix")
	require.Equal(t, free, report[0].DeliveryID)
	require.Equal(t, store.StuckUnpublished, report[0].Kind)

	require.Equal(t, map[string]string{claimed: store.ReconcileClaimStuck}, b.reconcile(t, now))
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM outbox WHERE delivery_id = $1 AND status = 'pending' AND attempt = 0`, claimed))
	require.Empty(t, b.reconcile(t, now), "the new row is not claimed")
}

// TestResolveSinkLetterSendsAgainWithAGrowingWaitThenGivesUp: a delivery whose message is found in
// a sink is sent again for the same attempt, the n-th time due 2^(n-1)-1 s later; after max times
// it is recorded dead. A copy of a settled delivery and one of an unknown delivery change nothing.
func TestResolveSinkLetterSendsAgainWithAGrowingWaitThenGivesUp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.deliveryOf(t, b.newCase(t, "sunk", "00000001"))
	b.relayAt(t, b.now)
	letter := store.SinkLetter{DeliveryID: id, Reason: store.ReconcileDeadLettered, Cause: "delivery_limit", Max: 3, Now: b.now}

	var got []store.SinkResolution
	for range 4 {
		res, err := b.store.ResolveSinkLetter(b.ctx, letter)
		require.NoError(t, err)
		got = append(got, res)
	}
	require.Equal(t, []store.SinkResolution{store.SinkResent, store.SinkResent, store.SinkResent, store.SinkGaveUp}, got)
	for i, wait := range []int{0, 1, 3} {
		require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM outbox WHERE delivery_id = $1 AND status = 'pending' AND attempt = 0
			AND available_at = $2::timestamptz + $3 * interval '1 second'`, id, b.now, wait), "resend %d due after %d s", i+1, wait)
	}
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM deliveries WHERE id = $1 AND status = 'dead' AND attempts = 1
		AND last_error = 'gave up: its message was found in the broker''s dead-letter queue 4 times'`, id))
	require.Equal(t, 3, b.countRows(t, `SELECT count(*) FROM events WHERE delivery_id = $1 AND type = 'delivery_reconciled'
		AND detail = 'dead_lettered: attempt 1 sent again; its message was found in the broker''s dead-letter queue (delivery_limit)'`, id))

	res, err := b.store.ResolveSinkLetter(b.ctx, letter)
	require.NoError(t, err)
	require.Equal(t, store.SinkSettled, res, "the delivery is dead: a stale copy")
	letter.DeliveryID = "01a25285-0000-7000-8000-000000000000"
	res, err = b.store.ResolveSinkLetter(b.ctx, letter)
	require.NoError(t, err)
	require.Equal(t, store.SinkUnknown, res)
}

// TestKeptSinkLettersAreListedAndDeletedWithAnAuditEvent: kept letters are listed newest first,
// whole; deleting some removes only those that exist and records who did it and why in the audit
// chain, in the same transaction.
func TestKeptSinkLettersAreListedAndDeletedWithAnAuditEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, id := range []string{"one/1", "two/1"} {
		require.NoError(t, b.store.KeepSinkLetter(b.ctx, store.KeptLetter{Sink: "dead", Reason: "rejected", SourceQueue: "q",
			RoutingKey: "00000001", MessageID: id, Note: "not a delivery message", Headers: map[string]any{"n": i},
			Body: []byte("body " + id), At: b.now}))
	}
	kept, err := b.store.KeptSinkLetters(b.ctx, 0)
	require.NoError(t, err)
	require.Len(t, kept, 2)
	require.Equal(t, "two/1", kept[0].MessageID, "newest first")
	require.Equal(t, len("body two/1"), kept[0].Size)
	whole, err := b.store.KeptSinkLetter(b.ctx, kept[0].ID)
	require.NoError(t, err)
	require.Equal(t, []byte("body two/1"), whole.Body)
	require.Equal(t, map[string]any{"n": float64(1)}, whole.Headers)
	require.Equal(t, map[string]any{"n": float64(1)}, kept[0].Headers)

	deleted, err := b.store.DeleteKeptSinkLetters(b.ctx, []int64{kept[1].ID, 999999}, "oper1", "dealt with", b.now)
	require.NoError(t, err)
	require.Equal(t, []int64{kept[1].ID}, deleted, "only what exists")
	left, err := b.store.KeptSinkLetters(b.ctx, 0)
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.Equal(t, "two/1", left[0].MessageID)
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM events WHERE type = 'operator_action' AND appeal_id IS NULL
		AND detail::jsonb = jsonb_build_object('actor', 'oper1', 'action', 'sink_letters_delete', 'object', $1::text, 'reason', 'dealt with')`,
		kept[1].ID))

	_, err = b.store.KeptSinkLetter(b.ctx, kept[1].ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	none, err := b.store.DeleteKeptSinkLetters(b.ctx, []int64{999999}, "oper1", "nothing", b.now)
	require.NoError(t, err)
	require.Empty(t, none)
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM events WHERE type = 'operator_action'`), "no event when nothing was deleted")
}
