package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// The statistics benchmark (make bench; docs/statistics.md): 1,000,000 cases generated in SQL
// (generate_series, a few statements, no INSERT per case) into a private schema, with their events,
// sealed chain links and answer due dates; then the stats step derives stats_deliveries from the
// whole chain, and each grouping's query over the whole year is measured. STATS_BENCH_CASES
// overrides the number of cases. TestStatsBenchmarkLoad runs the same code at a small scale in
// make test and checks the figures against the generator's pattern.

const statsBenchAuthorities = 500

// statsBenchStart is the first case's time; the cases spread over the year from it.
var statsBenchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, kyiv)

// loadStatsBench generates n cases in s. Case i (1…n) is received at statsBenchStart + i·step, to
// authority (31·i mod 500) + 1; i mod 5 = 0 is a request for public information. Its fate is
// i mod 20: 0 refused 2 hours after receipt; 1 delivered, then forwarded a day later; 2–4 delivered
// an hour after receipt and nothing since; 5–19 delivered, registered (i mod 48) + 2 hours after
// receipt, and 5–16 answered (i mod 40) days after receipt. Every delivered case's answer is due
// 30 days after receipt.
func loadStatsBench(ctx context.Context, s *store.Store, n int) error {
	step := (365 * 24 * time.Hour).Seconds() / float64(n)
	statements := []struct {
		name string
		sql  string
		args []any
	}{
		{"clients", `INSERT INTO api_clients (id, kind, token_sha256)
			SELECT 'bench-portal-' || i, 'portal', sha256(('bench-' || i)::bytea) FROM generate_series(1, 3) i`, nil},
		{"authorities", `INSERT INTO authorities (code, name, adapter, territory)
			SELECT (60000000 + i)::text, 'Bench body ' || i, 'json',
			    'UA' || (ARRAY['05','07','12','14','18','21','23','26','32','35','44','46','48','51','53','56','59','61',
			                   '63','65','68','71','73','74'])[i % 24 + 1] || lpad((i * 7919)::text, 15, '0')
			FROM generate_series(1, $1) i`, []any{statsBenchAuthorities}},
		{"appeals", `INSERT INTO appeals (id, tracking_number, client_id, idempotency_key, request_sha256, case_kind, appeal_kind,
			    body, received_at)
			SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'BENCH-' || i, 'bench-portal-' || (i % 3 + 1), i::text, '\x00'::bytea,
			    CASE WHEN i % 5 = 0 THEN 'info_request' ELSE 'appeal' END,
			    CASE WHEN i % 5 = 0 THEN NULL ELSE (ARRAY['proposal','application','complaint'])[i % 3 + 1] END,
			    convert_to(json_build_object('case_kind', 'appeal',
			        'topic', (ARRAY['roads','health','education','digital','housing','utilities','transport','ecology'])[i % 8 + 1],
			        'applicant', json_build_object('category', (ARRAY['','veteran','disabled','pensioner'])[i % 4 + 1]))::text, 'UTF8'),
			    $1::timestamptz + (i * $2::float8) * interval '1 second'
			FROM generate_series(1, $3) i`, []any{statsBenchStart, step, n}},
		{"deliveries", `INSERT INTO deliveries (id, appeal_id, authority_code, status, created_at, updated_at)
			SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, (60000000 + (31 * i) % $1 + 1)::text, 'delivered', at, at
			FROM (SELECT i, $2::timestamptz + (i * $3::float8) * interval '1 second' AS at FROM generate_series(1, $4) i) g`,
			[]any{statsBenchAuthorities, statsBenchStart, step, n}},
		{"events", `INSERT INTO events (appeal_id, delivery_id, type, status, created_at)
			SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, e.delivery, e.type, e.status, at + e.after
			FROM (SELECT i, $1::timestamptz + (i * $2::float8) * interval '1 second' AS at FROM generate_series(1, $3) i) g
			CROSS JOIN LATERAL (VALUES
			    (NULL::uuid, 'submission_accepted', 'accepted', interval '0', true),
			    (('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 'authority_refused', 'refused', interval '2 hours', i % 20 = 0),
			    (('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 'delivery_delivered', 'delivered', interval '1 hour', i % 20 >= 1),
			    (('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 'authority_forwarded', 'forwarded', interval '1 day', i % 20 = 1),
			    (('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 'authority_registered', 'registered', (i % 48 + 2) * interval '1 hour', i % 20 >= 5),
			    (('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, 'authority_answered', 'answered', (i % 40) * interval '1 day' + interval '3 hours',
			        i % 20 BETWEEN 5 AND 16)
			) e(delivery, type, status, after, happens)
			WHERE e.happens
			ORDER BY i, e.after`, []any{statsBenchStart, step, n}},
		{"due dates", `INSERT INTO due_dates (delivery_id, appeal_id, kind, due_at, rule, calendar_version, explanation, created_at)
			SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(i), 12, '0'))::uuid, ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'answer', at + interval '30 days', 'bench', 'bench', '{}'::jsonb, at
			FROM (SELECT i, $1::timestamptz + (i * $2::float8) * interval '1 second' AS at FROM generate_series(1, $3) i) g
			WHERE i % 20 >= 1`, []any{statsBenchStart, step, n}},
		{"chain", `INSERT INTO event_chain (pos, seq, txid, prev_hash, hash)
			SELECT pos, seq, txid, CASE WHEN pos > 1 THEN sha256((pos - 1)::text::bytea) END, sha256(pos::text::bytea)
			FROM (SELECT row_number() OVER (ORDER BY seq) AS pos, seq, txid FROM events) c`, nil},
		{"analyze", `ANALYZE appeals, deliveries, events, due_dates, event_chain`, nil},
	}
	for _, st := range statements {
		t0 := time.Now()
		if err := s.ExecForTest(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("load %s: %w", st.name, err)
		}
		if testing.Verbose() {
			fmt.Printf("stats bench: loaded %s in %s\n", st.name, time.Since(t0).Round(time.Millisecond))
		}
	}
	return nil
}

