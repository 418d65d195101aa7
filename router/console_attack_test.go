package router_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/console"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
)

// TestConsoleFormsRefuseBadInput: the console's forms — sign-in, redrive and discard of dead
// deliveries, the registry edit — answer bad input with a 4xx page, never a 5xx, and store nothing
// of it: invalid UTF-8, NUL and other control characters, SQL injection strings (taken literally),
// a form over the size limit, unknown or repeated ids. The dead delivery stays dead, the registry
// entry keeps its version, and no operator action is recorded for any refused request.
func TestConsoleFormsRefuseBadInput(t *testing.T) {
	t.Parallel()
	const code = "85015894"
	down := newSystem(t, "console-attack", sandbox.Options{FailStatus: 422})
	env := hubtest.NewEnv(t, map[string]string{code: down.endpoint(code)}, func(c *config.Config) {
		c.Console.AllowLoopbackHTTP = true
	})
	hub := env.Start(t)
	ctx := context.Background()
	const password = "a long enough password"
	hash, err := console.HashPassword(password)
	require.NoError(t, err)
	require.NoError(t, env.Store.AddOperator(ctx, store.Operator{Login: "admin1", Role: store.RoleAdmin, PasswordHash: hash}, "test", time.Now().UTC()))
	env.MustSubmit(t, hub.URL, "console-attack-1", hubtest.Submission(1, 1024, code))
	env.WaitSettled(t, time.Minute)
	dead, _, err := env.Store.DeadDeliveries(ctx, store.DeadFilter{})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	id := dead[0].ID

	// Sign-in with bad logins: refused, no session.
	anon := newConsoleClient(t, hub.URL)
	for _, login := range []string{"adm\x00in1", "adm\xffin1", "' OR 1=1--", "admin1'; DROP TABLE operators;--", strings.Repeat("a", 100000)} {
		status, body := anon.do(http.MethodPost, "/signin", url.Values{"csrf": {anon.csrf("/signin")}, "login": {login}, "password": {password}})
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge}, status, "%.200s", body)
	}
	status, _ := anon.do(http.MethodGet, "/queues", nil)
	require.Equal(t, http.StatusSeeOther, status, "no session was started")

	admin := newConsoleClient(t, hub.URL)
	admin.signIn("admin1", password)
	eventsBefore, err := env.Store.OperatorEvents(ctx, 1000)
	require.NoError(t, err)
	a, err := hub.GetAuthority(ctx, code)
	require.NoError(t, err)
	registryForm := func(field, value string) url.Values {
		f := url.Values{"csrf": {admin.csrf("/registry/" + code)}, "version": {strconv.FormatInt(a.Version, 10)}, "name": {a.Name},
			"endpoint": {a.Endpoint}, "mode": {a.Mode}, "status": {a.Status}, "topics": {strings.Join(a.Topics, ",")},
			"accepts": {strings.Join(a.Accepts, ",")}, "reason": {"checking bad input"}}
		f.Set(field, value)
		return f
	}
	deadForm := func(ids []string, reason string) url.Values {
		return url.Values{"csrf": {admin.csrf("/dead")}, "id": ids, "reason": {reason}}
	}
	big := strings.Repeat("x", 2<<20)
	for _, tc := range []struct {
		name string
		path string
		form url.Values
		none bool // answered like any action that matched nothing: "0 of 1" (303 back to the list)
	}{
		{"redrive, NUL in the reason", "/dead/redrive", deadForm([]string{id}, "fixed\x00"), false},
		{"redrive, invalid UTF-8 in the reason", "/dead/redrive", deadForm([]string{id}, "fixed \xff"), false},
		{"redrive, escape character in the reason", "/dead/redrive", deadForm([]string{id}, "fixed \x1b[31m"), false},
		{"redrive, NUL in the id", "/dead/redrive", deadForm([]string{id + "\x00"}, "fixed"), false},
		{"redrive, SQL in the id", "/dead/redrive", deadForm([]string{"' OR 1=1--"}, "fixed"), true},
		{"redrive, unknown id", "/dead/redrive", deadForm([]string{"0191d7a8-0000-7000-8000-000000000000"}, "fixed"), true},
		{"discard, SQL in the id", "/dead/discard", deadForm([]string{"x'); DELETE FROM deliveries;--"}, "spam"), true},
		{"redrive, 9 KiB reason", "/dead/redrive", deadForm([]string{id}, strings.Repeat("r", 9<<10)), false},
		{"discard, form over the limit", "/dead/discard", deadForm([]string{id}, big), false},
		{"registry, NUL in the name", "/registry/" + code, registryForm("name", "Рада\x00"), false},
		{"registry, invalid UTF-8 in the name", "/registry/" + code, registryForm("name", "Ра\xffда"), false},
		{"registry, C1 control in the name", "/registry/" + code, registryForm("name", "Ра\u0085да"), false},
		{"registry, SQL in the version", "/registry/" + code, registryForm("version", "1 OR 1=1"), false},
		{"registry, SQL in the endpoint", "/registry/" + code, registryForm("endpoint", "http://x/'; DROP TABLE authorities;--"), false},
		{"registry, huge concurrency", "/registry/" + code, registryForm("concurrency", strings.Repeat("9", 400)), false},
		{"registry, bad request timeout", "/registry/" + code, registryForm("request_timeout", "-5s"), false},
		{"registry, form over the limit", "/registry/" + code, registryForm("name", big), false},
	} {
		status, body := admin.do(http.MethodPost, tc.path, tc.form)
		if tc.none {
			require.Equal(t, http.StatusSeeOther, status, "%s: %.300s", tc.name, body)
			continue
		}
		require.GreaterOrEqual(t, status, 400, "%s: %.300s", tc.name, body)
		require.Less(t, status, 500, "%s: never a 5xx: %.300s", tc.name, body)
	}
	still, _, err := env.Store.DeadDeliveries(ctx, store.DeadFilter{})
	require.NoError(t, err)
	require.Len(t, still, 1, "the dead delivery is neither redriven nor discarded")
	after, err := hub.GetAuthority(ctx, code)
	require.NoError(t, err)
	require.Equal(t, a.Version, after.Version, "the registry entry is unchanged")
	require.Equal(t, a.Name, after.Name)
	eventsAfter, err := env.Store.OperatorEvents(ctx, 1000)
	require.NoError(t, err)
	require.Len(t, eventsAfter, len(eventsBefore), "no operator action recorded for a refused request")

	// The session still works: the refusals did not break anything.
	status, _ = admin.do(http.MethodGet, "/queues", nil)
	require.Equal(t, http.StatusOK, status)
}
