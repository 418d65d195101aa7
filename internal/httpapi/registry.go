package httpapi

// The authority registry over HTTP: the operator API (/v1/authorities, operator tokens only: portal
// and authority tokens get 403) and the public directory the portal shows citizens (/v1/directory,
// no token). The registry's own routes sit beside the authority routes of authority.go under
// /v1/authorities/{code}/…; their last segments differ, so the mux patterns never conflict.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"appealhub/schemas"
)

// Registry is the authority registry (router/registry.Service behind router.Hub). Every change
// takes who makes it (the operator's client id), when it takes effect, why, and the version it was
// made against (0: none named). A change of an existing entry whose effective time is later than
// now is scheduled: the entry is returned as it stands, with the scheduled change. Refusals are
// *schemas.Error (schema_violation with field problems, not_found, version_conflict); an error
// wrapping schemas.ErrUnavailable is answered 503.
type Registry interface {
	ListAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error)
	// GetAuthority returns an entry with its version and its scheduled changes.
	GetAuthority(ctx context.Context, code string) (schemas.Authority, error)
	AddAuthority(ctx context.Context, a schemas.Authority, m schemas.AuthorityChangeMeta) (schemas.Authority, error)
	UpdateAuthority(ctx context.Context, code string, p schemas.AuthorityPatch, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error)
	SuspendAuthority(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error)
	ResumeAuthority(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error)
	CloseAuthority(ctx context.Context, code, successor string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error)
	// CancelAuthorityChange withdraws the scheduled change id of code and returns the entry.
	CancelAuthorityChange(ctx context.Context, code string, id int64, m schemas.AuthorityChangeMeta) (schemas.Authority, error)
	AuthorityChanges(ctx context.Context, code string) ([]schemas.AuthorityChange, error)
	// ImportAuthorities applies a CSV or YAML file (format "csv" or "yaml"), all rows or none.
	ImportAuthorities(ctx context.Context, format string, body []byte, m schemas.AuthorityChangeMeta) (int, error)
	// Directory lists active authorities that accept submissions.
	Directory(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error)
}

// Paging of the registry listings.
const (
	DefaultPerPage = 20
	MaxPerPage     = 200
)

// registerRegistry adds the registry routes (called by NewHandler when Deps.Registry is set).
func (h *handler) registerRegistry() {
	h.mux.HandleFunc("GET /v1/authorities", h.listAuthorities)
	h.mux.HandleFunc("POST /v1/authorities", h.addAuthority)
	h.mux.HandleFunc("GET /v1/authorities/{code}", h.getAuthority)
	h.mux.HandleFunc("PATCH /v1/authorities/{code}", h.updateAuthority)
	h.mux.HandleFunc("POST /v1/authorities/{code}/suspend", h.changeStatus(schemas.ActionSuspend))
	h.mux.HandleFunc("POST /v1/authorities/{code}/resume", h.changeStatus(schemas.ActionResume))
	h.mux.HandleFunc("POST /v1/authorities/{code}/close", h.changeStatus(schemas.ActionClose))
	h.mux.HandleFunc("GET /v1/authorities/{code}/history", h.authorityHistory)
	h.mux.HandleFunc("DELETE /v1/authorities/{code}/pending/{id}", h.cancelAuthorityChange)
	h.mux.HandleFunc("GET /v1/directory", h.directory)
}

// authenticateOperator answers 401, 403 or 503 itself and returns false, or returns the operator.
func (h *handler) authenticateOperator(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := h.authenticate(w, r)
	if ok && p.Kind != KindOperator {
		writeProblem(w, r, schemas.CodeForbidden, "only operator clients may manage the authority registry", nil)
		return Principal{}, false
	}
	return p, ok
}

// changeRequest is what every change may say besides its fields: why, and when it takes effect.
type changeRequest struct {
	Reason      string     `json:"reason,omitempty"`
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
}

func (c changeRequest) meta(p Principal) schemas.AuthorityChangeMeta {
	m := schemas.AuthorityChangeMeta{By: p.ClientID, Reason: c.Reason}
	if c.EffectiveAt != nil {
		m.EffectiveAt = *c.EffectiveAt
	}
	return m
}

