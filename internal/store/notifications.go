package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// Portal notifications (migration 00015, docs/notifications.md): the subscriptions of portal
// clients, the notifier's walk over the sealed event chain, the notification outbox the relay
// publishes to hub.portal, the webhook worker's attempts, dead notifications and their redrive;
// and the timelines of cases for the portal and for citizens (tracking). What a notification says
// and how a webhook is signed is the caller's (router/notify).

// ErrNotPortal is returned when a subscription names a client that is not a portal client.
var ErrNotPortal = fmt.Errorf("%w: no such portal client", ErrNotFound)

// Subscription returns how a portal client takes its notifications (ErrNotFound when it has not
// registered).
func (s *Store) Subscription(ctx context.Context, client string) (schemas.SubscriptionRecord, error) {
	var r schemas.SubscriptionRecord
	err := s.db.QueryRowContext(ctx, `
		SELECT client_id, mode, url, secret, created_at, updated_at FROM portal_subscriptions WHERE client_id = $1`, client).
		Scan(&r.Client, &r.Mode, &r.URL, &r.SealedSecret, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return r, fmt.Errorf("read subscription of %s: %w", client, mapErr(err))
	}
	return r, nil
}

// Subscriptions returns every portal client's subscription, ordered by client.
func (s *Store) Subscriptions(ctx context.Context) ([]schemas.SubscriptionRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT client_id, mode, url, secret, created_at, updated_at FROM portal_subscriptions ORDER BY client_id`)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []schemas.SubscriptionRecord
	for rows.Next() {
		var r schemas.SubscriptionRecord
		if err := rows.Scan(&r.Client, &r.Mode, &r.URL, &r.SealedSecret, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, fmt.Errorf("scan subscription: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// PutSubscription creates or replaces the subscription of the portal client r.Client (ErrNotPortal
// when there is no enabled portal client of that id) and returns it as stored. When the client
// moves to amqp, the notifications already published for its webhook are left to its queue: they
// are done, and the client reads them there.
func (s *Store) PutSubscription(ctx context.Context, r schemas.SubscriptionRecord, at time.Time) (schemas.SubscriptionRecord, error) {
	var out schemas.SubscriptionRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var secret []byte
		if r.Mode == schemas.NotifyWebhook {
			secret = r.SealedSecret
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO portal_subscriptions (client_id, mode, url, secret, created_at, updated_at)
			SELECT id, $2, $3, $4, $5, $5 FROM api_clients WHERE id = $1 AND kind = 'portal' AND disabled_at IS NULL
			ON CONFLICT (client_id) DO UPDATE SET mode = EXCLUDED.mode, url = EXCLUDED.url, secret = EXCLUDED.secret,
			    updated_at = EXCLUDED.updated_at
			RETURNING client_id, mode, url, secret, created_at, updated_at`,
			r.Client, string(r.Mode), r.URL, secret, at).
			Scan(&out.Client, &out.Mode, &out.URL, &out.SealedSecret, &out.CreatedAt, &out.UpdatedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotPortal
		}
		if err != nil {
			return fmt.Errorf("store subscription: %w", mapErr(err))
		}
		if r.Mode != schemas.NotifyAMQP {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE notifications SET done = true, updated_at = $2
			WHERE client_id = $1 AND status = 'published' AND NOT done`, r.Client, at); err != nil {
			return fmt.Errorf("hand published notifications to the queue: %w", err)
		}
		return nil
	})
	if err != nil {
		return schemas.SubscriptionRecord{}, fmt.Errorf("put subscription of %s: %w", r.Client, err)
	}
	return out, nil
}

// NotificationFunc makes the notification of a source event, or returns ok false when the event
// shows the portal nothing. An error stops the step: nothing of it is stored.
type NotificationFunc = func(src schemas.NotificationSource) (n schemas.NewNotification, ok bool, err error)

// NotifyEvents moves the notification cursor over up to limit chain links in one transaction: for
// each link after the cursor whose event belongs to a case of a subscribed portal client, in chain
// order, it calls build and stores the notification it returns (pending, due at now); then it
// records the new cursor, and returns how many notifications it wrote and how many links it passed.
// Either all of it is committed or nothing, so every event is notified at most once per client, and
// none is skipped. When another process holds the notifying lock it does nothing (passed 0). Safe
// for concurrent use by several processes.
func (s *Store) NotifyEvents(ctx context.Context, now time.Time, limit int, build NotificationFunc) (notified int, passed int64, err error) {
	step, err := s.advanceCursor(ctx, notificationCursor, limit, func(tx *sql.Tx, from, to int64) error {
		sources, err := notificationSources(ctx, tx, from, to)
		if err != nil {
			return err
		}
		for _, src := range sources {
			n, ok, err := build(src)
			if err != nil {
				return fmt.Errorf("notify the event at chain position %d: %w", src.ChainPos, err)
			}
			if !ok {
				continue
			}
			e := src.Event
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO notifications (client_id, event_seq, chain_pos, appeal_id, delivery_id, stream, state, payload,
				                           available_at, created_at, updated_at)
				VALUES ($1, $2, $3, $4, NULLIF($5, '')::uuid, coalesce(NULLIF($5, '')::uuid, $4), $6, $7, $8, $8, $8)`,
				src.Client, e.Seq, src.ChainPos, e.CaseID, e.DeliveryID, string(n.State), n.Payload, now); err != nil {
				return fmt.Errorf("insert notification: %w", mapErr(err))
			}
			notified++
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("notify events: %w", err)
	}
	return notified, step.Passed, nil
}

