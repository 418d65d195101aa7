package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// buildNotification is the store.NotificationFunc of these tests: the portal vocabulary's entry as
// the payload.
func buildNotification(src schemas.NotificationSource) (schemas.NewNotification, bool, error) {
	p, ok := schemas.PortalEventOf(src.Event, src.Previous)
	if !ok {
		return schemas.NewNotification{}, false, nil
	}
	payload, err := json.Marshal(p)
	return schemas.NewNotification{State: p.State, Payload: payload}, true, err
}

// notifyAll runs notifying steps until the cursor has passed the whole chain, and returns how many
// notifications they wrote.
func notifyAll(t *testing.T, b *testBundle) int {
	t.Helper()
	total := 0
	for {
		notified, passed, err := b.store.NotifyEvents(b.ctx, b.now, 2, buildNotification)
		require.NoError(t, err)
		total += notified
		if passed == 0 {
			return total
		}
	}
}

func (b *testBundle) subscribe(t *testing.T, client string, mode schemas.NotificationMode) {
	t.Helper()
	r := schemas.SubscriptionRecord{Client: client, Mode: mode}
	if mode == schemas.NotifyWebhook {
		r.URL, r.SealedSecret = "https://portal.example/hook", []byte("\x00secret")
	}
	_, err := b.store.PutSubscription(b.ctx, r, b.now)
	require.NoError(t, err)
}

// relayNotifications runs one relay step that confirms every message, and returns the ids it
// published in order.
func relayNotifications(t *testing.T, b *testBundle) []int64 {
	t.Helper()
	var ids []int64
	_, _, err := b.store.RelayNotifications(b.ctx, b.now.Add(time.Minute), 100, time.Second,
		func(_ context.Context, msgs []schemas.PortalMessage) []error {
			for _, m := range msgs {
				ids = append(ids, m.ID)
			}
			return make([]error, len(msgs))
		})
	require.NoError(t, err)
	return ids
}

func states(t *testing.T, b *testBundle, caseID string) []string {
	t.Helper()
	list, err := b.store.Notifications(b.ctx, caseID)
	require.NoError(t, err)
	var out []string
	for _, n := range list {
		out = append(out, string(n.State)+":"+string(n.Status))
	}
	return out
}

func TestSubscriptionsArePortalClientsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.UpsertClient(b.ctx, schemas.Client{ID: "ops", Kind: "operator"}, hash("ops")))
	for _, client := range []string{"ops", "nobody"} {
		_, err := b.store.PutSubscription(b.ctx, schemas.SubscriptionRecord{Client: client, Mode: schemas.NotifyAMQP}, b.now)
		require.ErrorIs(t, err, store.ErrNotPortal, client)
		require.ErrorIs(t, err, store.ErrNotFound, client)
	}
	_, err := b.store.Subscription(b.ctx, "portal")
	require.ErrorIs(t, err, store.ErrNotFound)

	b.subscribe(t, "portal", schemas.NotifyWebhook)
	got, err := b.store.Subscription(b.ctx, "portal")
	require.NoError(t, err)
	require.Equal(t, schemas.NotifyWebhook, got.Mode)
	require.Equal(t, []byte("\x00secret"), got.SealedSecret)

	// amqp keeps no URL or secret, and the first registration's time.
	later := b.now.Add(time.Hour)
	amqp, err := b.store.PutSubscription(b.ctx, schemas.SubscriptionRecord{Client: "portal", Mode: schemas.NotifyAMQP,
		URL: "", SealedSecret: []byte("x")}, later)
	require.NoError(t, err)
	require.Nil(t, amqp.SealedSecret)
	require.True(t, amqp.CreatedAt.Equal(b.now))
	require.True(t, amqp.UpdatedAt.Equal(later))
	all, err := b.store.Subscriptions(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
}

