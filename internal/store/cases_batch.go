package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// Batch sizes of CaseBatcher.
const (
	// caseBatchMax caps the cases of one statement (the portal submits with a few dozen clients
	// at once; bodies travel in the statement, so it stays modest).
	caseBatchMax = 32
	// caseBatchBodyMax is the largest body that shares a statement: a shared statement carries
	// its bodies in a bytea array, hex text that PostgreSQL parses again, which for large bodies
	// costs more than the statement saves; a larger one runs its own statement, as with the Store.
	caseBatchBodyMax = 16 << 10
	// caseFlushes caps the createCasesSQL statements running at once: submissions that come while
	// they run wait for one to end and share the next.
	caseFlushes = 4
)

// CaseBatcher is intake's view of a Store in which concurrent submissions share statements: the
// cases submitted while others are being stored are stored together by the next createCasesSQL
// statement (natural batching: no timer; a lone submission runs its own statement at once, as
// with the Store). Each caller gets what Store.CreateCaseWithAccessCode would answer it: its new
// case, or the case stored before with its idempotency key. Two submissions with the same client
// and key never share a statement. When a shared statement fails, its cases are stored one by
// one with the single statement, so that one bad case fails alone. It starts no goroutine and is
// safe for concurrent use.
type CaseBatcher struct {
	store *Store
	cases *batcher[caseRequest, caseAnswer]
}

// caseRequest is one CreateCaseWithAccessCode call.
type caseRequest struct {
	nc         schemas.NewCase
	prefix     string
	accessCode []byte
}

// caseAnswer is the answer to one caseRequest: its case or, when raced, none: another request
// with its key committed while the statement ran (the statement wrote nothing for it and could
// not see that case), so the caller reads that case by key.
type caseAnswer struct {
	c     schemas.StoredCase
	raced bool
}

// NewCaseBatcher returns a CaseBatcher over s.
func NewCaseBatcher(s *Store) *CaseBatcher {
	return newCaseBatcher(s, caseFlushes, s.flushCases)
}

func newCaseBatcher(s *Store, flushes int, flush func(context.Context, []caseRequest, []caseAnswer, []error)) *CaseBatcher {
	return &CaseBatcher{store: s, cases: newBatcher(caseBatchMax, flushes, caseRequestKey, flush)}
}

// caseRequestKey keeps two submissions of one client's idempotency key out of one statement: the
// second must see the first stored (and answer it), not race it inside the statement.
func caseRequestKey(r caseRequest) string {
	return r.nc.ClientID + "\x00" + r.nc.IdempotencyKey // text values never hold NUL
}

// CreateCase is Store.CreateCase, sharing its statement with the concurrent callers'.
func (b *CaseBatcher) CreateCase(ctx context.Context, nc schemas.NewCase, trackingPrefix string) (schemas.StoredCase, error) {
	return b.CreateCaseWithAccessCode(ctx, nc, trackingPrefix, nil)
}

// CreateCaseWithAccessCode is Store.CreateCaseWithAccessCode, sharing its statement with the
// concurrent callers'. Once its case is taken into a statement, ctx ending no longer stops it (it
// is the other callers' statement too), only the wait for its answer: the case may be stored
// although the caller got ctx's error, as when a commit's answer is lost; a retry with the same
// key answers it.
func (b *CaseBatcher) CreateCaseWithAccessCode(ctx context.Context, nc schemas.NewCase, trackingPrefix string,
	accessCodeSHA256 []byte) (schemas.StoredCase, error) {
	if len(nc.Body) > caseBatchBodyMax {
		return b.store.CreateCaseWithAccessCode(ctx, nc, trackingPrefix, accessCodeSHA256)
	}
	a, err := b.cases.do(ctx, caseRequest{nc: nc, prefix: trackingPrefix, accessCode: accessCodeSHA256})
	switch {
	case err != nil && (errors.Is(err, errFlushPanicked) || errors.Is(err, ctx.Err())):
		return schemas.StoredCase{}, fmt.Errorf("create case: %w", err)
	case err != nil:
		return schemas.StoredCase{}, err // Store.CreateCaseWithAccessCode's, which says what failed
	case a.raced:
		// As Store.CreateCaseWithAccessCode does: the case that won is committed by now.
		existing, err := b.store.caseByKey(ctx, nc.ClientID, nc.IdempotencyKey)
		if err != nil {
			return schemas.StoredCase{}, fmt.Errorf("create case: %w", err)
		}
		return existing, nil
	}
	return a.c, nil
}

