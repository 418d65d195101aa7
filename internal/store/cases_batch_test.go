package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// These tests hold the statement storing many cases (createCasesSQL) and CaseBatcher, through
// which concurrent submissions share it, to what the one-case statement does.

// caseState is everything stored of one case, as JSON, but its ids, key and tracking number: its
// row, its events, its deliveries, their outbox rows and its signatures, so that two cases'
// states compare whole.
func (b *testBundle) caseState(t *testing.T, id string) string {
	t.Helper()
	var row, events, deliveries, outbox, signatures string
	require.NoError(t, b.store.DBForTest().QueryRowContext(b.ctx, `
		SELECT (SELECT to_jsonb(a) - 'id' - 'tracking_number' - 'idempotency_key' FROM appeals a WHERE a.id = $1)::text,
		       (SELECT coalesce(jsonb_agg(jsonb_build_object('type', e.type, 'status', e.status, 'detail', e.detail,
		                'delivery', e.delivery_id IS NOT NULL, 'created_at', e.created_at) ORDER BY e.seq), '[]')
		        FROM events e WHERE e.appeal_id = $1)::text,
		       (SELECT coalesce(jsonb_agg(to_jsonb(d) - 'id' - 'appeal_id' ORDER BY d.authority_code), '[]')
		        FROM deliveries d WHERE d.appeal_id = $1)::text,
		       (SELECT coalesce(jsonb_agg(to_jsonb(o) - 'id' - 'delivery_id' ORDER BY o.id), '[]')
		        FROM outbox o JOIN deliveries d ON d.id = o.delivery_id WHERE d.appeal_id = $1)::text,
		       (SELECT coalesce(jsonb_agg(to_jsonb(s) - 'appeal_id' ORDER BY s.signature_index), '[]')
		        FROM case_signatures s WHERE s.appeal_id = $1)::text`, id).
		Scan(&row, &events, &deliveries, &outbox, &signatures))
	return strings.Join([]string{row, events, deliveries, outbox, signatures}, "\n")
}

// caseScenario is a new case's shape.
type caseScenario struct {
	signatures  int
	authorities []string
	accessCode  bool
	appealKind  schemas.AppealKind
	traceParent string
	rule        string
}

var caseScenarios = []caseScenario{
	{signatures: 0, authorities: []string{"00000001"}, appealKind: schemas.AppealComplaint},
	{signatures: 1, authorities: []string{"00000002", "00000001"}, accessCode: true, rule: "by-topic"},
	{signatures: 2, authorities: []string{"00000002"}, accessCode: true, appealKind: schemas.AppealComplaint,
		traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	{signatures: 2, authorities: []string{"00000001", "00000002"}, rule: "by-address"},
}

// scenarioCase returns a new case of scenario i with key, received at (which is not whole
// microseconds, in another zone).
func (b *testBundle) scenarioCase(i int, key string, at time.Time) (schemas.NewCase, []byte) {
	sc := caseScenarios[i]
	claimed := time.Date(2026, 3, 1, 13, 59, 58, 123456789, time.FixedZone("EET", 2*3600))
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: key,
		RequestSHA256: hash(fmt.Sprint("body ", i)), CaseKind: schemas.CaseAppeal, AppealKind: sc.appealKind,
		Body: []byte(fmt.Sprintf(`{"scenario":%d,"quote":"\"\\"}`, i)), TraceParent: sc.traceParent, ReceivedAt: at}
	for j, a := range sc.authorities {
		nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: uuid.Must(uuid.NewV7()).String(), Authority: a,
			RoutingRule: sc.rule, RoutingReason: fmt.Sprint(sc.rule, " ", j)})
	}
	for j := range sc.signatures {
		var c *time.Time
		if j == 0 {
			c = &claimed
		}
		nc.Signatures = append(nc.Signatures, verified(j, []string{"text", "a1"}[j], c,
			[]string{schemas.RevocationGood, schemas.RevocationUnchecked}[j]))
	}
	var code []byte
	if sc.accessCode {
		code = hash(fmt.Sprint("code-", i)) // the same for both twins, whose ids differ
	}
	return nc, code
}

