package store_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// moves is the state machine the store tests apply: a message moves an open delivery to its
// status; status and extended are recorded without a move; nothing applies after a final status.
// (router/tracker.Next is the real one; its own test covers every pair.)
func moves(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
	switch current {
	case schemas.StatusAccepted, schemas.StatusQueued, schemas.StatusSent, schemas.StatusDelivered, schemas.StatusRegistered:
	default:
		return current, false
	}
	switch m.Type {
	case schemas.MsgStatus, schemas.MsgExtended:
		return current, true
	case schemas.MsgDelivered, schemas.MsgAccepted:
		return schemas.StatusDelivered, current != schemas.StatusDelivered && current != schemas.StatusRegistered
	case schemas.MsgRegistered:
		return schemas.StatusRegistered, current != schemas.StatusRegistered
	default:
		return schemas.DeliveryStatus(m.Type), true
	}
}

// apply applies msgs as authority, at b.now plus a second per call.
func (b *testBundle) apply(authority string, msgs ...schemas.AuthorityMessage) ([]schemas.MessageResult, error) {
	b.now = b.now.Add(time.Second)
	return b.store.ApplyAuthorityMessages(b.ctx, authority, msgs, b.now, moves)
}

func (b *testBundle) caseOf(t *testing.T, id string) schemas.Case {
	t.Helper()
	c, err := b.store.Case(b.ctx, "portal", id)
	require.NoError(t, err)
	return c
}

func deliveryTo(t *testing.T, c schemas.Case, authority string) schemas.Delivery {
	t.Helper()
	for _, d := range c.Deliveries {
		if d.Authority == authority {
			return d
		}
	}
	t.Fatalf("case %s has no delivery to %s", c.ID, authority)
	return schemas.Delivery{}
}

func eventsOf(c schemas.Case, deliveryID string) []schemas.Event {
	var out []schemas.Event
	for _, e := range c.Events {
		if e.DeliveryID == deliveryID {
			out = append(out, e)
		}
	}
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// TestAuthorityMessagesSetWhatTheirTypeEstablishes: registration, an informative status, a late
// notice, an extension and the answer each leave the delivery, the message record and the timeline
// as docs/state_machine.md says, and the answer's documents and signatures come back byte for byte.
func TestAuthorityMessagesSetWhatTheirTypeEstablishes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "k", "00000001")
	d := deliveryTo(t, b.caseOf(t, c.ID), "00000001")
	regDate := time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	due := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)

	res, err := b.apply("00000001",
		schemas.AuthorityMessage{MessageID: "m-1", Of: d.ID, Type: schemas.MsgRegistered, RegistrationNumber: "01-12/345",
			RegistrationDate: &regDate, Registrar: "Загальний відділ", RefusalCode: schemas.RefusalDuplicate, Reason: "ignored"},
		schemas.AuthorityMessage{MessageID: "m-2", Of: d.ID, Type: schemas.MsgDelivered},
		schemas.AuthorityMessage{MessageID: "m-3", Of: d.ID, Type: schemas.MsgExtended, NewDueDate: &due, Reason: "потрібна перевірка"})
	require.NoError(t, err)
	require.Equal(t, []schemas.MessageResult{
		{MessageID: "m-1", Of: d.ID, Applied: true, Status: schemas.StatusRegistered},
		{MessageID: "m-2", Of: d.ID, Status: schemas.StatusRegistered},
		{MessageID: "m-3", Of: d.ID, Applied: true, Status: schemas.StatusRegistered},
	}, res)

	content, sig := randomBytes(t, 4096), randomBytes(t, 700)
	answer := schemas.AuthorityMessage{MessageID: "m-4", Of: d.ID, Type: schemas.MsgAnswered, Outcome: schemas.OutcomeRefused,
		LegalBasis: "ст. 8 Закону", AppealProcedure: "До суду", Text: "Відмовлено.",
		Documents: []schemas.AuthorityDocument{{FileName: "answer.pdf", MediaType: "application/pdf", Content: content,
			Signatures: []schemas.Signature{{Of: "answer.pdf", Format: schemas.SignatureCAdESDetached, Value: sig}}}}}
	res, err = b.apply("00000001", answer)
	require.NoError(t, err)
	require.Equal(t, schemas.StatusAnswered, res[0].Status)

	got := b.caseOf(t, c.ID)
	dd := deliveryTo(t, got, "00000001")
	require.Equal(t, schemas.StatusAnswered, dd.Status)
	require.Equal(t, "01-12/345", dd.RegistrationNumber)
	require.True(t, regDate.Equal(*dd.RegisteredAt))
	require.Equal(t, "Загальний відділ", dd.Registrar)
	require.Empty(t, dd.RefusalCode, "a field the type does not need does not change the delivery")
	require.Empty(t, dd.Reason)
	require.NotNil(t, dd.DeliveredAt)
	require.NotNil(t, dd.Answer)
	require.Equal(t, "m-4", dd.Answer.MessageID)
	require.Equal(t, schemas.OutcomeRefused, dd.Answer.Outcome)
	require.Equal(t, "ст. 8 Закону", dd.Answer.LegalBasis)
	require.Equal(t, "До суду", dd.Answer.AppealProcedure)
	require.Equal(t, "Відмовлено.", dd.Answer.Text)
	require.Len(t, dd.Answer.Documents, 1)
	require.Equal(t, content, dd.Answer.Documents[0].Content, "the document byte for byte")
	require.Equal(t, sig, dd.Answer.Documents[0].Signatures[0].Value, "its signature byte for byte")

	var details []string
	for _, e := range eventsOf(got, d.ID) {
		details = append(details, fmt.Sprintf("%s %s %s", e.Type, e.Status, e.Detail))
	}
	require.Equal(t, []string{
		"delivery_queued queued ", // answered before the relay and the worker recorded theirs
		"delivery_sent sent answered by the authority's system before the hub recorded sending",
		"delivery_delivered delivered reported by the authority's system",
		"authority_registered registered registered as 01-12/345 on 2026-03-02T09:30:00+02:00",
		"authority_delivered registered no change of status",
		"authority_extended registered term of consideration extended to 2026-04-15T00:00:00Z",
		"authority_answered answered answered (refused) with 1 document(s)",
	}, details)

	// After the final state: kept, an event, nothing moves; the same id again is a duplicate.
	res, err = b.apply("00000001", schemas.AuthorityMessage{MessageID: "m-5", Of: d.ID, Type: schemas.MsgForwarded, ForwardedTo: "00000002"})
	require.NoError(t, err)
	require.Equal(t, schemas.MessageResult{MessageID: "m-5", Of: d.ID, Status: schemas.StatusAnswered}, res[0])
	res, err = b.apply("00000001", answer)
	require.NoError(t, err)
	require.True(t, res[0].Duplicate)
	got = b.caseOf(t, c.ID)
	require.Len(t, got.Deliveries, 1, "a stale forward creates nothing")
	require.Len(t, eventsOf(got, d.ID), 8, "a duplicate writes no event")
	delivered, err := b.store.DeliveredEventsPerDelivery(b.ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]int{d.ID: 1}, delivered, "the first message recorded the delivery, once")
}

