package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/internal/audit"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// waitSealed seals until no event is left unsealed. Sealing waits for every transaction of the
// cluster that was running (other tests' too), so this is a wait on a condition, not on time.
func waitSealed(t testing.TB, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	sealer := audit.NewSealer(s, audit.Config{}, nil)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := sealer.Seal(ctx)
		require.NoError(t, err)
		n, err := s.UnsealedEvents(ctx)
		require.NoError(t, err)
		if n == 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "%d events still unsealed", n)
		time.Sleep(5 * time.Millisecond)
	}
}

// sealUntil seals until the event seq is sealed.
func sealUntil(t *testing.T, s *store.Store, seq int64) {
	t.Helper()
	sealer := audit.NewSealer(s, audit.Config{}, nil)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := sealer.Seal(context.Background())
		require.NoError(t, err)
		if _, ok := chainPositions(t, s)[seq]; ok {
			return
		}
		require.False(t, time.Now().After(deadline), "event %d still unsealed", seq)
		time.Sleep(5 * time.Millisecond)
	}
}

// chainLinks returns the chain's links in position order.
func chainLinks(t *testing.T, s *store.Store) []store.ChainLink {
	t.Helper()
	var links []store.ChainLink
	require.NoError(t, s.ReadChain(context.Background(), store.ChainVisitor{LinkFunc: func(l store.ChainLink, _ *store.ChainEvent) error {
		links = append(links, l)
		return nil
	}}))
	return links
}

// chainPositions maps each sealed seq to its position.
func chainPositions(t *testing.T, s *store.Store) map[int64]int64 {
	t.Helper()
	pos := map[int64]int64{}
	for _, l := range chainLinks(t, s) {
		pos[l.Seq] = l.Pos
	}
	return pos
}

func verifyChain(t *testing.T, s *store.Store) audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), s, nil)
	require.NoError(t, err)
	return r
}

// relayAll publishes every due outbox row (delivery_queued events).
func (b *testBundle) relayAll(t *testing.T) {
	t.Helper()
	_, _, err := b.store.RelayBatch(b.ctx, b.now.Add(time.Minute), 100, time.Second,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error { return make([]error, len(msgs)) })
	require.NoError(t, err)
}

func TestChainSealsEventsFromTheStorePaths(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "seal-1", "00000001", "00000002")
	b.newCase(t, "seal-2", "00000001")
	b.relayAll(t)
	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: full.Deliveries[0].ID, Attempt: 1,
		Status: schemas.StatusDelivered, At: b.now.Add(time.Second)})
	require.NoError(t, err)
	require.True(t, applied)

	waitSealed(t, b.store)
	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 6, totals.Events, "2 submissions, 3 queued, 1 delivered")

	links := chainLinks(t, b.store)
	require.Len(t, links, totals.Events)
	for i, l := range links {
		require.Equal(t, int64(i+1), l.Pos)
		if i == 0 {
			require.Nil(t, l.PrevHash)
			continue
		}
		require.Equal(t, links[i-1].Hash, l.PrevHash)
		require.True(t, links[i-1].TxID < l.TxID || (links[i-1].TxID == l.TxID && links[i-1].Seq < l.Seq), "sealing order")
	}
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	require.Equal(t, int64(6), r.Links)
	require.Equal(t, int64(0), r.Unsealed)
	require.Equal(t, links[5].Seq, r.Head.Seq)

	// Sealing again adds nothing.
	n, err := audit.NewSealer(b.store, audit.Config{}, nil).Seal(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}

// deliveryOf returns the first delivery of a case.
func (b *testBundle) deliveryOf(t *testing.T, c schemas.StoredCase) string {
	t.Helper()
	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	return full.Deliveries[0].ID
}

func TestChainWaitsForAnOpenTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "open-1", "00000001")
	first := b.firstEvent(t, c) // committed before the open transaction began

	open, err := b.store.BeginEventTx(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = open.Rollback() })
	openSeq, err := open.AddEvent(b.ctx, c.ID, b.deliveryOf(t, c))
	require.NoError(t, err)
	later := b.firstEvent(t, b.newCase(t, "open-2", "00000002")) // committed after, with a higher seq
	require.Greater(t, later, openSeq)

	sealUntil(t, b.store, first)
	pos := chainPositions(t, b.store)
	require.NotContains(t, pos, openSeq, "an event of a running transaction is never sealed")
	require.NotContains(t, pos, later, "an event committed after it waits for it")

	require.NoError(t, open.Commit())
	waitSealed(t, b.store)
	pos = chainPositions(t, b.store)
	require.Less(t, pos[openSeq], pos[later])
	require.True(t, verifyChain(t, b.store).Intact())
}

// TestChainOrdersByTransaction: a transaction that began first may insert its event last, with a
// higher seq, and commit while one with a lower seq is still running. Its event is sealed at once,
// and the other after it when it commits: the chain follows transaction order, not seq order.
func TestChainOrdersByTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "order-1", "00000001")
	delivery := b.deliveryOf(t, c)

	early, err := b.store.BeginEventTx(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = early.Rollback() })
	late, err := b.store.BeginEventTx(b.ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = late.Rollback() })
	lowSeq, err := late.AddEvent(b.ctx, c.ID, delivery)
	require.NoError(t, err)
	highSeq, err := early.AddEvent(b.ctx, c.ID, delivery)
	require.NoError(t, err)
	require.NoError(t, early.Commit())

	sealUntil(t, b.store, highSeq)
	require.NotContains(t, chainPositions(t, b.store), lowSeq)

	require.NoError(t, late.Commit())
	waitSealed(t, b.store)
	pos := chainPositions(t, b.store)
	require.Less(t, pos[highSeq], pos[lowSeq])
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
}

func TestChainSealsPastARolledBackEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "rollback-1", "00000001")
	tx, err := b.store.BeginEventTx(b.ctx)
	require.NoError(t, err)
	gone, err := tx.AddEvent(b.ctx, c.ID, b.deliveryOf(t, c))
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	after := b.firstEvent(t, b.newCase(t, "rollback-2", "00000001"))
	require.Greater(t, after, gone)

	waitSealed(t, b.store)
	pos := chainPositions(t, b.store)
	require.NotContains(t, pos, gone)
	require.Contains(t, pos, after)
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	require.Equal(t, int64(2), r.Links)
}

// firstEvent returns the seq of a case's first event.
func (b *testBundle) firstEvent(t *testing.T, c schemas.StoredCase) int64 {
	t.Helper()
	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.NotEmpty(t, full.Events)
	return full.Events[0].Seq
}

// tamper runs stmt the way someone with the tables' owner rights would: with the append-only
// triggers disabled around it.
func tamper(t *testing.T, s *store.Store, stmt string) {
	t.Helper()
	var disable, enable string
	for _, pair := range []([2]string){{"events", "events_append_only"}, {"event_chain", "event_chain_append_only"},
		{"chain_checkpoints", "chain_checkpoints_append_only"}} {
		disable += fmt.Sprintf("ALTER TABLE %s DISABLE TRIGGER %s;\n", pair[0], pair[1])
		enable += fmt.Sprintf("ALTER TABLE %s ENABLE TRIGGER %s;\n", pair[0], pair[1])
	}
	require.NoError(t, s.ExecForTest(context.Background(), disable+stmt+";\n"+enable))
}

// sealedChain builds a chain of 7 events (3 submissions, then 4 queued deliveries in one relay
// transaction), seals it and checkpoints its head.
func sealedChain(t *testing.T) (*testBundle, []store.ChainLink, store.ChainCheckpoint) {
	t.Helper()
	b := setup(t)
	b.newCase(t, "tamper-0", "00000001", "00000002")
	b.newCase(t, "tamper-1", "00000001")
	b.newCase(t, "tamper-2", "00000002")
	b.relayAll(t)
	waitSealed(t, b.store)
	cp, err := audit.NewSealer(b.store, audit.Config{}, nil).Checkpoint(b.ctx)
	require.NoError(t, err)
	links := chainLinks(t, b.store)
	require.Len(t, links, 7)
	require.Equal(t, links[6].Pos, cp.Pos)
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	return b, links, cp
}

func TestChainVerifyFindsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// tamper returns the statements that tamper with the chain and the break expected first.
		tamper func(links []store.ChainLink, cp store.ChainCheckpoint) (string, audit.Break)
	}{
		{"UpdateEventDetail", func(l []store.ChainLink, _ store.ChainCheckpoint) (string, audit.Break) {
			return fmt.Sprintf(`UPDATE events SET detail = 'rewritten' WHERE seq = %d`, l[2].Seq),
				audit.Break{Kind: audit.KindEventChanged, Pos: 3, Seq: l[2].Seq}
		}},
		{"DeleteEvent", func(l []store.ChainLink, _ store.ChainCheckpoint) (string, audit.Break) {
			return fmt.Sprintf(`DELETE FROM events WHERE seq = %d`, l[3].Seq),
				audit.Break{Kind: audit.KindEventMissing, Pos: 4, Seq: l[3].Seq}
		}},
		{"SwapEvents", func(l []store.ChainLink, _ store.ChainCheckpoint) (string, audit.Break) {
			return fmt.Sprintf(`
				UPDATE events e SET appeal_id = o.appeal_id, delivery_id = o.delivery_id, type = o.type,
				       status = o.status, detail = o.detail, created_at = o.created_at
				FROM events o WHERE (e.seq, o.seq) IN ((%[1]d, %[2]d), (%[2]d, %[1]d))`, l[1].Seq, l[5].Seq),
				audit.Break{Kind: audit.KindEventsSwapped, Pos: 2, Seq: l[1].Seq, OtherSeq: l[5].Seq}
		}},
		{"CutTailAfterCheckpoint", func(l []store.ChainLink, cp store.ChainCheckpoint) (string, audit.Break) {
			return fmt.Sprintf(`DELETE FROM event_chain WHERE pos >= 6; DELETE FROM events WHERE seq IN (%d, %d)`, l[5].Seq, l[6].Seq),
				audit.Break{Kind: audit.KindTailCut, Pos: 6, Seq: cp.Seq, Checkpoint: cp.ID}
		}},
		{"UpdateLinkHash", func(l []store.ChainLink, _ store.ChainCheckpoint) (string, audit.Break) {
			return `UPDATE event_chain SET hash = sha256('forged') WHERE pos = 4`,
				audit.Break{Kind: audit.KindChainChanged, Pos: 4, Seq: l[3].Seq}
		}},
		{"DeleteLinkAndEvent", func(l []store.ChainLink, _ store.ChainCheckpoint) (string, audit.Break) {
			return fmt.Sprintf(`DELETE FROM event_chain WHERE pos = 3; DELETE FROM events WHERE seq = %d`, l[2].Seq),
				audit.Break{Kind: audit.KindLinksMissing, Pos: 3}
		}},
		{"DeleteLinkOnly", func(l []store.ChainLink, _ store.ChainCheckpoint) (string, audit.Break) {
			return `DELETE FROM event_chain WHERE pos = 5`, audit.Break{Kind: audit.KindLinksMissing, Pos: 5}
		}},
		{"UpdateCheckpoint", func(l []store.ChainLink, cp store.ChainCheckpoint) (string, audit.Break) {
			return fmt.Sprintf(`UPDATE chain_checkpoints SET hash = sha256('forged') WHERE id = %d`, cp.ID),
				audit.Break{Kind: audit.KindCheckpointMismatch, Pos: 7, Seq: l[6].Seq, Checkpoint: cp.ID}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, links, cp := sealedChain(t)
			stmt, want := tt.tamper(links, cp)
			tamper(t, b.store, stmt)

			r := verifyChain(t, b.store)
			require.False(t, r.Intact())
			first, ok := r.First()
			require.True(t, ok)
			first.Detail = ""
			require.Equal(t, want, first, "all breaks: %+v", r.Breaks)
		})
	}
}