// notificationSources reads the links at positions (from, to] whose event belongs to a case of a
// subscribed client, with what the notification needs.
func notificationSources(ctx context.Context, tx *sql.Tx, from, to int64) ([]schemas.NotificationSource, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT c.pos, a.client_id, `+caseEventColumns+`,
		       coalesce((SELECT p.status FROM events p
		                 WHERE p.appeal_id = e.appeal_id AND p.delivery_id = e.delivery_id AND p.seq < e.seq
		                 ORDER BY p.seq DESC LIMIT 1), '')
		FROM event_chain c
		JOIN events e ON e.seq = c.seq
		JOIN appeals a ON a.id = e.appeal_id
		JOIN portal_subscriptions ps ON ps.client_id = a.client_id
		LEFT JOIN deliveries d ON d.id = e.delivery_id
		LEFT JOIN authorities au ON au.code = d.authority_code
		WHERE c.pos > $1 AND c.pos <= $2
		ORDER BY c.pos`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read events to notify: %w", err)
	}
	defer rows.Close()
	var out []schemas.NotificationSource
	for rows.Next() {
		var src schemas.NotificationSource
		dest := append([]any{&src.ChainPos, &src.Client}, caseEventDest(&src.Event)...)
		if err := rows.Scan(append(dest, &src.Previous)...); err != nil {
			return nil, fmt.Errorf("scan event to notify: %w", err)
		}
		out = append(out, src)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events to notify: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	cal, err := currentCalendar(ctx, tx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	facts := map[string]*schemas.DeadlineFacts{}
	for i := range out {
		src := &out[i]
		src.Calendar = cal
		id := src.Event.DeliveryID
		if id == "" {
			continue
		}
		f, ok := facts[id]
		if !ok {
			got, err := deadlineFacts(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			f = &got
			facts[id] = f
		}
		src.Deadline = f
	}
	return out, nil
}

// NotificationCursor returns the last chain position the notifier has handled.
func (s *Store) NotificationCursor(ctx context.Context) (int64, error) {
	return s.cursorPos(ctx, notificationCursor)
}

// caseEventColumns are the columns of a schemas.CaseEvent over events e, appeals a, deliveries d
// and authorities au (see caseEventDest).
const caseEventColumns = `a.id, a.tracking_number, e.seq, e.type, e.status, coalesce(e.delivery_id::text, ''),
	coalesce(d.authority_code, ''), coalesce(au.name, ''), e.created_at`

func caseEventDest(e *schemas.CaseEvent) []any {
	return []any{&e.CaseID, &e.TrackingNumber, &e.Seq, &e.Type, &e.Status, &e.DeliveryID, &e.Authority, &e.AuthorityName, &e.At}
}

// headOfStream is true of a notification no earlier notification of its stream holds up.
const headOfStream = `NOT EXISTS (SELECT 1 FROM notifications p WHERE p.stream = n.stream AND p.id < n.id AND NOT p.done)`

// RelayNotifications claims up to limit pending notifications that are due at now and first in
// their stream (FOR UPDATE SKIP LOCKED, so several relays share them), calls publish with them
// while holding the claim (publish reports, per message, nil when the broker confirmed it), then in
// the same transaction marks the confirmed ones published (and done, for a client in amqp mode:
// its queue has it) and pushes the failed ones back by retryAfter. If the process dies before the
// commit, the claim is released and they are published again: the portal de-duplicates by event
// id.
func (s *Store) RelayNotifications(ctx context.Context, now time.Time, limit int, retryAfter time.Duration,
	publish func(ctx context.Context, msgs []schemas.PortalMessage) []error) (published, failed int, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		msgs, amqp, err := claimNotifications(ctx, tx, now, limit)
		if err != nil || len(msgs) == 0 {
			return err
		}
		errs := publish(ctx, msgs)
		ok, done, bad, reasons := []int64{}, []int64{}, []int64{}, []string{} // empty arrays, never NULL
		for i, m := range msgs {
			if i < len(errs) && errs[i] == nil {
				ok = append(ok, m.ID)
				if amqp[i] {
					done = append(done, m.ID)
				}
				continue
			}
			reason := "not published"
			if i < len(errs) {
				reason = truncate(errs[i].Error(), 500)
			}
			bad, reasons = append(bad, m.ID), append(reasons, reason)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE notifications SET status = 'published', done = done OR id = ANY($2), updated_at = $3 WHERE id = ANY($1)`,
			pq.Array(ok), pq.Array(done), now); err != nil {
			return fmt.Errorf("mark notifications published: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE notifications n SET publish_failures = publish_failures + 1, last_error = f.reason, available_at = $3
			FROM unnest($1::bigint[], $2::text[]) AS f(id, reason) WHERE n.id = f.id`,
			pq.Array(bad), pq.Array(reasons), now.Add(retryAfter)); err != nil {
			return fmt.Errorf("record notification publish failures: %w", err)
		}
		published, failed = len(ok), len(bad)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("relay notifications: %w", err)
	}
	return published, failed, nil
}

// claimNotifications locks the notifications RelayNotifications publishes, and says of each whether
// its client takes them over AMQP.
func claimNotifications(ctx context.Context, tx *sql.Tx, now time.Time, limit int) ([]schemas.PortalMessage, []bool, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT n.id, n.client_id, n.event_seq, n.appeal_id, coalesce(n.delivery_id::text, ''), a.tracking_number,
		       n.attempts, n.payload, coalesce(ps.mode, '') <> 'webhook'
		FROM notifications n
		JOIN appeals a ON a.id = n.appeal_id
		LEFT JOIN portal_subscriptions ps ON ps.client_id = n.client_id
		WHERE n.status = 'pending' AND n.available_at <= $1 AND `+headOfStream+`
		ORDER BY n.available_at, n.id
		LIMIT $2
		FOR UPDATE OF n SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("claim notifications: %w", err)
	}
	defer rows.Close()
	var msgs []schemas.PortalMessage
	var amqp []bool
	for rows.Next() {
		var m schemas.PortalMessage
		var toQueue bool
		if err := rows.Scan(&m.ID, &m.Client, &m.EventID, &m.CaseID, &m.DeliveryID, &m.TrackingNumber, &m.Attempt, &m.Payload, &toQueue); err != nil {
			return nil, nil, fmt.Errorf("scan notification: %w", err)
		}
		msgs, amqp = append(msgs, m), append(amqp, toQueue)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("claim notifications: %w", err)
	}
	return msgs, amqp, nil
}

// NextNotificationDue returns when the earliest pending notification that is first in its stream
// becomes due, or ok false if there is none (notifications held up behind an earlier one do not
// count: they become due when it is done).
func (s *Store) NextNotificationDue(ctx context.Context) (due time.Time, ok bool, err error) {
	var t sql.NullTime
	if err := s.db.QueryRowContext(ctx, `
		SELECT min(n.available_at) FROM notifications n WHERE n.status = 'pending' AND `+headOfStream).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("read next notification due time: %w", err)
	}
	return t.Time, t.Valid, nil
}

// NotificationChannel is the LISTEN/NOTIFY channel of this store's schema that signals
// notifications to relay.
func (s *Store) NotificationChannel() string {
	return "appealhub_notifications_" + cmpSchema(s.schema)
}

// NotifyNotifications tells every process listening on this schema's notification channel that
// notifications may be due (in a transaction of its own).
func (s *Store) NotifyNotifications(ctx context.Context) error {
	return s.notify(ctx, s.NotificationChannel())
}

// WatchNotifications signals the returned channel when any hub process called NotifyNotifications
// for this store's schema (coalesced; also after the listener reconnects). It stops when ctx is
// done.
func (s *Store) WatchNotifications(ctx context.Context) (<-chan struct{}, error) {
	return s.watch(ctx, s.NotificationChannel())
}

// WebhookTask returns what the webhook worker needs to POST the notification id.
func (s *Store) WebhookTask(ctx context.Context, id int64) (schemas.WebhookTask, error) {
	var t schemas.WebhookTask
	err := s.db.QueryRowContext(ctx, `
		SELECT n.id, n.client_id, n.event_seq, n.status, n.attempts, coalesce(ps.mode, ''), coalesce(ps.url, ''), ps.secret, n.payload
		FROM notifications n LEFT JOIN portal_subscriptions ps ON ps.client_id = n.client_id
		WHERE n.id = $1`, id).
		Scan(&t.ID, &t.Client, &t.EventID, &t.Status, &t.Attempts, &t.Mode, &t.URL, &t.SealedSecret, &t.Payload)
	if err != nil {
		return t, fmt.Errorf("read webhook task %d: %w", id, mapErr(err))
	}
	return t, nil
}

// RecordWebhook records one webhook attempt: delivered (and done: the next notification of its
// stream may go), a retry scheduled (pending again, due at NextAttemptAt) or dead. It applies only
// if the notification is still published (or pending: the message outran the relay's commit, which
// this then waits for) and no other attempt with the same number was recorded first (applied false
// otherwise: a duplicate message, nothing changed).
func (s *Store) RecordWebhook(ctx context.Context, o schemas.WebhookOutcome) (applied bool, err error) {
	var next sql.NullTime
	if o.Status == schemas.NotificationPending {
		next = sql.NullTime{Time: o.NextAttemptAt, Valid: true}
	}
	res, err := s.db.ExecContext(ctx, `
		UPDATE notifications SET status = $3, attempts = $2, last_error = $4, available_at = coalesce($5, available_at),
		    done = done OR $3 = 'delivered', updated_at = $6
		WHERE id = $1 AND status IN ('pending', 'published') AND attempts = $2 - 1`,
		o.ID, o.Attempt, string(o.Status), truncate(o.Error, 1000), next, o.At)
	if err != nil {
		return false, fmt.Errorf("record webhook attempt: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record webhook attempt: %w", err)
	}
	return n == 1, nil
}

// RescueNotifications makes pending again, due at now, the notifications of webhook clients that
// were published before before and are still not done: their message was lost (the hub publishes
// them again; a second copy of a message is stale once the first is recorded). It returns how many.
func (s *Store) RescueNotifications(ctx context.Context, before, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE notifications n SET status = 'pending', available_at = $2, updated_at = $2
		FROM portal_subscriptions ps
		WHERE ps.client_id = n.client_id AND ps.mode = 'webhook'
		  AND n.status = 'published' AND NOT n.done AND n.updated_at < $1`, before, now)
	if err != nil {
		return 0, fmt.Errorf("rescue notifications: %w", err)
	}
	return res.RowsAffected()
}