// versionedChange is a change of an existing entry: it may also name the version it was made
// against (as If-Match does).
type versionedChange struct {
	changeRequest
	Version int64 `json:"version,omitempty"`
}

// meta returns the change's meta, with the version of If-Match or of the body, or answers itself.
func (c versionedChange) meta(w http.ResponseWriter, r *http.Request, p Principal) (schemas.AuthorityChangeMeta, bool) {
	m := c.changeRequest.meta(p)
	v, ok := ifVersion(w, r, c.Version)
	m.IfVersion = v
	return m, ok
}

// decodeStrict decodes one JSON object with no unknown fields into v, or answers itself.
func decodeStrict(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := schemas.CheckJSON(body); err != nil {
		perr, _ := errors.AsType[*schemas.Error](err)
		if perr == nil {
			perr = &schemas.Error{Code: schemas.CodeMalformedJSON, Detail: "the body is not one JSON object"}
		}
		writeProblem(w, r, perr.Code, perr.Detail, perr.Fields)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		_, badDuration := errors.AsType[*schemas.DurationError](err)
		switch {
		case errors.As(err, &typeErr):
			writeProblem(w, r, schemas.CodeSchemaViolation, "a field has the wrong type",
				[]schemas.FieldProblem{{Pointer: fieldPointer(typeErr.Field), Message: "wrong type"}})
		case badDuration:
			// Duration is the type of request_timeout only.
			writeProblem(w, r, schemas.CodeSchemaViolation, "a field has a bad value",
				[]schemas.FieldProblem{{Pointer: "/request_timeout", Message: err.Error()}})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			writeProblem(w, r, schemas.CodeSchemaViolation, "unknown field",
				[]schemas.FieldProblem{{Pointer: "/" + field, Message: "unknown field"}})
		default:
			writeProblem(w, r, schemas.CodeMalformedJSON, "the body is not one JSON object", nil)
		}
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeProblem(w, r, schemas.CodeMalformedJSON, "data after the JSON object", nil)
		return false
	}
	if pointer, bad := unknownKey(body, v); bad {
		writeProblem(w, r, schemas.CodeSchemaViolation, "unknown field (names are case-sensitive)",
			[]schemas.FieldProblem{{Pointer: pointer, Message: "unknown field"}})
		return false
	}
	return true
}

// fieldPointer turns the field path of a json.UnmarshalTypeError ("AuthorityPatch.topics") into a
// JSON pointer ("/topics"): the names of embedded Go structs, which start with a capital, are not
// in the document.
func fieldPointer(path string) string {
	var parts []string
	for p := range strings.SplitSeq(path, ".") {
		if p != "" && !unicode.IsUpper(rune(p[0])) {
			parts = append(parts, p)
		}
	}
	return "/" + strings.Join(parts, "/")
}

// writeAuthority answers with one registry entry (its token is never shown) and its version as
// the ETag.
func writeAuthority(w http.ResponseWriter, status int, a schemas.Authority) {
	w.Header().Set("ETag", a.ETag())
	writeJSON(w, status, "application/json", a)
}

// writeChanged answers a change: 200 with the entry when it was applied, 202 with the entry as it
// stands (its Pending lists the new change) when it was scheduled.
func writeChanged(w http.ResponseWriter, a schemas.Authority, scheduled *schemas.PendingAuthorityChange) {
	status := http.StatusOK
	if scheduled != nil {
		status = http.StatusAccepted
	}
	writeAuthority(w, status, a)
}

// pageParams reads ?page= (from 1) and ?per_page= (1 to MaxPerPage), or answers itself.
func pageParams(w http.ResponseWriter, r *http.Request) (page, perPage int, ok bool) {
	page, perPage = 1, DefaultPerPage
	for _, p := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"page", &page, 1, 1 << 20}, {"per_page", &perPage, 1, MaxPerPage}} {
		v := r.URL.Query().Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < p.min || n > p.max {
			writeProblem(w, r, schemas.CodeSchemaViolation, fmt.Sprintf("%s must be an integer from %d to %d", p.name, p.min, p.max),
				[]schemas.FieldProblem{{Pointer: "/" + p.name, Message: "out of range"}})
			return 0, 0, false
		}
		*p.dst = n
	}
	return page, perPage, true
}

