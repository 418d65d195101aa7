package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// fakeRegistry records the last call and answers with a fixed entry.
type fakeRegistry struct {
	mu     sync.Mutex
	calls  []string
	meta   schemas.AuthorityChangeMeta
	filter schemas.AuthorityFilter
	patch  schemas.AuthorityPatch
	added  schemas.Authority
	body   string
	format string
	succ   string
}

var registryEntry = schemas.Authority{Code: "19863933", Name: "Мінцифри", Kind: "central", Territory: "UA80000000000000000",
	Topics: []string{"digital"}, Accepts: []string{"appeal"}, Adapter: "json", Mode: "push", Status: "active",
	Endpoint: "https://sev.example/in", Token: "s3cret", Calendar: "UA", Version: 3}

func (f *fakeRegistry) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeRegistry) ListAuthorities(_ context.Context, flt schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	f.record("list")
	f.filter = flt
	return schemas.AuthorityPage{Items: []schemas.Authority{registryEntry}, Total: 41}, nil
}

func (f *fakeRegistry) GetAuthority(_ context.Context, code string) (schemas.Authority, error) {
	f.record("get " + code)
	if code != registryEntry.Code {
		return schemas.Authority{}, schemas.Errorf(schemas.CodeNotFound, "no authority %s in the registry", code)
	}
	return registryEntry, nil
}

func (f *fakeRegistry) AddAuthority(_ context.Context, a schemas.Authority, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	f.record("add")
	f.added, f.meta = a, m
	if a.Kind == "ministry" {
		return a, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "the authority is not valid",
			Fields: []schemas.FieldProblem{{Pointer: "/kind", Message: "must be one of central, regional, local, non_state"}}}
	}
	return a, nil
}

// fakeScheduleFrom: a change effective from this time on is "scheduled" by the fake; a change
// made against another version than registryEntry's is a conflict.
var fakeScheduleFrom = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// outcome answers a change like the registry: a version conflict, a scheduled change, or the entry.
func (f *fakeRegistry) outcome(action string, a schemas.Authority, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	if m.IfVersion > 0 && m.IfVersion != registryEntry.Version {
		return schemas.Authority{}, nil, schemas.Errorf(schemas.CodeVersionConflict, "authority changed since version %d was read", m.IfVersion)
	}
	if !m.EffectiveAt.Before(fakeScheduleFrom) {
		p := schemas.PendingAuthorityChange{ID: 7, Code: registryEntry.Code, Action: action, EffectiveAt: m.EffectiveAt,
			CreatedBy: m.By, Reason: m.Reason}
		cur := registryEntry
		cur.Version++
		cur.Pending = []schemas.PendingAuthorityChange{p}
		return cur, &p, nil
	}
	a.Version++
	return a, nil, nil
}

func (f *fakeRegistry) UpdateAuthority(_ context.Context, code string, p schemas.AuthorityPatch, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	f.record("update " + code)
	f.patch, f.meta = p, m
	return f.outcome(schemas.ActionUpdate, p.Apply(registryEntry), m)
}

func (f *fakeRegistry) SuspendAuthority(_ context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	f.record("suspend " + code)
	f.meta = m
	return f.outcome(schemas.ActionSuspend, registryEntry, m)
}

func (f *fakeRegistry) ResumeAuthority(_ context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	f.record("resume " + code)
	f.meta = m
	return f.outcome(schemas.ActionResume, registryEntry, m)
}

func (f *fakeRegistry) CloseAuthority(_ context.Context, code, successor string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	f.record("close " + code)
	f.meta, f.succ = m, successor
	return f.outcome(schemas.ActionClose, registryEntry, m)
}

func (f *fakeRegistry) CancelAuthorityChange(_ context.Context, code string, id int64, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	f.record(fmt.Sprintf("cancel %s %d", code, id))
	f.meta = m
	if id != 7 {
		return schemas.Authority{}, schemas.Errorf(schemas.CodeNotFound, "no scheduled change %d of authority %s", id, code)
	}
	a, _, err := f.outcome(schemas.ActionCancel, registryEntry, m)
	return a, err
}

func (f *fakeRegistry) AuthorityChanges(_ context.Context, code string) ([]schemas.AuthorityChange, error) {
	f.record("history " + code)
	after := registryEntry
	return []schemas.AuthorityChange{{ID: 1, Code: code, Action: "add", ChangedBy: "op-1", After: &after}}, nil
}

func (f *fakeRegistry) ImportAuthorities(_ context.Context, format string, body []byte, m schemas.AuthorityChangeMeta) (int, error) {
	f.record("import")
	f.format, f.body, f.meta = format, string(body), m
	return 2, nil
}

