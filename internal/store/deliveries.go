package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"appealhub/schemas"
)

// DeliveryTask returns what the delivery worker needs to send one delivery, with the case's
// verified signatures, in one statement.
func (s *Store) DeliveryTask(ctx context.Context, deliveryID string) (schemas.DeliveryTask, error) {
	t, signatures, err := scanDeliveryTask(s.db.QueryRowContext(ctx, deliveryTaskSelect+`
		WHERE d.id = $1`, deliveryID))
	if err != nil {
		return t, fmt.Errorf("read delivery task: %w", mapErr(err))
	}
	if t.Signatures, err = decodeSignatures(signatures); err != nil {
		return t, fmt.Errorf("read delivery task %s: %w", deliveryID, err)
	}
	return t, nil
}

// DeliveryTasks reads the tasks of many deliveries (as DeliveryTask does) in one statement: task
// i is that of ids[i], zero (DeliveryID empty) when there is no such delivery. An id that is not a
// UUID fails the whole statement.
func (s *Store) DeliveryTasks(ctx context.Context, ids []string) ([]schemas.DeliveryTask, error) {
	out := make([]schemas.DeliveryTask, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, deliveryTasksSQL, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read delivery tasks: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var ord int
		t, signatures, err := scanDeliveryTask(rows, &ord)
		if err != nil {
			return nil, fmt.Errorf("read delivery tasks: %w", err)
		}
		if t.Signatures, err = decodeSignatures(signatures); err != nil {
			return nil, fmt.Errorf("read delivery task %s: %w", t.DeliveryID, err)
		}
		if ord < 1 || ord > len(ids) {
			return nil, fmt.Errorf("read delivery tasks: ordinality %d out of range", ord)
		}
		out[ord-1] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read delivery tasks: %w", err)
	}
	return out, nil
}

// deliveryTasksSQL is DeliveryTask's statement for an array of ids. The ordinality gives each task
// back to the id it was asked by, whatever the id's spelling (PostgreSQL reads a UUID written in
// several ways); d.id = ANY finds the deliveries by primary key.
const deliveryTasksSQL = `
		SELECT q.ord, ` + deliveryTaskColumns + `
		FROM unnest($1::uuid[]) WITH ORDINALITY AS q (id, ord)
		JOIN deliveries d ON d.id = q.id
		JOIN appeals a ON a.id = d.appeal_id
		JOIN authorities au ON au.code = d.authority_code
		WHERE d.id = ANY($1::uuid[])`

// deliveryTaskColumns are the columns scanDeliveryTask reads, of deliveries d, appeals a and
// authorities au.
const deliveryTaskColumns = `d.id, a.id, a.tracking_number, d.authority_code, d.status, d.attempts, a.received_at,
		       a.body, a.trace_parent, au.status, au.mode, au.adapter, au.endpoint, au.token, au.tls_client,
		       au.max_message_bytes, coalesce(au.request_timeout_ms, 0),
		       (SELECT json_agg(json_build_object(` + signatureJSONFields + `) ORDER BY cs.signature_index)
		        FROM case_signatures cs WHERE cs.appeal_id = a.id)`

// deliveryTaskSelect is DeliveryTask's statement without its WHERE clause.
const deliveryTaskSelect = `
		SELECT ` + deliveryTaskColumns + `
		FROM deliveries d
		JOIN appeals a ON a.id = d.appeal_id
		JOIN authorities au ON au.code = d.authority_code`

// scanDeliveryTask scans deliveryTaskColumns, after the destinations in front (columns selected
// before them), and returns the signatures' json_agg for decodeSignatures.
func scanDeliveryTask(row interface{ Scan(...any) error }, front ...any) (t schemas.DeliveryTask, signatures []byte, err error) {
	var timeoutMS int64
	err = row.Scan(append(front, &t.DeliveryID, &t.AppealID, &t.TrackingNumber, &t.Authority, &t.Status, &t.Attempts, &t.ReceivedAt,
		&t.Body, &t.TraceParent, &t.AuthorityStatus, &t.Mode, &t.Adapter, &t.Endpoint, &t.Token, &t.TLSClient,
		&t.MaxMessageBytes, &timeoutMS, &signatures)...)
	t.RequestTimeout = time.Duration(timeoutMS) * time.Millisecond
	return t, signatures, err
}