// TestNotifyEventsOncePerEventInTheVocabulary: the notifier's walk writes one notification per
// event that the portal vocabulary shows, for subscribed clients only, and never again.
func TestNotifyEventsOncePerEventInTheVocabulary(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.UpsertClient(b.ctx, schemas.Client{ID: "other", Kind: "portal"}, hash("other")))
	b.subscribe(t, "portal", schemas.NotifyWebhook)
	c, d := evidenceCase(t, b, "notify-1")

	require.Equal(t, 5, notifyAll(t, b))
	require.Equal(t, []string{"accepted:pending", "sent:pending", "sent:pending", "delivered:pending", "registered:pending"},
		states(t, b, c.ID), "the two deliveries are sent, the first is delivered and registered once")
	list, err := b.store.Notifications(b.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, schemas.PortalAccepted, list[0].State)
	var p schemas.PortalEvent
	task, err := b.store.WebhookTask(b.ctx, list[len(list)-1].ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(task.Payload, &p))
	require.Equal(t, schemas.PortalRegistered, p.State)
	require.Equal(t, d.ID, p.DeliveryID)
	require.Equal(t, "A 00000001", p.AuthorityName)
	require.Equal(t, c.TrackingNumber, p.TrackingNumber)

	// Nothing twice: the cursor has passed every event.
	require.Zero(t, notifyAll(t, b))
	// A case of a client without a subscription is passed over.
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "other", IdempotencyKey: "o", RequestSHA256: hash("o"),
		CaseKind: schemas.CaseAppeal, Body: []byte(`{}`), ReceivedAt: b.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}
	_, err = b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	waitSealed(t, b.store)
	require.Zero(t, notifyAll(t, b))
	cursor, err := b.store.NotificationCursor(b.ctx)
	require.NoError(t, err)
	links := chainLinks(t, b.store)
	require.Equal(t, links[len(links)-1].Pos, cursor)
}

func TestNotifyEventsRollsBackAFailedStep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.subscribe(t, "portal", schemas.NotifyAMQP)
	c := b.newCase(t, "fail-1", "00000001")
	waitSealed(t, b.store)
	_, _, err := b.store.NotifyEvents(b.ctx, b.now, 10, func(schemas.NotificationSource) (schemas.NewNotification, bool, error) {
		return schemas.NewNotification{}, false, errors.New("boom")
	})
	require.ErrorContains(t, err, "boom")
	cursor, err := b.store.NotificationCursor(b.ctx)
	require.NoError(t, err)
	require.Zero(t, cursor)
	require.Equal(t, 1, notifyAll(t, b))
	require.Equal(t, []string{"accepted:pending"}, states(t, b, c.ID))
}

// TestRelayNotificationsOneAtATimePerStream: a webhook notification holds up the later ones of its
// stream until it is delivered; an amqp one only until it is published.
func TestRelayNotificationsOneAtATimePerStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.subscribe(t, "portal", schemas.NotifyWebhook)
	c, d := evidenceCase(t, b, "order-1")
	require.Equal(t, 5, notifyAll(t, b))
	list, err := b.store.Notifications(b.ctx, c.ID)
	require.NoError(t, err)
	var ofD []int64
	for _, n := range list {
		if n.DeliveryID == d.ID {
			ofD = append(ofD, n.ID)
		}
	}
	require.Len(t, ofD, 3, "sent, delivered, registered")

	first := relayNotifications(t, b)
	require.Contains(t, first, ofD[0])
	require.NotContains(t, first, ofD[1], "held up behind the first of its delivery")
	require.Empty(t, relayNotifications(t, b), "nothing more while the webhook has not answered")
	_, ok, err := b.store.NextNotificationDue(b.ctx)
	require.NoError(t, err)
	require.False(t, ok, "a held-up notification is not due")

	// A retry keeps the stream held; delivery lets the next one go.
	applied, err := b.store.RecordWebhook(b.ctx, schemas.WebhookOutcome{ID: ofD[0], Attempt: 1, Status: schemas.NotificationPending,
		Error: "503", NextAttemptAt: b.now.Add(time.Second), At: b.now})
	require.NoError(t, err)
	require.True(t, applied)
	due, ok, err := b.store.NextNotificationDue(b.ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, due.Equal(b.now.Add(time.Second)))
	require.Equal(t, []int64{ofD[0]}, relayNotifications(t, b))
	stale, err := b.store.RecordWebhook(b.ctx, schemas.WebhookOutcome{ID: ofD[0], Attempt: 1, Status: schemas.NotificationDelivered, At: b.now})
	require.NoError(t, err)
	require.False(t, stale, "attempt 1 was recorded already")
	applied, err = b.store.RecordWebhook(b.ctx, schemas.WebhookOutcome{ID: ofD[0], Attempt: 2, Status: schemas.NotificationDelivered, At: b.now})
	require.NoError(t, err)
	require.True(t, applied)
	require.Equal(t, []int64{ofD[1]}, relayNotifications(t, b))

	// Dead holds the stream until redriven; a redrive starts a new series of attempts.
	applied, err = b.store.RecordWebhook(b.ctx, schemas.WebhookOutcome{ID: ofD[1], Attempt: 1, Status: schemas.NotificationDead,
		Error: "gave up", At: b.now})
	require.NoError(t, err)
	require.True(t, applied)
	require.Empty(t, relayNotifications(t, b))
	dead, err := b.store.DeadNotifications(b.ctx, "portal", 10)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, ofD[1], dead[0].ID)
	require.Equal(t, "gave up", dead[0].LastError)
	_, err = b.store.RedriveNotification(b.ctx, "other", ofD[1], b.now)
	require.ErrorIs(t, err, store.ErrNotFound, "another client's notification")
	r, err := b.store.RedriveNotification(b.ctx, "portal", ofD[1], b.now)
	require.NoError(t, err)
	require.Equal(t, schemas.NotificationPending, r.Status)
	require.Zero(t, r.Attempts)
	_, err = b.store.RedriveNotification(b.ctx, "", ofD[1], b.now)
	require.ErrorIs(t, err, store.ErrNotFound, "not dead any more")
	require.Equal(t, []int64{ofD[1]}, relayNotifications(t, b))

	// Moving to amqp hands the published one to the client's queue: the stream moves on, and
	// every later notification is done once published.
	b.subscribe(t, "portal", schemas.NotifyAMQP)
	require.Equal(t, []int64{ofD[2]}, relayNotifications(t, b))
	require.Empty(t, relayNotifications(t, b))
	for _, s := range states(t, b, c.ID) {
		require.NotEqual(t, "registered:pending", s)
	}
}

