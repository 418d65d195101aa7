package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"appealhub/schemas"
)

// Defaults of the authority endpoints.
const (
	DefaultInboxLimit = 50
	MaxInboxLimit     = 500
)

// authenticateAuthority returns the principal when it is the authority named in the path. Any
// other client gets 404, like a code that does not exist: authorities cannot probe each other.
func (h *handler) authenticateAuthority(w http.ResponseWriter, r *http.Request) (string, bool) {
	p, ok := h.authenticate(w, r)
	if !ok {
		return "", false
	}
	code := r.PathValue("code")
	if p.Kind != KindAuthority || p.Authority == "" || p.Authority != code {
		if h.deps.Denials != nil && p.Kind == KindAuthority {
			h.deps.Denials.AccessDenied(r.Context(), p.ClientID, r.Pattern, code)
		}
		writeProblem(w, r, schemas.CodeNotFound, "no such authority for this client", nil)
		return "", false
	}
	return code, true
}

// authorityItem authenticates the authority of the path and returns its code and the item id of
// the path, or answers itself and returns false.
func (h *handler) authorityItem(w http.ResponseWriter, r *http.Request) (code, id string, ok bool) {
	code, ok = h.authenticateAuthority(w, r)
	if !ok {
		return "", "", false
	}
	id = r.PathValue("id")
	if !saneCaseID(id) {
		writeProblem(w, r, schemas.CodeNotFound, "no such inbox item", nil)
		return "", "", false
	}
	return code, id, true
}

// inbox is GET /v1/authorities/{code}/inbox?limit=N.
func (h *handler) inbox(w http.ResponseWriter, r *http.Request) {
	code, ok := h.authenticateAuthority(w, r)
	if !ok {
		return
	}
	limit := DefaultInboxLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxInboxLimit {
			writeProblem(w, r, schemas.CodeSchemaViolation, fmt.Sprintf("limit must be an integer from 1 to %d", MaxInboxLimit),
				[]schemas.FieldProblem{{Pointer: "/limit", Message: "out of range"}})
			return
		}
		limit = n
	}
	items, err := h.deps.Authorities.Inbox(r.Context(), code, limit)
	if err != nil {
		h.writeError(w, r, "read inbox", err)
		return
	}
	if items == nil {
		items = []schemas.InboxItem{}
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"items": items})
}

// inboxDocument is GET /v1/authorities/{code}/inbox/{id}: the document in the authority's format.
func (h *handler) inboxDocument(w http.ResponseWriter, r *http.Request) {
	code, id, ok := h.authorityItem(w, r)
	if !ok {
		return
	}
	mediaType, body, err := h.deps.Authorities.InboxDocument(r.Context(), code, id)
	if err != nil {
		h.writeError(w, r, "read inbox item", err)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Idempotency-Key", id)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// ackInbox is POST /v1/authorities/{code}/inbox/{id}/ack.
func (h *handler) ackInbox(w http.ResponseWriter, r *http.Request) {
	code, id, ok := h.authorityItem(w, r)
	if !ok {
		return
	}
	if err := h.deps.Authorities.AckInbox(r.Context(), code, id); err != nil {
		h.writeError(w, r, "acknowledge inbox item", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// receiveMessages is POST /v1/authorities/{code}/messages: acknowledgements and answers in the
// authority's own format.
func (h *handler) receiveMessages(w http.ResponseWriter, r *http.Request) {
	if draining(r.Context()) {
		writeProblem(w, r, schemas.CodeShuttingDown, "this hub process is shutting down; retry", nil)
		return
	}
	code, ok := h.authenticateAuthority(w, r)
	if !ok {
		return
	}
	body, ok := h.readLimitedBody(w, r)
	if !ok {
		return
	}
	results, err := h.deps.Authorities.ReceiveMessages(r.Context(), code, r.Header.Get("Content-Type"), body)
	if err != nil {
		h.writeError(w, r, "receive messages", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"results": results})
}