func (f *fakeRegistry) Directory(_ context.Context, flt schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	f.record("directory")
	f.filter = flt
	return schemas.AuthorityPage{Items: []schemas.Authority{registryEntry}, Total: 1}, nil
}

func (f *fakeRegistry) lastCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.calls...)
}

// fakeInbox is an AuthorityAPI with an empty inbox.
type fakeInbox struct{}

func (fakeInbox) Inbox(context.Context, string, int) ([]schemas.InboxItem, error) { return nil, nil }
func (fakeInbox) InboxDocument(context.Context, string, string) (string, []byte, error) {
	return "application/json", []byte("{}"), nil
}
func (fakeInbox) AckInbox(context.Context, string, string) error { return nil }
func (fakeInbox) ReceiveMessages(context.Context, string, string, []byte) ([]schemas.MessageResult, error) {
	return nil, nil
}

func registryHandler(t *testing.T) (http.Handler, *fakeRegistry) {
	t.Helper()
	reg := &fakeRegistry{}
	h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{},
		Authorities: fakeInbox{}, Registry: reg}, zaptest.NewLogger(t))
	return h, reg
}

func serve(h http.Handler, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var operatorRoutes = []struct{ method, path, body string }{
	{http.MethodGet, "/v1/authorities", ""},
	{http.MethodPost, "/v1/authorities", `{"code":"19863933"}`},
	{http.MethodGet, "/v1/authorities/19863933", ""},
	{http.MethodPatch, "/v1/authorities/19863933", `{"name":"x"}`},
	{http.MethodPost, "/v1/authorities/19863933/suspend", ""},
	{http.MethodPost, "/v1/authorities/19863933/resume", ""},
	{http.MethodPost, "/v1/authorities/19863933/close", ""},
	{http.MethodGet, "/v1/authorities/19863933/history", ""},
	{http.MethodDelete, "/v1/authorities/19863933/pending/7", ""},
}

func TestRegistryNeedsAnOperator(t *testing.T) {
	t.Parallel()
	h, reg := registryHandler(t)
	for _, rt := range operatorRoutes {
		w := serve(h, rt.method, rt.path, "", "application/json", rt.body)
		requireProblem(t, w, http.StatusUnauthorized, schemas.CodeUnauthorized)
		for _, token := range []string{"portal-token", "authority-token"} {
			w := serve(h, rt.method, rt.path, token, "application/json", rt.body)
			requireProblem(t, w, http.StatusForbidden, schemas.CodeForbidden)
		}
		w = serve(h, rt.method, rt.path, "operator-token", "application/json", rt.body)
		require.Less(t, w.Code, 300, "%s %s: %s", rt.method, rt.path, w.Body)
	}
	require.Len(t, reg.lastCalls(), len(operatorRoutes), "only operators reached the registry")

	// The authority routes under the same prefix still work.
	w := serve(h, http.MethodGet, "/v1/authorities/19863933/inbox", "authority-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = serve(h, http.MethodPost, "/v1/authorities/19863933/inbox/0190f3c4-0000-7000-8000-000000000001/ack", "authority-token", "", "")
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	requireProblem(t, serve(h, http.MethodDelete, "/v1/authorities/19863933", "operator-token", "", ""),
		http.StatusMethodNotAllowed, schemas.CodeMethodNotAllowed)
}

func TestRegistryOperatorCalls(t *testing.T) {
	t.Parallel()
	h, reg := registryHandler(t)

	w := serve(h, http.MethodGet, "/v1/authorities?q=%D0%BC%D1%96%D0%BD&territory=UA05000000000000000&kind=local&topic=roads&status=active&parent=00000431&page=3&per_page=5",
		"operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, schemas.AuthorityFilter{Query: "мін", Territory: "UA05000000000000000", Kind: "local", Topic: "roads",
		Status: "active", Parent: "00000431", Offset: 10, Limit: 5}, reg.filter)
	var page struct {
		Items   []map[string]any `json:"items"`
		Total   int              `json:"total"`
		Page    int              `json:"page"`
		PerPage int              `json:"per_page"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Equal(t, 41, page.Total)
	require.Equal(t, 3, page.Page)
	require.Equal(t, 5, page.PerPage)
	require.NotContains(t, w.Body.String(), "s3cret", "tokens are never shown")
	for _, q := range []string{"page=0", "per_page=201", "per_page=x"} {
		requireProblem(t, serve(h, http.MethodGet, "/v1/authorities?"+q, "operator-token", "", ""), http.StatusBadRequest, schemas.CodeSchemaViolation)
	}

	w = serve(h, http.MethodPost, "/v1/authorities", "operator-token", "application/json",
		`{"code":"44444442","name":"Агентство","kind":"central","territory":"UA80000000000000000","topics":["*"],"token":"t0k","reason":"new","effective_at":"2027-01-01T00:00:00Z"}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.Equal(t, "/v1/authorities/44444442", w.Header().Get("Location"))
	require.Equal(t, "t0k", reg.added.Token, "a token may be written")
	require.NotContains(t, w.Body.String(), "t0k", "but never read")
	require.Equal(t, []string{"*"}, reg.added.Topics)
	require.Equal(t, schemas.AuthorityChangeMeta{By: "op-1", Reason: "new", EffectiveAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, reg.meta)

	p := requireProblem(t, serve(h, http.MethodPost, "/v1/authorities", "operator-token", "application/json", `{"code":"44444442","kind":"ministry"}`),
		http.StatusBadRequest, schemas.CodeSchemaViolation)
	require.Equal(t, []schemas.FieldProblem{{Pointer: "/kind", Message: "must be one of central, regional, local, non_state"}}, p.Errors)
	p = requireProblem(t, serve(h, http.MethodPost, "/v1/authorities", "operator-token", "application/json", `{"code":"1","colour":"red"}`),
		http.StatusBadRequest, schemas.CodeSchemaViolation)
	require.Equal(t, []schemas.FieldProblem{{Pointer: "/colour", Message: "unknown field"}}, p.Errors)
	requireProblem(t, serve(h, http.MethodPost, "/v1/authorities", "operator-token", "application/json", `{"code":`),
		http.StatusBadRequest, schemas.CodeMalformedJSON)
	requireProblem(t, serve(h, http.MethodPost, "/v1/authorities", "operator-token", "application/json", `{} {}`),
		http.StatusBadRequest, schemas.CodeMalformedJSON)
	requireProblem(t, serve(h, http.MethodPost, "/v1/authorities", "operator-token", "text/plain", `x`),
		http.StatusUnsupportedMediaType, schemas.CodeUnsupportedMediaType)

	w = serve(h, http.MethodPost, "/v1/authorities?reason=seed", "operator-token", "text/csv; charset=utf-8", "code,name\n")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"imported":2}`, w.Body.String())
	require.Equal(t, "csv", reg.format)
	require.Equal(t, "seed", reg.meta.Reason)

	w = serve(h, http.MethodPatch, "/v1/authorities/19863933", "operator-token", "application/merge-patch+json", `{"short_name":"МЦ","accepts":[]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "МЦ", *reg.patch.ShortName)
	require.Equal(t, []string{}, *reg.patch.Accepts)
	require.Nil(t, reg.patch.Name)

	w = serve(h, http.MethodPost, "/v1/authorities/19863933/close", "operator-token", "application/json", `{"successor":"00000431","reason":"merged"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "00000431", reg.succ)
	require.Equal(t, "merged", reg.meta.Reason)
	requireProblem(t, serve(h, http.MethodPost, "/v1/authorities/19863933/suspend", "operator-token", "application/json", `{"successor":"00000431"}`),
		http.StatusBadRequest, schemas.CodeSchemaViolation)

	requireProblem(t, serve(h, http.MethodGet, "/v1/authorities/99999997", "operator-token", "", ""), http.StatusNotFound, schemas.CodeNotFound)
	w = serve(h, http.MethodGet, "/v1/authorities/19863933/history", "operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), `"changed_by":"op-1"`)
	require.NotContains(t, w.Body.String(), "s3cret")
}

func TestDirectoryIsPublic(t *testing.T) {
	t.Parallel()
	h, reg := registryHandler(t)
	w := serve(h, http.MethodGet, "/v1/directory?q=%D0%92%D1%96%D0%BD%D0%BD%D0%B8%D1%86&territory=UA05000000000000000&kind=local&topic=roads&page=2&per_page=3", "", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, schemas.AuthorityFilter{Query: "Вінниц", Territory: "UA05000000000000000", Kind: "local", Topic: "roads",
		Offset: 3, Limit: 3}, reg.filter)
	var page struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Equal(t, 1, page.Total)
	require.Len(t, page.Items, 1)
	for _, hidden := range []string{"endpoint", "adapter", "mode", "token", "status", "tls_client"} {
		require.NotContains(t, page.Items[0], hidden, "the directory shows no connection details")
	}
	require.Equal(t, "19863933", page.Items[0]["code"])
	requireProblem(t, serve(h, http.MethodGet, "/v1/directory?per_page=0", "", "", ""), http.StatusBadRequest, schemas.CodeSchemaViolation)

	// Without a registry the routes are absent.
	bare := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}}, zaptest.NewLogger(t))
	requireProblem(t, serve(bare, http.MethodGet, "/v1/directory", "", "", ""), http.StatusNotFound, schemas.CodeNotFound)
}
