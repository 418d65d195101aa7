package receipt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/internal/audit"
	"appealhub/internal/receipt"
	"appealhub/internal/receipt/receipttest"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

var testHub = receipt.Hub{Code: "00000000", Name: "Appeal Hub", SystemID: "APPEALHUB"}

// testBundle is a migrated schema with an authority and a portal client, and a hub identity.
type testBundle struct {
	ctx      context.Context
	store    *store.Store
	files    receipt.IdentityFiles
	identity *receipt.Identity
	verifier *receipt.Verifier
	now      time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupOn(t, storetest.New(t))
}

func setupOn(t *testing.T, s *store.Store) *testBundle {
	t.Helper()
	ctx := context.Background()
	for _, code := range []string{"00000001", "00000002"} {
		require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: code, Name: "Authority " + code, Adapter: "json"}))
	}
	sum := sha256.Sum256([]byte("portal-token"))
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	files, err := receipt.GenerateIdentity(t.TempDir(), "Appeal Hub test")
	require.NoError(t, err)
	id, err := receipt.LoadIdentity(files.Key, files.Certificate)
	require.NoError(t, err)
	v, err := receipt.NewVerifierFromFile(files.CA)
	require.NoError(t, err)
	return &testBundle{ctx: ctx, store: s, files: files, identity: id, verifier: v, now: time.Now().UTC().Truncate(time.Microsecond)}
}

func (b *testBundle) notary(t *testing.T, s *store.Store) *receipt.Notary {
	t.Helper()
	return receipt.NewNotary(s, b.identity, receipt.Config{Hub: testHub, Interval: 5 * time.Millisecond, BatchSize: 3},
		zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

// newCase stores a case with body to the authorities and returns its id and its deliveries' ids.
func (b *testBundle) newCase(t *testing.T, key string, body []byte, authorities ...string) (string, []string) {
	t.Helper()
	sum := sha256.Sum256(body)
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: key, RequestSHA256: sum[:],
		CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealApplication, Body: body, ReceivedAt: b.now}
	var ids []string
	for _, a := range authorities {
		id := uuid.Must(uuid.NewV7()).String()
		nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: id, Authority: a})
		ids = append(ids, id)
	}
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	return nc.ID, ids
}

// deliverAndRegister relays every due outbox row, records the delivery delivered and the
// authority's registration (twice: the second notice changes nothing).
func (b *testBundle) deliverAndRegister(t *testing.T, authority, deliveryID, number string) {
	t.Helper()
	_, _, err := b.store.RelayBatch(b.ctx, b.now.Add(time.Minute), 100, time.Second,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error { return make([]error, len(msgs)) })
	require.NoError(t, err)
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: deliveryID, Attempt: 1,
		Status: schemas.StatusDelivered, At: b.now.Add(time.Second)})
	require.NoError(t, err)
	require.True(t, applied)
	date := time.Date(2026, 3, 2, 0, 0, 0, 0, time.FixedZone("", 2*3600))
	for i := range 2 {
		_, err = b.store.ApplyAuthorityMessages(b.ctx, authority, []schemas.AuthorityMessage{{MessageID: fmt.Sprintf("%s-%d", number, i),
			Of: deliveryID, Type: schemas.MsgRegistered, RegistrationNumber: number, RegistrationDate: &date}},
			b.now.Add(time.Duration(2+i)*time.Second), func(current schemas.DeliveryStatus, _ schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
				return schemas.StatusRegistered, current != schemas.StatusRegistered
			})
		require.NoError(t, err)
	}
}

// seal seals every event (waiting for the transactions of the whole cluster that are running).
func (b *testBundle) seal(t *testing.T) {
	t.Helper()
	sealer := audit.NewSealer(b.store, audit.Config{}, nil)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		_, err := sealer.Seal(b.ctx)
		require.NoError(t, err)
		n, err := b.store.UnsealedEvents(b.ctx)
		require.NoError(t, err)
		if n == 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "%d events still unsealed", n)
	}
}

