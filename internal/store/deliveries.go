package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"appealhub/schemas"
)

// DeliveryTask returns what the delivery worker needs to send one delivery, with the case's
// verified signatures, in one statement.
func (s *Store) DeliveryTask(ctx context.Context, deliveryID string) (schemas.DeliveryTask, error) {
	var t schemas.DeliveryTask
	var timeoutMS int64
	var signatures []byte
	err := s.db.QueryRowContext(ctx, `
		SELECT d.id, a.id, a.tracking_number, d.authority_code, d.status, d.attempts, a.received_at,
		       a.body, a.trace_parent, au.status, au.mode, au.adapter, au.endpoint, au.token, au.tls_client,
		       au.max_message_bytes, coalesce(au.request_timeout_ms, 0),
		       (SELECT json_agg(json_build_object(`+signatureJSONFields+`) ORDER BY cs.signature_index)
		        FROM case_signatures cs WHERE cs.appeal_id = a.id)
		FROM deliveries d
		JOIN appeals a ON a.id = d.appeal_id
		JOIN authorities au ON au.code = d.authority_code
		WHERE d.id = $1`, deliveryID).
		Scan(&t.DeliveryID, &t.AppealID, &t.TrackingNumber, &t.Authority, &t.Status, &t.Attempts, &t.ReceivedAt,
			&t.Body, &t.TraceParent, &t.AuthorityStatus, &t.Mode, &t.Adapter, &t.Endpoint, &t.Token, &t.TLSClient,
			&t.MaxMessageBytes, &timeoutMS, &signatures)
	if err != nil {
		return t, fmt.Errorf("read delivery task: %w", mapErr(err))
	}
	t.RequestTimeout = time.Duration(timeoutMS) * time.Millisecond
	if t.Signatures, err = decodeSignatures(signatures); err != nil {
		return t, fmt.Errorf("read delivery task %s: %w", deliveryID, err)
	}
	return t, nil
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
