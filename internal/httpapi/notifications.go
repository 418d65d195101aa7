package httpapi

// Portal notifications and timelines (docs/notifications.md):
//
//   - PUT and GET /v1/notifications: how the calling portal client takes the events of its cases
//     (a webhook, or its own AMQP queue);
//   - GET /v1/notifications/dead and POST /v1/notifications/dead/{id}/redrive: notifications whose
//     webhook gave up, for their portal client (its own) or an operator (any, or ?client=);
//   - GET /v1/appeals/{id}/events?after=&limit=: a case's timeline in the portal vocabulary, for the
//     portal client that submitted it, paged by event id;
//   - GET /v1/track/{tracking_number}?code=: the timeline for a citizen, with the access code of the
//     receipt and no other credential; a wrong number and a wrong code are the same 404; limited
//     per client address (Config.TrackPerMinute, Config.TrackBurst; 429 rate_limited past it).

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"appealhub/schemas"
)

// Limits of the notification and timeline listings.
const (
	DefaultEventsLimit = 100
	MaxEventsLimit     = 500
	DefaultDeadLimit   = 100
	MaxDeadLimit       = 1000
)

// NotificationAPI manages the portal clients' notifications. It is called concurrently. Refusals
// are *schemas.Error (a bad subscription is schema_violation with the failing fields; a
// subscription, a notification that does not exist or is not the client's, not_found); an error
// wrapping schemas.ErrUnavailable is answered 503.
type NotificationAPI interface {
	// Subscription returns how client takes its notifications.
	Subscription(ctx context.Context, client string) (schemas.Subscription, error)
	// Subscribe registers (or changes) how client takes its notifications; the answer carries a
	// webhook secret when it issued one.
	Subscribe(ctx context.Context, client string, req schemas.SubscriptionRequest) (schemas.Subscription, error)
	// DeadNotifications lists up to limit dead notifications of client ("" for every client).
	DeadNotifications(ctx context.Context, client string, limit int) ([]schemas.NotificationRecord, error)
	// RedriveNotification makes the dead notification id of client ("" for any client) pending
	// again, with a fresh series of attempts.
	RedriveNotification(ctx context.Context, client string, id int64) (schemas.NotificationRecord, error)
}

// TimelineReader returns the timelines of cases in the portal vocabulary. It is called
// concurrently. A case that does not exist, belongs to another client, or (Track) whose access
// code does not match is a *schemas.Error with code not_found; an error wrapping
// schemas.ErrUnavailable is answered 503.
type TimelineReader interface {
	// CaseTimeline returns the whole timeline of a case clientID submitted, by event id.
	CaseTimeline(ctx context.Context, clientID, caseID string) ([]schemas.PortalEvent, error)
	// Track returns what a citizen sees of the case of trackingNumber with its access code.
	Track(ctx context.Context, trackingNumber, code string) (schemas.Tracking, error)
}

// registerNotifications adds the routes of this file (called by NewHandler when Deps.Notifications
// and Deps.Timelines are set).
func (h *handler) registerNotifications() {
	h.mux.HandleFunc("GET /v1/notifications", h.getSubscription)
	h.mux.HandleFunc("PUT /v1/notifications", h.putSubscription)
	h.mux.HandleFunc("GET /v1/notifications/dead", h.deadNotifications)
	h.mux.HandleFunc("POST /v1/notifications/dead/{id}/redrive", h.redriveNotification)
	h.mux.HandleFunc("GET /v1/appeals/{id}/events", h.caseEvents)
	limit := newAddrLimiter(h.cfg.TrackPerMinute, h.cfg.TrackBurst)
	h.mux.HandleFunc("GET /v1/track/{tracking_number}", func(w http.ResponseWriter, r *http.Request) {
		if !limit.allow(r) {
			writeProblem(w, r, schemas.CodeRateLimited, "too many tracking requests from this address; retry later", nil)
			return
		}
		h.track(w, r)
	})
}