// CaseByIdempotencyKey is Store.CaseByIdempotencyKey.
func (b *CaseBatcher) CaseByIdempotencyKey(ctx context.Context, clientID, key string) (schemas.StoredCase, error) {
	return b.store.CaseByIdempotencyKey(ctx, clientID, key)
}

// flushCases stores the cases of reqs: in one createCasesSQL statement, or one by one with
// CreateCaseWithAccessCode when there is one or the statement fails (a case naming an unknown
// authority fails it: it must fail alone). Errors are CreateCaseWithAccessCode's.
func (s *Store) flushCases(ctx context.Context, reqs []caseRequest, res []caseAnswer, errs []error) {
	if len(reqs) > 1 {
		// Every statement inserts its keys in one order: two statements waiting for each other's
		// uncommitted key (a submission retried while the first try's statement runs) cannot
		// wait in a cycle, which PostgreSQL would break only after deadlock_timeout, failing one.
		order := make([]int, len(reqs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(i, j int) int {
			return cmp.Or(cmp.Compare(reqs[i].nc.ClientID, reqs[j].nc.ClientID),
				cmp.Compare(reqs[i].nc.IdempotencyKey, reqs[j].nc.IdempotencyKey))
		})
		sorted := make([]caseRequest, len(reqs))
		for k, i := range order {
			sorted[k] = reqs[i]
		}
		answers, err := s.createCases(ctx, sorted)
		if err == nil {
			for k, i := range order {
				res[i] = answers[k]
			}
			return
		}
	}
	for i, r := range reqs {
		res[i].c, errs[i] = s.CreateCaseWithAccessCode(ctx, r.nc, r.prefix, r.accessCode)
	}
}

// createCases runs createCasesSQL for reqs (no two with the same client and key) and returns the
// answer of each, in the order of reqs. It is atomic: on error, nothing is stored.
func (s *Store) createCases(ctx context.Context, reqs []caseRequest) ([]caseAnswer, error) {
	n := len(reqs)
	ids, prefixes, clients, keys := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	caseKinds, appealKinds, traces, receivedAt := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	hashes, bodies := make(pq.ByteaArray, n), make(pq.ByteaArray, n)
	// Hex, so that a case without a code stores null, as the single statement does (a bytea
	// array element cannot be null in lib/pq's encoding).
	codes := make([]sql.NullString, n)
	deliveryOf, signatureOf := []int64{}, []int64{}
	var dIDs, dAuthorities, dRules, dReasons []string
	var sigs []schemas.VerifiedSignature
	for i, r := range reqs {
		nc := r.nc
		ids[i], prefixes[i], clients[i], keys[i] = nc.ID, r.prefix, nc.ClientID, nc.IdempotencyKey
		caseKinds[i], appealKinds[i], traces[i] = string(nc.CaseKind), string(nc.AppealKind), nc.TraceParent
		receivedAt[i] = string(pq.FormatTimestamp(nc.ReceivedAt)) // as lib/pq sends a time parameter
		hashes[i], bodies[i] = nc.RequestSHA256, nc.Body
		if r.accessCode != nil {
			codes[i] = sql.NullString{String: hex.EncodeToString(r.accessCode), Valid: true}
		}
		for _, d := range nc.Deliveries {
			deliveryOf = append(deliveryOf, int64(i+1))
			dIDs, dAuthorities = append(dIDs, d.ID), append(dAuthorities, d.Authority)
			dRules, dReasons = append(dRules, d.RoutingRule), append(dReasons, d.RoutingReason)
		}
		for range nc.Signatures {
			signatureOf = append(signatureOf, int64(i+1))
		}
		sigs = append(sigs, nc.Signatures...)
	}
	sc := signatureColumns(sigs)
	rows, err := s.db.QueryContext(ctx, createCasesSQL,
		pq.Array(ids), pq.Array(prefixes), pq.Array(clients), pq.Array(keys), hashes, pq.Array(caseKinds),
		pq.Array(appealKinds), bodies, pq.Array(traces), pq.Array(receivedAt), pq.Array(codes),
		string(schemas.EventSubmissionAccepted), string(schemas.StatusAccepted),
		pq.Array(deliveryOf), pq.Array(nonNil(dIDs)), pq.Array(nonNil(dAuthorities)), pq.Array(nonNil(dRules)),
		pq.Array(nonNil(dReasons)),
		pq.Array(signatureOf), pq.Array(sc.of), pq.Array(sc.index), pq.Array(sc.format), pq.Array(sc.subject),
		pq.Array(sc.issuer), pq.Array(sc.serial), pq.Array(sc.notBefore), pq.Array(sc.notAfter), pq.Array(sc.taxNumber),
		pq.Array(sc.digest), pq.Array(sc.algorithm), pq.Array(sc.certificate), pq.Array(sc.claimed),
		pq.Array(sc.revocation))
	if err != nil {
		return nil, fmt.Errorf("insert cases: %w", mapErr(err))
	}
	defer func() { _ = rows.Close() }()
	answers := make([]caseAnswer, n)
	answered := make([]bool, n)
	for rows.Next() {
		var ord int
		var row caseRow
		if err := rows.Scan(&ord, &row.created, &row.id, &row.trackingNumber, &row.priorReceivedAt, &row.requestSHA256); err != nil {
			return nil, fmt.Errorf("scan inserted case: %w", err)
		}
		if ord < 1 || ord > n || answered[ord-1] {
			return nil, fmt.Errorf("insert cases: unexpected case ordinal %d of %d", ord, n)
		}
		answered[ord-1] = true
		answers[ord-1].c = row.answer(reqs[ord-1].nc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert cases: %w", mapErr(err))
	}
	for i := range answers {
		answers[i].raced = !answered[i]
	}
	return answers, nil
}

// createCasesSQL is createCaseSQL for many cases: per case, it does exactly what createCaseSQL
// does with it. The cases are $1-$11, one array per column ($2 the tracking prefixes; $11 the
// access codes' hashes in hex, null for none); $12 and $13 are createCaseSQL's. Their deliveries
// are $14-$18 (the ordinal of their case in $1, counting from 1, then createCaseSQL's $14-$17),
// their signatures $19-$33 (the ordinal of their case, then createCaseSQL's $18-$31). A case whose
// key its client used already writes nothing and takes no sequence number; the new cases take
// theirs in case order. Events, deliveries, outbox rows and signatures are inserted by case, then
// in their order within the case. It returns one row per case (ordinal, created, id,
// tracking_number, received_at, request_sha256), as createCaseSQL does, and none for a case whose
// key another request committed while it ran (ON CONFLICT).
//
// The cases' rows are inserted in case order, which the caller makes the order of their keys: two
// such statements wait for each other's keys in the same order, never in a cycle.
const createCasesSQL = `
	WITH c AS MATERIALIZED (
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[],
		                     $8::bytea[], $9::text[], $10::timestamptz[], $11::text[])
		    WITH ORDINALITY AS c (id, prefix, client_id, key, request_sha256, case_kind, appeal_kind, body,
		                          trace_parent, received_at, access_code, ord)),
	prior AS MATERIALIZED (
		SELECT c.ord, a.id, a.tracking_number, a.received_at, a.request_sha256
		FROM c JOIN appeals a ON a.client_id = c.client_id AND a.idempotency_key = c.key),
	seq AS MATERIALIZED (
		SELECT c.ord, nextval('tracking_seq') AS n
		FROM c WHERE NOT EXISTS (SELECT 1 FROM prior WHERE prior.ord = c.ord)
		ORDER BY c.ord),
	appeal AS (
		INSERT INTO appeals (id, tracking_number, client_id, idempotency_key, request_sha256,
		                     case_kind, appeal_kind, body, trace_parent, received_at, access_code_sha256)
		SELECT c.id, c.prefix || CASE WHEN seq.n < 100000000 THEN lpad(seq.n::text, 8, '0') ELSE seq.n::text END,
		       c.client_id, c.key, c.request_sha256, c.case_kind, NULLIF(c.appeal_kind, ''), c.body, c.trace_parent,
		       c.received_at, decode(c.access_code, 'hex')
		FROM seq JOIN c ON c.ord = seq.ord
		ORDER BY seq.ord
		ON CONFLICT (client_id, idempotency_key) DO NOTHING
		RETURNING id, tracking_number),
	made AS MATERIALIZED (
		SELECT c.ord, appeal.id, appeal.tracking_number, c.received_at FROM appeal JOIN c ON c.id = appeal.id),
	accepted AS (
		INSERT INTO events (appeal_id, type, status, created_at)
		SELECT made.id, $12::text, $13::text, made.received_at FROM made ORDER BY made.ord),
	dx AS MATERIALIZED (
		SELECT x.ord, x.id, made.id AS appeal_id, x.authority, x.rule, x.reason, made.received_at
		FROM unnest($14::int[], $15::uuid[], $16::text[], $17::text[], $18::text[])
		     WITH ORDINALITY AS x (of_case, id, authority, rule, reason, ord)
		JOIN made ON made.ord = x.of_case),
	delivery AS (
		INSERT INTO deliveries (id, appeal_id, authority_code, status, created_at, updated_at, routing_rule, routing_reason)
		SELECT dx.id, dx.appeal_id, dx.authority, $13::text, dx.received_at, dx.received_at, dx.rule, dx.reason
		FROM dx ORDER BY dx.ord
		RETURNING id),
	outbox_row AS (
		INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
		SELECT dx.id, dx.authority, 0, dx.received_at, dx.received_at
		FROM delivery JOIN dx ON dx.id = delivery.id
		ORDER BY dx.ord),
	signature AS (
		INSERT INTO case_signatures (appeal_id, of, signature_index, format, subject, issuer, serial_number,
		    not_before, not_after, tax_number, digest_algorithm, signature_algorithm, certificate_sha256,
		    claimed_signing_time, revocation, verified_at)
		SELECT made.id, x.of, x.idx, x.format, x.subject, x.issuer, x.serial, x.not_before, x.not_after,
		       x.tax_number, x.digest, x.algorithm, x.certificate, x.claimed, x.revocation, made.received_at
		FROM unnest($19::int[], $20::text[], $21::int[], $22::text[], $23::text[], $24::text[], $25::text[],
		            $26::timestamptz[], $27::timestamptz[], $28::text[], $29::text[], $30::text[], $31::text[],
		            $32::timestamptz[], $33::text[])
		     WITH ORDINALITY AS x (of_case, of, idx, format, subject, issuer, serial, not_before, not_after, tax_number,
		                           digest, algorithm, certificate, claimed, revocation, ord)
		JOIN made ON made.ord = x.of_case
		ORDER BY x.ord)
	SELECT made.ord, true, made.id, made.tracking_number, NULL::timestamptz, NULL::bytea FROM made
	UNION ALL
	SELECT prior.ord, false, prior.id, prior.tracking_number, prior.received_at, prior.request_sha256 FROM prior`
