package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// insertDelivery creates a delivery of case appealID in status accepted, with its first outbox row
// (attempt 0, due at once), in tx: how every delivery starts, whether intake or a forward made it.
// forwardedFrom is the delivery a forward came from, "" for none. A second delivery of the case to
// the same authority is ErrDuplicate.
func insertDelivery(ctx context.Context, tx *sql.Tx, appealID string, d schemas.NewDelivery, forwardedFrom string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO deliveries (id, appeal_id, authority_code, status, created_at, updated_at, routing_rule, routing_reason,
		                        forwarded_from)
		VALUES ($1, $2, $3, $4, $5, $5, $6, $7, NULLIF($8, '')::uuid)`,
		d.ID, appealID, d.Authority, string(schemas.StatusAccepted), at, d.RoutingRule, d.RoutingReason, forwardedFrom); err != nil {
		return fmt.Errorf("insert delivery: %w", mapErr(err))
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
		VALUES ($1, $2, 0, $3, $3)`, d.ID, d.Authority, at); err != nil {
		return fmt.Errorf("insert outbox row: %w", err)
	}
	return nil
}

// RelayBatch claims up to limit pending outbox rows that are due at now (FOR UPDATE SKIP LOCKED, so
// several relays share the outbox), calls publish with them while holding the claim (publish reports, per message, nil when the
// broker confirmed it), then in the same transaction marks the confirmed rows published (and their deliveries queued, with an event) and
// pushes the failed ones back by retryAfter. If the process dies before the commit, the claim is
// released and the rows are published again: the delivery id absorbs the duplicate downstream.
func (s *Store) RelayBatch(ctx context.Context, now time.Time, limit int, retryAfter time.Duration,
	publish func(ctx context.Context, msgs []schemas.OutboxMessage) []error) (published, failed int, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT o.id, o.delivery_id, a.id, a.tracking_number, o.routing_key, o.attempt, a.trace_parent
			FROM outbox o
			JOIN deliveries d ON d.id = o.delivery_id
			JOIN appeals a ON a.id = d.appeal_id
			WHERE o.status = 'pending' AND o.available_at <= $1
			ORDER BY o.available_at, o.id
			LIMIT $2
			FOR UPDATE OF o SKIP LOCKED`, now, limit)
		if err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		var msgs []schemas.OutboxMessage
		for rows.Next() {
			var m schemas.OutboxMessage
			if err := rows.Scan(&m.ID, &m.DeliveryID, &m.AppealID, &m.TrackingNumber, &m.Authority, &m.Attempt, &m.TraceParent); err != nil {
				rows.Close()
				return fmt.Errorf("scan outbox row: %w", err)
			}
			msgs = append(msgs, m)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read outbox rows: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read outbox rows: %w", err)
		}
		if len(msgs) == 0 {
			return nil
		}
		errs := publish(ctx, msgs)
		var okIDs []int64
		var okDeliveries []string
		for i, m := range msgs {
			if i < len(errs) && errs[i] == nil {
				okIDs = append(okIDs, m.ID)
				okDeliveries = append(okDeliveries, m.DeliveryID)
				continue
			}
			failed++
			msg := "not published"
			if i < len(errs) {
				msg = errs[i].Error()
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE outbox SET publish_failures = publish_failures + 1, last_error = $2, available_at = $3
				WHERE id = $1`, m.ID, truncate(msg, 500), now.Add(retryAfter)); err != nil {
				return fmt.Errorf("record publish failure: %w", err)
			}
		}
		if len(okIDs) == 0 {
			return nil
		}
		// One statement: the rows published, their deliveries queued (those still accepted) with
		// an event each.
		if _, err := tx.ExecContext(ctx, `
			WITH published AS (
				UPDATE outbox SET status = 'published', published_at = $2 WHERE id = ANY($1::bigint[])),
			queued AS (
				UPDATE deliveries SET status = 'queued', updated_at = $2
				WHERE id = ANY($3::uuid[]) AND status = 'accepted'
				RETURNING id, appeal_id)
			INSERT INTO events (appeal_id, delivery_id, type, status, created_at)
			SELECT appeal_id, id, $4, 'queued', $2 FROM queued`,
			pq.Array(okIDs), now, pq.Array(okDeliveries), string(schemas.EventDeliveryQueued)); err != nil {
			return fmt.Errorf("mark outbox rows published and deliveries queued: %w", err)
		}
		published = len(okIDs)
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("relay batch: %w", err)
	}
	return published, failed, nil
}