// filterParams reads the listing filters and paging, or answers itself.
func filterParams(w http.ResponseWriter, r *http.Request) (schemas.AuthorityFilter, int, int, bool) {
	page, perPage, ok := pageParams(w, r)
	if !ok {
		return schemas.AuthorityFilter{}, 0, 0, false
	}
	q := r.URL.Query()
	f := schemas.AuthorityFilter{Query: q.Get("q"), Territory: q.Get("territory"), Kind: q.Get("kind"),
		Topic: q.Get("topic"), Offset: (page - 1) * perPage, Limit: perPage}
	return f, page, perPage, true
}

type pageBody struct {
	Items             any  `json:"items"`
	Total             int  `json:"total"`
	TotalIsLowerBound bool `json:"total_is_lower_bound,omitempty"`
	Page              int  `json:"page"`
	PerPage           int  `json:"per_page"`
}

// listAuthorities is GET /v1/authorities?q=&territory=&kind=&topic=&status=&parent=&page=&per_page=.
func (h *handler) listAuthorities(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticateOperator(w, r); !ok {
		return
	}
	f, page, perPage, ok := filterParams(w, r)
	if !ok {
		return
	}
	f.Status, f.Parent = r.URL.Query().Get("status"), r.URL.Query().Get("parent")
	res, err := h.deps.Registry.ListAuthorities(r.Context(), f)
	if err != nil {
		h.writeError(w, r, "list authorities", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", pageBody{Items: nonNilAuthorities(res.Items), Total: res.Total, Page: page, PerPage: perPage})
}

func nonNilAuthorities(items []schemas.Authority) []schemas.Authority {
	if items == nil {
		return []schemas.Authority{}
	}
	return items
}

// addRequest is the body of POST /v1/authorities (JSON).
type addRequest struct {
	Code string `json:"code"`
	schemas.AuthorityPatch
	changeRequest
}

// addAuthority is POST /v1/authorities: one entry as JSON, or a whole file as text/csv or
// application/yaml (all rows or none; ?reason= says why).
func (h *handler) addAuthority(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticateOperator(w, r)
	if !ok {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := map[string]string{"text/csv": "csv", "application/yaml": "yaml", "application/x-yaml": "yaml", "text/yaml": "yaml"}[mt]
	if format == "" && !isJSON(r.Header.Get("Content-Type")) {
		writeProblem(w, r, schemas.CodeUnsupportedMediaType, "Content-Type must be application/json, text/csv or application/yaml", nil)
		return
	}
	body, ok := h.readLimitedBody(w, r)
	if !ok {
		return
	}
	if format != "" {
		n, err := h.deps.Registry.ImportAuthorities(r.Context(), format, body,
			schemas.AuthorityChangeMeta{By: p.ClientID, Reason: r.URL.Query().Get("reason")})
		if err != nil {
			h.writeError(w, r, "import authorities", err)
			return
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]int{"imported": n})
		return
	}
	var req addRequest
	if !decodeStrict(w, r, body, &req) {
		return
	}
	a, err := h.deps.Registry.AddAuthority(r.Context(), req.AuthorityPatch.Apply(schemas.Authority{Code: req.Code}), req.meta(p))
	if err != nil {
		h.writeError(w, r, "add authority", err)
		return
	}
	w.Header().Set("Location", "/v1/authorities/"+a.Code)
	writeAuthority(w, http.StatusCreated, a)
}

// getAuthority is GET /v1/authorities/{code}.
func (h *handler) getAuthority(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticateOperator(w, r); !ok {
		return
	}
	a, err := h.deps.Registry.GetAuthority(r.Context(), r.PathValue("code"))
	if err != nil {
		h.writeError(w, r, "read authority", err)
		return
	}
	writeAuthority(w, http.StatusOK, a)
}

// patchRequest is the body of PATCH /v1/authorities/{code}.
type patchRequest struct {
	schemas.AuthorityPatch
	versionedChange
}

// updateAuthority is PATCH /v1/authorities/{code}: the fields given change, the others stay.
func (h *handler) updateAuthority(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticateOperator(w, r)
	if !ok {
		return
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); !isJSON(ct) && mt != "application/merge-patch+json" {
		writeProblem(w, r, schemas.CodeUnsupportedMediaType, "Content-Type must be application/json or application/merge-patch+json", nil)
		return
	}
	body, ok := h.readLimitedBody(w, r)
	if !ok {
		return
	}
	var req patchRequest
	if !decodeStrict(w, r, body, &req) {
		return
	}
	m, ok := req.versionedChange.meta(w, r, p)
	if !ok {
		return
	}
	a, scheduled, err := h.deps.Registry.UpdateAuthority(r.Context(), r.PathValue("code"), req.AuthorityPatch, m)
	if err != nil {
		h.writeError(w, r, "update authority", err)
		return
	}
	writeChanged(w, a, scheduled)
}

// statusRequest is the (optional) body of POST /v1/authorities/{code}/suspend|resume|close.
type statusRequest struct {
	Successor string `json:"successor,omitempty"`
	versionedChange
}

// changeStatus answers POST /v1/authorities/{code}/<action>.
func (h *handler) changeStatus(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.authenticateOperator(w, r)
		if !ok {
			return
		}
		body, ok := h.readLimitedBody(w, r)
		if !ok {
			return
		}
		var req statusRequest
		if !decodeStrict(w, r, body, &req) {
			return
		}
		if req.Successor != "" && action != schemas.ActionClose {
			writeProblem(w, r, schemas.CodeSchemaViolation, "only close names a successor",
				[]schemas.FieldProblem{{Pointer: "/successor", Message: "not allowed here"}})
			return
		}
		m, ok := req.versionedChange.meta(w, r, p)
		if !ok {
			return
		}
		code := r.PathValue("code")
		var a schemas.Authority
		var scheduled *schemas.PendingAuthorityChange
		var err error
		switch action {
		case schemas.ActionSuspend:
			a, scheduled, err = h.deps.Registry.SuspendAuthority(r.Context(), code, m)
		case schemas.ActionResume:
			a, scheduled, err = h.deps.Registry.ResumeAuthority(r.Context(), code, m)
		default:
			a, scheduled, err = h.deps.Registry.CloseAuthority(r.Context(), code, req.Successor, m)
		}
		if err != nil {
			h.writeError(w, r, action+" authority", err)
			return
		}
		writeChanged(w, a, scheduled)
	}
}

// authorityHistory is GET /v1/authorities/{code}/history: every change, oldest first.
func (h *handler) authorityHistory(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticateOperator(w, r); !ok {
		return
	}
	changes, err := h.deps.Registry.AuthorityChanges(r.Context(), r.PathValue("code"))
	if err != nil {
		h.writeError(w, r, "read authority history", err)
		return
	}
	if changes == nil {
		changes = []schemas.AuthorityChange{}
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"changes": changes})
}

