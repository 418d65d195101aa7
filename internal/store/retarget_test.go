package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// TestClosingMovesWaitingDeliveriesAtOnce: a delivery waiting out its backoff (or the closed
// authority's open breaker) goes to the successor as soon as the authority closes; the wait was
// about the closed authority's system, not the successor's.
func TestClosingMovesWaitingDeliveriesAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const old, successor = "85408783", "85015894"
	_, err := b.store.ApplyAuthorityChanges(b.ctx, []schemas.AuthorityChange{
		{Action: schemas.ActionImport, ChangedBy: "test", After: entry(successor, "Наступник", "")},
		{Action: schemas.ActionImport, ChangedBy: "test", After: entry(old, "Закрита", "")},
	})
	require.NoError(t, err)
	c := b.newCase(t, "moved", old)
	later := b.now.Add(30 * time.Second)
	require.NoError(t, b.store.ExecForTest(b.ctx, `UPDATE outbox SET available_at = $1`, later))

	closed := entry(old, "Закрита", "")
	closed.Status, closed.Successor = schemas.AuthorityClosed, successor
	closedAt := b.now.Add(time.Second)
	_, err = b.store.ApplyAuthorityChanges(b.ctx, []schemas.AuthorityChange{
		{Action: schemas.ActionClose, ChangedBy: "test", ChangedAt: closedAt, After: closed}})
	require.NoError(t, err)

	got := b.caseOf(t, c.ID)
	require.Len(t, got.Deliveries, 1)
	require.Equal(t, successor, got.Deliveries[0].Authority)
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM outbox WHERE status = 'pending'`))
	require.Equal(t, 1, b.countRows(t, `SELECT count(*) FROM outbox WHERE status = 'pending' AND routing_key = $1 AND available_at <= $2`,
		successor, closedAt), "routed to the successor and due at the close, not at the old wait (%s)", later)
}
