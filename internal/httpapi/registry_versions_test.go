package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// serveWith is serve with extra request headers.
func serveWith(h http.Handler, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer operator-token")
	r.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRegistryVersionsAndETags(t *testing.T) {
	t.Parallel()
	h, reg := registryHandler(t)
	const path = "/v1/authorities/19863933"

	w := serveWith(h, http.MethodGet, path, "", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, `"v3"`, w.Header().Get("ETag"))
	var got map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.EqualValues(t, 3, got["version"])
	require.Equal(t, "UA", got["calendar"])

	// The version the change names: If-Match, the body's version, both (agreeing), or none.
	for _, tc := range []struct {
		name, ifMatch, body string
		want                int64
	}{
		{"if-match", `"v3"`, `{"name":"x"}`, 3},
		{"body version", "", `{"name":"x","version":3}`, 3},
		{"both", `"v3"`, `{"name":"x","version":3}`, 3},
		{"any", "*", `{"name":"x"}`, 0},
		{"none", "", `{"name":"x"}`, 0},
	} {
		w := serveWith(h, http.MethodPatch, path, tc.body, map[string]string{"If-Match": tc.ifMatch})
		require.Equal(t, http.StatusOK, w.Code, "%s: %s", tc.name, w.Body.String())
		require.Equal(t, tc.want, reg.meta.IfVersion, tc.name)
		require.Equal(t, `"v4"`, w.Header().Get("ETag"), "%s: the changed entry's version", tc.name)
	}

	// Another version than the entry's: 412 version_conflict, on every kind of change.
	for _, rt := range []struct{ method, path, body string }{
		{http.MethodPatch, path, `{"name":"x"}`},
		{http.MethodPost, path + "/suspend", ``},
		{http.MethodPost, path + "/resume", `{}`},
		{http.MethodPost, path + "/close", `{"successor":"00000431"}`},
		{http.MethodDelete, path + "/pending/7", ``},
	} {
		requireProblem(t, serveWith(h, rt.method, rt.path, rt.body, map[string]string{"If-Match": `"v2"`}),
			http.StatusPreconditionFailed, schemas.CodeVersionConflict)
	}
	requireProblem(t, serveWith(h, http.MethodPost, path+"/suspend", `{"version":2}`, nil),
		http.StatusPreconditionFailed, schemas.CodeVersionConflict)

	// Malformed or contradictory preconditions are refused before anything is changed.
	calls := len(reg.lastCalls())
	for _, tc := range []struct{ ifMatch, body string }{
		{`v3`, `{}`}, {`W/"v3"`, `{}`}, {`"x"`, `{}`}, {`"v0"`, `{}`}, {`"v3", "v4"`, `{}`},
		{`"v3"`, `{"version":4}`}, {``, `{"version":-1}`},
	} {
		requireProblem(t, serveWith(h, http.MethodPatch, path, tc.body, map[string]string{"If-Match": tc.ifMatch}),
			http.StatusBadRequest, schemas.CodeSchemaViolation)
	}
	require.Len(t, reg.lastCalls(), calls)
	requireProblem(t, serveWith(h, http.MethodPost, "/v1/authorities", `{"code":"19863933","version":3}`, nil),
		http.StatusBadRequest, schemas.CodeSchemaViolation)
}

func TestRegistryScheduledChanges(t *testing.T) {
	t.Parallel()
	h, reg := registryHandler(t)
	const path = "/v1/authorities/19863933"

	// A change the registry schedules is answered 202 with the entry as it stands and its pending list.
	w := serveWith(h, http.MethodPost, path+"/suspend", `{"reason":"move","effective_at":"2027-03-01T00:00:00Z"}`, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	var a schemas.Authority
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &a))
	require.Equal(t, "active", a.Status)
	require.Len(t, a.Pending, 1)
	require.Equal(t, int64(7), a.Pending[0].ID)
	require.Equal(t, time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), reg.meta.EffectiveAt)
	w = serveWith(h, http.MethodPatch, path, `{"it_contact":"it@example","effective_at":"2027-03-01T00:00:00Z"}`, nil)
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	w = serveWith(h, http.MethodPost, path+"/resume", `{"effective_at":"2026-03-01T00:00:00Z"}`, nil)
	require.Equal(t, http.StatusOK, w.Code, "applied at once: %s", w.Body.String())

	// Cancelling: by id, with a reason; an unknown or malformed id is not found.
	w = serveWith(h, http.MethodDelete, path+"/pending/7?reason=not+needed", "", map[string]string{"If-Match": `"v3"`})
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, `"v4"`, w.Header().Get("ETag"))
	require.Equal(t, schemas.AuthorityChangeMeta{By: "op-1", Reason: "not needed", IfVersion: 3}, reg.meta)
	require.Contains(t, reg.lastCalls(), "cancel 19863933 7")
	requireProblem(t, serveWith(h, http.MethodDelete, path+"/pending/8", "", nil), http.StatusNotFound, schemas.CodeNotFound)
	calls := len(reg.lastCalls())
	for _, id := range []string{"x", "0", "-1", "99999999999999999999"} {
		requireProblem(t, serveWith(h, http.MethodDelete, path+"/pending/"+id, "", nil), http.StatusNotFound, schemas.CodeNotFound)
	}
	require.Len(t, reg.lastCalls(), calls, "a malformed id never reaches the registry")
}

func TestRegistryDeliverySettingsFields(t *testing.T) {
	t.Parallel()
	h, reg := registryHandler(t)
	const path = "/v1/authorities/19863933"
	w := serveWith(h, http.MethodPatch, path,
		`{"subsystem":"sed.kyiv-1","calendar":"UA","concurrency":4,"request_timeout":"45s"}`, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "sed.kyiv-1", *reg.patch.Subsystem)
	require.Equal(t, "UA", *reg.patch.Calendar)
	require.Equal(t, 4, *reg.patch.Concurrency)
	require.Equal(t, schemas.Duration(45*time.Second), *reg.patch.RequestTimeout)
	require.Contains(t, w.Body.String(), `"request_timeout":"45s"`)
	require.Contains(t, w.Body.String(), `"concurrency":4`)

	// Back to the hub's defaults.
	w = serveWith(h, http.MethodPatch, path, `{"concurrency":0,"request_timeout":""}`, nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Zero(t, *reg.patch.Concurrency)
	require.Zero(t, *reg.patch.RequestTimeout)
	require.NotContains(t, w.Body.String(), `"request_timeout"`)

	p := requireProblem(t, serveWith(h, http.MethodPatch, path, `{"request_timeout":"2 sec"}`, nil),
		http.StatusBadRequest, schemas.CodeSchemaViolation)
	require.Equal(t, []schemas.FieldProblem{{Pointer: "/request_timeout", Message: "must be a duration such as 500ms, 30s or 2m"}}, p.Errors)
	p = requireProblem(t, serveWith(h, http.MethodPatch, path, `{"request_timeout":45}`, nil),
		http.StatusBadRequest, schemas.CodeSchemaViolation)
	require.Equal(t, "/request_timeout", p.Errors[0].Pointer)
	p = requireProblem(t, serveWith(h, http.MethodPatch, path, `{"concurrency":"4"}`, nil),
		http.StatusBadRequest, schemas.CodeSchemaViolation)
	require.Equal(t, "/concurrency", p.Errors[0].Pointer)
}