// TestRefusalKeepsGroundTextAndRegistrar: a refusal with a ground and no text takes the ground's
// wording; its registrar is kept.
func TestRefusalKeepsGroundTextAndRegistrar(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "k", "00000001")
	d := deliveryTo(t, b.caseOf(t, c.ID), "00000001")
	_, err := b.apply("00000001", schemas.AuthorityMessage{MessageID: "r", Of: d.ID, Type: schemas.MsgRefused,
		RefusalCode: schemas.RefusalNotOurAddressee, Registrar: "Канцелярія"})
	require.NoError(t, err)
	got := b.caseOf(t, c.ID)
	dd := deliveryTo(t, got, "00000001")
	require.Equal(t, schemas.StatusRefused, dd.Status)
	require.Equal(t, schemas.RefusalNotOurAddressee, dd.RefusalCode)
	require.Equal(t, schemas.RefusalText(schemas.RefusalNotOurAddressee), dd.RefusalText)
	require.Equal(t, "Канцелярія", dd.Registrar)
	require.Nil(t, dd.DeliveredAt, "a refusal does not set the moment of delivery")
	ev := eventsOf(got, d.ID)
	require.Equal(t, "registration refused on the ground not_our_addressee", ev[len(ev)-1].Detail)
}

// forwarded is a forwarded message of delivery of to authority to.
func forwarded(id, of, to string) schemas.AuthorityMessage {
	return schemas.AuthorityMessage{MessageID: id, Of: of, Type: schemas.MsgForwarded, ForwardedTo: to, Reason: "за компетенцією"}
}