// getSubscription is GET /v1/notifications.
func (h *handler) getSubscription(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticatePortal(w, r)
	if !ok {
		return
	}
	s, err := h.deps.Notifications.Subscription(r.Context(), p.ClientID)
	if err != nil {
		h.writeError(w, r, "read subscription", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", s)
}

// putSubscription is PUT /v1/notifications.
func (h *handler) putSubscription(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticatePortal(w, r)
	if !ok {
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeProblem(w, r, schemas.CodeUnsupportedMediaType, "Content-Type must be application/json", nil)
		return
	}
	body, ok := h.readLimitedBody(w, r)
	if !ok {
		return
	}
	var req schemas.SubscriptionRequest
	if !decodeStrict(w, r, body, &req) {
		return
	}
	s, err := h.deps.Notifications.Subscribe(r.Context(), p.ClientID, req)
	if err != nil {
		h.writeError(w, r, "subscribe", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", s)
}

// notificationClient authenticates a portal client (who acts on its own notifications) or an
// operator (on any client's, or those of ?client=), answering refusals itself.
func (h *handler) notificationClient(w http.ResponseWriter, r *http.Request) (string, bool) {
	p, ok := h.authenticate(w, r)
	switch {
	case !ok:
		return "", false
	case p.Kind == KindPortal:
		return p.ClientID, true
	case p.Kind == KindOperator:
		return r.URL.Query().Get("client"), true
	}
	writeProblem(w, r, schemas.CodeForbidden, "only portal and operator clients may use this endpoint", nil)
	return "", false
}

// deadNotifications is GET /v1/notifications/dead?client=&limit=.
func (h *handler) deadNotifications(w http.ResponseWriter, r *http.Request) {
	client, ok := h.notificationClient(w, r)
	if !ok {
		return
	}
	limit, ok := intParam(w, r, "limit", DefaultDeadLimit, 1, MaxDeadLimit)
	if !ok {
		return
	}
	list, err := h.deps.Notifications.DeadNotifications(r.Context(), client, int(limit))
	if err != nil {
		h.writeError(w, r, "list dead notifications", err)
		return
	}
	if list == nil {
		list = []schemas.NotificationRecord{}
	}
	writeJSON(w, http.StatusOK, "application/json", struct {
		Notifications []schemas.NotificationRecord `json:"notifications"`
	}{list})
}

// redriveNotification is POST /v1/notifications/dead/{id}/redrive.
func (h *handler) redriveNotification(w http.ResponseWriter, r *http.Request) {
	client, ok := h.notificationClient(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeProblem(w, r, schemas.CodeNotFound, "no such dead notification", nil)
		return
	}
	n, err := h.deps.Notifications.RedriveNotification(r.Context(), client, id)
	if err != nil {
		h.writeError(w, r, "redrive notification", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", n)
}

// caseEvents is GET /v1/appeals/{id}/events?after=&limit=: the entries with an event id above
// after, at most limit of them, and next_after when more follow.
func (h *handler) caseEvents(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.receiptCase(w, r)
	if !ok {
		return
	}
	after, ok := intParam(w, r, "after", 0, 0, 1<<62)
	if !ok {
		return
	}
	limit, ok := intParam(w, r, "limit", DefaultEventsLimit, 1, MaxEventsLimit)
	if !ok {
		return
	}
	all, err := h.deps.Timelines.CaseTimeline(r.Context(), p.ClientID, id)
	if err != nil {
		h.writeError(w, r, "read case events", err)
		return
	}
	page := struct {
		Events    []schemas.PortalEvent `json:"events"`
		NextAfter *int64                `json:"next_after,omitempty"`
	}{Events: []schemas.PortalEvent{}}
	for _, e := range all {
		if e.EventID <= after {
			continue
		}
		if len(page.Events) == int(limit) {
			last := page.Events[len(page.Events)-1].EventID
			page.NextAfter = &last
			break
		}
		page.Events = append(page.Events, e)
	}
	writeJSON(w, http.StatusOK, "application/json", page)
}

// track is GET /v1/track/{tracking_number}?code=.
func (h *handler) track(w http.ResponseWriter, r *http.Request) {
	t, err := h.deps.Timelines.Track(r.Context(), r.PathValue("tracking_number"), r.URL.Query().Get("code"))
	if err != nil {
		h.writeError(w, r, "track", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", t)
}

// intParam reads the integer query parameter name (def when absent), from lo to hi, or answers
// itself.
func intParam(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		writeProblem(w, r, schemas.CodeSchemaViolation, fmt.Sprintf("%s must be an integer from %d to %d", name, lo, hi),
			[]schemas.FieldProblem{{Pointer: "/" + name, Message: "out of range"}})
		return 0, false
	}
	return n, true
}
