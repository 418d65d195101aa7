package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/audit"
	"appealhub/internal/store"
)

var testKey = hmacKey{name: "test-key", secret: "s3cret"}

func verifyMem(t *testing.T, c *memChain) audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), c, testKey)
	require.NoError(t, err)
	return r
}

func forged(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestVerifyIntactChain(t *testing.T) {
	t.Parallel()
	c := newMemChain(10)
	c.checkpoint(4, &testKey)
	c.checkpoint(10, nil)
	c.events[110] = store.ChainEvent{Seq: 110, TxID: 5000, AppealID: "0190f5a2-0000-7000-8000-000000000009"}

	r := verifyMem(t, c)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	_, broken := r.First()
	require.False(t, broken)
	require.Equal(t, int64(10), r.Links)
	require.Equal(t, &audit.Head{Pos: 10, Seq: 100, Hash: hex.EncodeToString(c.links[9].Hash)}, r.Head)
	require.Equal(t, int64(1), r.Unsealed)
	require.Equal(t, 2, r.Checkpoints)
	require.Equal(t, 1, r.Verified)
	require.Equal(t, 1, r.Unsigned)

	// Without a verifier the signature is counted, not checked.
	r, err := audit.Verify(context.Background(), c, nil)
	require.NoError(t, err)
	require.True(t, r.Intact())
	require.Equal(t, 1, r.Unverified)
	require.Zero(t, r.Verified)
}

func TestVerifyEmptyChain(t *testing.T) {
	t.Parallel()
	r := verifyMem(t, newMemChain(0))
	require.True(t, r.Intact())
	require.Nil(t, r.Head)
	require.Zero(t, r.Links)
}

func TestVerifyFindsTheFirstBreak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(c *memChain)
		want   audit.Break
	}{
		{"EventChanged", func(c *memChain) { e := c.events[30]; e.Detail = "rewritten"; c.events[30] = e },
			audit.Break{Kind: audit.KindEventChanged, Pos: 3, Seq: 30}},
		{"HeadEventChangedWithCheckpoint", func(c *memChain) {
			c.checkpoint(10, nil)
			e := c.events[100]
			e.Status = "dead"
			c.events[100] = e
		}, audit.Break{Kind: audit.KindEventChanged, Pos: 10, Seq: 100}},
		{"HeadMismatchWithoutCheckpoint", func(c *memChain) { e := c.events[100]; e.Status = "dead"; c.events[100] = e },
			audit.Break{Kind: audit.KindHashMismatch, Pos: 10, Seq: 100}},
		{"LinkHashChanged", func(c *memChain) { c.link(5).Hash = forged("x") },
			audit.Break{Kind: audit.KindChainChanged, Pos: 5, Seq: 50}},
		{"HeadLinkHashChangedWithCheckpoint", func(c *memChain) { c.checkpoint(10, nil); c.link(10).Hash = forged("x") },
			audit.Break{Kind: audit.KindChainChanged, Pos: 10, Seq: 100}},
		{"PrevHashChanged", func(c *memChain) { c.link(7).PrevHash = forged("x") },
			audit.Break{Kind: audit.KindChainChanged, Pos: 7, Seq: 70}},
		{"LinkOutOfOrder", func(c *memChain) { c.link(6).TxID = 1 },
			audit.Break{Kind: audit.KindChainChanged, Pos: 6, Seq: 60}},
		{"EventMissing", func(c *memChain) { delete(c.events, 40) },
			audit.Break{Kind: audit.KindEventMissing, Pos: 4, Seq: 40}},
		{"EventsSwapped", func(c *memChain) {
			a, b := c.events[20], c.events[80]
			a.Seq, b.Seq, a.TxID, b.TxID = b.Seq, a.Seq, b.TxID, a.TxID
			c.events[20], c.events[80] = b, a
		}, audit.Break{Kind: audit.KindEventsSwapped, Pos: 2, Seq: 20, OtherSeq: 80}},
		{"FirstLinkMissing", func(c *memChain) { c.links = c.links[1:] },
			audit.Break{Kind: audit.KindLinksMissing, Pos: 1}},
		{"EventInsertedBehindHead", func(c *memChain) {
			c.events[25] = store.ChainEvent{Seq: 25, TxID: 1000, AppealID: "0190f5a2-0000-7000-8000-000000000000"}
		}, audit.Break{Kind: audit.KindEventInserted, Pos: 3, Seq: 25}},
		{"TailCut", func(c *memChain) {
			c.checkpoint(8, &testKey)
			c.checkpoint(10, nil)
			c.links = c.links[:6]
			for _, seq := range []int64{70, 80, 90, 100} {
				delete(c.events, seq)
			}
		}, audit.Break{Kind: audit.KindTailCut, Pos: 7, Seq: 80, Checkpoint: 2}},
		{"ChainRewrittenAfterACheckpoint", func(c *memChain) {
			c.checkpoint(10, nil)
			e := c.events[30]
			e.Detail = "rewritten"
			c.events[30] = e
			c.links = c.links[:2]
			for seq := int64(30); seq <= 100; seq += 10 {
				c.seal(c.events[seq])
			}
		}, audit.Break{Kind: audit.KindCheckpointMismatch, Pos: 10, Seq: 100, Checkpoint: 1}},
		{"SignatureInvalid", func(c *memChain) {
			c.checkpoint(5, &testKey)
			c.checkpoints[0].Signature[0] ^= 1
		}, audit.Break{Kind: audit.KindSignatureInvalid, Pos: 5, Seq: 50, Checkpoint: 1}},
		{"UnknownSigner", func(c *memChain) {
			c.checkpoint(5, &hmacKey{name: "someone", secret: "s3cret"})
		}, audit.Break{Kind: audit.KindSignatureInvalid, Pos: 5, Seq: 50, Checkpoint: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newMemChain(10)
			tt.tamper(c)
			r := verifyMem(t, c)
			require.False(t, r.Intact())
			first, ok := r.First()
			require.True(t, ok)
			require.NotEmpty(t, first.Detail)
			first.Detail = ""
			require.Equal(t, tt.want, first, "all breaks: %+v", r.Breaks)
		})
	}
}

func TestVerifyListsTheFirstBreaksInChainOrder(t *testing.T) {
	t.Parallel()
	c := newMemChain(150)
	for seq, e := range c.events {
		e.Detail = "rewritten"
		c.events[seq] = e
	}
	c.checkpoint(140, &testKey)
	c.checkpoints[0].Signature = []byte("bad")

	r := verifyMem(t, c)
	require.Equal(t, 151, r.BreakCount, "150 events and a signature")
	require.Len(t, r.Breaks, audit.MaxBreaks)
	for i, b := range r.Breaks {
		require.Equal(t, int64(i+1), b.Pos)
		require.Equal(t, audit.KindEventChanged, b.Kind)
	}
}

func TestVerifyStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := audit.Verify(ctx, newMemChain(3), nil)
	require.ErrorIs(t, err, context.Canceled)
}