// TestForwardCreatesDeliveryOutboxAndEvents: an applied forwarded message creates, in its
// transaction, a delivery of the case to the target with its outbox row (which the relay publishes
// to the target like any other), the link both ways and an event on each delivery; the same
// message again creates nothing.
func TestForwardCreatesDeliveryOutboxAndEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newCase(t, "k", "00000001")
	src := deliveryTo(t, b.caseOf(t, c.ID), "00000001")
	published := func() []schemas.OutboxMessage {
		var out []schemas.OutboxMessage
		_, _, err := b.store.RelayBatch(b.ctx, b.now.Add(time.Hour), 100, time.Second,
			func(_ context.Context, msgs []schemas.OutboxMessage) []error {
				out = append(out, msgs...)
				return make([]error, len(msgs))
			})
		require.NoError(t, err)
		return out
	}
	require.Len(t, published(), 1, "the first delivery's row")
	before, err := b.store.Totals(b.ctx)
	require.NoError(t, err)

	res, err := b.apply("00000001", forwarded("f-1", src.ID, "00000002"))
	require.NoError(t, err)
	require.Equal(t, []schemas.MessageResult{{MessageID: "f-1", Of: src.ID, Applied: true, Status: schemas.StatusForwarded}}, res)
	after, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, before.Deliveries+1, after.Deliveries)
	require.Equal(t, before.OutboxPending+1, after.OutboxPending)
	require.Equal(t, before.Events+5, after.Events,
		"delivery_sent (before the worker's outcome), delivery_delivered (the first proof), authority_forwarded, "+
			"delivery_forwarded_to, delivery_forwarded_from")

	got := b.caseOf(t, c.ID)
	require.Len(t, got.Deliveries, 2)
	old, fresh := deliveryTo(t, got, "00000001"), deliveryTo(t, got, "00000002")
	require.Equal(t, schemas.StatusForwarded, old.Status)
	require.Equal(t, "за компетенцією", old.Reason)
	require.Equal(t, fresh.ID, old.ForwardedTo)
	require.Equal(t, src.ID, fresh.ForwardedFrom)
	require.Empty(t, fresh.ForwardedTo)
	require.Equal(t, schemas.StatusAccepted, fresh.Status)
	require.Equal(t, schemas.RoutingForwarded, fresh.RoutingRule)
	require.Contains(t, fresh.RoutingReason, "00000001")
	require.Contains(t, fresh.RoutingReason, src.ID)
	require.NoError(t, uuid.Validate(fresh.ID))

	var oldEvents, freshEvents []string
	for _, e := range eventsOf(got, old.ID) {
		oldEvents = append(oldEvents, fmt.Sprintf("%s %s %s", e.Type, e.Status, e.Detail))
	}
	for _, e := range eventsOf(got, fresh.ID) {
		freshEvents = append(freshEvents, fmt.Sprintf("%s %s %s", e.Type, e.Status, e.Detail))
	}
	require.Equal(t, []string{
		"delivery_queued queued ",
		"delivery_sent sent answered by the authority's system before the hub recorded sending",
		"delivery_delivered delivered reported by the authority's system",
		"authority_forwarded forwarded forwarded to authority 00000002",
		"delivery_forwarded_to forwarded forwarded to authority 00000002 as delivery " + fresh.ID,
	}, oldEvents)
	require.Equal(t, []string{"delivery_forwarded_from accepted forwarded by authority 00000001 from delivery " + src.ID}, freshEvents)

	// The relay publishes the new row to the target, and marks the new delivery queued.
	rows := published()
	require.Len(t, rows, 1)
	require.Equal(t, fresh.ID, rows[0].DeliveryID)
	require.Equal(t, "00000002", rows[0].Authority)
	require.Equal(t, c.TrackingNumber, rows[0].TrackingNumber)
	require.Equal(t, schemas.StatusQueued, deliveryTo(t, b.caseOf(t, c.ID), "00000002").Status)

	// The same forwarded message again: a duplicate, nothing new.
	res, err = b.apply("00000001", forwarded("f-1", src.ID, "00000002"))
	require.NoError(t, err)
	require.True(t, res[0].Duplicate)
	again, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, after.Deliveries, again.Deliveries)
	require.Equal(t, after.Events+1, again.Events, "only the relay's delivery_queued since")
	require.Zero(t, again.OutboxPending)
}

