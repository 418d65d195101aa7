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

// CreateCase stores an accepted submission atomically (one statement): the case, one delivery per
// addressee, the first events, one outbox row per delivery and the verified signatures. When the
// client already used the idempotency key, it stores nothing and returns the first case (Created
// false) for the caller to compare RequestSHA256. trackingPrefix is prepended to an 8-digit sequence number.
func (s *Store) CreateCase(ctx context.Context, nc schemas.NewCase, trackingPrefix string) (schemas.StoredCase, error) {
	return s.CreateCaseWithAccessCode(ctx, nc, trackingPrefix, nil)
}

// CreateCaseWithAccessCode is CreateCase that also stores accessCodeSHA256 (schemas.AccessCodeHash
// of the citizen's access code; nil for none) with the new case, in the same statement. A replayed
// idempotency key keeps the first case's code.
//
// The case, its first event, its deliveries, their outbox rows and the case's verified signatures
// are written by one statement (createCaseSQL), which is atomic on its own: there is no transaction
// to begin and commit. The idempotency check is folded into it too: when the key was used, nothing
// is written and the same statement answers the first case. Only when another request with the same
// key commits while this one runs (the statement then neither writes nor sees the first case) is
// the first case read by a second statement. CaseBatcher stores the cases of concurrent callers
// with one statement (createCasesSQL) that does for each what this one does.
func (s *Store) CreateCaseWithAccessCode(ctx context.Context, nc schemas.NewCase, trackingPrefix string,
	accessCodeSHA256 []byte) (schemas.StoredCase, error) {
	ids := make([]string, len(nc.Deliveries))
	authorities := make([]string, len(nc.Deliveries))
	rules := make([]string, len(nc.Deliveries))
	reasons := make([]string, len(nc.Deliveries))
	for i, d := range nc.Deliveries {
		ids[i], authorities[i], rules[i], reasons[i] = d.ID, d.Authority, d.RoutingRule, d.RoutingReason
	}
	sigs := signatureColumns(nc.Signatures)
	var row caseRow
	err := s.db.QueryRowContext(ctx, createCaseSQL,
		nc.ID, trackingPrefix, nc.ClientID, nc.IdempotencyKey, nc.RequestSHA256,
		string(nc.CaseKind), string(nc.AppealKind), nc.Body, nc.TraceParent, nc.ReceivedAt, accessCodeSHA256,
		string(schemas.EventSubmissionAccepted), string(schemas.StatusAccepted),
		pq.Array(ids), pq.Array(authorities), pq.Array(rules), pq.Array(reasons),
		pq.Array(sigs.of), pq.Array(sigs.index), pq.Array(sigs.format), pq.Array(sigs.subject), pq.Array(sigs.issuer),
		pq.Array(sigs.serial), pq.Array(sigs.notBefore), pq.Array(sigs.notAfter), pq.Array(sigs.taxNumber),
		pq.Array(sigs.digest), pq.Array(sigs.algorithm), pq.Array(sigs.certificate), pq.Array(sigs.claimed),
		pq.Array(sigs.revocation)).
		Scan(&row.created, &row.id, &row.trackingNumber, &row.priorReceivedAt, &row.requestSHA256)
	if err != nil {
		err = fmt.Errorf("insert case: %w", mapErr(err))
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrDuplicate) {
		// Another request with the same key committed while the insert ran (it wrote nothing and
		// could not see that case yet): answer with that case.
		if existing, err2 := s.caseByKey(ctx, nc.ClientID, nc.IdempotencyKey); err2 == nil {
			return existing, nil
		} else if errors.Is(err, ErrNotFound) {
			err = err2
		}
	}
	if err != nil {
		return schemas.StoredCase{}, fmt.Errorf("create case: %w", err)
	}
	return row.answer(nc), nil
}

// caseRow is the row createCaseSQL (or createCasesSQL, for one case) returns.
type caseRow struct {
	created            bool
	id, trackingNumber string
	priorReceivedAt    sql.NullTime // the first case's, when not created
	requestSHA256      []byte       // the first case's, when not created
}

