package audit_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

type testBundle struct {
	store *store.Store
	ctx   context.Context
	clock *clock.Stub
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	s := storetest.New(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "00000001", Name: "Authority", Adapter: "json"}))
	sum := sha256.Sum256([]byte("token"))
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	return &testBundle{store: s, ctx: ctx, clock: clock.NewStub(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))}
}

// addCase stores a case with one delivery (one event).
func (b *testBundle) addCase(t *testing.T) {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	sum := sha256.Sum256([]byte(id))
	_, err := b.store.CreateCase(b.ctx, schemas.NewCase{ID: id, ClientID: "portal", IdempotencyKey: id, RequestSHA256: sum[:],
		CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealProposal, Body: []byte(`{}`), ReceivedAt: b.clock.Now(),
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}, "ZV-2026-")
	require.NoError(t, err)
}

// waitUntil polls cond until it holds. Sealing waits for the transactions of the whole cluster
// that are running (other tests' too), so the wait is on a condition, bounded only as a safety net.
func (b *testBundle) waitUntil(t *testing.T, what string, cond func(st store.ChainStatus) bool) store.ChainStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := b.store.ChainStatus(b.ctx)
		require.NoError(t, err)
		if cond(st) {
			return st
		}
		require.False(t, time.Now().After(deadline), "still waiting for %s", what)
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSealerSealsAndCheckpointsInTheBackground(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.addCase(t)
	sealer := audit.NewSealer(b.store, audit.Config{SealInterval: 5 * time.Millisecond, CheckpointInterval: 10 * time.Minute,
		Signer: testKey, Clock: b.clock}, zaptest.NewLogger(t))
	require.NoError(t, sealer.Start(b.ctx))
	t.Cleanup(func() { _ = sealer.Stop(context.Background()) })

	st := b.waitUntil(t, "the first checkpoint", func(st store.ChainStatus) bool { return st.LastCheckpoint != nil })
	first := *st.LastCheckpoint
	require.Equal(t, int64(1), first.Pos)
	require.Equal(t, "test-key", first.Signer)
	require.Equal(t, b.clock.Now(), first.CreatedAt.UTC())

	// The chain grows, but the interval has not passed on the clock: no new checkpoint.
	b.addCase(t)
	st = b.waitUntil(t, "the second event sealed", func(st store.ChainStatus) bool { return st.Head.Pos == 2 })
	require.Equal(t, first.ID, st.LastCheckpoint.ID)

	b.clock.Advance(10 * time.Minute)
	st = b.waitUntil(t, "the second checkpoint", func(st store.ChainStatus) bool { return st.LastCheckpoint.ID != first.ID })
	require.Equal(t, int64(2), st.LastCheckpoint.Pos)

	require.NoError(t, sealer.Stop(b.ctx))
	<-sealer.Stopped()
	r, err := audit.Verify(b.ctx, b.store, testKey)
	require.NoError(t, err)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	require.Equal(t, 2, r.Verified)
}

func TestSealerCheckpointOnDemand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sealer := audit.NewSealer(b.store, audit.Config{Clock: b.clock}, nil)
	_, err := sealer.Checkpoint(b.ctx)
	require.ErrorIs(t, err, store.ErrNotFound, "an empty chain has no head to checkpoint")

	b.addCase(t)
	b.waitUntil(t, "the event sealed", func(store.ChainStatus) bool {
		_, err := sealer.Seal(b.ctx)
		require.NoError(t, err)
		n, err := b.store.UnsealedEvents(b.ctx)
		require.NoError(t, err)
		return n == 0
	})
	st, err := b.store.ChainStatus(b.ctx)
	require.NoError(t, err)
	cp, err := sealer.Checkpoint(b.ctx)
	require.NoError(t, err)
	require.Positive(t, cp.ID)
	require.Equal(t, st.Head.Pos, cp.Pos)
	require.Equal(t, st.Head.Hash, cp.Hash)
	require.Nil(t, cp.Signature, "no signer: unsigned")

	_, err = b.store.AddCheckpoint(b.ctx, store.ChainCheckpoint{Pos: cp.Pos, Seq: cp.Seq, Hash: make([]byte, 32), CreatedAt: cp.CreatedAt})
	require.ErrorIs(t, err, store.ErrNotFound, "a checkpoint of a head that does not exist is refused")

	failing := audit.NewSealer(b.store, audit.Config{Signer: failingSigner{}}, nil)
	_, err = failing.Checkpoint(b.ctx)
	require.ErrorIs(t, err, errSigner)
}

var errSigner = errors.New("signing service unavailable")

type failingSigner struct{}

func (failingSigner) Sign(context.Context, []byte) ([]byte, string, error) { return nil, "", errSigner }

func TestSealerStopIsSafeBeforeStartAndTwice(t *testing.T) {
	t.Parallel()
	sealer := audit.NewSealer(nil, audit.Config{}, nil)
	require.NoError(t, sealer.Stop(context.Background()))
	require.Nil(t, sealer.Stopped())

	b := setup(t)
	sealer = audit.NewSealer(b.store, audit.Config{SealInterval: time.Hour}, nil)
	require.NoError(t, sealer.Start(b.ctx))
	require.NoError(t, sealer.Stop(b.ctx))
	require.NoError(t, sealer.Stop(b.ctx))
	<-sealer.Stopped()
}
