package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AuthorityQueue is the state of one authority's deliveries, as the operators' console shows it.
type AuthorityQueue struct {
	Code   string
	Name   string
	Status string
	// Waiting counts the pending deliveries not yet attempted; Retrying those with a failed
	// attempt and a retry scheduled; Dead the dead ones no operator discarded.
	Waiting, Retrying, Dead int
	// OldestPending is when the oldest pending delivery was created; nil when none is pending.
	OldestPending *time.Time
	// Sent counts the deliveries that reached the authority's system since the window's start, and
	// LatencyP50 is the median time from creation to reaching it over them (0 when none).
	Sent       int
	LatencyP50 time.Duration
	// LastError is the most recent error of a pending or dead delivery, at LastErrorAt.
	LastError   string
	LastErrorAt *time.Time
}

// AuthorityQueues returns the queue state of every authority in the registry, by code; Sent and
// LatencyP50 count the deliveries sent since since.
func (s *Store) AuthorityQueues(ctx context.Context, since time.Time) ([]AuthorityQueue, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT au.code, au.name, au.status,
		       count(d.id) FILTER (WHERE d.status IN ('accepted', 'queued') AND d.attempts = 0),
		       count(d.id) FILTER (WHERE d.status = 'queued' AND d.attempts > 0),
		       count(d.id) FILTER (WHERE d.status = 'dead' AND d.discarded_at IS NULL),
		       min(d.created_at) FILTER (WHERE d.status IN ('accepted', 'queued')),
		       count(d.id) FILTER (WHERE d.sent_at >= $1),
		       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.sent_at - d.created_at))
		                FILTER (WHERE d.sent_at >= $1), 0),
		       coalesce(le.last_error, ''), le.updated_at
		FROM authorities au
		LEFT JOIN deliveries d ON d.authority_code = au.code
		     AND (d.status IN ('accepted', 'queued', 'dead') OR d.sent_at >= $1)
		LEFT JOIN LATERAL (
		    SELECT e.last_error, e.updated_at FROM deliveries e
		    WHERE e.authority_code = au.code AND e.status IN ('queued', 'dead') AND e.last_error <> ''
		    ORDER BY e.updated_at DESC LIMIT 1) le ON true
		GROUP BY au.code, le.last_error, le.updated_at
		ORDER BY au.code`, since)
	if err != nil {
		return nil, fmt.Errorf("read authority queues: %w", err)
	}
	defer rows.Close()
	out := []AuthorityQueue{}
	for rows.Next() {
		var q AuthorityQueue
		var oldest, lastAt sql.NullTime
		var latency float64
		if err := rows.Scan(&q.Code, &q.Name, &q.Status, &q.Waiting, &q.Retrying, &q.Dead, &oldest, &q.Sent, &latency,
			&q.LastError, &lastAt); err != nil {
			return nil, fmt.Errorf("scan authority queue: %w", err)
		}
		q.OldestPending, q.LastErrorAt = nullTime(oldest), nullTime(lastAt)
		q.LatencyP50 = time.Duration(latency * float64(time.Second))
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read authority queues: %w", err)
	}
	return out, nil
}

// AuthorityDeadlines counts one authority's open answer due dates.
type AuthorityDeadlines struct {
	Code, Name string
	// DueToday: due in [dayStart, dayEnd); Overdue: due before now; Extended: of deliveries whose
	// authority extended the term.
	DueToday, Overdue, Extended int
}

// DeadlineSummary counts, per authority with open answer due dates, those due in [dayStart,
// dayEnd), those past at now and those extended, by code.
func (s *Store) DeadlineSummary(ctx context.Context, now, dayStart, dayEnd time.Time) ([]AuthorityDeadlines, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT au.code, au.name,
		       count(*) FILTER (WHERE dd.due_at >= $2 AND dd.due_at < $3),
		       count(*) FILTER (WHERE dd.due_at < $1),
		       count(*) FILTER (WHERE EXISTS (
		           SELECT 1 FROM authority_messages m
		           WHERE m.delivery_id = dd.delivery_id AND m.type = 'extended' AND m.applied))
		FROM due_dates dd
		JOIN deliveries d ON d.id = dd.delivery_id
		JOIN authorities au ON au.code = d.authority_code
		WHERE dd.superseded_by IS NULL AND dd.closed_at IS NULL AND dd.kind = 'answer'
		GROUP BY au.code
		ORDER BY au.code`, now, dayStart, dayEnd)
	if err != nil {
		return nil, fmt.Errorf("summarise deadlines: %w", err)
	}
	defer rows.Close()
	out := []AuthorityDeadlines{}
	for rows.Next() {
		var a AuthorityDeadlines
		if err := rows.Scan(&a.Code, &a.Name, &a.DueToday, &a.Overdue, &a.Extended); err != nil {
			return nil, fmt.Errorf("scan deadline summary: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