// signatureJSONFields are the json_build_object arguments that give a case_signatures row cs as a
// signatureJSON. Times travel as microseconds since the epoch: exact, and independent of the
// session's time zone and of how it would print them.
const signatureJSONFields = `
	'index', cs.signature_index, 'of', cs.of, 'format', cs.format, 'subject', cs.subject, 'issuer', cs.issuer,
	'serial_number', cs.serial_number,
	'not_before', (extract(epoch FROM cs.not_before) * 1000000)::bigint,
	'not_after', (extract(epoch FROM cs.not_after) * 1000000)::bigint,
	'tax_number', cs.tax_number, 'digest_algorithm', cs.digest_algorithm, 'signature_algorithm', cs.signature_algorithm,
	'certificate_sha256', cs.certificate_sha256,
	'claimed_signing_time', (extract(epoch FROM cs.claimed_signing_time) * 1000000)::bigint,
	'revocation', cs.revocation`

// signatureJSON is one case_signatures row as signatureJSONFields builds it.
type signatureJSON struct {
	Index              int    `json:"index"`
	Of                 string `json:"of"`
	Format             string `json:"format"`
	Subject            string `json:"subject"`
	Issuer             string `json:"issuer"`
	SerialNumber       string `json:"serial_number"`
	NotBefore          int64  `json:"not_before"`
	NotAfter           int64  `json:"not_after"`
	TaxNumber          string `json:"tax_number"`
	DigestAlgorithm    string `json:"digest_algorithm"`
	SignatureAlgorithm string `json:"signature_algorithm"`
	CertificateSHA256  string `json:"certificate_sha256"`
	ClaimedSigningTime *int64 `json:"claimed_signing_time"`
	Revocation         string `json:"revocation"`
}

// decodeSignatures decodes a json_agg of signatureJSON rows (NULL when the case has none) into the
// signatures signaturesOf would return: the same values, times in UTC, empty rather than nil.
func decodeSignatures(agg []byte) ([]schemas.VerifiedSignature, error) {
	out := []schemas.VerifiedSignature{}
	if agg == nil {
		return out, nil
	}
	var rows []signatureJSON
	if err := json.Unmarshal(agg, &rows); err != nil {
		return nil, fmt.Errorf("decode case signatures: %w", err)
	}
	for _, r := range rows {
		v := schemas.VerifiedSignature{Index: r.Index, Of: r.Of, Format: r.Format, Signer: schemas.Signer{
			Subject: r.Subject, Issuer: r.Issuer, SerialNumber: r.SerialNumber,
			NotBefore: time.UnixMicro(r.NotBefore).UTC(), NotAfter: time.UnixMicro(r.NotAfter).UTC(),
			TaxNumber: r.TaxNumber, DigestAlgorithm: r.DigestAlgorithm, SignatureAlgorithm: r.SignatureAlgorithm,
			CertificateSHA256: r.CertificateSHA256, Revocation: r.Revocation}}
		if r.ClaimedSigningTime != nil {
			claimed := time.UnixMicro(*r.ClaimedSigningTime).UTC()
			v.Signer.ClaimedSigningTime = &claimed
		}
		out = append(out, v)
	}
	return out, nil
}

// RecordOutcome records one delivery attempt atomically: the delivery's new state, an event, and,
// when a retry is scheduled, the outbox row that will carry it. It applies only if the delivery is
// still pending and no other attempt with the same number was recorded first (applied false
// otherwise: a duplicate message, nothing changed). It is one statement (recordOutcomeSQL), atomic
// on its own: no transaction to begin and commit.
func (s *Store) RecordOutcome(ctx context.Context, o schemas.DeliveryOutcome) (applied bool, err error) {
	var next sql.NullTime
	if o.Status == schemas.StatusQueued {
		next = sql.NullTime{Time: o.NextAttemptAt, Valid: true}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, recordOutcomeSQL,
		o.DeliveryID, o.Attempt, string(o.Status), truncate(o.Error, 1000), next, o.At, o.Reference,
		string(eventFor(o.Status)), string(schemas.EventDeliveryQueued), string(schemas.StatusQueued),
		string(schemas.StatusAccepted)).Scan(&n); err != nil {
		return false, fmt.Errorf("record delivery outcome: %w", err)
	}
	return n > 0, nil
}

