package router

// Statistics of cases (docs/statistics.md): GET /v1/stats, the operators' console and the
// quarterly report. The figures come from stats_deliveries, which the stats step derives from the
// sealed event chain; each query first brings it up to the chain head.

import (
	"context"
	"fmt"
	"time"

	"appealhub/internal/httpapi"
	"appealhub/internal/store"
	"appealhub/schemas"
)

var _ httpapi.StatsReader = (*Hub)(nil)

// statsReader answers GET /v1/stats.
func (h *Hub) statsReader() httpapi.StatsReader { return h }

// Stats computes the statistics q asks for, with overdue_now judged at the hub's clock. A query
// that is not acceptable is a *schemas.Error with code schema_violation naming the parameter.
// Safe for concurrent use.
func (h *Hub) Stats(ctx context.Context, q schemas.StatsQuery) (schemas.StatsResult, error) {
	return Stats(ctx, h.store, q, h.clock.Now())
}

// Stats brings the stats rows of st up to the sealed chain's head and computes the statistics q
// asks for at now (the hub's Stats, and the CLI's).
func Stats(ctx context.Context, st *store.Store, q schemas.StatsQuery, now time.Time) (schemas.StatsResult, error) {
	if err := q.Check(); err != nil {
		return schemas.StatsResult{}, err
	}
	if _, err := st.CatchUpStats(ctx, store.DefaultStatsStep); err != nil {
		return schemas.StatsResult{}, fmt.Errorf("statistics: %w: %w", schemas.ErrUnavailable, err)
	}
	res, err := st.Stats(ctx, q, now)
	if err != nil {
		return schemas.StatsResult{}, fmt.Errorf("statistics: %w: %w", schemas.ErrUnavailable, err)
	}
	return res, nil
}

// StatsReport brings the stats rows of st up to the sealed chain's head and computes the quarterly
// report of quarter (as 2026Q4) at now.
func StatsReport(ctx context.Context, st *store.Store, quarter string, now time.Time) (schemas.StatsReport, error) {
	if _, _, err := schemas.Quarter(quarter); err != nil {
		return schemas.StatsReport{}, err
	}
	if _, err := st.CatchUpStats(ctx, store.DefaultStatsStep); err != nil {
		return schemas.StatsReport{}, fmt.Errorf("quarterly report: %w", err)
	}
	return st.StatsReport(ctx, quarter, now)
}
