package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"appealhub/internal/httpapi"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

var _ httpapi.DeliveryInspector = (*Hub)(nil)

// AuthorityDelivery shows how this hub process delivers to the authority code: the limits in force
// (the authority's own, else the configured defaults), its circuit breaker and the sends in flight.
// Breakers and in-flight counts are this process's own.
func (h *Hub) AuthorityDelivery(ctx context.Context, code string) (httpapi.AuthorityDelivery, error) {
	limits, err := h.store.AuthorityLimits(ctx, code)
	if errors.Is(err, schemas.ErrNotFound) {
		return httpapi.AuthorityDelivery{}, schemas.Errorf(schemas.CodeNotFound, "no such authority")
	}
	if err != nil {
		return httpapi.AuthorityDelivery{}, fmt.Errorf("read authority limits: %w: %w", schemas.ErrUnavailable, err)
	}
	st := h.worker.AuthorityStatus(code)
	out := httpapi.AuthorityDelivery{
		Code:                code,
		Breaker:             string(st.Breaker.State),
		ConsecutiveFailures: st.Breaker.ConsecutiveFailures,
		Concurrency:         cmp.Or(limits.Concurrency, h.cfg.Delivery.Concurrency),
		RequestTimeoutMS:    cmp.Or(limits.RequestTimeout, h.cfg.Delivery.RequestTimeout).Milliseconds(),
		InFlight:            st.InFlight,
	}
	if st.Breaker.State != delivery.BreakerClosed {
		opened, retry := st.Breaker.OpenedAt.UTC(), st.Breaker.RetryAt.UTC()
		out.OpenedAt, out.RetryAt = &opened, &retry
	}
	return out, nil
}
