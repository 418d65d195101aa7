package httpapi

import (
	"context"
	"net/http"
	"time"
)

// Breaker states of AuthorityDelivery.Breaker.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

// AuthorityDelivery is how the answering hub process delivers to one authority: its limits and its
// circuit breaker. Each hub process keeps its own breakers and counts its own sends, so two
// processes may answer differently.
type AuthorityDelivery struct {
	Code string `json:"code"`
	// Breaker is closed, open or half_open.
	Breaker string `json:"breaker"`
	// ConsecutiveFailures counts the transient failures since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// OpenedAt is when the breaker last opened, and RetryAt when it lets a probe through; both are
	// absent while it is closed.
	OpenedAt *time.Time `json:"opened_at,omitempty"`
	RetryAt  *time.Time `json:"retry_at,omitempty"`
	// Concurrency and RequestTimeoutMS are the limits in force: the authority's own, else the
	// hub's defaults.
	Concurrency      int   `json:"concurrency"`
	RequestTimeoutMS int64 `json:"request_timeout_ms"`
	// InFlight counts this process's sends to the authority's system under way now.
	InFlight int `json:"in_flight"`
}

// DeliveryInspector shows how this hub process delivers to an authority. It is called
// concurrently. An unknown code is a *schemas.Error with code not_found; an error wrapping
// schemas.ErrUnavailable is answered 503.
type DeliveryInspector interface {
	AuthorityDelivery(ctx context.Context, code string) (AuthorityDelivery, error)
}

// authorityDelivery is GET /v1/authorities/{code}/delivery (operator tokens only).
func (h *handler) authorityDelivery(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.authenticateOperator(w, r); !ok {
		return
	}
	d, err := h.deps.Delivery.AuthorityDelivery(r.Context(), r.PathValue("code"))
	if err != nil {
		h.writeError(w, r, "read authority delivery", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", d)
}
