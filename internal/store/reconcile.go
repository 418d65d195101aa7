package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// The reconciler (docs/adr/0007-reconciler.md) finds push deliveries stuck in transit and sends
// them again through the outbox, for the same attempt; it reports what it cannot fix.

// Why a delivery was sent again. The values are stored in event details and used as metric
// labels: never rename one.
const (
	// ReconcileLostAfterPublish: the outbox row of the delivery's current attempt was published
	// (the broker confirmed it) and no outcome followed: the message was lost afterwards (its queue
	// purged or lost, dead-lettered by the broker, a consumer gone without a redelivery).
	ReconcileLostAfterPublish = "lost_after_publish"
	// ReconcileNoOutboxRow: the delivery waits for an attempt that has no outbox row at all.
	ReconcileNoOutboxRow = "no_outbox_row"
	// ReconcileClaimStuck: the delivery's pending outbox row is claimed by a relay's transaction
	// that has been open for longer than the quiet time (a hung process whose connection lives on).
	ReconcileClaimStuck = "claim_stuck"
	// ReconcileRedeliveryLimit: the delivery's message came back from the broker so often (each
	// lost connection returns the messages in flight and counts one more delivery) that one more
	// loss would dead-letter it: a fresh message replaces it (RefreshDeliveryMessage).
	ReconcileRedeliveryLimit = "redelivery_limit"
	// ReconcileDeadLettered: the broker dead-lettered the delivery's message (its delivery limit
	// reached while connections were cut, say) and the hub found it in hub.dead (ResolveSinkLetter).
	ReconcileDeadLettered = "dead_lettered"
	// ReconcileUnroutable: the delivery's message was found in hub.unroutable: its authority's
	// queue or binding was gone when it was published (ResolveSinkLetter).
	ReconcileUnroutable = "unroutable"
)

// RefreshDeliveryMessage replaces the broker message of a delivery in transit with a fresh one:
// if the delivery is still accepted or queued at attempt and has been refreshed fewer than max
// times, it gets a new outbox row for the same attempt (due like sendAgainCapped's) and a delivery_reconciled
// event (reason redelivery_limit, with count, the broker's delivery count), in one statement,
// and RefreshDeliveryMessage returns true: the caller acknowledges the old message. Otherwise it
// changes nothing and returns false: the caller handles the message as usual. A refreshed
// message starts again at a delivery count of zero, so connections cut again and again cannot
// make the broker dead-letter a delivery nothing is wrong with, while a message that keeps
// killing its consumer still reaches the broker's limit after max refreshes.
func (s *Store) RefreshDeliveryMessage(ctx context.Context, deliveryID string, attempt, count, max int, now time.Time) (bool, error) {
	detail := fmt.Sprintf("%s: attempt %d sent again; the broker had delivered its message %d times", ReconcileRedeliveryLimit, attempt+1, count)
	return s.sendAgainCapped(ctx, deliveryID, attempt, ReconcileRedeliveryLimit, detail, max, now)
}

// sendAgainCapped sends a delivery still accepted or queued at attempt again for that attempt
// (sendAgainSQL), with an event of detail, unless that attempt was sent again for reason max times
// already (delivery_reconciled events whose detail starts "<reason>: attempt <attempt+1> sent
// again", as every detail of these events does); it reports whether it did. The n-th time is due
// 2^(n-1)-1 seconds after now (at once, 1 s, 3 s, 7 s …): trouble that comes back again and again
// (a network cutting connections for a while) does not use up the max at once.
func (s *Store) sendAgainCapped(ctx context.Context, deliveryID string, attempt int, reason, detail string, max int, now time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `
		WITH counted AS (
			SELECT d.id, (SELECT count(*) FROM events e
			              WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id AND e.type = $5
			                AND e.detail LIKE $6) AS n
			FROM deliveries d
			WHERE d.id = $1::uuid AND d.attempts = $2 AND d.status IN ('accepted', 'queued')
			FOR NO KEY UPDATE OF d),
		stuck AS (
			SELECT id, $7::text AS detail,
			       $4::timestamptz + (power(2, n) - 1) * interval '1 second' AS due
			FROM counted WHERE n < $3),
		`+sendAgainSQL("$4", "$5"),
		deliveryID, attempt, max, now, string(schemas.EventDeliveryReconciled),
		fmt.Sprintf("%s: attempt %d sent again%%", reason, attempt+1), detail).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("send delivery %s again (%s): %w", deliveryID, reason, err)
	}
	return n > 0, nil
}

