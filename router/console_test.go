package router_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/audit"
	"appealhub/internal/console"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
	"appealhub/schemas"
)

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleClient is an operator's browser without JavaScript: a cookie jar, no redirects followed.
type consoleClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newConsoleClient(t *testing.T, hubURL string) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &consoleClient{t: t, base: hubURL + "/console", hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *consoleClient) do(method, path string, form url.Values) (int, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(raw)
}

// csrf opens path and returns the CSRF token of its forms.
func (c *consoleClient) csrf(path string) string {
	c.t.Helper()
	status, body := c.do(http.MethodGet, path, nil)
	require.Equal(c.t, http.StatusOK, status, body)
	m := consoleCSRF.FindStringSubmatch(body)
	require.NotNil(c.t, m, "no csrf token on %s", path)
	return m[1]
}

func (c *consoleClient) signIn(login, password string) {
	c.t.Helper()
	status, body := c.do(http.MethodPost, "/signin", url.Values{"csrf": {c.csrf("/signin")}, "login": {login}, "password": {password}})
	require.Equal(c.t, http.StatusSeeOther, status, body)
}

// TestConsoleActionsAreSealedInTheAuditChain: through the console over HTTP, an operator signs in,
// redrives a dead delivery, an admin edits a registry entry, both sign out; each action is an
// event with its actor and reason, the chain seals them all and verifies, and a viewer may do none
// of it.
func TestConsoleActionsAreSealedInTheAuditChain(t *testing.T) {
	t.Parallel()
	const code = "85015894" // Вінницька ОДА: a valid EDRPOU code, described below
	down := newSystem(t, "down", sandbox.Options{FailStatus: 422})
	env := hubtest.NewEnv(t, map[string]string{code: down.endpoint(code)}, func(c *config.Config) {
		c.Console.AllowLoopbackHTTP = true
	})
	hub := env.Start(t)
	ctx := context.Background()
	described, err := env.Store.RegistryAuthority(ctx, code)
	require.NoError(t, err)
	described.Kind, described.Territory, described.Topics = schemas.AuthorityKindRegional, "UA05000000000000000", []string{schemas.AnyTopic}
	described.Accepts = []string{string(schemas.CaseAppeal)}
	_, err = env.Store.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionUpdate, ChangedBy: "test", After: &described}})
	require.NoError(t, err)
	const password = "a long enough password"
	hash, err := console.HashPassword(password)
	require.NoError(t, err)
	for login, role := range map[string]string{"oper1": store.RoleOperator, "admin1": store.RoleAdmin, "viewer1": store.RoleViewer} {
		require.NoError(t, env.Store.AddOperator(ctx, store.Operator{Login: login, Role: role, PasswordHash: hash}, "test", time.Now().UTC()))
	}
	r := env.MustSubmit(t, hub.URL, "console-1", hubtest.Submission(1, 1024, code))
	env.WaitSettled(t, time.Minute)
	dead, _, err := env.Store.DeadDeliveries(ctx, store.DeadFilter{})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	id := dead[0].ID

	viewer := newConsoleClient(t, hub.URL)
	viewer.signIn("viewer1", password)
	status, _ := viewer.do(http.MethodPost, "/dead/redrive", url.Values{"csrf": {viewer.csrf("/dead")}, "id": {id}, "reason": {"x"}})
	require.Equal(t, http.StatusForbidden, status)
	status, _ = viewer.do(http.MethodPost, "/registry/"+code, url.Values{"csrf": {viewer.csrf("/registry/" + code)},
		"name": {"Renamed"}, "reason": {"x"}})
	require.Equal(t, http.StatusForbidden, status)

	oper := newConsoleClient(t, hub.URL)
	oper.signIn("oper1", password)
	status, body := oper.do(http.MethodPost, "/dead/redrive", url.Values{"csrf": {oper.csrf("/dead")}, "id": {id}})
	require.Equal(t, http.StatusBadRequest, status, "a reason is required: %s", body)
	status, _ = oper.do(http.MethodPost, "/dead/redrive", url.Values{"id": {id}, "reason": {"no token"}})
	require.Equal(t, http.StatusForbidden, status, "no CSRF token")
	require.NoError(t, down.sb.SetOptions(sandbox.Options{}))
	status, body = oper.do(http.MethodPost, "/dead/redrive", url.Values{"csrf": {oper.csrf("/dead")}, "id": {id},
		"reason": {"422 fixed by the authority"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	env.WaitSettled(t, time.Minute)
	trace, err := env.Store.TraceCase(ctx, r.TrackingNumber)
	require.NoError(t, err)
	require.Equal(t, schemas.StatusDelivered, trace.Case.Deliveries[0].Status)

	admin := newConsoleClient(t, hub.URL)
	admin.signIn("admin1", password)
	token := admin.csrf("/registry/" + code)
	a, err := hub.GetAuthority(ctx, code)
	require.NoError(t, err)
	form := url.Values{"csrf": {token}, "version": {strconv.FormatInt(a.Version, 10)}, "name": {"Renamed authority"}, "endpoint": {a.Endpoint},
		"mode": {a.Mode}, "status": {a.Status}, "topics": {strings.Join(a.Topics, ",")}, "accepts": {strings.Join(a.Accepts, ",")},
		"reason": {"official name changed"}}
	status, body = admin.do(http.MethodPost, "/registry/"+code, form)
	require.Equal(t, http.StatusSeeOther, status, body)
	a, err = hub.GetAuthority(ctx, code)
	require.NoError(t, err)
	require.Equal(t, "Renamed authority", a.Name)
	status, _ = admin.do(http.MethodPost, "/registry/"+code, form)
	require.Equal(t, http.StatusConflict, status, "the form's version is stale")

	for _, c := range []*consoleClient{oper, admin} {
		status, _ := c.do(http.MethodPost, "/signout", url.Values{"csrf": {c.csrf("/queues")}})
		require.Equal(t, http.StatusSeeOther, status)
	}

	// Every action is an event with its actor (and reason), newest first.
	events, err := env.Store.OperatorEvents(ctx, 100)
	require.NoError(t, err)
	var got []string
	for _, e := range events {
		var d store.OperatorDetail
		require.NoError(t, json.Unmarshal([]byte(e.Detail), &d))
		got = append(got, string(e.Type)+" "+d.Actor+" "+d.Action+" "+d.Reason)
	}
	require.Contains(t, got, "operator_signed_in oper1  ")
	require.Contains(t, got, "operator_signed_in viewer1  ")
	require.Contains(t, got, "operator_action admin1 registry_update official name changed")
	require.Contains(t, got, "operator_signed_out oper1  ")
	require.Contains(t, got, "operator_signed_out admin1  ")
	require.Contains(t, got, "operator_denied viewer1 dead_redrive ", "a refused action is recorded too")
	require.Contains(t, got, "operator_denied viewer1 registry_update ")
	var redriven []schemas.Event
	for _, e := range trace.Case.Events {
		if e.Type == store.EventDeliveryRedriven {
			redriven = append(redriven, e)
		}
	}
	require.Len(t, redriven, 1)
	require.JSONEq(t, `{"actor":"oper1","reason":"422 fixed by the authority"}`, redriven[0].Detail)

	// The chain seals them, the case-less ones included, and verifies. The background loops (the
	// deadline keeper) may add an event while this looks: then it looks again.
	deadline := time.Now().Add(time.Minute)
	for {
		before, err := env.Store.Totals(ctx)
		require.NoError(t, err)
		n, err := env.Store.UnsealedEvents(ctx)
		require.NoError(t, err)
		require.False(t, time.Now().After(deadline), "%d events unsealed", n)
		if n > 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		report, err := audit.Verify(ctx, env.Store, nil)
		require.NoError(t, err)
		require.True(t, report.Intact(), "%+v", report.Breaks)
		after, err := env.Store.Totals(ctx)
		require.NoError(t, err)
		if before.Events == after.Events {
			require.Equal(t, int64(after.Events), report.Links, "every event is a link of the chain")
			return
		}
	}
}