// statsBenchExpected is the generator's pattern counted in Go: the figures of the n cases.
func statsBenchExpected(n int) schemas.StatsRow {
	var r schemas.StatsRow
	for i := 1; i <= n; i++ {
		r.Received++
		switch f := i % 20; {
		case f == 0:
			r.Refused++
		case f == 1:
			r.Forwarded++
		case f >= 5:
			r.Registered++
			if f <= 16 {
				r.Answered++
				if i%40 < 30 { // answered (i mod 40) days and 3 hours after receipt, due at 30 days
					r.AnsweredOnTime++
				}
			} else {
				r.OverdueNow++
			}
		default:
			r.OverdueNow++
		}
	}
	return r
}

func TestStatsBenchmarkLoad(t *testing.T) {
	t.Parallel()
	const n = 4000
	s := storetest.New(t)
	ctx := context.Background()
	require.NoError(t, loadStatsBench(ctx, s, n))
	_, err := s.CatchUpStats(ctx, 1000)
	require.NoError(t, err)
	asOf := statsBenchStart.AddDate(2, 0, 0) // every due date has passed
	want := statsBenchExpected(n)
	for _, by := range schemas.StatsGroupings() {
		res, err := s.Stats(ctx, schemas.StatsQuery{From: statsBenchStart, To: statsBenchStart.AddDate(1, 1, 0), GroupBy: by}, asOf)
		require.NoError(t, err)
		got := res.Total
		require.Equal(t, []int64{want.Received, want.Registered, want.Refused, want.Forwarded, want.Answered, want.AnsweredOnTime, want.OverdueNow},
			[]int64{got.Received, got.Registered, got.Refused, got.Forwarded, got.Answered, got.AnsweredOnTime, got.OverdueNow}, string(by))
		var sum int64
		for _, r := range res.Rows {
			sum += r.Received
		}
		require.Equal(t, want.Received, sum, string(by))
	}
}

func BenchmarkStats(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("STATS_BENCH_CASES"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err, "STATS_BENCH_CASES")
	}
	s := storetest.New(b)
	ctx := context.Background()
	start := time.Now()
	require.NoError(b, loadStatsBench(ctx, s, n))
	loaded := time.Since(start)
	start = time.Now()
	passed, err := s.CatchUpStats(ctx, store.DefaultStatsStep)
	require.NoError(b, err)
	derived := time.Since(start)
	require.NoError(b, s.ExecForTest(ctx, `ANALYZE stats_deliveries`))
	b.Logf("%d cases: loaded in %s; the stats step derived them from %d chain links in %s", n, loaded.Round(time.Millisecond),
		passed, derived.Round(time.Millisecond))
	fmt.Printf("BenchmarkStats: %d cases loaded in %s; stats_deliveries derived from %d chain links in %s\n", n,
		loaded.Round(time.Millisecond), passed, derived.Round(time.Millisecond))

	asOf := statsBenchStart.AddDate(1, 1, 0)
	year := schemas.StatsQuery{From: statsBenchStart, To: statsBenchStart.AddDate(1, 0, 1)}
	for _, by := range schemas.StatsGroupings() {
		b.Run(string(by), func(b *testing.B) {
			q := year
			q.GroupBy = by
			res, err := s.Stats(ctx, q, asOf) // warm the cache
			require.NoError(b, err)
			require.Equal(b, int64(n), res.Total.Received)
			const queries = 3
			var worst time.Duration
			b.ResetTimer()
			for range b.N {
				for range queries {
					t0 := time.Now()
					if _, err := s.Stats(ctx, q, asOf); err != nil {
						b.Fatal(err)
					}
					worst = max(worst, time.Since(t0))
				}
			}
			b.StopTimer()
			perQuery := float64(b.Elapsed().Nanoseconds()) / float64(b.N*queries)
			b.ReportMetric(perQuery, "ns/op")
			b.ReportMetric(float64(worst.Nanoseconds()), "max-ns/op")
			b.ReportMetric(float64(len(res.Rows)), "groups")
			fmt.Printf("BenchmarkStats/%s: %d groups, mean %.0f ms, worst %.0f ms per query\n", by, len(res.Rows),
				perQuery/1e6, float64(worst.Nanoseconds())/1e6)
		})
	}
}