// TestCreateCasesAsCreateCase: one createCasesSQL statement stores every new case as
// CreateCaseWithAccessCode stores its twin (row, events, deliveries, outbox rows, signatures),
// with the same answer; a case whose key was used is answered with the stored case and takes no
// tracking number; the new cases take theirs in case order, and their rows go in by case.
func TestCreateCasesAsCreateCase(t *testing.T) {
	t.Parallel()
	b := setupInZone(t, "Europe/Kyiv")
	at := func(i int) time.Time {
		return b.now.Add(time.Duration(i)*time.Second + 789).In(time.FixedZone("", 3*3600))
	}
	first, err := b.store.CreateCase(b.ctx, b.signedCase("reused"), "ZV-2026-")
	require.NoError(t, err)
	single := make([]schemas.StoredCase, len(caseScenarios))
	for i := range caseScenarios {
		nc, code := b.scenarioCase(i, fmt.Sprint("single-", i), at(i))
		single[i], err = b.store.CreateCaseWithAccessCode(b.ctx, nc, "ZV-2026-", code)
		require.NoError(t, err)
		require.True(t, single[i].Created)
	}
	var lastSeq, lastOutbox int64
	require.NoError(t, b.store.DBForTest().QueryRowContext(b.ctx,
		`SELECT (SELECT max(seq) FROM events), (SELECT max(id) FROM outbox)`).Scan(&lastSeq, &lastOutbox))

	// The batch: every scenario, and the reused key (another body, time and prefix) in the middle.
	var ncs []schemas.NewCase
	var codes [][]byte
	for i := range caseScenarios {
		nc, code := b.scenarioCase(i, fmt.Sprint("batch-", i), at(i))
		ncs, codes = append(ncs, nc), append(codes, code)
		if i == 1 {
			replay, _ := b.scenarioCase(3, "reused", at(99))
			ncs, codes = append(ncs, replay), append(codes, hash("another code"))
		}
	}
	got, raced, err := b.store.CreateCasesForTest(b.ctx, ncs, "ZV-2026-", codes)
	require.NoError(t, err)
	require.Equal(t, make([]bool, len(ncs)), raced)

	byKey, err := b.store.CaseByIdempotencyKey(b.ctx, "portal", "reused")
	require.NoError(t, err)
	require.Equal(t, byKey, got[2], "the reused key is answered as the lookup by key answers")
	require.Equal(t, first.ID, got[2].ID)
	require.False(t, got[2].Created)
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM appeals WHERE idempotency_key = 'reused'`))
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM events WHERE appeal_id = $1`, first.ID))
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM deliveries WHERE appeal_id = $1`, first.ID))
	require.Equal(t, 0, b.countRows(t, `SELECT count(*) FROM case_signatures WHERE appeal_id = $1`, first.ID))
	require.Equal(t, 0, b.countRows(t, `SELECT count(*) FROM appeals WHERE access_code_sha256 = $1`, hash("another code")))

	batch := slices.Delete(slices.Clone(got), 2, 3)
	newCases := slices.Delete(slices.Clone(ncs), 2, 3)
	next := trackingSeq(t, single[len(single)-1].TrackingNumber) + 1
	for i, c := range batch {
		nc := newCases[i]
		require.Equal(t, schemas.StoredCase{ID: nc.ID, TrackingNumber: c.TrackingNumber, ReceivedAt: nc.ReceivedAt,
			RequestSHA256: nc.RequestSHA256, Created: true}, c, "the answer CreateCaseWithAccessCode gives")
		require.Regexp(t, `^ZV-2026-\d{8}$`, c.TrackingNumber)
		require.Equal(t, next+i, trackingSeq(t, c.TrackingNumber), "tracking numbers in case order, none for the reused key")
		require.Equal(t, b.caseState(t, single[i].ID), b.caseState(t, c.ID), "scenario %d", i)
		full, err := b.store.Case(b.ctx, "portal", c.ID)
		require.NoError(t, err)
		require.Len(t, full.Signatures, caseScenarios[i].signatures)
		require.Len(t, full.Deliveries, len(caseScenarios[i].authorities))
	}

	// Events by case; outbox rows by case, then in the order of its deliveries.
	var wantEvents, wantOutbox []string
	for i, nc := range newCases {
		wantEvents = append(wantEvents, batch[i].ID)
		for _, d := range nc.Deliveries {
			wantOutbox = append(wantOutbox, d.ID)
		}
	}
	require.Equal(t, wantEvents, b.strings(t, `SELECT appeal_id::text FROM events WHERE seq > $1 ORDER BY seq`, lastSeq))
	require.Equal(t, wantOutbox, b.strings(t, `SELECT delivery_id::text FROM outbox WHERE id > $1 ORDER BY id`, lastOutbox))
}

// strings returns the one text column of query's rows.
func (b *testBundle) strings(t *testing.T, query string, args ...any) []string {
	t.Helper()
	return columnStrings(t, b.ctx, b.store.DBForTest(), query, args...)
}

// TestCreateCasesRacedKey: a case whose key another transaction inserts and commits while the
// statement runs gets no row (the caller reads that case), and the others are stored.
func TestCreateCasesRacedKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	db := b.store.DBForTest()
	tx, err := db.BeginTx(b.ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	var txPID int
	require.NoError(t, tx.QueryRowContext(b.ctx, `SELECT pg_backend_pid()`).Scan(&txPID))
	other := uuid.Must(uuid.NewV7()).String()
	_, err = tx.ExecContext(b.ctx, `INSERT INTO appeals (id, tracking_number, client_id, idempotency_key, request_sha256,
		case_kind, body, received_at) VALUES ($1, 'OTHER-1', 'portal', 'raced', $2, 'appeal', '\x7b7d', now())`, other, hash("raced"))
	require.NoError(t, err)

	ncs := []schemas.NewCase{b.signedCase("a"), b.signedCase("raced"), b.signedCase("z")}
	type result struct {
		cases []schemas.StoredCase
		raced []bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		cases, raced, err := b.store.CreateCasesForTest(b.ctx, ncs, "ZV-2026-", nil)
		done <- result{cases, raced, err}
	}()
	require.Eventually(t, func() bool {
		return b.countRows(t, `SELECT count(*) FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`, txPID) > 0
	}, 10*time.Second, 5*time.Millisecond, "the statement waits for the other transaction's key")
	require.NoError(t, tx.Commit())
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []bool{false, true, false}, r.raced)
	require.True(t, r.cases[0].Created)
	require.True(t, r.cases[2].Created)
	require.Equal(t, 3, b.countRows(t, `SELECT count(*) FROM appeals`))
	require.Equal(t, 2, b.countRows(t, `SELECT count(*) FROM deliveries`))
	require.Equal(t, 0, b.countRows(t, `SELECT count(*) FROM deliveries WHERE appeal_id IN (SELECT id FROM appeals WHERE idempotency_key = 'raced')`))
}

// TestCreateCasesFailsWhole: a case the statement cannot store (an unknown authority) fails the
// whole statement, which stores nothing.
func TestCreateCasesFailsWhole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := b.signedCase("bad")
	bad.Deliveries[0].Authority = "99999999"
	_, _, err := b.store.CreateCasesForTest(b.ctx, []schemas.NewCase{b.signedCase("good"), bad}, "ZV-2026-", nil)
	require.ErrorContains(t, err, "insert cases")
	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Zero(t, totals.Appeals)
	require.Zero(t, totals.Events)
	require.Zero(t, totals.OutboxPending)
}

// TestCreateCasesGenericPlan: the statement, kept prepared, finds the cases stored before with
// their keys through the index of keys in its generic plan too, not by reading every case.
func TestCreateCasesGenericPlan(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, db := bulkAppeals(t, ctx)
	_, err := db.ExecContext(ctx, `ANALYZE appeals`)
	require.NoError(t, err)
	text := genericPlan(t, ctx, db, `PREPARE cases AS `+store.CreateCasesSQL, `EXECUTE cases ('{00000000-0000-0000-0000-000000000001}', '{ZV-2026-}',
		'{portal}', '{k1}', '{"\\x00"}', '{appeal}', '{""}', '{"\\x7b7d"}', '{""}', '{"2026-01-01 00:00:00Z"}', '{NULL}',
		'submission_accepted', 'accepted', '{1}', '{00000000-0000-0000-0000-000000000002}', '{00000001}', '{""}', '{""}',
		'{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')`)
	require.NotContains(t, text, "Seq Scan on appeals", text)
	require.Regexp(t, regexp.MustCompile(`(Index Scan using|Bitmap Index Scan on) appeals_client_id_idempotency_key_key`), text)
}

// TestCaseBatcherConcurrentSubmissions: many submissions at once, three of each key, go through
// shared statements (never two of one key in one): each key stores one case, which every one of
// its submissions gets, and a case that fails its statement fails alone.
func TestCaseBatcherConcurrentSubmissions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &store.CaseBatchRecorder{}
	gate := make(chan struct{})
	cb := store.NewCaseBatcherForTest(b.store, 2, rec, gate)
	submit := func(key string, authorities ...string) (schemas.NewCase, schemas.StoredCase, error) {
		nc := b.signedCase(key, verified(0, "text", nil, schemas.RevocationGood))
		nc.Deliveries = nil
		for _, a := range authorities {
			nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: uuid.Must(uuid.NewV7()).String(), Authority: a})
		}
		c, err := cb.CreateCaseWithAccessCode(b.ctx, nc, "ZV-2026-", schemas.AccessCodeHash(nc.ID, "code"))
		return nc, c, err
	}
	var wg sync.WaitGroup
	// Two submissions take both slots and hold them; the others queue up meanwhile.
	for i := range 2 {
		wg.Go(func() {
			_, c, err := submit(fmt.Sprint("lead-", i), "00000001")
			if err != nil || !c.Created {
				t.Errorf("lead %d: %+v %v", i, c, err)
			}
		})
		require.Eventually(t, func() bool { return len(rec.Batches()) == i+1 }, 5*time.Second, time.Millisecond)
	}
	const keys, each = 20, 3
	submitted := make([][each]schemas.NewCase, keys)
	got := make([][each]schemas.StoredCase, keys)
	errs := make([][each]error, keys)
	for k := range keys {
		for j := range each {
			wg.Go(func() {
				authorities := []string{"00000001", "00000002"}[:1+k%2]
				submitted[k][j], got[k][j], errs[k][j] = submit(fmt.Sprint("key-", k), authorities...)
			})
		}
	}
	var badErr error
	wg.Go(func() { _, _, badErr = submit("bad", "99999999") })
	require.Eventually(t, func() bool { return cb.Waiting() == keys*each+1 }, 5*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()

	require.ErrorContains(t, badErr, "create case")
	deliveries := 2
	for k := range keys {
		created := 0
		for j := range each {
			require.NoError(t, errs[k][j])
			require.Equal(t, got[k][0].ID, got[k][j].ID, "key %d", k)
			require.Equal(t, got[k][0].TrackingNumber, got[k][j].TrackingNumber, "key %d", k)
			if got[k][j].Created {
				created++
				require.Equal(t, submitted[k][j].ID, got[k][j].ID)
			}
		}
		require.Equal(t, 1, created, "key %d", k)
		c, err := b.store.Case(b.ctx, "portal", got[k][0].ID)
		require.NoError(t, err)
		require.Len(t, c.Deliveries, 1+k%2)
		require.Len(t, c.Signatures, 1)
		deliveries += 1 + k%2
	}
	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 2+keys, totals.Appeals)
	require.Equal(t, 2+keys, totals.Events)
	require.Equal(t, deliveries, totals.Deliveries)
	require.Equal(t, deliveries, totals.OutboxPending)
	n, err := b.store.CaseSignatureCount(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 2+keys, n)

	largest, badShared := 0, false
	for _, batch := range rec.Batches() {
		seen := map[string]bool{}
		for _, key := range batch {
			require.False(t, seen[key], "key %s twice in one statement: %v", key, batch)
			seen[key] = true
		}
		largest = max(largest, len(batch))
		if seen["bad"] && len(batch) > 1 {
			badShared = true
		}
	}
	require.Greater(t, largest, 1, "submissions shared statements: %v", rec.Batches())
	require.True(t, badShared, "the bad case failed a shared statement, then alone: %v", rec.Batches())
}

// TestCaseBatcherLargeBodyRunsAlone: a body over the shared statements' limit is stored by its own
// statement, never carried in a shared one, and is answered as any other.
func TestCaseBatcherLargeBodyRunsAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := &store.CaseBatchRecorder{}
	cb := store.NewCaseBatcherForTest(b.store, 2, rec, nil)
	nc := b.signedCase("large")
	nc.Body = []byte(`{"text":"` + strings.Repeat("a", 20<<10) + `"}`)
	c, err := cb.CreateCaseWithAccessCode(b.ctx, nc, "ZV-2026-", nil)
	require.NoError(t, err)
	require.True(t, c.Created)
	require.Empty(t, rec.Batches(), "no shared statement")
	again, err := cb.CreateCaseWithAccessCode(b.ctx, nc, "ZV-2026-", nil)
	require.NoError(t, err)
	require.Equal(t, c.ID, again.ID, "a replay answers the stored case")

	small := b.signedCase("small")
	_, err = cb.CreateCaseWithAccessCode(b.ctx, small, "ZV-2026-", nil)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"small"}}, rec.Batches(), "a small body goes through the batcher")
}

// bulkAppeals opens a store of one connection (session settings stay on it) with a model case to
// authority 00000001 and 5,000 copies of it under keys bulk-1…: plans are costed on a table of
// the size they will meet (on an empty table a scan of it is the cheapest plan).
func bulkAppeals(t *testing.T, ctx context.Context) (*testBundle, *sql.DB) {
	t.Helper()
	cfg := storetest.Config()
	cfg.MaxOpenConns = 1
	s := storetest.Open(t, cfg)
	b := &testBundle{store: s, ctx: ctx, now: time.Now().UTC().Truncate(time.Microsecond)}
	require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "00000001", Name: "A", Adapter: "json", Endpoint: "http://127.0.0.1:1/"}))
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, hash("secret")))
	b.newCase(t, "model", "00000001")
	_, err := s.DBForTest().ExecContext(ctx, `INSERT INTO appeals SELECT (jsonb_populate_record(NULL::appeals,
		to_jsonb(a) || jsonb_build_object('id', gen_random_uuid(), 'tracking_number', a.tracking_number || '-' || g,
		'idempotency_key', 'bulk-' || g))).* FROM appeals a, generate_series(1, 5000) g`)
	require.NoError(t, err)
	return b, s.DBForTest()
}