// What the reconciler reports and cannot fix. The values are logged: never rename one.
const (
	// StuckUnpublished: an outbox row due for longer than the quiet time and not published: the
	// broker refuses it (PublishFailures, LastError) or no relay runs.
	StuckUnpublished = "outbox_unpublished"
	// StuckAuthorityClosed: a delivery in transit to a closed authority that no successor took over.
	StuckAuthorityClosed = "authority_closed"
)

// ReconcileRule says when a push delivery in transit (accepted or queued) counts as stuck: when
// its last sign of progress (its last change, its next attempt's time, the publish of any of its
// outbox rows) is older than its quiet time, and it has no outbox row pending except ones held by
// a claim older than that. Its quiet time is the longest of After and PublishTimeout plus its
// authority's request timeout (its own, else RequestTimeout): the worst normal path of one
// attempt after its publish, so that a message merely in flight is never taken for lost.
type ReconcileRule struct {
	Now            time.Time
	After          time.Duration
	PublishTimeout time.Duration
	RequestTimeout time.Duration
	// Limit is the most deliveries handled (or reported) at once; 0 means 500.
	Limit int
}

func (r ReconcileRule) args() (now time.Time, after, publish, request int64, limit int) {
	limit = r.Limit
	if limit <= 0 {
		limit = 500
	}
	return r.Now, r.After.Milliseconds(), r.PublishTimeout.Milliseconds(), r.RequestTimeout.Milliseconds(), limit
}

// Reconciled is a delivery the reconciler sent again.
type Reconciled struct {
	DeliveryID     string
	AppealID       string
	TrackingNumber string
	Authority      string
	// Attempt is the number of attempts recorded: the new outbox row carries it, as the lost
	// message did, so the delivery worker and the authority's idempotency key (the delivery id)
	// take a late original and its twin as one.
	Attempt int
	// Reason is one of the Reconcile… constants.
	Reason string
	// Since is the delivery's last change before the reconciler's.
	Since time.Time
}

// Stuck is something in transit the reconciler reports and cannot fix.
type Stuck struct {
	// Kind is one of the Stuck… constants.
	Kind           string
	DeliveryID     string
	TrackingNumber string
	Authority      string
	Attempt        int
	// Since is when the outbox row became due (outbox_unpublished) or the delivery last changed.
	Since           time.Time
	PublishFailures int
	LastError       string
}

// quietCTEs are the common table expressions of the stuck rule, over the arguments $1 now,
// $2 after, $3 publish timeout, $4 request timeout (milliseconds):
//   - horizon: the earliest quiet cutoff of any authority, bounding what is read of the outbox;
//   - recent: the last publish of each delivery after the horizon (outbox_published index);
//   - pending: each delivery with pending outbox rows (outbox_pending index), whether every one of
//     them is held by the claim of a transaction still open (its xmax is that transaction's id),
//     and since when the youngest of those transactions is open.
const quietCTEs = `
	horizon AS MATERIALIZED (
		SELECT $1::timestamptz - greatest($2::bigint, $3::bigint + greatest($4::bigint,
		       (SELECT coalesce(max(request_timeout_ms), 0) FROM authorities))) * interval '1 millisecond' AS at),
	recent AS MATERIALIZED (
		SELECT o.delivery_id, max(o.published_at) AS last
		FROM outbox o, horizon h
		WHERE o.status = 'published' AND o.published_at > h.at
		GROUP BY o.delivery_id),
	pending AS MATERIALIZED (
		SELECT o.delivery_id, min(o.available_at) AS due,
		       bool_and(c.xact_start IS NOT NULL) AS claimed, max(c.xact_start) AS claimed_since
		FROM outbox o
		LEFT JOIN pg_stat_activity c ON o.xmax <> '0'::xid AND c.backend_xid = o.xmax
		WHERE o.status = 'pending'
		GROUP BY o.delivery_id)`