const notificationRecordColumns = `id, client_id, event_seq, appeal_id, coalesce(delivery_id::text, ''), state, status, attempts,
	last_error, updated_at`

func scanNotificationRecord(sc rowScanner, r *schemas.NotificationRecord) error {
	return sc.Scan(&r.ID, &r.Client, &r.EventID, &r.CaseID, &r.DeliveryID, &r.State, &r.Status, &r.Attempts, &r.LastError, &r.UpdatedAt)
}

// DeadNotifications returns up to limit dead notifications of client ("" for every client), oldest
// first.
func (s *Store) DeadNotifications(ctx context.Context, client string, limit int) ([]schemas.NotificationRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT `+notificationRecordColumns+` FROM notifications
		WHERE status = 'dead' AND ($1 = '' OR client_id = $1) ORDER BY id LIMIT $2`, client, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead notifications: %w", err)
	}
	defer rows.Close()
	out := []schemas.NotificationRecord{}
	for rows.Next() {
		var r schemas.NotificationRecord
		if err := scanNotificationRecord(rows, &r); err != nil {
			return nil, fmt.Errorf("scan dead notification: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead notifications: %w", err)
	}
	return out, nil
}

// RedriveNotification makes the dead notification id of client ("" for any client) pending again
// with a fresh series of attempts, due at now, and returns it. A notification that is not dead, or
// not the client's, is ErrNotFound.
func (s *Store) RedriveNotification(ctx context.Context, client string, id int64, now time.Time) (schemas.NotificationRecord, error) {
	var r schemas.NotificationRecord
	err := scanNotificationRecord(s.db.QueryRowContext(ctx, `
		UPDATE notifications SET status = 'pending', attempts = 0, available_at = $3, updated_at = $3
		WHERE id = $1 AND status = 'dead' AND ($2 = '' OR client_id = $2)
		RETURNING `+notificationRecordColumns, id, client, now), &r)
	if err != nil {
		return r, fmt.Errorf("redrive notification %d: %w", id, mapErr(err))
	}
	return r, nil
}

// RedriveDeadNotifications redrives every dead notification of client (see RedriveNotification)
// and returns how many.
func (s *Store) RedriveDeadNotifications(ctx context.Context, client string, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE notifications SET status = 'pending', attempts = 0, available_at = $2, updated_at = $2
		WHERE status = 'dead' AND client_id = $1`, client, now)
	if err != nil {
		return 0, fmt.Errorf("redrive dead notifications of %s: %w", client, err)
	}
	return res.RowsAffected()
}

