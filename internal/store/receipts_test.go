package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

var evidenceTypes = []schemas.EventType{schemas.EventSubmissionAccepted, schemas.EventDeliveryDelivered,
	schemas.AuthorityEvent(schemas.MsgRegistered)}

// recordingIssuer is an IssueFunc that issues an unsigned stand-in receipt for every event it is
// given and remembers the events.
type recordingIssuer struct {
	mu     sync.Mutex
	events []store.ReceiptEvent
}

func (r *recordingIssuer) issue(e store.ReceiptEvent) (store.Receipt, bool, error) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	typ := map[string]schemas.EvidenceType{string(schemas.EventSubmissionAccepted): schemas.EvidenceSubmissionAcceptance,
		string(schemas.EventDeliveryDelivered): schemas.EvidenceDelivery}[e.Event.Type]
	if typ == "" {
		typ = schemas.EvidenceRegistration
	}
	return store.Receipt{ID: uuid.Must(uuid.NewV7()).String(), AppealID: e.Event.AppealID, DeliveryID: e.Event.DeliveryID,
		Type: typ, Content: fmt.Appendf(nil, `{"pos":%d}`, e.Link.Pos), CMS: []byte{0x30, 0x00}, ChainPos: e.Link.Pos,
		CreatedAt: time.Now().UTC()}, true, nil
}

// issueAll issues until the cursor reaches the chain head.
func issueAll(t *testing.T, s *store.Store, limit int, issue store.IssueFunc) int {
	t.Helper()
	ctx := context.Background()
	total := 0
	for {
		res, err := s.IssueReceipts(ctx, limit, evidenceTypes, issue)
		require.NoError(t, err)
		total += res.Issued
		st, err := s.ChainStatus(ctx)
		require.NoError(t, err)
		if !res.Busy && res.Cursor == st.Head.Pos {
			return total
		}
	}
}

// evidenceCase makes a case to two authorities whose first delivery is delivered and registered
// (the registration message applied, and a second one that changes nothing), all sealed. It
// returns the case and the first delivery.
func evidenceCase(t *testing.T, b *testBundle, key string) (schemas.Case, schemas.Delivery) {
	t.Helper()
	c := b.newCase(t, key, "00000001", "00000002")
	b.relayAll(t)
	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	d := full.Deliveries[0]
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: d.ID, Attempt: 1,
		Status: schemas.StatusDelivered, At: b.now.Add(time.Second)})
	require.NoError(t, err)
	require.True(t, applied)
	regDate := time.Date(2026, 3, 2, 0, 0, 0, 0, time.FixedZone("EET", 2*3600))
	next := func(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
		if current == schemas.StatusDelivered && m.Type == schemas.MsgRegistered {
			return schemas.StatusRegistered, true
		}
		return current, false
	}
	for i := range 2 {
		_, err = b.store.ApplyAuthorityMessages(b.ctx, d.Authority, []schemas.AuthorityMessage{{MessageID: fmt.Sprintf("%s-reg-%d", key, i),
			Of: d.ID, Type: schemas.MsgRegistered, RegistrationNumber: fmt.Sprintf("Вх-%d", i), RegistrationDate: &regDate}},
			b.now.Add(time.Duration(2+i)*time.Second), next)
		require.NoError(t, err)
	}
	waitSealed(t, b.store)
	return full, d
}

func TestIssueReceiptsOncePerEvidenceEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, d := evidenceCase(t, b, "evidence-1")
	var rec recordingIssuer
	require.Equal(t, 4, issueAll(t, b.store, 3, rec.issue), "accepted, delivered, and two registration events offered")

	byType := map[string][]store.ReceiptEvent{}
	for _, e := range rec.events {
		byType[e.Event.Type] = append(byType[e.Event.Type], e)
	}
	accepted := byType[string(schemas.EventSubmissionAccepted)]
	require.Len(t, accepted, 1)
	require.Equal(t, c.ID, accepted[0].Event.AppealID)
	require.Equal(t, c.TrackingNumber, accepted[0].TrackingNumber)
	require.Equal(t, []byte(`{"x":1}`), accepted[0].Body, "the stored submission comes with the acceptance")
	require.Empty(t, accepted[0].Authority)
	delivered := byType[string(schemas.EventDeliveryDelivered)]
	require.Len(t, delivered, 1)
	require.Equal(t, d.ID, delivered[0].Event.DeliveryID)
	require.Equal(t, d.Authority, delivered[0].Authority)
	require.Nil(t, delivered[0].Body)
	registered := byType[string(schemas.AuthorityEvent(schemas.MsgRegistered))]
	require.Len(t, registered, 2)
	require.Equal(t, string(schemas.StatusRegistered), registered[0].Event.Status)
	require.Contains(t, string(registered[0].Message), `"message_id": "evidence-1-reg-0"`, "each event comes with its own message")
	require.False(t, registered[0].Repeat)
	require.Equal(t, "no change of status", registered[1].Event.Detail)
	require.True(t, registered[1].Repeat, "the second notice repeats the registration")
	require.False(t, accepted[0].Repeat)
	require.False(t, delivered[0].Repeat)
	require.Contains(t, string(registered[1].Message), `"message_id": "evidence-1-reg-1"`)
	for i, e := range rec.events {
		require.NotEmpty(t, e.Link.Hash)
		require.Equal(t, e.Link.Seq, e.Event.Seq)
		if i > 0 {
			require.Greater(t, e.Link.Pos, rec.events[i-1].Link.Pos, "chain order")
		}
	}

	// Nothing more to issue, and the cursor stands at the head.
	require.Zero(t, issueAll(t, b.store, 100, rec.issue))
	require.Len(t, rec.events, 4)
	cursor, err := b.store.ReceiptCursor(b.ctx)
	require.NoError(t, err)
	st, err := b.store.ChainStatus(b.ctx)
	require.NoError(t, err)
	require.Equal(t, st.Head.Pos, cursor)

	got, err := b.store.Receipts(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, schemas.EvidenceSubmissionAcceptance, got[0].Type)
	require.Empty(t, got[0].DeliveryID)
	require.Equal(t, schemas.EvidenceDelivery, got[1].Type)
	require.Equal(t, d.ID, got[1].DeliveryID)
	one, err := b.store.Receipt(b.ctx, "portal", c.ID, got[1].ID)
	require.NoError(t, err)
	require.Equal(t, got[1], one)
	require.JSONEq(t, string(got[1].Content), string(one.Content))
}