// recordOutcomeSQL locks the delivery first (prev), so that the status it had before this attempt
// is read after any relay commit it waited for: when that status was still accepted (the message
// outran the relay's commit), the timeline shows the delivery queued first, before the attempt's
// own event (one INSERT, in that order). A retry ($3 = queued, $10) gets its outbox row.
const recordOutcomeSQL = `
	WITH prev AS (
		SELECT id, status FROM deliveries WHERE id = $1 FOR UPDATE),
	upd AS (
		UPDATE deliveries d SET
		    status = $3, attempts = $2, last_error = $4, next_attempt_at = $5, updated_at = $6,
		    reference = CASE WHEN $7 <> '' THEN $7 ELSE d.reference END,
		    sent_at = CASE WHEN $3 IN ('sent', 'delivered') THEN coalesce(d.sent_at, $6) ELSE d.sent_at END,
		    delivered_at = CASE WHEN $3 = 'delivered' THEN $6 ELSE d.delivered_at END
		FROM prev
		-- d.id = $1 as well: without it the generic plan of this prepared statement finds the row
		-- through the partial index of all deliveries in transit (status IN …) and filters them.
		WHERE d.id = $1 AND d.id = prev.id AND d.attempts = $2 - 1 AND d.status IN ('accepted', 'queued')
		RETURNING d.appeal_id, d.authority_code, prev.status AS previous),
	recorded AS (
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT upd.appeal_id, $1, e.type, e.status, e.detail, $6
		FROM upd, LATERAL (VALUES
		    (1, $9::text, $10::text, ''::text, upd.previous = $11::text),
		    (2, $8::text, $3::text, $4::text, true)) AS e (ord, type, status, detail, wanted)
		WHERE e.wanted
		ORDER BY e.ord),
	retry AS (
		INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
		SELECT $1, authority_code, $2, $5, $6 FROM upd WHERE $3 = $10::text)
	SELECT count(*) FROM upd`

// RecordOutcomes records many delivery attempts as RecordOutcome records each, in one statement
// for the most part: applied[i] says whether outcomes[i] was applied, as RecordOutcome's result
// would. Outcomes are recorded as if one after the other in their order: a second outcome of the
// same delivery waits for a later statement. An outcome whose delivery another transaction holds
// locked, or all of them when the batch statement fails, is recorded by RecordOutcome on its own,
// so that one bad outcome does not fail the others; the first error is returned, after every
// other outcome was recorded.
func (s *Store) RecordOutcomes(ctx context.Context, outcomes []schemas.DeliveryOutcome) (applied []bool, err error) {
	applied = make([]bool, len(outcomes))
	errs := make([]error, len(outcomes))
	s.recordOutcomes(ctx, outcomes, applied, errs)
	for _, err := range errs {
		if err != nil {
			return applied, err
		}
	}
	return applied, nil
}

// recordOutcomes is RecordOutcomes with an error per outcome, in errs.
func (s *Store) recordOutcomes(ctx context.Context, outcomes []schemas.DeliveryOutcome, applied []bool, errs []error) {
	var alone []int // recorded by RecordOutcome, in this (ascending) order
	if len(outcomes) == 1 {
		alone = []int{0}
	} else {
		var batch []int
		seen := make(map[string]bool, len(outcomes))
		for i, o := range outcomes {
			if k := deliveryKey(o.DeliveryID); !seen[k] {
				seen[k] = true
				batch = append(batch, i)
				continue
			}
			alone = append(alone, i)
		}
		done, err := s.recordOutcomeBatch(ctx, outcomes, batch)
		for _, i := range batch {
			r, locked := done[i]
			switch {
			case err == nil && locked:
				applied[i] = r
			default:
				// Not in the batch: its delivery was locked by another transaction (the single
				// statement waits for it), does not exist, or the statement failed.
				alone = append(alone, i)
			}
		}
		slices.Sort(alone)
	}
	for _, i := range alone {
		applied[i], errs[i] = s.RecordOutcome(ctx, outcomes[i])
	}
}