// Notifications returns the notifications of a case in the order they were made (for tests and
// operators).
func (s *Store) Notifications(ctx context.Context, appealID string) ([]schemas.NotificationRecord, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT `+notificationRecordColumns+` FROM notifications WHERE appeal_id = $1 ORDER BY id`, appealID)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	out := []schemas.NotificationRecord{}
	for rows.Next() {
		var r schemas.NotificationRecord
		if err := scanNotificationRecord(rows, &r); err != nil {
			return nil, fmt.Errorf("scan notification: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CaseEvents returns the events of a case in seq order, each with what the portal vocabulary needs
// (schemas.Timeline), if clientID submitted it (ErrNotFound otherwise, so that another client cannot
// tell the id exists).
func (s *Store) CaseEvents(ctx context.Context, clientID, appealID string) ([]schemas.CaseEvent, error) {
	if err := s.ownCase(ctx, clientID, appealID); err != nil {
		return nil, fmt.Errorf("read case events: %w", err)
	}
	return s.caseEvents(ctx, appealID)
}

func (s *Store) caseEvents(ctx context.Context, appealID string) ([]schemas.CaseEvent, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT `+caseEventColumns+`
		FROM events e
		JOIN appeals a ON a.id = e.appeal_id
		LEFT JOIN deliveries d ON d.id = e.delivery_id
		LEFT JOIN authorities au ON au.code = d.authority_code
		WHERE e.appeal_id = $1 ORDER BY e.seq`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read case events: %w", err)
	}
	defer rows.Close()
	var out []schemas.CaseEvent
	for rows.Next() {
		var e schemas.CaseEvent
		if err := rows.Scan(caseEventDest(&e)...); err != nil {
			return nil, fmt.Errorf("scan case event: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read case events: %w", err)
	}
	events := make([]*schemas.CaseEvent, len(out))
	for i := range out {
		events[i] = &out[i]
	}
	if err := addDueDates(ctx, s.db, events); err != nil {
		return nil, err
	}
	return out, nil
}

