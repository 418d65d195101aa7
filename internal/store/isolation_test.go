package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// TestAuthorityLimits: an authority's own concurrency and request timeout are stored (NULL when
// zero: the hub's defaults), listed with the active authorities, and read with its delivery task.
func TestAuthorityLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000003", Name: "Own limits",
		Adapter: "json", Endpoint: "http://127.0.0.1:1/", Concurrency: 2, RequestTimeout: 1500 * time.Millisecond}))
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000004", Name: "Suspended",
		Adapter: "json", Endpoint: "http://127.0.0.1:1/", Status: "suspended", Concurrency: 3}))

	active, err := b.store.ActiveAuthorities(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []schemas.AuthorityLimits{{Code: "00000001"}, {Code: "00000002"},
		{Code: "00000003", Concurrency: 2, RequestTimeout: 1500 * time.Millisecond}}, active)

	l, err := b.store.AuthorityLimits(b.ctx, "00000004")
	require.NoError(t, err)
	require.Equal(t, schemas.AuthorityLimits{Code: "00000004", Concurrency: 3}, l)
	_, err = b.store.AuthorityLimits(b.ctx, "99999999")
	require.ErrorIs(t, err, store.ErrNotFound)

	c := b.newCase(t, "k", "00000003", "00000001")
	cs, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	timeouts := map[string]time.Duration{}
	for _, d := range cs.Deliveries {
		task, err := b.store.DeliveryTask(b.ctx, d.ID)
		require.NoError(t, err)
		timeouts[task.Authority] = task.RequestTimeout
	}
	require.Equal(t, map[string]time.Duration{"00000003": 1500 * time.Millisecond, "00000001": 0}, timeouts)

	// Back to the defaults: zero stores NULL.
	require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: "00000003", Name: "Own limits",
		Adapter: "json", Endpoint: "http://127.0.0.1:1/"}))
	l, err = b.store.AuthorityLimits(b.ctx, "00000003")
	require.NoError(t, err)
	require.Equal(t, schemas.AuthorityLimits{Code: "00000003"}, l)
}
