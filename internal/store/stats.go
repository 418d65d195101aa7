package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// Statistics (migration 00017, docs/statistics.md): stats_deliveries holds one row of facts per
// delivery, derived from the sealed event chain by the stats step, and Stats aggregates it.

// statsCursor is the stats step's cursor over the event chain.
var statsCursor = chainCursor{table: "stats_cursor", lock: "appealhub:stats:"}

// DefaultStatsStep is how many chain links one stats step handles at most.
const DefaultStatsStep = 20000

// StatsStep moves the stats cursor over up to limit links of the sealed event chain in one
// transaction: it recomputes the facts row of every delivery an event after the cursor concerns
// (every delivery of the case for an event of the case as a whole), then records the new cursor.
// When another process holds the cursor it returns at once with Busy set. Safe for concurrent use.
func (s *Store) StatsStep(ctx context.Context, limit int) (CursorStep, error) {
	step, err := s.advanceCursor(ctx, statsCursor, limit, func(tx *sql.Tx, from, to int64) error {
		return refreshStats(ctx, tx, from, to)
	})
	if err != nil {
		return CursorStep{}, fmt.Errorf("stats step: %w", err)
	}
	return step, nil
}

// CatchUpStats runs stats steps of limit links until the cursor reaches the chain head, or another
// process is moving it (that process brings the rows up to date). It returns the links passed.
func (s *Store) CatchUpStats(ctx context.Context, limit int) (int64, error) {
	var passed int64
	for {
		step, err := s.StatsStep(ctx, limit)
		if err != nil {
			return passed, err
		}
		passed += step.Passed
		if step.Busy || step.Passed < int64(limit) {
			return passed, nil
		}
	}
}

// StatsCursor returns the last chain position the stats rows reflect.
func (s *Store) StatsCursor(ctx context.Context) (int64, error) { return s.cursorPos(ctx, statsCursor) }

// refreshStats recomputes, in tx, the facts rows of the deliveries the links (from, to] concern.
// The case's attributes are read from the submission only when the row is new.
func refreshStats(ctx context.Context, tx *sql.Tx, from, to int64) error {
	if _, err := tx.ExecContext(ctx, `
		WITH touched AS (
		    SELECT e.delivery_id AS id
		    FROM event_chain c JOIN events e ON e.seq = c.seq
		    WHERE c.pos > $1 AND c.pos <= $2 AND e.delivery_id IS NOT NULL
		    UNION
		    SELECT d.id
		    FROM event_chain c JOIN events e ON e.seq = c.seq JOIN deliveries d ON d.appeal_id = e.appeal_id
		    WHERE c.pos > $1 AND c.pos <= $2 AND e.delivery_id IS NULL
		)
		INSERT INTO stats_deliveries AS f (delivery_id, appeal_id, authority_code, received_at, received_day, case_kind,
		    appeal_kind, topic, category, client_id, forwarded_in, registered_at, refused_at, forwarded_at, answered_at,
		    to_registration, to_answer, answered_on_time, open_due_at)
		SELECT d.id, d.appeal_id, d.authority_code, d.created_at, (d.created_at AT TIME ZONE 'Europe/Kyiv')::date,
		    a.case_kind, coalesce(a.appeal_kind, ''),
		    CASE WHEN old.delivery_id IS NULL THEN left(coalesce(NULLIF(b.doc->>'topic', ''), b.doc->'topic_codes'->>0, ''), 200)
		         ELSE old.topic END,
		    CASE WHEN old.delivery_id IS NULL THEN left(coalesce(b.doc->'applicant'->>'category', ''), 200)
		         ELSE old.category END,
		    a.client_id, d.forwarded_from IS NOT NULL,
		    ev.registered_at, ev.refused_at, ev.forwarded_at, ev.answered_at,
		    extract(epoch FROM ev.registered_at - d.created_at)::float8,
		    extract(epoch FROM ev.answered_at - d.created_at)::float8,
		    coalesce(ev.answered_at < dd.due_at, false),
		    CASE WHEN ev.ended_at IS NULL THEN dd.due_at END
		FROM touched t
		JOIN deliveries d ON d.id = t.id
		JOIN appeals a ON a.id = d.appeal_id
		LEFT JOIN stats_deliveries old ON old.delivery_id = d.id
		LEFT JOIN LATERAL (SELECT convert_from(a.body, 'UTF8')::jsonb AS doc WHERE old.delivery_id IS NULL) b ON true
		LEFT JOIN LATERAL (
		    SELECT min(e.created_at) FILTER (WHERE e.type = 'authority_registered' AND e.status = 'registered') AS registered_at,
		           min(e.created_at) FILTER (WHERE e.type = 'authority_refused' AND e.status = 'refused') AS refused_at,
		           min(e.created_at) FILTER (WHERE e.type = 'authority_forwarded' AND e.status = 'forwarded') AS forwarded_at,
		           min(e.created_at) FILTER (WHERE e.type = 'authority_answered' AND e.status = 'answered') AS answered_at,
		           min(e.created_at) FILTER (WHERE e.status = ANY($3)) AS ended_at
		    FROM events e WHERE e.appeal_id = d.appeal_id AND e.delivery_id = d.id) ev ON true
		LEFT JOIN due_dates dd ON dd.delivery_id = d.id AND dd.kind = 'answer' AND dd.superseded_by IS NULL
		ON CONFLICT (delivery_id) DO UPDATE SET
		    authority_code = EXCLUDED.authority_code, registered_at = EXCLUDED.registered_at,
		    refused_at = EXCLUDED.refused_at, forwarded_at = EXCLUDED.forwarded_at, answered_at = EXCLUDED.answered_at,
		    to_registration = EXCLUDED.to_registration, to_answer = EXCLUDED.to_answer,
		    answered_on_time = EXCLUDED.answered_on_time, open_due_at = EXCLUDED.open_due_at`,
		from, to, pq.Array(statusNames(statsEnded))); err != nil {
		return fmt.Errorf("refresh the stats of deliveries: %w", err)
	}
	return nil
}

