package store_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// These tests hold the reads and writes that were folded into fewer statements (the delivery
// task with its signatures, the deadline facts with the extensions and the current due dates, a
// superseding due date, a batch of receipts) to what the separate statements gave.

// setupInZone is setup on a store whose sessions run in the time zone tz, so that times the
// database prints differ from UTC (and, before 1900 or so, by seconds: local mean time).
func setupInZone(t *testing.T, tz string) *testBundle {
	t.Helper()
	cfg := storetest.Config()
	u, err := url.Parse(cfg.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("timezone", tz) // lib/pq passes a parameter it does not know on as a session setting
	u.RawQuery = q.Encode()
	cfg.URL = u.String()
	s := storetest.Open(t, cfg)
	ctx := context.Background()
	for _, code := range []string{"00000001", "00000002"} {
		require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: code, Name: "A " + code, Adapter: "json", Endpoint: "http://127.0.0.1:1/"}))
	}
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, hash("secret")))
	return &testBundle{store: s, ctx: ctx, now: time.Now().UTC().Truncate(time.Microsecond)}
}

// TestDeliveryTaskSignaturesInAnyZone: the signatures the delivery task reads in its own statement
// are the case view's, to the microsecond, whatever the session's time zone; an unsigned case
// gives an empty list.
func TestDeliveryTaskSignaturesInAnyZone(t *testing.T) {
	t.Parallel()
	b := setupInZone(t, "Europe/Kyiv")
	claimed := time.Date(2026, 3, 1, 11, 59, 58, 123456000, time.UTC)
	old := verified(1, "a1", nil, schemas.RevocationUnchecked)
	old.Signer.NotBefore = time.Date(1890, 6, 1, 12, 0, 0, 1000, time.UTC) // Kyiv local mean time: +02:02:04
	old.Signer.NotAfter = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	old.Signer.Subject = "CN=\"Quoted\" \\ back\tslash,\nO=Тест"
	sigs := []schemas.VerifiedSignature{verified(0, "text", &claimed, schemas.RevocationGood), old}
	nc := b.signedCase("signed-zone", sigs[1], sigs[0])
	stored, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)

	c, err := b.store.Case(b.ctx, "portal", stored.ID)
	require.NoError(t, err)
	task, err := b.store.DeliveryTask(b.ctx, nc.Deliveries[0].ID)
	require.NoError(t, err)
	require.Equal(t, c.Signatures, task.Signatures, "the same values as the case view's own read")
	require.Equal(t, sigs, task.Signatures, "in index order, times in UTC")
	require.Equal(t, stored.ID, task.AppealID)
	require.Equal(t, schemas.StatusAccepted, task.Status)

	unsigned := b.newCase(t, "unsigned-zone", "00000001")
	full, err := b.store.Case(b.ctx, "portal", unsigned.ID)
	require.NoError(t, err)
	task, err = b.store.DeliveryTask(b.ctx, full.Deliveries[0].ID)
	require.NoError(t, err)
	require.NotNil(t, task.Signatures, "an empty list, not null")
	require.Empty(t, task.Signatures)

	_, err = b.store.DeliveryTask(b.ctx, uuid.Must(uuid.NewV7()).String())
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestDeadlineStateReadsWhatThreeStatementsRead: the deadline facts read in one statement, with
// and without the current due dates, equal what the facts, extensions and due dates statements
// read, times in the same location, for a request with several extensions (two received at
// once), a simple mark and an overdue due date, and for a delivery with none of these.
func TestDeadlineStateReadsWhatThreeStatementsRead(t *testing.T) {
	t.Parallel()
	b := setupInZone(t, "Europe/Kyiv")
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: "info-1",
		RequestSHA256: hash("info-1"), CaseKind: schemas.CaseInfoRequest, Body: []byte(`{"urgent": true}`), ReceivedAt: b.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"},
			{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000002"}}}
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	b.relayAll(t)
	id, plain := nc.Deliveries[0].ID, nc.Deliveries[1].ID
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 1, Status: schemas.StatusDelivered, At: b.now})
	require.NoError(t, err)
	require.True(t, applied)

	due := func(h int) *time.Time {
		at := b.now.Add(time.Duration(h) * time.Hour).In(time.FixedZone("", 3*3600))
		return &at
	}
	msgs := [][]schemas.AuthorityMessage{
		{{MessageID: "s-1", Of: id, Type: schemas.MsgStatus, Simple: true, Text: "simple"}},
		{{MessageID: "x-3", Of: id, Type: schemas.MsgExtended, NewDueDate: due(96), Reason: "later"}},
		{{MessageID: "x-2", Of: id, Type: schemas.MsgExtended, NewDueDate: due(72), Reason: "same moment"},
			{MessageID: "x-1", Of: id, Type: schemas.MsgExtended, NewDueDate: due(48), Reason: "same moment"},
			{MessageID: "x-0", Of: id, Type: schemas.MsgExtended, Reason: "no new due date"}},
	}
	for i, batch := range msgs {
		_, err := b.store.ApplyAuthorityMessages(b.ctx, "00000001", batch, b.now.Add(time.Duration(i+1)*time.Minute+time.Duration(i)*1500),
			toStatus(schemas.StatusDelivered))
		require.NoError(t, err)
	}
	b.settle(t)
	reported, err := b.store.SweepOverdue(b.ctx, b.now.Add(1000*time.Hour), overdueEvents, closedStatuses, 100)
	require.NoError(t, err)
	require.NotEmpty(t, reported, "an overdue due date to read back")

	for _, d := range []string{id, plain} {
		facts, state, old, dues, oldDues, err := b.store.DeadlineReadsForTest(b.ctx, d)
		require.NoError(t, err)
		require.Equal(t, old, facts, "the notifier's facts")
		require.Equal(t, old, state, "the keeper's facts")
		// dueWrites.add compares these times (Equal, After) and stores them: the instant is what
		// counts, not the location it is read in.
		for _, m := range []map[schemas.DueKind]store.CurrentDueForTest{dues, oldDues} {
			for k, c := range m {
				c.DueAt = c.DueAt.UTC()
				if c.OverdueAt != nil {
					at := c.OverdueAt.UTC()
					c.OverdueAt = &at
				}
				m[k] = c
			}
		}
		require.Equal(t, oldDues, dues)
		if d == plain {
			require.Empty(t, facts.Extensions)
			require.Empty(t, dues)
			continue
		}
		require.True(t, facts.Urgent)
		require.True(t, facts.Simple)
		require.Len(t, facts.Extensions, 3, "the extension without a new due date is none")
		require.Equal(t, []string{"x-3", "x-1", "x-2"}, []string{facts.Extensions[0].MessageID, facts.Extensions[1].MessageID,
			facts.Extensions[2].MessageID}, "in the order received, then by id")
		require.Equal(t, "Europe/Kyiv", facts.Extensions[0].ReceivedAt.Location().String(), "read in the session's zone")
		require.Len(t, dues, 2)
		require.NotNil(t, dues[schemas.DueAnswer].OverdueAt)
	}

	_, _, _, _, _, err = b.store.DeadlineReadsForTest(b.ctx, uuid.Must(uuid.NewV7()).String())
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestSupersedingDueDatesKeepsTheirLinks: each superseded due date points at the row that
// replaced it (a later id, created when it was superseded), one row per kind stays current, and
// the overdue report moves to a new row only when that one is not later than the report.
func TestSupersedingDueDatesKeepsTheirLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, id := b.sentCase(t, "links-1", true)
	b.settle(t)
	reportAt := b.now.Add(25 * time.Hour)
	reported, err := b.store.SweepOverdue(b.ctx, reportAt, overdueEvents, closedStatuses, 100)
	require.NoError(t, err)
	require.Len(t, reported, 1, "the answer, due after 24 hours")

	// Simple: due after an hour, before the report, which the new row keeps.
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "l-1", Of: id, Type: schemas.MsgStatus,
		Simple: true, Text: "simple"}}, reportAt.Add(time.Minute), toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)
	// Extended past the report: the new row is not overdue.
	newDue := b.now.Add(72 * time.Hour)
	_, err = b.store.ApplyAuthorityMessages(b.ctx, "00000001", []schemas.AuthorityMessage{{MessageID: "l-2", Of: id, Type: schemas.MsgExtended,
		NewDueDate: &newDue}}, reportAt.Add(2*time.Minute), toStatus(schemas.StatusDelivered))
	require.NoError(t, err)
	b.settle(t)

	answers := func(where string, args ...any) int {
		return b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND kind = 'answer' AND `+where, append([]any{id}, args...)...)
	}
	require.Equal(t, 3, answers(`true`))
	require.Equal(t, 1, answers(`superseded_by IS NULL AND rule = 'stub.extended' AND overdue_at IS NULL`))
	require.Equal(t, 1, answers(`superseded_by IS NOT NULL AND rule = 'stub.simple' AND overdue_at = $2`, reportAt))
	require.Equal(t, 1, answers(`superseded_by IS NOT NULL AND rule = 'stub.answer' AND overdue_at = $2`, reportAt))
	require.Equal(t, 2, b.countRows(t, `
		SELECT count(*) FROM due_dates o JOIN due_dates n ON n.id = o.superseded_by
		WHERE o.delivery_id = $1 AND n.delivery_id = o.delivery_id AND n.kind = o.kind AND n.id > o.id
		  AND o.superseded_at = n.created_at AND n.created_at = $2`, id, b.now), "each superseded row points at its successor")
	require.Equal(t, 1, b.countRows(t, `
		SELECT count(*) FROM due_dates o JOIN due_dates n ON n.id = o.superseded_by
		WHERE o.delivery_id = $1 AND o.rule = 'stub.simple' AND n.rule = 'stub.extended'`, id))
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM due_dates WHERE delivery_id = $1 AND superseded_by IS NULL`, id),
		"one current row per kind")
	require.Equal(t, "stub.extended", b.dueOf(t, id)[schemas.DueAnswer].Explanation.Rule)
}

