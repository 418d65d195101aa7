package store_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// trackingSeq returns the sequence number of a tracking number ("ZV-2026-00000042" → 42).
func trackingSeq(t *testing.T, tracking string) int {
	t.Helper()
	n, err := strconv.Atoi(tracking[strings.LastIndex(tracking, "-")+1:])
	require.NoError(t, err, tracking)
	return n
}

// TestCreateCaseReplayAnswersTheFirstCase: the insert that finds the key used answers the first
// case as CaseByIdempotencyKey reads it (its id, tracking number, time of receipt and body hash),
// takes no tracking number, and stores nothing: not a delivery, an event, an outbox row or a
// signature.
func TestCreateCaseReplayAnswersTheFirstCase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	claimed := time.Date(2026, 3, 1, 11, 59, 58, 0, time.UTC)
	first, err := b.store.CreateCase(b.ctx, b.signedCase("k1", verified(0, "text", &claimed, schemas.RevocationGood)), "ZV-2026-")
	require.NoError(t, err)
	require.True(t, first.Created)

	replay := b.signedCase("k1", verified(0, "text", nil, schemas.RevocationGood), verified(1, "text", nil, schemas.RevocationGood))
	replay.ReceivedAt = b.now.Add(time.Hour)
	replay.RequestSHA256 = hash("another body")
	again, err := b.store.CreateCase(b.ctx, replay, "ZI-2027-")
	require.NoError(t, err)
	byKey, err := b.store.CaseByIdempotencyKey(b.ctx, "portal", "k1")
	require.NoError(t, err)
	require.Equal(t, byKey, again, "the same answer as the lookup by key")
	require.False(t, again.Created)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.TrackingNumber, again.TrackingNumber)
	require.True(t, first.ReceivedAt.Equal(again.ReceivedAt), "the first time of receipt")
	require.Equal(t, hash("k1"), again.RequestSHA256, "the first body's hash, for the caller to compare")

	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, totals.Appeals)
	require.Equal(t, 1, totals.Deliveries)
	require.Equal(t, 1, totals.Events)
	require.Equal(t, 1, totals.OutboxPending)
	n, err := b.store.CaseSignatureCount(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	next := b.newCase(t, "k2", "00000001")
	require.Equal(t, trackingSeq(t, first.TrackingNumber)+1, trackingSeq(t, next.TrackingNumber),
		"the replay took no tracking number")
}

// TestCreateCaseConcurrentSignedSameKeyStoresOne: concurrent inserts of one key with signatures
// store one case with its signatures once, and every caller gets that case.
func TestCreateCaseConcurrentSignedSameKeyStoresOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sigs := []schemas.VerifiedSignature{verified(0, "text", nil, schemas.RevocationGood), verified(1, "a1", nil, schemas.RevocationUnchecked)}
	got := make([]schemas.StoredCase, 8)
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], errs[i] = b.store.CreateCase(b.ctx, b.signedCase("same", sigs...), "ZV-2026-") })
	}
	wg.Wait()
	created := 0
	for i := range got {
		require.NoError(t, errs[i])
		require.Equal(t, got[0].ID, got[i].ID)
		if got[i].Created {
			created++
		}
	}
	require.Equal(t, 1, created)
	n, err := b.store.CaseSignatureCount(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	c, err := b.store.Case(b.ctx, "portal", got[0].ID)
	require.NoError(t, err)
	require.Equal(t, sigs, c.Signatures)
}

// TestCreateCaseSignatureTimesKeepTheirInstant: signer times in another zone and below the
// microsecond are stored as a timestamp parameter stores them: the instant, rounded to the
// microsecond.
func TestCreateCaseSignatureTimesKeepTheirInstant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	kyiv := time.FixedZone("EET", 2*60*60)
	claimed := time.Date(2026, 3, 1, 13, 59, 58, 123456789, kyiv)
	v := verified(0, "text", &claimed, schemas.RevocationGood)
	v.Signer.NotBefore = time.Date(2025, 12, 31, 23, 30, 0, 999, kyiv)
	stored, err := b.store.CreateCase(b.ctx, b.signedCase("times", v), "ZV-2026-")
	require.NoError(t, err)
	c, err := b.store.Case(b.ctx, "portal", stored.ID)
	require.NoError(t, err)
	require.Len(t, c.Signatures, 1)
	f := c.Signatures[0].Signer
	require.Equal(t, time.Date(2026, 3, 1, 11, 59, 58, 123457000, time.UTC), *f.ClaimedSigningTime)
	require.Equal(t, time.Date(2025, 12, 31, 21, 30, 0, 1000, time.UTC), f.NotBefore, "rounded to the microsecond")
	require.Equal(t, v.Signer.NotAfter, f.NotAfter)
}