// TrackedCase is what tracking needs of a case.
type TrackedCase struct {
	ID             string
	TrackingNumber string
	CaseKind       schemas.CaseKind
	ReceivedAt     time.Time
	// AccessCodeSHA256 is schemas.AccessCodeHash of the case's access code; nil for a case accepted
	// without one.
	AccessCodeSHA256 []byte
}

// TrackedCase returns the case of a tracking number (ErrNotFound when there is none).
func (s *Store) TrackedCase(ctx context.Context, trackingNumber string) (TrackedCase, error) {
	var c TrackedCase
	err := s.db.QueryRowContext(ctx, `
		SELECT id, tracking_number, case_kind, received_at, access_code_sha256 FROM appeals WHERE tracking_number = $1`,
		trackingNumber).Scan(&c.ID, &c.TrackingNumber, &c.CaseKind, &c.ReceivedAt, &c.AccessCodeSHA256)
	if err != nil {
		return c, fmt.Errorf("find tracked case: %w", mapErr(err))
	}
	return c, nil
}

// TrackedEvents returns the events of the case id (see CaseEvents), for tracking: the caller has
// checked the access code.
func (s *Store) TrackedEvents(ctx context.Context, id string) ([]schemas.CaseEvent, error) {
	return s.caseEvents(ctx, id)
}