// recordOutcomeBatch runs recordOutcomesSQL for outcomes[i] for every i in batch (at most one
// outcome per delivery). done maps each i whose delivery it locked to whether it was applied;
// those missing were not recorded.
func (s *Store) recordOutcomeBatch(ctx context.Context, outcomes []schemas.DeliveryOutcome, batch []int) (done map[int]bool, err error) {
	n := len(batch)
	ids, statuses, details, nexts, ats, refs, events :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int64, n)
	for j, i := range batch {
		o := outcomes[i]
		ids[j], attempts[j], statuses[j], details[j] = o.DeliveryID, int64(o.Attempt), string(o.Status), truncate(o.Error, 1000)
		if o.Status == schemas.StatusQueued {
			nexts[j] = string(pq.FormatTimestamp(o.NextAttemptAt)) // as lib/pq sends a time parameter
		}
		ats[j], refs[j], events[j] = string(pq.FormatTimestamp(o.At)), o.Reference, string(eventFor(o.Status))
	}
	rows, err := s.db.QueryContext(ctx, recordOutcomesSQL, pq.Array(ids), pq.Array(attempts), pq.Array(statuses),
		pq.Array(details), pq.Array(nexts), pq.Array(ats), pq.Array(refs), pq.Array(events),
		string(schemas.EventDeliveryQueued), string(schemas.StatusQueued), string(schemas.StatusAccepted))
	if err != nil {
		return nil, fmt.Errorf("record delivery outcomes: %w", err)
	}
	defer func() { _ = rows.Close() }()
	done = make(map[int]bool, n)
	for rows.Next() {
		var ord int
		var applied bool
		if err := rows.Scan(&ord, &applied); err != nil {
			return nil, fmt.Errorf("record delivery outcomes: %w", err)
		}
		if ord < 1 || ord > n {
			return nil, fmt.Errorf("record delivery outcomes: ordinality %d out of range", ord)
		}
		done[batch[ord-1]] = applied
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("record delivery outcomes: %w", err)
	}
	return done, nil
}

// deliveryKey is a delivery id in one spelling, so that two outcomes of one delivery are known as
// such however their ids are written.
func deliveryKey(id string) string {
	if u, err := uuid.Parse(id); err == nil {
		return u.String()
	}
	return id
}

// recordOutcomesSQL is recordOutcomeSQL for many outcomes, one per delivery, given as arrays ($1
// … $8, times as text: "" for no next attempt). It locks the deliveries in id order, so that two
// batches never wait for each other in a cycle, and skips those another transaction holds: the
// batch never waits for a row lock while holding others (the relay updates several deliveries in
// one transaction, in no set order), and the caller records those one by one with
// recordOutcomeSQL, which waits. Events go in by outcome, then queued before the attempt's own.
// It returns, for every outcome whose delivery it locked, its ordinality and whether it applied.
const recordOutcomesSQL = `
	WITH o AS (
		SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
		    WITH ORDINALITY AS o (id, attempt, status, error, next_at, at, reference, event, ord)),
	prev AS MATERIALIZED (
		SELECT id, status FROM deliveries WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE SKIP LOCKED),
	upd AS (
		UPDATE deliveries d SET
		    status = o.status, attempts = o.attempt, last_error = o.error,
		    next_attempt_at = nullif(o.next_at, '')::timestamptz, updated_at = o.at::timestamptz,
		    reference = CASE WHEN o.reference <> '' THEN o.reference ELSE d.reference END,
		    sent_at = CASE WHEN o.status IN ('sent', 'delivered') THEN coalesce(d.sent_at, o.at::timestamptz) ELSE d.sent_at END,
		    delivered_at = CASE WHEN o.status = 'delivered' THEN o.at::timestamptz ELSE d.delivered_at END
		FROM prev JOIN o ON o.id = prev.id
		-- d.id = ANY($1) as well, as d.id = $1 in recordOutcomeSQL: the generic plan finds the rows
		-- by primary key, not through the partial index of all deliveries in transit.
		WHERE d.id = ANY($1::uuid[]) AND d.id = prev.id AND d.attempts = o.attempt - 1 AND d.status IN ('accepted', 'queued')
		RETURNING o.ord, d.id, d.appeal_id, d.authority_code, prev.status AS previous, o.status, o.attempt, o.error,
		    o.next_at, o.at, o.event),
	recorded AS (
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT upd.appeal_id, upd.id, e.type, e.status, e.detail, upd.at::timestamptz
		FROM upd, LATERAL (VALUES
		    (1, $9::text, $10::text, ''::text, upd.previous = $11::text),
		    (2, upd.event, upd.status, upd.error, true)) AS e (ord, type, status, detail, wanted)
		WHERE e.wanted
		ORDER BY upd.ord, e.ord),
	retry AS (
		INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
		SELECT upd.id, upd.authority_code, upd.attempt, nullif(upd.next_at, '')::timestamptz, upd.at::timestamptz
		FROM upd WHERE upd.status = $10::text
		ORDER BY upd.ord)
	SELECT o.ord, upd.ord IS NOT NULL FROM prev JOIN o ON o.id = prev.id LEFT JOIN upd ON upd.ord = o.ord`

