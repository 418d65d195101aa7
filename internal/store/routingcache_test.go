package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// routingEntry reads one routing entry of s, which must exist.
func routingEntry(t *testing.T, s *store.Store, code string) schemas.Authority {
	t.Helper()
	got, err := s.RoutingEntries(t.Context(), []string{code})
	require.NoError(t, err)
	a, ok := got[code]
	require.True(t, ok, "entry %s", code)
	return a
}

// TestRoutingEntriesForgottenOnRegistryWrites: routing entries are answered from memory, and every
// registry write made through a Store of this process on the same schema forgets them at once,
// whichever Store made it: a direct change, a scheduled one applied, the seed's upsert.
func TestRoutingEntriesForgottenOnRegistryWrites(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := storetest.Config()
	hub, other := storetest.Open(t, cfg), storetest.Open(t, cfg)
	const code = "00000001"
	require.NoError(t, hub.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: code, Name: "Рада", Adapter: "json"}))
	require.Equal(t, schemas.AuthorityActive, routingEntry(t, hub, code).Status)

	// A write outside the registry's methods is not seen while the entry is cached.
	require.NoError(t, hub.ExecForTest(ctx, `UPDATE authorities SET name = 'Змінена' WHERE code = $1`, code))
	require.Equal(t, "Рада", routingEntry(t, hub, code).Name, "cached")

	suspend := func(s *store.Store, action, status string) {
		t.Helper()
		_, err := s.ChangeAuthority(ctx, schemas.AuthorityChange{Code: code, Action: action, ChangedBy: "op"},
			func(_ context.Context, cur schemas.Authority) (schemas.Authority, error) {
				cur.Status = status
				return cur, nil
			})
		require.NoError(t, err)
	}
	suspend(hub, schemas.ActionSuspend, schemas.AuthoritySuspended)
	got := routingEntry(t, hub, code)
	require.Equal(t, schemas.AuthoritySuspended, got.Status, "the Store's own change is seen at once")
	require.Equal(t, "Змінена", got.Name)

	suspend(other, schemas.ActionResume, schemas.AuthorityActive)
	require.Equal(t, schemas.AuthorityActive, routingEntry(t, hub, code).Status, "another Store on the schema: at once too")

	a, err := other.RegistryAuthority(ctx, code)
	require.NoError(t, err)
	a.Accepts = []string{"appeal", "info_request"}
	_, err = other.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionUpdate, ChangedBy: "op", After: &a}})
	require.NoError(t, err)
	require.Equal(t, []string{"appeal", "info_request"}, routingEntry(t, hub, code).Accepts)

	// A scheduled suspension: scheduling changes no routing field; applying it is seen at once.
	now := time.Now().UTC()
	_, err = other.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: code, Action: schemas.ActionSuspend,
		EffectiveAt: now.Add(time.Hour), CreatedBy: "op"}, 0)
	require.NoError(t, err)
	require.Equal(t, schemas.AuthorityActive, routingEntry(t, hub, code).Status)
	applied, err := other.ApplyDueAuthorityChanges(ctx, now.Add(2*time.Hour), 10,
		func(_ context.Context, cur schemas.Authority, _ schemas.PendingAuthorityChange) (schemas.Authority, string, error) {
			cur.Status = schemas.AuthoritySuspended
			return cur, "", nil
		})
	require.NoError(t, err)
	require.Len(t, applied, 1)
	require.Equal(t, schemas.AuthoritySuspended, routingEntry(t, hub, code).Status)

	require.NoError(t, other.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: code, Name: "Нова назва", Adapter: "json"}))
	require.Equal(t, "Нова назва", routingEntry(t, hub, code).Name, "the seed's upsert is seen at once")
}

// TestRoutingEntriesCacheOfAnotherProcess: a process (here a Store on another connection string to
// the same schema) sees another's change of a cached entry only after RoutingCacheTTL; a code not
// in the registry is never cached, so one added elsewhere is found at once. What a caller changes
// in an answer is not cached.
func TestRoutingEntriesCacheOfAnotherProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := storetest.Config()
	hub := storetest.Open(t, cfg)
	cfg.URL += "&application_name=another_process"
	elsewhere := storetest.Open(t, cfg)
	const known, added = "00000001", "00000002"
	require.NoError(t, hub.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: known, Name: "Рада", Adapter: "json"}))

	got, err := hub.RoutingEntries(ctx, []string{known, added})
	require.NoError(t, err)
	require.Len(t, got, 1)
	got[known].Accepts[0] = "changed by the caller"

	require.NoError(t, elsewhere.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: known, Name: "Перейменована", Adapter: "json"}))
	require.NoError(t, elsewhere.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: added, Name: "Нова", Adapter: "json"}))
	got, err = hub.RoutingEntries(ctx, []string{known, added})
	require.NoError(t, err)
	require.Len(t, got, 2, "a code that was missing is read again")
	require.Equal(t, "Нова", got[added].Name)
	require.Equal(t, "Рада", got[known].Name, "another process's change waits for the cache to expire")
	require.Equal(t, []string{"appeal", "info_request"}, got[known].Accepts, "the cache keeps its own copy")

	require.Eventually(t, func() bool { return routingEntry(t, hub, known).Name == "Перейменована" },
		store.RoutingCacheTTL+5*time.Second, 50*time.Millisecond)

	// A request whose context is done gets its error, cached or not.
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = hub.RoutingEntries(done, []string{known})
	require.ErrorIs(t, err, context.Canceled)
}