// addDueDates sets the due date of each event's delivery to its current answer due date (the term
// of consideration, due_dates of migration 00013), when the delivery has one.
func addDueDates(ctx context.Context, q queryer, events []*schemas.CaseEvent) error {
	var ids []string
	for _, e := range events {
		if e.DeliveryID != "" {
			ids = append(ids, e.DeliveryID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.QueryContext(ctx, `
		SELECT delivery_id, due_at FROM due_dates
		WHERE delivery_id = ANY($1::uuid[]) AND kind = $2 AND superseded_by IS NULL`, pq.Array(ids), string(schemas.DueAnswer))
	if err != nil {
		return fmt.Errorf("read due dates: %w", err)
	}
	defer rows.Close()
	due := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return fmt.Errorf("scan due date: %w", err)
		}
		due[id] = at.UTC()
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read due dates: %w", err)
	}
	for _, e := range events {
		if at, ok := due[e.DeliveryID]; ok {
			e.DueAt = &at
		}
	}
	return nil
}

// PurgeNotifications deletes up to limit delivered notifications last changed before before,
// oldest first, and returns how many it deleted. Pending, published and dead ones stay: a
// notification is deleted only when it needs nothing more.
func (s *Store) PurgeNotifications(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM notifications WHERE id IN (
			SELECT id FROM notifications WHERE status = 'delivered' AND done AND updated_at < $1
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge notifications: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