func TestIssueReceiptsSkipsWhatTheIssuerDeclines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	evidenceCase(t, b, "decline-1")
	offered := 0
	n := issueAll(t, b.store, 1000, func(store.ReceiptEvent) (store.Receipt, bool, error) {
		offered++
		return store.Receipt{}, false, nil
	})
	require.Zero(t, n)
	require.Equal(t, 4, offered)
	require.Zero(t, issueAll(t, b.store, 1000, (&recordingIssuer{}).issue), "declined events are passed for good")
}

// TestIssueReceiptsRollsBackACrashedStep: a step that fails after it stored a receipt (as a
// process that dies between two steps) leaves nothing behind; the next step issues every receipt
// once.
func TestIssueReceiptsRollsBackACrashedStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, _ := evidenceCase(t, b, "crash-1")
	var rec recordingIssuer
	crash := errors.New("crash")
	calls := 0
	_, err := b.store.IssueReceipts(b.ctx, 1000, evidenceTypes, func(e store.ReceiptEvent) (store.Receipt, bool, error) {
		calls++
		if calls == 3 {
			return store.Receipt{}, false, crash
		}
		return rec.issue(e)
	})
	require.ErrorIs(t, err, crash)
	got, err := b.store.Receipts(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Empty(t, got, "the two receipts stored before the crash are rolled back")
	cursor, err := b.store.ReceiptCursor(b.ctx)
	require.NoError(t, err)
	require.Zero(t, cursor)

	require.Equal(t, 4, issueAll(t, b.store, 1000, rec.issue))
	got, err = b.store.Receipts(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Len(t, got, 4)
}

// TestTwoNotariesIssueEachReceiptOnce runs the issuing steps of two hub processes (two store
// handles) at once while cases are being made and sealed.
func TestTwoNotariesIssueEachReceiptOnce(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	b := seeded(t, storetest.Open(t, cfg))
	other := storetest.Open(t, cfg)
	const cases = 12
	done := make(chan struct{})
	var wg sync.WaitGroup
	var rec recordingIssuer
	errs := make(chan error, 2)
	for _, s := range []*store.Store{b.store, other} {
		wg.Go(func() {
			for {
				if _, err := s.IssueReceipts(context.Background(), 2, evidenceTypes, rec.issue); err != nil {
					errs <- err
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	for i := range cases {
		b.newCase(t, fmt.Sprintf("two-%d", i), "00000001")
		waitSealed(t, b.store)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	issueAll(t, other, 5, rec.issue)

	seen := map[int64]int{}
	for _, e := range rec.events {
		seen[e.Link.Pos]++
	}
	require.Len(t, seen, cases, "one acceptance per case")
	for pos, n := range seen {
		require.Equal(t, 1, n, "chain position %d offered once", pos)
	}
	totalReceipts := 0
	for _, e := range rec.events {
		got, err := b.store.Receipts(b.ctx, "portal", e.Event.AppealID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		totalReceipts += len(got)
	}
	require.Equal(t, cases, totalReceipts)
}

func TestReceiptsAreTheirClientsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, _ := evidenceCase(t, b, "own-1")
	issueAll(t, b.store, 1000, (&recordingIssuer{}).issue)
	require.NoError(t, b.store.UpsertClient(b.ctx, schemas.Client{ID: "other-portal", Kind: "portal"}, hash("other")))
	mine, err := b.store.Receipts(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.NotEmpty(t, mine)

	_, err = b.store.Receipts(b.ctx, "other-portal", c.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.store.Receipt(b.ctx, "other-portal", c.ID, mine[0].ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.store.Receipt(b.ctx, "portal", c.ID, uuid.Must(uuid.NewV7()).String())
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = b.store.Receipts(b.ctx, "portal", uuid.Must(uuid.NewV7()).String())
	require.ErrorIs(t, err, store.ErrNotFound)

	// A case of the client without receipts yet: an empty list.
	fresh := b.newCase(t, "own-2", "00000001")
	got, err := b.store.Receipts(b.ctx, "portal", fresh.ID)
	require.NoError(t, err)
	require.Empty(t, got)
	require.NotNil(t, got)

	// Receipts are append-only.
	for _, stmt := range []string{`UPDATE receipts SET cms = '\x00'`, `DELETE FROM receipts`, `TRUNCATE receipts`} {
		require.ErrorContains(t, b.store.ExecForTest(b.ctx, stmt), "append-only", stmt)
	}
}