// answer is what CreateCaseWithAccessCode returns for nc, given the row of its statement.
func (r caseRow) answer(nc schemas.NewCase) schemas.StoredCase {
	if !r.created {
		// The client already used the key: the first case, as caseByKey reads it.
		return schemas.StoredCase{ID: r.id, TrackingNumber: r.trackingNumber, ReceivedAt: r.priorReceivedAt.Time,
			RequestSHA256: r.requestSHA256}
	}
	return schemas.StoredCase{ID: nc.ID, TrackingNumber: r.trackingNumber, ReceivedAt: nc.ReceivedAt,
		RequestSHA256: nc.RequestSHA256, Created: true}
}

// createCaseSQL writes a new case with its first event, one delivery per addressee ($14-$17:
// ids, authority codes, routing rules and reasons, in the same order), one outbox row per
// delivery (attempt 0, due at once) and its verified signatures ($18-$31, one array per column of
// case_signatures, in the same order; verified at the time of receipt $10). It returns one row
// (created, id, tracking_number, received_at, request_sha256): for a new case, created is true and
// tracking_number is $2 followed by an 8-digit sequence number (received_at and request_sha256 are
// null: the caller has them). When the client already used the idempotency key, it writes nothing,
// takes no sequence number and returns the first case with created false. When another request
// with the key commits while it runs, it writes nothing and returns no row (ON CONFLICT). Like
// insertDelivery, it starts each delivery in status accepted.
const createCaseSQL = `
	WITH prior AS (
		SELECT id, tracking_number, received_at, request_sha256
		FROM appeals WHERE client_id = $3::text AND idempotency_key = $4::text),
	seq AS (SELECT nextval('tracking_seq') AS n WHERE NOT EXISTS (SELECT 1 FROM prior)),
	appeal AS (
		INSERT INTO appeals (id, tracking_number, client_id, idempotency_key, request_sha256,
		                     case_kind, appeal_kind, body, trace_parent, received_at, access_code_sha256)
		SELECT $1::uuid, $2::text || CASE WHEN n < 100000000 THEN lpad(n::text, 8, '0') ELSE n::text END,
		       $3::text, $4::text, $5::bytea, $6::text, NULLIF($7::text, ''), $8::bytea, $9::text,
		       $10::timestamptz, $11::bytea
		FROM seq
		ON CONFLICT (client_id, idempotency_key) DO NOTHING
		RETURNING id, tracking_number),
	accepted AS (
		INSERT INTO events (appeal_id, type, status, created_at)
		SELECT id, $12::text, $13::text, $10::timestamptz FROM appeal),
	delivery AS (
		INSERT INTO deliveries (id, appeal_id, authority_code, status, created_at, updated_at, routing_rule, routing_reason)
		SELECT x.id, appeal.id, x.authority, $13::text, $10::timestamptz, $10::timestamptz, x.rule, x.reason
		FROM appeal, unnest($14::uuid[], $15::text[], $16::text[], $17::text[]) AS x (id, authority, rule, reason)
		RETURNING id, authority_code),
	outbox_row AS (
		INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
		SELECT id, authority_code, 0, $10::timestamptz, $10::timestamptz FROM delivery),
	signature AS (
		INSERT INTO case_signatures (appeal_id, of, signature_index, format, subject, issuer, serial_number,
		    not_before, not_after, tax_number, digest_algorithm, signature_algorithm, certificate_sha256,
		    claimed_signing_time, revocation, verified_at)
		SELECT appeal.id, x.of, x.idx, x.format, x.subject, x.issuer, x.serial, x.not_before, x.not_after,
		       x.tax_number, x.digest, x.algorithm, x.certificate, x.claimed, x.revocation, $10::timestamptz
		FROM appeal, unnest($18::text[], $19::int[], $20::text[], $21::text[], $22::text[], $23::text[],
		                    $24::timestamptz[], $25::timestamptz[], $26::text[], $27::text[], $28::text[], $29::text[],
		                    $30::timestamptz[], $31::text[])
		     AS x (of, idx, format, subject, issuer, serial, not_before, not_after, tax_number, digest, algorithm,
		           certificate, claimed, revocation))
	SELECT true, id, tracking_number, NULL::timestamptz, NULL::bytea FROM appeal
	UNION ALL
	SELECT false, id, tracking_number, received_at, request_sha256 FROM prior`