// NextOutboxDue returns when the earliest pending outbox row becomes due, or ok false if none is pending.
func (s *Store) NextOutboxDue(ctx context.Context) (due time.Time, ok bool, err error) {
	var t sql.NullTime
	if err := s.db.QueryRowContext(ctx, `SELECT min(available_at) FROM outbox WHERE status = 'pending'`).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("read next outbox due time: %w", err)
	}
	return t.Time, t.Valid, nil
}

// OutboxStats reports the pending rows and the age of the oldest one at now.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (pending int, oldest time.Duration, err error) {
	var min sql.NullTime
	if err := s.db.QueryRowContext(ctx, `
		SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'`).Scan(&pending, &min); err != nil {
		return 0, 0, fmt.Errorf("read outbox stats: %w", err)
	}
	if min.Valid {
		oldest = now.Sub(min.Time)
	}
	return pending, oldest, nil
}

// PurgePublished deletes outbox rows published before cutoff and returns how many.
func (s *Store) PurgePublished(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE status = 'published' AND published_at < $1`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge published outbox rows: %w", err)
	}
	return res.RowsAffected()
}

// NotifyOutbox tells every process listening on this schema's outbox channel that rows are due.
// It runs in a transaction of its own, never inside a business transaction (see migration 00002).
func (s *Store) NotifyOutbox(ctx context.Context) error {
	return s.notify(ctx, s.NotifyChannel())
}

// WatchOutbox listens (LISTEN/NOTIFY) for NotifyOutbox of this store's schema and signals the
// returned channel (coalesced: one pending signal at most). It also signals after the listener
// reconnects, when notifications may have been missed. It stops when ctx is done.
func (s *Store) WatchOutbox(ctx context.Context) (<-chan struct{}, error) {
	return s.watch(ctx, s.NotifyChannel())
}

// RegistryChannel is the LISTEN/NOTIFY channel of registry changes of this store's schema.
func (s *Store) RegistryChannel() string {
	return "appealhub_registry_" + cmpSchema(s.schema)
}

// WatchRegistry signals the returned channel when any hub process changed the authority registry
// (and each time its listener has connected, so that what changed while it did not listen is
// read too). It stops when ctx is done.
func (s *Store) WatchRegistry(ctx context.Context) (<-chan struct{}, error) {
	return s.watch(ctx, s.RegistryChannel())
}

func (s *Store) notify(ctx context.Context, channel string) error {
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, '')`, channel); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}

func (s *Store) watch(ctx context.Context, channel string) (<-chan struct{}, error) {
	out := make(chan struct{}, 1)
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	listening := make(chan struct{})
	var once sync.Once
	l := pq.NewListener(s.dsn, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, _ error) {
		if ev == pq.ListenerEventConnected || ev == pq.ListenerEventReconnected {
			// The listener listens from now on: what changed before is read by the step this wakes.
			once.Do(func() { close(listening) })
			signal()
		}
	})
	if err := l.Listen(channel); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("listen %s: %w", channel, err)
	}
	// Wait (briefly) until the listener listens, so that a change made right after the caller
	// started is not missed until the next poll.
	select {
	case <-listening:
	case <-ctx.Done():
	case <-time.After(listenWait):
	}
	go func() {
		defer func() { _ = l.Close() }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.Notify:
				signal()
			}
		}
	}()
	return out, nil
}

// listenWait bounds how long watch waits for its listener's first connection; past it the caller
// goes on (polling covers what it misses) while the listener keeps connecting.
const listenWait = 5 * time.Second

func cmpSchema(schema string) string {
	if schema == "" {
		return "public"
	}
	return schema
}

// truncate shortens s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