// statsEnded are the statuses that end a delivery's consideration: after them nothing is overdue.
var statsEnded = []schemas.DeliveryStatus{schemas.StatusAnswered, schemas.StatusRefused, schemas.StatusForwarded,
	schemas.StatusReturned, schemas.StatusNotConsidered, schemas.StatusDead}

// statsGroupExpr is the SQL expression of each grouping's key over stats_deliveries f (and
// authorities au for the region).
var statsGroupExpr = map[schemas.StatsGroupBy]string{
	schemas.StatsByAuthority:  `f.authority_code`,
	schemas.StatsByRegion:     statsRegionExpr,
	schemas.StatsByKind:       `f.case_kind`,
	schemas.StatsByTopic:      `f.topic`,
	schemas.StatsByMonth:      `to_char(f.received_day, 'YYYY-MM')`,
	schemas.StatsByDay:        `to_char(f.received_day, 'YYYY-MM-DD')`,
	schemas.StatsByForm:       `CASE WHEN f.forwarded_in THEN 'forwarded' ELSE 'portal:' || f.client_id END`,
	schemas.StatsByAppealKind: `CASE WHEN f.case_kind = 'appeal' THEN f.appeal_kind ELSE f.case_kind END`,
	schemas.StatsByCategory:   `f.category`,
}

// statsWorkMem is the memory each stats query may sort or hash in (PostgreSQL's work_mem, for that
// query only): enough for a million rows without spilling to disk.
const statsWorkMem = "256MB"

// statsRegionExpr is the region of the delivery's authority: the first level of its KATOTTG
// territory, as a region's own code ("UA" + 2 digits + 15 zeros); "" when it has no territory.
const statsRegionExpr = `coalesce(CASE WHEN au.territory <> '' THEN left(au.territory, 4) || '000000000000000' END, '')`