func TestChainTablesAreAppendOnly(t *testing.T) {
	t.Parallel()
	b, links, _ := sealedChain(t)
	for _, stmt := range []string{
		fmt.Sprintf(`UPDATE events SET detail = 'x' WHERE seq = %d`, links[0].Seq),
		fmt.Sprintf(`DELETE FROM events WHERE seq = %d`, links[0].Seq),
		`UPDATE event_chain SET hash = sha256('x') WHERE pos = 1`,
		`DELETE FROM event_chain WHERE pos = 7`,
		`TRUNCATE event_chain`,
		`DELETE FROM chain_checkpoints`,
	} {
		err := b.store.ExecForTest(b.ctx, stmt)
		require.ErrorContains(t, err, "append-only", stmt)
	}
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	require.Equal(t, 1, r.Checkpoints)
}

// TestTwoSealersBuildOneChain runs the background sealers of two hub processes (two store
// handles) on one schema while cases are being created.
func TestTwoSealersBuildOneChain(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	b := seeded(t, storetest.Open(t, cfg))
	other := storetest.Open(t, cfg)
	core, warnings := observer.New(zap.WarnLevel)
	for _, s := range []*store.Store{b.store, other} {
		sealer := audit.NewSealer(s, audit.Config{SealInterval: time.Millisecond, BatchSize: 7}, zap.New(core))
		require.NoError(t, sealer.Start(b.ctx))
		t.Cleanup(func() { _ = sealer.Stop(context.Background()) })
	}
	for i := range 40 {
		b.newCase(t, fmt.Sprintf("two-%d", i), "00000001", "00000002")
		if i%10 == 9 {
			b.relayAll(t)
		}
	}
	waitSealed(t, other)
	require.Zero(t, warnings.Len(), "%v", warnings.All())

	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 40+80, totals.Events)
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	require.Equal(t, int64(totals.Events), r.Links)
}

// seeded returns a bundle over s with the authorities and the client setup gives.
func seeded(t testing.TB, s *store.Store) *testBundle {
	t.Helper()
	ctx := context.Background()
	for _, code := range []string{"00000001", "00000002"} {
		require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: code, Name: "Authority " + code, Adapter: "json"}))
	}
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, hash("portal-token")))
	return &testBundle{store: s, ctx: ctx, now: time.Now().UTC().Truncate(time.Microsecond)}
}

// benchChain returns a store with one case and b.N more events of its delivery, none sealed.
func benchChain(b *testing.B) *testBundle {
	tb := seeded(b, storetest.New(b))
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: "bench",
		RequestSHA256: hash("bench"), CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealComplaint,
		Body: []byte(`{}`), ReceivedAt: tb.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}
	_, err := tb.store.CreateCase(tb.ctx, nc, "ZV-2026-")
	require.NoError(b, err)
	require.NoError(b, tb.store.AddEventsForTest(tb.ctx, nc.ID, nc.Deliveries[0].ID, b.N))
	return tb
}

// BenchmarkSeal measures sealing throughput (events/s) in batches of audit.DefaultBatchSize.
func BenchmarkSeal(b *testing.B) {
	tb := benchChain(b)
	sealer := audit.NewSealer(tb.store, audit.Config{}, nil)
	b.ResetTimer()
	for sealed := 0; sealed < b.N+1; {
		n, err := sealer.Seal(tb.ctx)
		require.NoError(b, err)
		sealed += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N+1)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkVerify measures verifying throughput (events/s).
func BenchmarkVerify(b *testing.B) {
	tb := benchChain(b)
	waitSealed(b, tb.store)
	b.ResetTimer()
	r, err := audit.Verify(tb.ctx, tb.store, nil)
	b.StopTimer()
	require.NoError(b, err)
	require.True(b, r.Intact())
	require.Equal(b, int64(b.N+1), r.Links)
	b.ReportMetric(float64(b.N+1)/b.Elapsed().Seconds(), "events/s")
}