// DirectoryEntry is what the public directory shows of an authority.
type DirectoryEntry struct {
	Code      string   `json:"code"`
	Name      string   `json:"name"`
	ShortName string   `json:"short_name,omitempty"`
	Kind      string   `json:"kind"`
	Parent    string   `json:"parent,omitempty"`
	Territory string   `json:"territory"`
	Topics    []string `json:"topics"`
	Accepts   []string `json:"accepts"`
}

// directory is GET /v1/directory?q=&territory=&kind=&topic=&page=&per_page=, public: active
// authorities that accept submissions, by name words (case-insensitive, part of a word), territory
// (the code and every code under it), kind and topic.
func (h *handler) directory(w http.ResponseWriter, r *http.Request) {
	f, page, perPage, ok := filterParams(w, r)
	if !ok {
		return
	}
	res, err := h.deps.Registry.Directory(r.Context(), f)
	if err != nil {
		h.writeError(w, r, "search directory", err)
		return
	}
	items := make([]DirectoryEntry, 0, len(res.Items))
	for _, a := range res.Items {
		items = append(items, DirectoryEntry{Code: a.Code, Name: a.Name, ShortName: a.ShortName, Kind: a.Kind,
			Parent: a.Parent, Territory: a.Territory, Topics: a.Topics, Accepts: a.Accepts})
	}
	writeJSON(w, http.StatusOK, "application/json", pageBody{Items: items, Total: res.Total,
		TotalIsLowerBound: res.TotalIsLowerBound, Page: page, PerPage: perPage})
}