// Stats computes the figures of the deliveries q selects, grouped as q says; overdue_now is judged
// at now. The query must be valid (schemas.StatsQuery.Check). The figures are those of the rows
// the stats steps have derived so far: run CatchUpStats first to include the latest events.
func (s *Store) Stats(ctx context.Context, q schemas.StatsQuery, now time.Time) (schemas.StatsResult, error) {
	group, ok := statsGroupExpr[q.GroupBy]
	if !ok {
		return schemas.StatsResult{}, fmt.Errorf("stats: unknown grouping %q", q.GroupBy)
	}
	where := []string{`f.received_at >= $1`, `f.received_at < $2`}
	args := []any{q.From, q.To, now}
	filter := func(expr string, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, fmt.Sprintf("%s = $%d", expr, len(args)))
		}
	}
	filter(`f.authority_code`, q.Authority)
	filter(statsRegionExpr, q.Region)
	filter(`f.case_kind`, string(q.Kind))
	filter(`f.topic`, q.Topic)
	join := ""
	if q.GroupBy == schemas.StatsByRegion || q.Region != "" {
		join = `LEFT JOIN authorities au ON au.code = f.authority_code`
	}
	// The group key sorts byte-wise (COLLATE "C": no locale comparisons). The counts and the
	// percentiles of each duration are three queries, run at once on one snapshot: the counts hash
	// without sorting, and each percentile query sorts only the rows that have its duration, with one
	// sort serving both fractions. All three take the same arguments ($3, the moment overdue is
	// judged at, matters only to the counts).
	group = `(` + group + `) COLLATE "C"`
	from := ` FROM stats_deliveries f ` + join + ` WHERE ` + strings.Join(where, " AND ")
	grouping := ` GROUP BY GROUPING SETS ((` + group + `), ())`
	head := `SELECT GROUPING(` + group + `) = 1, coalesce(` + group + `, ''), `
	queries := []string{
		head + `count(*), count(f.registered_at), count(f.refused_at), count(f.forwarded_at), count(f.answered_at),
		    count(*) FILTER (WHERE f.answered_on_time), count(*) FILTER (WHERE f.open_due_at <= $3)` + from + grouping,
		head + `percentile_cont('{0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY f.to_registration)` + from +
			` AND f.to_registration IS NOT NULL AND $3::timestamptz IS NOT NULL` + grouping,
		head + `percentile_cont('{0.5,0.9}'::float8[]) WITHIN GROUP (ORDER BY f.to_answer)` + from +
			` AND f.to_answer IS NOT NULL AND $3::timestamptz IS NOT NULL` + grouping,
	}
	type part struct {
		total  bool
		group  string
		counts [7]int64
		pct    pq.Float64Array
	}
	results := make([][]part, len(queries))
	err := s.onOneSnapshot(ctx, len(queries), func(i int, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, queries[i], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p part
			dest := []any{&p.total, &p.group}
			if i == 0 {
				for k := range p.counts {
					dest = append(dest, &p.counts[k])
				}
			} else {
				dest = append(dest, &p.pct)
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			results[i] = append(results[i], p)
		}
		return rows.Err()
	})
	if err != nil {
		return schemas.StatsResult{}, fmt.Errorf("compute stats: %w", err)
	}
	out := schemas.StatsResult{From: q.From, To: q.To, GroupBy: q.GroupBy, Rows: []schemas.StatsRow{}, AsOf: now}
	index := map[string]int{}
	for _, p := range results[0] {
		r := schemas.StatsRow{Group: p.group, Received: p.counts[0], Registered: p.counts[1], Refused: p.counts[2],
			Forwarded: p.counts[3], Answered: p.counts[4], AnsweredOnTime: p.counts[5], OverdueNow: p.counts[6]}
		if r.Answered > 0 {
			rate := float64(r.AnsweredOnTime) / float64(r.Answered)
			r.OnTimeRate = &rate
		}
		if p.total {
			out.Total = r
			continue
		}
		index[r.Group] = len(out.Rows)
		out.Rows = append(out.Rows, r)
	}
	for i, parts := range results[1:] {
		for _, p := range parts {
			r := &out.Total
			if !p.total {
				k, ok := index[p.group]
				if !ok {
					continue // cannot be: the snapshot is the same
				}
				r = &out.Rows[k]
			}
			if i == 0 {
				r.MedianToRegistrationSecs, r.P90ToRegistrationSecs = percentiles(p.pct)
			} else {
				r.MedianToAnswerSecs, r.P90ToAnswerSecs = percentiles(p.pct)
			}
		}
	}
	labelStats(q.GroupBy, out.Rows)
	if err := s.statsLabels(ctx, q.GroupBy, out.Rows); err != nil {
		return schemas.StatsResult{}, err
	}
	schemas.SortStatsRows(q.GroupBy, out.Rows)
	return out, nil
}

