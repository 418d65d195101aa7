package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/audit"
	"appealhub/internal/hubtest"
	"appealhub/internal/receipt"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

func TestAuditCheckpointAndVerify(t *testing.T) {
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	ctx := context.Background()
	require.NoError(t, st.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "00000001", Name: "Authority", Adapter: "json"}))
	sum := sha256.Sum256([]byte("token"))
	require.NoError(t, st.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	id := uuid.Must(uuid.NewV7()).String()
	_, err := st.CreateCase(ctx, schemas.NewCase{ID: id, ClientID: "portal", IdempotencyKey: id, RequestSHA256: sum[:],
		CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealProposal, Body: []byte(`{}`), ReceivedAt: time.Now(),
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}, "ZV-2026-")
	require.NoError(t, err)
	db := []string{"--database-url", cfg.URL, "--database-schema", cfg.Schema}

	out, errOut, code := runCLI(t, nil, append([]string{"audit", "verify"}, db...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "event chain: empty; 1 events not sealed yet\n")
	require.Contains(t, out, "intact\n")

	// Sealing waits for the transactions of the whole cluster that are running (other tests').
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		_, err := audit.NewSealer(st, audit.Config{}, nil).Seal(ctx)
		require.NoError(t, err)
		n, err := st.UnsealedEvents(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		require.False(t, time.Now().After(deadline), "the event is still unsealed")
	}
	out, errOut, code = runCLI(t, nil, append([]string{"audit", "checkpoint"}, db...)...)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^sealed 0 events; checkpoint \d+ at position 1 \(seq \d+, hash [0-9a-f]{64}\), unsigned\n$`, out)

	out, errOut, code = runCLI(t, nil, append([]string{"audit", "verify"}, db...)...)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `event chain: 1 links; head at position 1 \(seq \d+, hash [0-9a-f]{64}\); 0 events not sealed yet\n`, out)
	require.Contains(t, out, "checkpoints: 1 (0 signatures verified, 0 not checked, 1 unsigned)\nintact\n")

	// With the hub's identity configured the checkpoint is signed, and verifies against its CA.
	files, err := receipt.GenerateIdentity(t.TempDir(), "Appeal Hub test")
	require.NoError(t, err)
	out, errOut, code = runCLI(t, nil, append([]string{"audit", "checkpoint",
		"--identity-signing-key", files.Key, "--identity-certificate", files.Certificate}, db...)...)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^sealed 0 events; checkpoint \d+ at position 1 \(seq \d+, hash [0-9a-f]{64}\), signed\n$`, out)
	out, errOut, code = runCLI(t, nil, append([]string{"audit", "verify", "--ca", files.CA}, db...)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "checkpoints: 2 (1 signatures verified, 0 not checked, 1 unsigned)\nintact\n")

	out, errOut, code = runCLI(t, nil, append([]string{"audit", "verify", "--json"}, db...)...)
	require.Equal(t, 0, code, errOut)
	var r audit.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Equal(t, int64(1), r.Links)
	require.True(t, r.Intact())
	require.Equal(t, []audit.Break{}, r.Breaks)
}

// TestServedHubSealsItsTimeline: a running hub seals the events of its cases and checkpoints the
// chain; `audit verify` finds it intact.
func TestServedHubSealsItsTimeline(t *testing.T) {
	const code = "12000001"
	env := hubtest.NewEnv(t, map[string]string{code: "http://127.0.0.1:1/documents"}, func(c *config.Config) {
		c.Audit.SealInterval = 10 * time.Millisecond
		c.Audit.CheckpointInterval = 10 * time.Millisecond
	})
	hub := env.Start(t)
	receipt := env.MustSubmit(t, hub.URL, "sealed-1", hubtest.Submission(1, 1024, code))

	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		st, err := env.Store.ChainStatus(ctx)
		require.NoError(t, err)
		if st.LastCheckpoint != nil && st.LastCheckpoint.Pos >= 2 {
			break // the submission and its delivery queued, at least
		}
		require.False(t, time.Now().After(deadline), "no checkpoint of the case's events")
	}
	c, err := env.Store.Case(ctx, "portal-test", receipt.ID)
	require.NoError(t, err)
	require.NotEmpty(t, c.Events)

	out, errOut, exit := runCLI(t, nil, "audit", "verify", "--database-url", env.Config.Database.URL,
		"--database-schema", env.Config.Database.Schema)
	require.Equal(t, 0, exit, errOut)
	require.Contains(t, out, "\nintact\n")
}

func TestAuditRefusesAnUnmigratedSchema(t *testing.T) {
	cfg := storetest.Config()
	st, err := store.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.DropSchema(context.Background()); _ = st.Close() })
	require.NoError(t, st.CreateSchema(context.Background()))
	_, errOut, code := runCLI(t, nil, "audit", "verify", "--database-url", cfg.URL, "--database-schema", cfg.Schema)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "appealhub migrate")
}

// brokenChain is a chain of one link whose event was changed after sealing; a checkpoint of the
// link shows the link is the original.
type brokenChain struct{}

func (brokenChain) ReadChain(_ context.Context, v store.ChainVisitor) error {
	sealed := store.ChainEvent{Seq: 7, TxID: 1, AppealID: "0190f5a2-0000-7000-8000-000000000001", Type: "submission_accepted",
		Status: "accepted", CreatedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	link := store.ChainLink{Pos: 1, Seq: 7, TxID: 1, Hash: audit.LinkHash(nil, sealed)}
	changed := sealed
	changed.Status = "rejected"
	if err := v.CheckpointFunc(store.ChainCheckpoint{ID: 1, Pos: 1, Seq: 7, Hash: link.Hash}); err != nil {
		return err
	}
	if err := v.HeadFunc(link, 0); err != nil {
		return err
	}
	return v.LinkFunc(link, &changed)
}

func TestAuditVerifyReportsABrokenChain(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := verifyChain(context.Background(), &out, brokenChain{}, false)
	require.ErrorIs(t, err, errChainBroken)
	require.Contains(t, out.String(), "BROKEN: 1 breaks; the first at position 1 (seq 7)\n")
	require.Regexp(t, `\n  event_changed +pos 1 +seq 7 +event 7 differs from what was sealed\n`, out.String())

	out.Reset()
	err = verifyChain(context.Background(), &out, brokenChain{}, true)
	require.ErrorIs(t, err, errChainBroken)
	var r audit.Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	require.Equal(t, 1, r.BreakCount)
	require.Equal(t, audit.KindEventChanged, r.Breaks[0].Kind)
}