// signatureArrays are the verified signatures of a new case as one array per column of
// case_signatures ($18-$31 of createCaseSQL). Times are in the driver's own text format, so that
// they are stored as a timestamp parameter of their own would be.
type signatureArrays struct {
	of, format, subject, issuer, serial, taxNumber, digest, algorithm, certificate, revocation []string

	// Timestamps; claimed is null when the signature claims no signing time.
	notBefore, notAfter []string
	claimed             []sql.NullString

	index []int64
}

func signatureColumns(sigs []schemas.VerifiedSignature) signatureArrays {
	n := len(sigs)
	a := signatureArrays{
		of: make([]string, n), format: make([]string, n), subject: make([]string, n), issuer: make([]string, n),
		serial: make([]string, n), taxNumber: make([]string, n), digest: make([]string, n),
		algorithm: make([]string, n), certificate: make([]string, n), revocation: make([]string, n),
		notBefore: make([]string, n), notAfter: make([]string, n), claimed: make([]sql.NullString, n),
		index: make([]int64, n),
	}
	for i, v := range sigs {
		f := v.Signer
		a.of[i], a.index[i], a.format[i] = v.Of, int64(v.Index), v.Format
		a.subject[i], a.issuer[i], a.serial[i], a.taxNumber[i] = f.Subject, f.Issuer, f.SerialNumber, f.TaxNumber
		a.digest[i], a.algorithm[i], a.certificate[i] = f.DigestAlgorithm, f.SignatureAlgorithm, f.CertificateSHA256
		a.revocation[i] = f.Revocation
		a.notBefore[i], a.notAfter[i] = string(pq.FormatTimestamp(f.NotBefore)), string(pq.FormatTimestamp(f.NotAfter))
		if f.ClaimedSigningTime != nil {
			a.claimed[i] = sql.NullString{String: string(pq.FormatTimestamp(*f.ClaimedSigningTime)), Valid: true}
		}
	}
	return a
}

// CaseByIdempotencyKey returns the case clientID submitted with the idempotency key (Created is
// false), or ErrNotFound.
func (s *Store) CaseByIdempotencyKey(ctx context.Context, clientID, key string) (schemas.StoredCase, error) {
	return s.caseByKey(ctx, clientID, key)
}

func (s *Store) caseByKey(ctx context.Context, clientID, key string) (schemas.StoredCase, error) {
	var c schemas.StoredCase
	err := s.db.QueryRowContext(ctx, `
		SELECT id, tracking_number, received_at, request_sha256
		FROM appeals WHERE client_id = $1 AND idempotency_key = $2`, clientID, key).
		Scan(&c.ID, &c.TrackingNumber, &c.ReceivedAt, &c.RequestSHA256)
	if err != nil {
		return c, fmt.Errorf("find case by idempotency key: %w", mapErr(err))
	}
	return c, nil
}

// Case returns a case with its deliveries and timeline, if clientID submitted it (ErrNotFound
// otherwise, so that another client cannot tell the id exists).
func (s *Store) Case(ctx context.Context, clientID, id string) (schemas.Case, error) {
	var c schemas.Case
	var appealKind sql.NullString
	err := s.db.QueryRowContext(ctx, `
		SELECT id, tracking_number, case_kind, appeal_kind, received_at
		FROM appeals WHERE id = $1 AND client_id = $2`, id, clientID).
		Scan(&c.ID, &c.TrackingNumber, &c.CaseKind, &appealKind, &c.ReceivedAt)
	if err != nil {
		return c, fmt.Errorf("read case: %w", mapErr(err))
	}
	c.AppealKind = schemas.AppealKind(appealKind.String)
	if c.Deliveries, err = s.deliveriesOf(ctx, id); err != nil {
		return c, err
	}
	if err := s.attachDueDates(ctx, id, c.Deliveries); err != nil {
		return c, err
	}
	if c.Events, err = s.eventsOf(ctx, id); err != nil {
		return c, err
	}
	if c.Signatures, err = s.signaturesOf(ctx, id); err != nil {
		return c, err
	}
	return c, nil
}