// onOneSnapshot runs fn(i, tx) for i in [0, n) at once, each in its own read-only transaction, all
// on the same snapshot (the first exports it, the others import it), with statsWorkMem for their
// sorts. It returns the first error.
func (s *Store) onOneSnapshot(ctx context.Context, n int, fn func(i int, tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	begin := func(snapshot string) (*sql.Tx, error) {
		tx, err := s.db.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		if snapshot != "" {
			if _, err := tx.ExecContext(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'`); err != nil {
				_ = tx.Rollback()
				return nil, fmt.Errorf("import snapshot: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '`+statsWorkMem+`'`); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
		return tx, nil
	}
	first, err := begin("")
	if err != nil {
		return err
	}
	defer func() { _ = first.Rollback() }()
	var snapshot string
	if err := first.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return fmt.Errorf("export snapshot: %w", err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			tx, err := begin(snapshot)
			if err != nil {
				errs[i] = err
				return
			}
			defer func() { _ = tx.Rollback() }()
			errs[i] = fn(i, tx)
		})
	}
	errs[0] = fn(0, first)
	wg.Wait()
	return errors.Join(errs...)
}

// statsLabels names the groups of an authority grouping by the authorities' names.
func (s *Store) statsLabels(ctx context.Context, by schemas.StatsGroupBy, rows []schemas.StatsRow) error {
	if by != schemas.StatsByAuthority || len(rows) == 0 {
		return nil
	}
	codes := make([]string, len(rows))
	for i, r := range rows {
		codes[i] = r.Group
	}
	names := map[string]string{}
	res, err := s.db.QueryContext(ctx, `SELECT code, name FROM authorities WHERE code = ANY($1)`, pq.Array(codes))
	if err != nil {
		return fmt.Errorf("read the names of authorities: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var code, name string
		if err := res.Scan(&code, &name); err != nil {
			return fmt.Errorf("scan authority name: %w", err)
		}
		names[code] = name
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("read the names of authorities: %w", err)
	}
	for i := range rows {
		rows[i].Label = names[rows[i].Group]
	}
	return nil
}

// labelStats names the groups the grouping has words for.
func labelStats(by schemas.StatsGroupBy, rows []schemas.StatsRow) {
	for i := range rows {
		rows[i].Label = schemas.StatsLabel(by, rows[i].Group)
	}
}

// percentiles takes the median and the 90th percentile from percentile_cont's array (NULL, and
// so empty, when the group has no value).
func percentiles(v pq.Float64Array) (median, p90 *float64) {
	if len(v) != 2 {
		return nil, nil
	}
	return &v[0], &v[1]
}

// StatsReport computes the quarterly report of quarter (as 2026Q4) at now: the quarter's figures by
// each grouping of schemas.StatsReportSections, and the total. Every section reads the same rows.
func (s *Store) StatsReport(ctx context.Context, quarter string, now time.Time) (schemas.StatsReport, error) {
	from, to, err := schemas.Quarter(quarter)
	if err != nil {
		return schemas.StatsReport{}, err
	}
	rep := schemas.StatsReport{Quarter: quarter, From: from, To: to, AsOf: now, Sections: []schemas.StatsReportSection{}}
	for i, sec := range schemas.StatsReportSections() {
		res, err := s.Stats(ctx, schemas.StatsQuery{From: from, To: to, GroupBy: sec.GroupBy}, now)
		if err != nil {
			return schemas.StatsReport{}, fmt.Errorf("quarterly report, %s: %w", sec.Name, err)
		}
		if i == 0 {
			rep.Total = res.Total
		}
		sec.Rows = res.Rows
		rep.Sections = append(rep.Sections, sec)
	}
	return rep, nil
}
