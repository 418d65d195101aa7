package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
)

// TestStatementCache shows that statements with parameters run as the connection's prepared
// statements, at most StmtCacheSize of them, that one whose result type changed is prepared
// again, and that statements without parameters still run several at once.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := storetest.Config()
	cfg.MaxOpenConns = 1 // every statement below runs on the same connection
	db := storetest.Open(t, cfg).DBForTest()
	prepared := func() int {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&n))
		return n
	}
	base := prepared()

	for i := range 3 {
		var got int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT $1::int + 1`, i).Scan(&got))
		require.Equal(t, i+1, got)
	}
	require.Equal(t, base+1, prepared(), "three executions of one statement: one prepared statement")
	var plans int64
	require.NoError(t, db.QueryRowContext(ctx,
		`SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 1'`).Scan(&plans))
	require.EqualValues(t, 3, plans, "the same prepared statement ran three times")

	// A statement whose result type changes under it is prepared again after one refusal.
	_, err := db.ExecContext(ctx, `CREATE TABLE cache_probe (a int); INSERT INTO cache_probe VALUES (1)`)
	require.NoError(t, err, "several statements without parameters run at once")
	probe := `SELECT * FROM cache_probe WHERE a = $1`
	var a int
	require.NoError(t, db.QueryRowContext(ctx, probe, 1).Scan(&a))
	_, err = db.ExecContext(ctx, `ALTER TABLE cache_probe ADD COLUMN b text`)
	require.NoError(t, err)
	var b *string
	err = db.QueryRowContext(ctx, probe, 1).Scan(&a, &b)
	require.ErrorContains(t, err, "cached plan must not change result type", "PostgreSQL refuses the kept statement once")
	require.NoError(t, db.QueryRowContext(ctx, probe, 1).Scan(&a, &b), "prepared again on the next use")
	require.Equal(t, 1, a)

	// The cache keeps the most recently used statements only.
	for i := range store.StmtCacheSize + 10 {
		var got int
		require.NoError(t, db.QueryRowContext(ctx, fmt.Sprintf(`SELECT $1::int + %d`, i), 1).Scan(&got))
		require.Equal(t, i+1, got)
	}
	require.Equal(t, store.StmtCacheSize, prepared())
}

// TestRecordOutcomeGenericPlan: the outcome statement, kept prepared, finds its delivery by the
// primary key in its generic plan too, not by scanning every delivery in transit.
func TestRecordOutcomeGenericPlan(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := storetest.Config()
	cfg.MaxOpenConns = 1 // the session settings below stay on the one connection
	db := storetest.Open(t, cfg).DBForTest()
	text := genericPlan(t, ctx, db,
		`PREPARE outcome (uuid, int, text, text, timestamptz, timestamptz, text, text, text, text, text) AS `+store.RecordOutcomeSQL,
		`EXECUTE outcome ('00000000-0000-0000-0000-000000000001', 1, 'delivered', '',
		NULL, now(), '', 'delivery_delivered', 'delivery_queued', 'queued', 'accepted')`)
	require.NotContains(t, text, "deliveries_in_transit", text)
	require.NotContains(t, text, "Bitmap Heap Scan on deliveries", text)
	require.Contains(t, text, "Index Scan using deliveries_pkey on deliveries d", text)
}

// genericPlan prepares a statement on db's one connection with plan_cache_mode forced to generic
// plans and returns the plan of execute (an EXECUTE of it), one line per plan line.
func genericPlan(t *testing.T, ctx context.Context, db *sql.DB, prepare, execute string) string {
	t.Helper()
	for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, prepare} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	return strings.Join(columnStrings(t, ctx, db, `EXPLAIN `+execute), "\n")
}

// columnStrings returns the one text column of query's rows.
func columnStrings(t *testing.T, ctx context.Context, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, query, args...)
	require.NoError(t, err)
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}