// quietCutoff is the per-delivery cutoff of the stuck rule (needs au, the delivery's authority).
const quietCutoff = `$1::timestamptz - greatest($2::bigint, $3::bigint + coalesce(au.request_timeout_ms, $4::bigint)) * interval '1 millisecond'`

// ReconcileStuck sends again, in one transaction, up to rule.Limit push deliveries that rule finds
// stuck in transit, of active authorities (a suspended authority's deliveries wait by design;
// pull-mode deliveries have their inbox's visibility timeout): each gets a new outbox row due at
// once for its current attempt, its last change set to rule.Now (so the quiet time starts again),
// and a delivery_reconciled event whose detail says why. Its status is left as it is. The
// deliveries are locked FOR NO KEY UPDATE SKIP LOCKED and the rule is checked again on the locked
// row, so several processes never send one delivery again twice, and a delivery whose outcome is
// being recorded meanwhile is left alone. It returns what it sent again, oldest first.
func (s *Store) ReconcileStuck(ctx context.Context, rule ReconcileRule) ([]Reconciled, error) {
	now, after, publish, request, limit := rule.args()
	var out []Reconciled
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			WITH `+quietCTEs+`
			SELECT d.id::text, d.appeal_id::text, a.tracking_number, d.authority_code, d.attempts, d.updated_at,
			       coalesce(p.claimed, false)
			FROM deliveries d
			JOIN authorities au ON au.code = d.authority_code
			JOIN appeals a ON a.id = d.appeal_id
			LEFT JOIN recent r ON r.delivery_id = d.id
			LEFT JOIN pending p ON p.delivery_id = d.id
			WHERE d.status IN ('accepted', 'queued') AND au.status = 'active' AND au.mode = 'push'
			  AND d.updated_at <= `+quietCutoff+`
			  AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= `+quietCutoff+`)
			  AND (r.last IS NULL OR r.last <= `+quietCutoff+`)
			  AND (p.delivery_id IS NULL OR (p.claimed AND p.claimed_since <= `+quietCutoff+`))
			ORDER BY d.updated_at, d.id
			LIMIT $5
			FOR NO KEY UPDATE OF d SKIP LOCKED`, now, after, publish, request, limit)
		if err != nil {
			return fmt.Errorf("find stuck deliveries: %w", err)
		}
		var claimed []bool
		for rows.Next() {
			var r Reconciled
			var c bool
			if err := rows.Scan(&r.DeliveryID, &r.AppealID, &r.TrackingNumber, &r.Authority, &r.Attempt, &r.Since, &c); err != nil {
				rows.Close()
				return fmt.Errorf("scan stuck delivery: %w", err)
			}
			out = append(out, r)
			claimed = append(claimed, c)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read stuck deliveries: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read stuck deliveries: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		published, err := publishedAttempts(ctx, tx, out)
		if err != nil {
			return err
		}
		ids := make([]string, len(out))
		details := make([]string, len(out))
		for i := range out {
			r := &out[i]
			switch {
			case claimed[i]:
				r.Reason = ReconcileClaimStuck
			case published[r.DeliveryID+"/"+strconv.Itoa(r.Attempt)]:
				r.Reason = ReconcileLostAfterPublish
			default:
				r.Reason = ReconcileNoOutboxRow
			}
			ids[i] = r.DeliveryID
			details[i] = fmt.Sprintf("%s: attempt %d sent again; no progress since %s", r.Reason, r.Attempt+1,
				r.Since.UTC().Format(time.RFC3339))
		}
		if _, err := tx.ExecContext(ctx, `
			WITH stuck AS (
				SELECT id::uuid AS id, detail, $3::timestamptz AS due FROM unnest($1::text[], $2::text[]) AS s (id, detail)),
			`+sendAgainSQL("$3", "$4"),
			pq.Array(ids), pq.Array(details), now, string(schemas.EventDeliveryReconciled)); err != nil {
			return fmt.Errorf("send stuck deliveries again: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return out, nil
}

// sendAgainSQL is the end of a statement that sends deliveries in transit again for their current
// attempt: it follows a CTE stuck (id, detail, due) and gives each delivery a new outbox row due at due,
// its last change set to now, and an event of type typ with the detail; it returns one row, the
// count of deliveries sent again. now and typ are the statement's placeholders for them.
func sendAgainSQL(now, typ string) string {
	return strings.NewReplacer("$now", now, "$typ", typ).Replace(`
		touched AS (
			UPDATE deliveries d SET updated_at = $now
			FROM stuck s WHERE d.id = s.id
			RETURNING d.id, d.appeal_id, d.authority_code, d.attempts, d.status, s.detail, s.due),
		scheduled AS (
			INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
			SELECT id, authority_code, attempts, due, $now FROM touched),
		recorded AS (
			INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
			SELECT appeal_id, id, $typ, status, detail, $now FROM touched)
		SELECT count(*) FROM touched`)
}

// publishedAttempts returns which of the deliveries have a published outbox row for their current
// attempt, keyed "<delivery id>/<attempt>". The outbox has no index by delivery: this is one scan,
// made only when something is stuck.
func publishedAttempts(ctx context.Context, tx *sql.Tx, stuck []Reconciled) (map[string]bool, error) {
	ids := make([]string, len(stuck))
	for i, r := range stuck {
		ids[i] = r.DeliveryID
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT DISTINCT o.delivery_id::text, o.attempt FROM outbox o
		WHERE o.delivery_id = ANY($1::uuid[]) AND o.status = 'published'`, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read published attempts: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		var attempt int
		if err := rows.Scan(&id, &attempt); err != nil {
			return nil, fmt.Errorf("scan published attempt: %w", err)
		}
		out[id+"/"+strconv.Itoa(attempt)] = true
	}
	return out, rows.Err()
}

