package httpapi

// Optimistic locking and scheduled changes of the authority registry: the version a change is made
// against (If-Match, or a version field in the body), and the cancellation of a scheduled change.

import (
	"net/http"
	"strconv"
	"strings"

	"appealhub/schemas"
)

// ifVersion returns the version a change names: that of If-Match ("v<version>" quoted, as the
// ETag gives it; * names none), or body (the body's version field, 0 when absent). When both name
// one they must agree. It answers a malformed or contradictory precondition itself.
func ifVersion(w http.ResponseWriter, r *http.Request, body int64) (int64, bool) {
	if body < 0 {
		writeProblem(w, r, schemas.CodeSchemaViolation, "version must be a positive integer",
			[]schemas.FieldProblem{{Pointer: "/version", Message: "must be a positive integer"}})
		return 0, false
	}
	header := strings.TrimSpace(r.Header.Get("If-Match"))
	if header == "" || header == "*" {
		return body, true
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(header, `"v`), `"`), 10, 64)
	if err != nil || n < 1 || !strings.HasPrefix(header, `"v`) || !strings.HasSuffix(header, `"`) {
		writeProblem(w, r, schemas.CodeSchemaViolation, `If-Match must be the entry's ETag: "v<version>"`, nil)
		return 0, false
	}
	if body != 0 && body != n {
		writeProblem(w, r, schemas.CodeSchemaViolation, "If-Match and the body's version name different versions",
			[]schemas.FieldProblem{{Pointer: "/version", Message: "differs from If-Match"}})
		return 0, false
	}
	return n, true
}

// cancelAuthorityChange is DELETE /v1/authorities/{code}/pending/{id}?reason=: the scheduled
// change is withdrawn (If-Match may name the entry's version) and the entry is answered.
func (h *handler) cancelAuthorityChange(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticateOperator(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeProblem(w, r, schemas.CodeNotFound, "no such scheduled change", nil)
		return
	}
	version, ok := ifVersion(w, r, 0)
	if !ok {
		return
	}
	m := schemas.AuthorityChangeMeta{By: p.ClientID, Reason: r.URL.Query().Get("reason"), IfVersion: version}
	a, err := h.deps.Registry.CancelAuthorityChange(r.Context(), r.PathValue("code"), id, m)
	if err != nil {
		h.writeError(w, r, "cancel scheduled authority change", err)
		return
	}
	writeAuthority(w, http.StatusOK, a)
}