func TestRelayNotificationsPublishFailureRetriesLater(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.subscribe(t, "portal", schemas.NotifyAMQP)
	c := b.newCase(t, "pf-1", "00000001")
	waitSealed(t, b.store)
	require.Equal(t, 1, notifyAll(t, b))
	pub, failed, err := b.store.RelayNotifications(b.ctx, b.now, 10, time.Minute,
		func(_ context.Context, msgs []schemas.PortalMessage) []error {
			require.Len(t, msgs, 1)
			require.Equal(t, c.TrackingNumber, msgs[0].TrackingNumber)
			require.Equal(t, "portal", msgs[0].Client)
			return []error{fmt.Errorf("nacked")}
		})
	require.NoError(t, err)
	require.Equal(t, 0, pub)
	require.Equal(t, 1, failed)
	due, ok, err := b.store.NextNotificationDue(b.ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, due.Equal(b.now.Add(time.Minute)))
	require.Equal(t, []string{"accepted:pending"}, states(t, b, c.ID))
}

func TestTrackedCaseAndAccessCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: "t", RequestSHA256: hash("t"),
		CaseKind: schemas.CaseAppeal, Body: []byte(`{}`), ReceivedAt: b.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}
	code := schemas.NewAccessCode()
	stored, err := b.store.CreateCaseWithAccessCode(b.ctx, nc, "ZV-2026-", schemas.AccessCodeHash(nc.ID, code))
	require.NoError(t, err)
	got, err := b.store.TrackedCase(b.ctx, stored.TrackingNumber)
	require.NoError(t, err)
	require.Equal(t, nc.ID, got.ID)
	require.Equal(t, schemas.AccessCodeHash(nc.ID, code), got.AccessCodeSHA256)
	_, err = b.store.TrackedCase(b.ctx, "ZV-2026-99999999")
	require.ErrorIs(t, err, store.ErrNotFound)

	events, err := b.store.TrackedEvents(b.ctx, nc.ID)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, schemas.EventSubmissionAccepted, events[0].Type)
	_, err = b.store.CaseEvents(b.ctx, "other", nc.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	// A case made without a code has none.
	plain := b.newCase(t, "plain", "00000001")
	got, err = b.store.TrackedCase(b.ctx, plain.TrackingNumber)
	require.NoError(t, err)
	require.Nil(t, got.AccessCodeSHA256)
}

// TestCaseEventsCarryTheAnswerDueDate: each event of a delivery shows its current answer due date
// (due_dates, kept by the deadline keeper); an event of the case as a whole shows none.
func TestCaseEventsCarryTheAnswerDueDate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, d := evidenceCase(t, b, "due-1")
	due := time.Date(2026, 4, 2, 21, 59, 59, 0, time.UTC)
	for _, row := range []struct {
		kind string
		at   time.Time
	}{{"answer", due}, {"delivery_notice", due.Add(-time.Hour)}} {
		require.NoError(t, b.store.ExecForTest(b.ctx, `
			INSERT INTO due_dates (delivery_id, appeal_id, kind, due_at, rule, calendar_version, explanation, created_at)
			VALUES ($1, $2, $3, $4, 'appeal.answer.month', 'UA-2026.1', '{}', now())`, d.ID, c.ID, row.kind, row.at))
	}
	events, err := b.store.CaseEvents(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	for _, e := range events {
		switch e.DeliveryID {
		case "":
			require.Nil(t, e.DueAt)
		case d.ID:
			require.NotNil(t, e.DueAt, "event %d", e.Seq)
			require.True(t, e.DueAt.Equal(due), "the answer due date")
		default:
			require.Nil(t, e.DueAt, "the other delivery has none")
		}
	}
}