// StuckReport lists, up to rule.Limit of each kind, what is stuck in transit that ReconcileStuck
// does not send again: outbox rows due for longer than their delivery's quiet time and not
// published, unless a stale claim holds them (outbox_unpublished), and deliveries in transit to
// a closed authority (authority_closed). Oldest first.
func (s *Store) StuckReport(ctx context.Context, rule ReconcileRule) ([]Stuck, error) {
	now, after, publish, request, limit := rule.args()
	rows, err := s.db.QueryContext(ctx, `
		(SELECT $6::text, o.delivery_id::text, a.tracking_number, d.authority_code, o.attempt, o.available_at,
		        o.publish_failures, left(o.last_error, 200)
		 FROM outbox o
		 JOIN deliveries d ON d.id = o.delivery_id
		 JOIN authorities au ON au.code = d.authority_code
		 JOIN appeals a ON a.id = d.appeal_id
		 WHERE o.status = 'pending' AND o.available_at <= $1::timestamptz - $2::bigint * interval '1 millisecond'
		   AND o.available_at <= `+quietCutoff+`
		   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity c
		                   WHERE o.xmax <> '0'::xid AND c.backend_xid = o.xmax AND c.xact_start <= `+quietCutoff+`)
		 ORDER BY o.available_at, o.id
		 LIMIT $5)
		UNION ALL
		(SELECT $7::text, d.id::text, a.tracking_number, d.authority_code, d.attempts, d.updated_at, 0, ''
		 FROM deliveries d
		 JOIN authorities au ON au.code = d.authority_code
		 JOIN appeals a ON a.id = d.appeal_id
		 WHERE au.status = 'closed' AND d.status IN ('accepted', 'queued') AND d.updated_at <= `+quietCutoff+`
		 ORDER BY d.updated_at, d.id
		 LIMIT $5)`, now, after, publish, request, limit, StuckUnpublished, StuckAuthorityClosed)
	if err != nil {
		return nil, fmt.Errorf("report stuck deliveries: %w", err)
	}
	defer rows.Close()
	var out []Stuck
	for rows.Next() {
		var st Stuck
		if err := rows.Scan(&st.Kind, &st.DeliveryID, &st.TrackingNumber, &st.Authority, &st.Attempt, &st.Since,
			&st.PublishFailures, &st.LastError); err != nil {
			return nil, fmt.Errorf("scan stuck delivery: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report stuck deliveries: %w", err)
	}
	return out, nil
}