func eventFor(status schemas.DeliveryStatus) schemas.EventType {
	switch status {
	case schemas.StatusDelivered:
		return schemas.EventDeliveryDelivered
	case schemas.StatusSent:
		return schemas.EventDeliverySent
	case schemas.StatusDead:
		return schemas.EventDeliveryDead
	default:
		return schemas.EventDeliveryAttempt
	}
}

// DeliveryCounts returns how many deliveries are in each status.
func (s *Store) DeliveryCounts(ctx context.Context) (map[schemas.DeliveryStatus]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT status, count(*) FROM deliveries GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count deliveries: %w", err)
	}
	defer rows.Close()
	out := map[schemas.DeliveryStatus]int{}
	for rows.Next() {
		var st schemas.DeliveryStatus
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("scan delivery count: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Counts are totals over the whole store, for checks and tests.
type Counts struct {
	Appeals         int
	Deliveries      int
	Events          int
	OutboxPending   int
	DeliveredEvents int // delivery_delivered events: one per delivered delivery, never more
}

// Totals counts the rows of every table that intake writes.
func (s *Store) Totals(ctx context.Context) (Counts, error) {
	var c Counts
	err := s.db.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM appeals), (SELECT count(*) FROM deliveries), (SELECT count(*) FROM events),
		       (SELECT count(*) FROM outbox WHERE status = 'pending'),
		       (SELECT count(*) FROM events WHERE type = $1)`, string(schemas.EventDeliveryDelivered)).
		Scan(&c.Appeals, &c.Deliveries, &c.Events, &c.OutboxPending, &c.DeliveredEvents)
	if err != nil {
		return c, fmt.Errorf("count rows: %w", err)
	}
	return c, nil
}

// DeliveredEventsPerDelivery returns, for each delivery with at least one delivery_delivered
// event, how many it has (the hub records delivered exactly once: every value must be 1).
func (s *Store) DeliveredEventsPerDelivery(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT delivery_id, count(*) FROM events WHERE type = $1 GROUP BY delivery_id`, string(schemas.EventDeliveryDelivered))
	if err != nil {
		return nil, fmt.Errorf("count delivered events: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("scan delivered events: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// DeliveriesByStatus returns the ids of the deliveries in a status with their authority and last error.
func (s *Store) DeliveriesByStatus(ctx context.Context, status schemas.DeliveryStatus) ([]schemas.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, appeal_id, authority_code, status, attempts, last_error, updated_at
		FROM deliveries WHERE status = $1 ORDER BY id`, string(status))
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []schemas.Delivery
	for rows.Next() {
		var d schemas.Delivery
		if err := rows.Scan(&d.ID, &d.AppealID, &d.Authority, &d.Status, &d.Attempts, &d.LastError, &d.UpdatedAt); err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
