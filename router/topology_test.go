package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// validCode returns an EDRPOU code with a correct check digit from seven digits.
func validCode(first7 string) string {
	return fmt.Sprintf("%s%d", first7, registry.CheckDigit(first7+"0"))
}

// TestLiveTopology: authorities added, suspended and closed through the operator API take effect in
// a running hub at once (LISTEN/NOTIFY: the periodic sync is set to a minute here). A suspended
// authority's deliveries wait; closing it with a successor moves them there.
func TestLiveTopology(t *testing.T) {
	t.Parallel()
	oldSys := newSystem(t, "old", sandbox.Options{ErrorRate: 1, ErrorStatus: 503})
	newSys := newSystem(t, "successor", sandboxOptions())
	const opToken = "operator-token"
	env := hubtest.NewEnv(t, nil, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "ops", Kind: config.ClientOperator, TokenSHA256: sha256Hex(opToken)})
		c.Delivery.MaxAttempts = 50
	})
	env.AuthoritySync = time.Minute
	hub := env.Start(t)
	old, successor := validCode("2001001"), validCode("2001002")
	op := func(method, path string, body any) hubtest.Response {
		t.Helper()
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		b, err := json.Marshal(body)
		require.NoError(t, err)
		resp, err := hubtest.Do(context.Background(), method, hub.URL+path, opToken, h, b)
		require.NoError(t, err)
		return resp
	}
	for _, a := range []struct {
		code string
		sys  *system
	}{{old, oldSys}, {successor, newSys}} {
		resp := op(http.MethodPost, "/v1/authorities", map[string]any{
			"code": a.code, "name": "Тестова рада " + a.code, "kind": "local", "territory": "UA46000000000000000",
			"topics": []string{"*"}, "accepts": []string{"appeal", "info_request"}, "adapter": "json",
			"endpoint": a.sys.endpoint(a.code), "reason": "test"})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	}
	env.TrackAuthorities(t, old, successor)

	// Added a moment ago, delivered within seconds: the hub subscribed on the notification.
	// The target is 5 s from the registry change; the bound here is looser because `make test` runs
	// other packages on the same cores (the time taken is logged).
	added := time.Now()
	env.MustSubmit(t, hub.URL, "first", hubtest.Submission(1, 1024, successor))
	require.Eventually(t, func() bool { return newSys.sb.Ledger().Documents == 1 }, 15*time.Second, 10*time.Millisecond)
	t.Logf("a new authority's first document arrived %s after it was added", time.Since(added).Round(time.Millisecond))

	// The old authority's system is down: its deliveries retry. Suspend it, mend the system: they wait.
	for i := range 3 {
		env.MustSubmit(t, hub.URL, fmt.Sprintf("old-%d", i), hubtest.Submission(i, 1024, old))
	}
	require.Eventually(t, func() bool { return oldSys.sb.Ledger().Refused >= 3 }, 10*time.Second, 10*time.Millisecond)
	resp := op(http.MethodPost, "/v1/authorities/"+old+"/suspend", map[string]any{"reason": "maintenance"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	// Suspension stops new attempts; one that read the entry before it changed still ends (refused by
	// the failing system here). Mend the system only once no refusal came for several retry periods.
	refusalsSettle(t, oldSys.sb, 700*time.Millisecond)
	require.NoError(t, oldSys.sb.SetOptions(sandbox.Options{}))
	time.Sleep(1500 * time.Millisecond) // several retry periods: nothing may arrive while suspended
	require.Zero(t, oldSys.sb.Ledger().Documents, "a suspended authority receives nothing")
	resp2, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/appeals", env.Token,
		http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"while-suspended"}}, hubtest.Submission(9, 1024, old))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, resp2.Status, "a suspended authority takes no new submissions")

	// Close it with a successor: what still waits goes there.
	resp = op(http.MethodPost, "/v1/authorities/"+old+"/close", map[string]any{"successor": successor, "reason": "merged"})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Eventually(t, func() bool { return newSys.sb.Ledger().Documents == 4 }, 10*time.Second, 10*time.Millisecond)
	require.Zero(t, oldSys.sb.Ledger().Documents)
	env.WaitSettled(t, 30*time.Second)
	delivered, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDelivered)
	require.NoError(t, err)
	require.Len(t, delivered, 4)
	for _, d := range delivered {
		require.Equal(t, successor, d.Authority)
	}
	// The move is on the timeline of each moved case.
	moved := 0
	for _, d := range delivered {
		for _, e := range readCase(t, hub.URL, env.Token, d.AppealID).Events {
			if e.Type == schemas.EventDeliveryRetargeted {
				moved++
			}
		}
	}
	require.Equal(t, 3, moved, "delivery_retargeted on the timeline of each moved case")
}

// refusalsSettle waits until the sandbox has refused nothing for quiet: no attempt is in flight.
func refusalsSettle(t *testing.T, sb *sandbox.Server, quiet time.Duration) {
	t.Helper()
	last, since := sb.Ledger().Refused, time.Now()
	require.Eventually(t, func() bool {
		if n := sb.Ledger().Refused; n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= quiet
	}, 15*time.Second, 20*time.Millisecond, "attempts started before the suspension end")
}