// TestNotificationSourcesCarryDeadlineFacts: the notifier gets, with each event of a delivery, the
// facts its due dates depend on and the current calendar, so that it can derive the due date in
// force at the event; an event of the case as a whole gets none.
func TestNotificationSourcesCarryDeadlineFacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, d := evidenceCase(t, b, "facts-1")
	b.subscribe(t, "portal", schemas.NotifyAMQP)
	require.NoError(t, b.store.ExecForTest(b.ctx, `UPDATE notification_cursor SET pos = 0`))
	var sources []schemas.NotificationSource
	for {
		_, passed, err := b.store.NotifyEvents(b.ctx, b.now, 3, func(src schemas.NotificationSource) (schemas.NewNotification, bool, error) {
			sources = append(sources, src)
			return buildNotification(src)
		})
		require.NoError(t, err)
		if passed == 0 {
			break
		}
	}
	require.NotEmpty(t, sources)
	seen := 0
	for _, src := range sources {
		require.Equal(t, c.ID, src.Event.CaseID)
		if src.Event.DeliveryID == "" {
			require.Nil(t, src.Deadline, "event %d of the case as a whole", src.Event.Seq)
			continue
		}
		require.NotNil(t, src.Deadline, "event %d", src.Event.Seq)
		f := src.Deadline
		require.Equal(t, src.Event.DeliveryID, f.DeliveryID)
		if f.DeliveryID != d.ID {
			continue
		}
		seen++
		require.Equal(t, schemas.StatusRegistered, f.Status, "the facts as they are now")
		require.NotNil(t, f.DeliveredAt)
		require.True(t, f.DeliveredAt.Equal(b.now.Add(time.Second)), "delivered at %s", f.DeliveredAt)
		asOf := f.AsOf(src.Event.At, src.Event.Status)
		require.Equal(t, src.Event.Status.Pending() || src.Event.Status == schemas.StatusSent, asOf.DeliveredAt == nil,
			"event %d (%s, %s): delivered as of it", src.Event.Seq, src.Event.Type, src.Event.Status)
	}
	require.GreaterOrEqual(t, seen, 3, "queued, delivered and registered events of the delivery")
}

// TestPurgeNotificationsDeletesOnlyOldDeliveredOnes: past the retention a delivered notification
// goes; a dead, a pending and a recently delivered one stay.
func TestPurgeNotificationsDeletesOnlyOldDeliveredOnes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, _ := evidenceCase(t, b, "purge-1")
	b.subscribe(t, "portal", schemas.NotifyAMQP)
	require.NoError(t, b.store.ExecForTest(b.ctx, `UPDATE notification_cursor SET pos = 0`))
	require.GreaterOrEqual(t, notifyAll(t, b), 4)
	list, err := b.store.Notifications(b.ctx, c.ID)
	require.NoError(t, err)
	old := b.now.Add(-40 * 24 * time.Hour)
	set := func(id int64, status string, done bool, at time.Time) {
		require.NoError(t, b.store.ExecForTest(b.ctx, `UPDATE notifications SET status = $2, done = $3, updated_at = $4 WHERE id = $1`,
			id, status, done, at))
	}
	set(list[0].ID, "delivered", true, old)   // goes
	set(list[1].ID, "dead", true, old)        // stays: redrivable
	set(list[2].ID, "delivered", true, b.now) // stays: recent
	set(list[3].ID, "pending", false, old)    // stays: still to send
	n, err := b.store.PurgeNotifications(b.ctx, b.now.Add(-30*24*time.Hour), 100)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	after, err := b.store.Notifications(b.ctx, c.ID)
	require.NoError(t, err)
	require.Len(t, after, len(list)-1)
	for _, x := range after {
		require.NotEqual(t, list[0].ID, x.ID)
	}
	n, err = b.store.PurgeNotifications(b.ctx, b.now.Add(-30*24*time.Hour), 100)
	require.NoError(t, err)
	require.Zero(t, n, "nothing more to delete")
}
