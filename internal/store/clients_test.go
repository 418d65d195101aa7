package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// TestClientByTokenHashCacheForgetsReplacedTokens: a token answered from memory stops
// authenticating as soon as UpsertClient replaces it, and a request whose context is done is
// refused even when its token is cached.
func TestClientByTokenHashCacheForgetsReplacedTokens(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, hash("old")))

	for range 2 { // the second lookup is answered from the cache
		c, err := s.ClientByTokenHash(ctx, hash("old"))
		require.NoError(t, err)
		require.Equal(t, "portal", c.ID)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.ClientByTokenHash(done, hash("old"))
	require.ErrorIs(t, err, context.Canceled)

	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, hash("new")))
	_, err = s.ClientByTokenHash(ctx, hash("old"))
	require.ErrorIs(t, err, store.ErrNotFound, "the replaced token must not be answered from the cache")
	c, err := s.ClientByTokenHash(ctx, hash("new"))
	require.NoError(t, err)
	require.Equal(t, "portal", c.ID)

	_, err = s.ClientByTokenHash(ctx, hash("unknown"))
	require.ErrorIs(t, err, store.ErrNotFound)
}