// TestForwardRefusalsStoreNothing: every target the hub cannot send the case to refuses the whole
// call with its code, and nothing of it is stored: not the forward, not a valid message before it
// in the same call, not the message id.
func TestForwardRefusalsStoreNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000003", Name: "Suspended", Adapter: "json",
		Status: schemas.AuthoritySuspended}))
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000004", Name: "Closed", Adapter: "json",
		Status: schemas.AuthorityClosed}))
	infoOnly := entry("00000005", "Лише запити на інформацію", "")
	infoOnly.Accepts = []string{string(schemas.CaseInfoRequest)}
	_, err := b.store.ApplyAuthorityChanges(b.ctx, []schemas.AuthorityChange{{Action: schemas.ActionImport, ChangedBy: "test", After: infoOnly}})
	require.NoError(t, err)

	// A complaint against 00000002, addressed to 00000001.
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: "complaint",
		RequestSHA256: hash("complaint"), CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealComplaint,
		Body: []byte(`{"case_kind":"appeal","appeal_kind":"complaint","complaint_against":"00000002"}`), ReceivedAt: b.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}
	complaint, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	src := deliveryTo(t, b.caseOf(t, complaint.ID), "00000001")
	two := b.newCase(t, "two", "00000001", "00000003")
	twoSrc := deliveryTo(t, b.caseOf(t, two.ID), "00000001")

	tests := []struct {
		name   string
		of, to string
		code   schemas.Code
	}{
		{name: "unknown", of: src.ID, to: "99999999", code: schemas.CodeForwardTargetUnknown},
		{name: "suspended", of: src.ID, to: "00000003", code: schemas.CodeForwardTargetInactive},
		{name: "closed", of: src.ID, to: "00000004", code: schemas.CodeForwardTargetInactive},
		{name: "does not accept the kind", of: src.ID, to: "00000005", code: schemas.CodeForwardTargetInactive},
		{name: "itself", of: src.ID, to: "00000001", code: schemas.CodeForwardTargetDuplicate},
		{name: "already has the case", of: twoSrc.ID, to: "00000003", code: schemas.CodeForwardTargetDuplicate},
		{name: "the body complained of", of: src.ID, to: "00000002", code: schemas.CodeForwardTargetForbidden},
	}
	for _, tc := range tests {
		before, err := b.store.Totals(b.ctx)
		require.NoError(t, err)
		regDate := b.now
		_, err = b.apply("00000001",
			schemas.AuthorityMessage{MessageID: "reg-" + tc.name, Of: tc.of, Type: schemas.MsgRegistered, RegistrationNumber: "1", RegistrationDate: &regDate},
			forwarded("fwd-"+tc.name, tc.of, tc.to))
		perr, ok := errors.AsType[*schemas.Error](err)
		require.True(t, ok, "%s: %v", tc.name, err)
		require.Equal(t, tc.code, perr.Code, tc.name)
		require.Contains(t, perr.Detail, `"fwd-`+tc.name+`"`, "the detail names the message")
		after, err := b.store.Totals(b.ctx)
		require.NoError(t, err)
		require.Equal(t, before, after, "%s: nothing stored", tc.name)
	}
	for _, c := range []string{complaint.ID, two.ID} {
		for _, d := range b.caseOf(t, c).Deliveries {
			require.Equal(t, schemas.StatusAccepted, d.Status, "no message moved %s", d.ID)
		}
	}
	// The refused message ids were not stored: the same id with other content now applies.
	res, err := b.apply("00000001", schemas.AuthorityMessage{MessageID: "fwd-unknown", Of: src.ID, Type: schemas.MsgDelivered})
	require.NoError(t, err)
	require.True(t, res[0].Applied)
	require.False(t, res[0].Duplicate)
}

// TestConcurrentForwardsToOneAuthority: two authorities of one case forward it to the same third
// one at once: exactly one delivery to it is created, the other call is forward_target_duplicate.
func TestConcurrentForwardsToOneAuthority(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000003", Name: "Third", Adapter: "json"}))
	for i := range 10 {
		c := b.newCase(t, fmt.Sprintf("k-%d", i), "00000001", "00000002")
		cs := b.caseOf(t, c.ID)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, code := range []string{"00000001", "00000002"} {
			d := deliveryTo(t, cs, code)
			wg.Go(func() {
				_, errs[j] = b.store.ApplyAuthorityMessages(b.ctx, code, []schemas.AuthorityMessage{forwarded(fmt.Sprintf("f-%d", i), d.ID, "00000003")}, b.now, moves)
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			perr, isProblem := errors.AsType[*schemas.Error](err)
			require.True(t, isProblem, "%v", err)
			require.Equal(t, schemas.CodeForwardTargetDuplicate, perr.Code)
		}
		require.Equal(t, 1, ok, "round %d", i)
		cs = b.caseOf(t, c.ID)
		require.Len(t, cs.Deliveries, 3)
		third := deliveryTo(t, cs, "00000003")
		require.NotEmpty(t, third.ForwardedFrom)
	}
	_, err := b.store.Case(b.ctx, "portal", uuid.Must(uuid.NewV7()).String())
	require.ErrorIs(t, err, store.ErrNotFound)
}