// chainLink returns the link that seals the event of type typ about the case (and delivery).
func (b *testBundle) chainLink(t *testing.T, appealID, deliveryID string, typ schemas.EventType) store.ChainLink {
	t.Helper()
	var found []store.ChainLink
	require.NoError(t, b.store.ReadChain(b.ctx, store.ChainVisitor{LinkFunc: func(l store.ChainLink, e *store.ChainEvent) error {
		if e != nil && e.AppealID == appealID && e.DeliveryID == deliveryID && e.Type == string(typ) {
			found = append(found, l)
		}
		return nil
	}}))
	require.NotEmpty(t, found, "a link for %s", typ)
	return found[0]
}

// TestNotaryIssuesVerifiableReceipts: a case accepted, delivered and registered gets exactly
// three receipts, which OpenSSL and the Verifier accept and whose content states what happened.
func TestNotaryIssuesVerifiableReceipts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	text := "Прошу розглянути моє звернення.\nДякую!"
	body := submissionBody(t, text)
	appealID, deliveries := b.newCase(t, "case-1", body, "00000001", "00000002")
	b.deliverAndRegister(t, "00000001", deliveries[0], "Вх-12/345")
	b.seal(t)

	n, err := b.notary(t, b.store).Issue(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	got, err := b.store.Receipts(b.ctx, "portal", appealID)
	require.NoError(t, err)
	require.Len(t, got, 3)
	n, err = b.notary(t, b.store).Issue(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "issued once")

	for i, want := range []schemas.EvidenceType{schemas.EvidenceSubmissionAcceptance, schemas.EvidenceDelivery, schemas.EvidenceRegistration} {
		r := got[i]
		require.Equal(t, want, r.Type)
		printed, err := receipttest.OpenSSLVerify(t, r.CMS, b.files.CA)
		require.NoError(t, err, "openssl verifies the %s receipt", want)
		require.Equal(t, []byte(r.Content), printed, "openssl prints the signed content")
		v, err := b.verifier.Verify(b.ctx, r.CMS, time.Time{})
		require.NoError(t, err)
		require.Equal(t, []byte(r.Content), v.Content)
		require.Equal(t, b.identity.CertificateSHA256(), v.Signer.CertificateSHA256)
		c := v.Receipt
		require.Equal(t, receipt.Format, c.Format)
		require.Equal(t, r.ID, c.ID)
		require.Equal(t, want, c.Evidence)
		require.Equal(t, testHub, c.Hub)
		require.Equal(t, appealID, c.AppealID)
		require.Regexp(t, `^ZV-2026-\d{8}$`, c.TrackingNumber)
		require.Equal(t, r.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z"), c.IssuedAt)

		// The receipt names the link that seals its event.
		var link store.ChainLink
		switch want {
		case schemas.EvidenceSubmissionAcceptance:
			link = b.chainLink(t, appealID, "", schemas.EventSubmissionAccepted)
			require.Equal(t, b.now.Format("2006-01-02T15:04:05.000000Z"), c.EventTime)
			require.Equal(t, hex.EncodeToString(sha256Sum([]byte(body))), c.SubmissionSHA256)
			require.Equal(t, []receipt.Document{
				{ID: "text", SHA256: hex.EncodeToString(sha256Sum([]byte(text))), Size: int64(len(text))},
				{ID: "att-1", MediaType: "text/plain", SHA256: hex.EncodeToString(sha256Sum([]byte("довідка"))), Size: int64(len("довідка"))},
				{ID: "/attachments/1", MediaType: "application/pdf", SHA256: hex.EncodeToString(sha256Sum([]byte("%PDF-1.7\n"))), Size: 9},
			}, c.Documents)
			require.Empty(t, c.DeliveryID)
			require.Empty(t, r.DeliveryID)
		case schemas.EvidenceDelivery:
			link = b.chainLink(t, appealID, deliveries[0], schemas.EventDeliveryDelivered)
			require.Equal(t, deliveries[0], c.DeliveryID)
			require.Equal(t, deliveries[0], r.DeliveryID)
			require.Equal(t, "00000001", c.Authority)
			require.Equal(t, b.now.Add(time.Second).Format("2006-01-02T15:04:05.000000Z"), c.EventTime)
			require.Nil(t, c.Documents)
		case schemas.EvidenceRegistration:
			link = b.chainLink(t, appealID, deliveries[0], schemas.AuthorityEvent(schemas.MsgRegistered))
			require.Equal(t, deliveries[0], c.DeliveryID)
			require.Equal(t, "00000001", c.Authority)
			require.Equal(t, &receipt.Registration{Number: "Вх-12/345", Date: "2026-03-02T00:00:00+02:00", MessageID: "Вх-12/345-0"}, c.Registration)
			require.Equal(t, b.now.Add(2*time.Second).Format("2006-01-02T15:04:05.000000Z"), c.EventTime)
		}
		require.Equal(t, receipt.ChainRef{Pos: link.Pos, Seq: link.Seq, Hash: hex.EncodeToString(link.Hash),
			PrevHash: hex.EncodeToString(link.PrevHash)}, c.Chain)
	}

	// A receipt changed by one byte fails with OpenSSL and with the Verifier.
	tampered := receipttest.Tamper(t, got[2].CMS, "Вх-12/345", "Вх-12/346")
	_, err = receipttest.OpenSSLVerify(t, tampered, b.files.CA)
	require.Error(t, err)
	_, err = b.verifier.Verify(b.ctx, tampered, time.Time{})
	require.ErrorIs(t, err, receipt.ErrInvalid)

	// Another hub's CA does not vouch for this hub's receipts.
	otherFiles, err := receipt.GenerateIdentity(t.TempDir(), "Other hub")
	require.NoError(t, err)
	_, err = receipttest.OpenSSLVerify(t, got[0].CMS, otherFiles.CA)
	require.Error(t, err)
	other, err := receipt.NewVerifierFromFile(otherFiles.CA)
	require.NoError(t, err)
	_, err = other.Verify(b.ctx, got[0].CMS, time.Time{})
	require.ErrorIs(t, err, receipt.ErrInvalid)
	require.ErrorContains(t, err, "untrusted_chain")
}

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// TestTwoNotariesIssueEachReceiptOnce runs the background notaries of two hub processes (two
// store handles) on one schema while cases are accepted and sealed.
func TestTwoNotariesIssueEachReceiptOnce(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	b := setupOn(t, storetest.Open(t, cfg))
	other := storetest.Open(t, cfg)
	core, problems := observer.New(zap.WarnLevel)
	for _, s := range []*store.Store{b.store, other} {
		n := receipt.NewNotary(s, b.identity, receipt.Config{Hub: testHub, Interval: time.Millisecond, BatchSize: 2}, zap.New(core))
		require.NoError(t, n.Start(b.ctx))
		t.Cleanup(func() { _ = n.Stop(context.Background()) })
	}
	sealer := audit.NewSealer(b.store, audit.Config{SealInterval: time.Millisecond, BatchSize: 3}, nil)
	require.NoError(t, sealer.Start(b.ctx))
	t.Cleanup(func() { _ = sealer.Stop(context.Background()) })

	const cases = 10
	var ids []string
	for i := range cases {
		id, _ := b.newCase(t, fmt.Sprintf("two-%d", i), submissionBody(t, fmt.Sprintf("звернення %d", i)), "00000001")
		ids = append(ids, id)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		total := 0
		for _, id := range ids {
			got, err := b.store.Receipts(b.ctx, "portal", id)
			require.NoError(t, err)
			require.LessOrEqual(t, len(got), 1, "case %s", id)
			total += len(got)
		}
		if total == cases {
			break
		}
		require.False(t, time.Now().After(deadline), "%d of %d receipts issued", total, cases)
	}
	require.Zero(t, problems.Len(), "%v", problems.All())
}

// fakeLedger hands the notary the events it is given, once.
type fakeLedger struct {
	mu     sync.Mutex
	events []store.ReceiptEvent
	issued []store.Receipt
}

func (f *fakeLedger) IssueReceipts(_ context.Context, _ int, _ []schemas.EventType, issue store.IssueFunc) (store.ReceiptIssue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Receipt
	for _, e := range f.events {
		r, ok, err := issue(e)
		if err != nil {
			return store.ReceiptIssue{}, err
		}
		if ok {
			out = append(out, r)
		}
	}
	f.issued = append(f.issued, out...)
	n := len(f.events)
	f.events = nil
	return store.ReceiptIssue{Issued: len(out), Passed: int64(n)}, nil
}

// sealedEvent returns an evidence event and the first link that seals it.
func sealedEvent(typ schemas.EventType, status schemas.DeliveryStatus) store.ReceiptEvent {
	e := store.ChainEvent{Seq: 5, AppealID: "0191d7a8-0000-7000-8000-000000000002", DeliveryID: "0191d7a8-0000-7000-8000-000000000003",
		Type: string(typ), Status: string(status), CreatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	return store.ReceiptEvent{Link: store.ChainLink{Pos: 1, Seq: 5, Hash: audit.LinkHash(nil, e)}, Event: e,
		TrackingNumber: "ZV-2026-00000001", Authority: "00000001",
		Message: []byte(`{"message_id":"m-1","of":"x","type":"registered","registration_number":"1/2"}`)}
}

func TestNotaryRefusesAnEventThatNoLongerMatchesItsLink(t *testing.T) {
	t.Parallel()
	b := &testBundle{}
	files, err := receipt.GenerateIdentity(t.TempDir(), "Appeal Hub test")
	require.NoError(t, err)
	b.identity, err = receipt.LoadIdentity(files.Key, files.Certificate)
	require.NoError(t, err)

	changed := sealedEvent(schemas.EventDeliveryDelivered, schemas.StatusDelivered)
	changed.Event.Status = "refused"
	ledger := &fakeLedger{events: []store.ReceiptEvent{changed}}
	n := receipt.NewNotary(ledger, b.identity, receipt.Config{Hub: testHub}, nil)
	_, err = n.Issue(context.Background())
	require.ErrorContains(t, err, "does not match its link at chain position 1")
	require.Empty(t, ledger.issued)

	// What warrants no receipt: a registration notice that changed nothing, a repeated one, an
	// event of another type.
	repeat := sealedEvent(schemas.AuthorityEvent(schemas.MsgRegistered), schemas.StatusRegistered)
	repeat.Repeat = true
	ledger.events = []store.ReceiptEvent{
		sealedEvent(schemas.AuthorityEvent(schemas.MsgRegistered), schemas.StatusAnswered),
		repeat,
		sealedEvent(schemas.EventDeliveryQueued, schemas.StatusQueued),
		sealedEvent(schemas.AuthorityEvent(schemas.MsgRegistered), schemas.StatusRegistered),
	}
	issued, err := n.Issue(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, issued)
	require.Equal(t, schemas.EvidenceRegistration, ledger.issued[0].Type)
	require.True(t, bytes.Contains(ledger.issued[0].Content, []byte(`"registration":{"message_id":"m-1","number":"1/2"}`)))
	require.True(t, bytes.Contains(ledger.issued[0].Content, []byte(`"chain":{"hash":"`)), "the first link has no prev_hash")
}

func TestNotaryWithoutIdentityIssuesNothing(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.WarnLevel)
	n := receipt.NewNotary(&fakeLedger{}, nil, receipt.Config{}, zap.New(core))
	require.NoError(t, n.Start(context.Background()))
	require.NoError(t, n.Stop(context.Background()))
	require.Equal(t, 1, logs.FilterMessageSnippet("no hub identity configured").Len())
	_, err := n.Issue(context.Background())
	require.ErrorIs(t, err, receipt.ErrNoIdentity)
}