// signaturesOf returns the verified signatures of a case in submission order (empty, not nil, when
// there are none).
func (s *Store) signaturesOf(ctx context.Context, appealID string) ([]schemas.VerifiedSignature, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT signature_index, of, format, subject, issuer, serial_number, not_before, not_after, tax_number,
		       digest_algorithm, signature_algorithm, certificate_sha256, claimed_signing_time, revocation
		FROM case_signatures WHERE appeal_id = $1 ORDER BY signature_index`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read case signatures: %w", err)
	}
	defer rows.Close()
	out := []schemas.VerifiedSignature{}
	for rows.Next() {
		var v schemas.VerifiedSignature
		f := &v.Signer
		var claimed sql.NullTime
		if err := rows.Scan(&v.Index, &v.Of, &v.Format, &f.Subject, &f.Issuer, &f.SerialNumber, &f.NotBefore, &f.NotAfter,
			&f.TaxNumber, &f.DigestAlgorithm, &f.SignatureAlgorithm, &f.CertificateSHA256, &claimed, &f.Revocation); err != nil {
			return nil, fmt.Errorf("scan case signature: %w", err)
		}
		f.NotBefore, f.NotAfter = f.NotBefore.UTC(), f.NotAfter.UTC()
		if f.ClaimedSigningTime = nullTime(claimed); f.ClaimedSigningTime != nil {
			*f.ClaimedSigningTime = f.ClaimedSigningTime.UTC()
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// CaseSignatureCount returns how many verified signatures are stored, over every case.
func (s *Store) CaseSignatureCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM case_signatures`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count case signatures: %w", err)
	}
	return n, nil
}

func (s *Store) deliveriesOf(ctx context.Context, appealID string) ([]schemas.Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, authority_code, status, attempts, next_attempt_at, last_error, updated_at, delivered_at,
		       registration_number, registered_at, refusal_code, routing_rule, routing_reason,
		       coalesce(forwarded_from::text, ''), registrar, refusal_text, reason
		FROM deliveries WHERE appeal_id = $1 ORDER BY authority_code`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	defer rows.Close()
	out := []schemas.Delivery{}
	for rows.Next() {
		var d schemas.Delivery
		var next, delivered, registered sql.NullTime
		if err := rows.Scan(&d.ID, &d.Authority, &d.Status, &d.Attempts, &next, &d.LastError, &d.UpdatedAt, &delivered,
			&d.RegistrationNumber, &registered, &d.RefusalCode, &d.RoutingRule, &d.RoutingReason,
			&d.ForwardedFrom, &d.Registrar, &d.RefusalText, &d.Reason); err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		d.NextAttemptAt = nullTime(next)
		d.DeliveredAt = nullTime(delivered)
		d.RegisteredAt = nullTime(registered)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	return out, s.addForwardsAndAnswers(ctx, out)
}

func (s *Store) eventsOf(ctx context.Context, appealID string) ([]schemas.Event, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.seq, e.type, coalesce(e.delivery_id::text, ''), coalesce(d.authority_code, ''), e.status, e.detail, e.created_at
		FROM events e LEFT JOIN deliveries d ON d.id = e.delivery_id
		WHERE e.appeal_id = $1 ORDER BY e.seq`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	out := []schemas.Event{}
	for rows.Next() {
		var e schemas.Event
		if err := rows.Scan(&e.Seq, &e.Type, &e.DeliveryID, &e.Authority, &e.Status, &e.Detail, &e.At); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}