// TestIssueReceiptsStoresTheBatchAsGiven: the receipts of a step, written by one statement, are
// the ones the issuer returned (declined events skipped), every column as given, the time as a
// timestamp parameter stores it (the instant, rounded to the microsecond); a receipt without CMS
// fails the step and stores nothing.
func TestIssueReceiptsStoresTheBatchAsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, d := evidenceCase(t, b, "batch-1")
	at := time.Date(2026, 3, 2, 12, 0, 0, 123456789, time.FixedZone("", 3*3600))

	_, err := b.store.IssueReceipts(b.ctx, 1000, evidenceTypes, func(e store.ReceiptEvent) (store.Receipt, bool, error) {
		r, _, err := (&recordingIssuer{}).issue(e)
		r.CMS = nil
		return r, true, err
	})
	require.ErrorContains(t, err, "no content or no CMS")
	got, err := b.store.Receipts(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Empty(t, got)
	cursor, err := b.store.ReceiptCursor(b.ctx)
	require.NoError(t, err)
	require.Zero(t, cursor)

	var want []store.Receipt
	offered := 0
	res, err := b.store.IssueReceipts(b.ctx, 1000, evidenceTypes, func(e store.ReceiptEvent) (store.Receipt, bool, error) {
		offered++
		if offered == 2 {
			return store.Receipt{}, false, nil
		}
		r, _, err := (&recordingIssuer{}).issue(e)
		r.CMS = fmt.Appendf(nil, "\x30\x00\\x\"{%d}", offered)
		r.CreatedAt = at.Add(time.Duration(offered) * time.Second)
		want = append(want, r)
		return r, true, err
	})
	require.NoError(t, err)
	require.Equal(t, 4, offered)
	require.Equal(t, 3, res.Issued)
	got, err = b.store.Receipts(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, r := range got {
		w := want[i]
		require.Equal(t, w.ID, r.ID)
		require.Equal(t, w.Type, r.Type)
		require.Equal(t, w.DeliveryID, r.DeliveryID)
		require.Equal(t, w.AppealID, r.AppealID)
		require.Equal(t, string(w.Content), string(r.Content))
		require.Equal(t, w.CMS, r.CMS)
		require.True(t, w.CreatedAt.Round(time.Microsecond).Equal(r.CreatedAt), "%s stored as %s", w.CreatedAt, r.CreatedAt)
		require.NotEqual(t, w.CreatedAt, w.CreatedAt.Round(time.Microsecond), "the test rounds something")
	}
	require.Empty(t, got[0].DeliveryID, "the acceptance concerns no delivery")
	require.Equal(t, d.ID, got[1].DeliveryID)
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM receipts WHERE delivery_id IS NULL`))
}
