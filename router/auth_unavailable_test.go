package router_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/hubtest"
	"appealhub/schemas"
)

// TestAuthenticateDatabaseDown: a token that cannot be looked up because the database does not
// answer is unavailable (503, the portal retries), never unauthorized (401, the portal would give
// up on a valid submission); an unknown token stays unauthorized. Found by the chaos scenario R3.
func TestAuthenticateDatabaseDown(t *testing.T) {
	t.Parallel()
	env := hubtest.NewEnv(t, nil, nil)
	hub := env.Start(t)

	p, err := hub.Authenticate(context.Background(), env.Token)
	require.NoError(t, err)
	require.Equal(t, "portal-test", p.ClientID)

	_, err = hub.Authenticate(context.Background(), "no-such-token")
	perr, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "unknown token: %v", err)
	require.Equal(t, schemas.CodeUnauthorized, perr.Code)
	require.NotErrorIs(t, err, schemas.ErrUnavailable)

	// A lookup the database cannot answer (here: the request is already gone).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = hub.Authenticate(ctx, env.Token)
	require.ErrorIs(t, err, schemas.ErrUnavailable)
	_, isProblem := errors.AsType[*schemas.Error](err)
	require.False(t, isProblem, "a database failure must not read as a refusal: %v", err)
}
