package router

import (
	"context"

	"appealhub/internal/broker"
)

// OverrideBrokerStatus makes readiness and metrics see fn(name, status) for each broker connection
// instead of its status (name is the readiness check's name); nil restores the real statuses.
func (h *Hub) OverrideBrokerStatus(fn func(name string, st broker.Status) broker.Status) {
	if fn == nil {
		h.obs.statusOverride.Store(nil)
		return
	}
	h.obs.statusOverride.Store(&fn)
}

// OverrideSchemaCheck makes readiness check the schema with fn (nil: the store's check again) and
// forgets the last successful check, so the next /readyz runs it.
func (h *Hub) OverrideSchemaCheck(fn func(ctx context.Context) error) {
	if fn == nil {
		h.obs.schemaOverride.Store(nil)
	} else {
		h.obs.schemaOverride.Store(&fn)
	}
	h.schemaCheckedAt.Store(0)
}

// StopPortalPublisher closes the portal notifications' publisher, as if its connection were lost
// for good.
func (h *Hub) StopPortalPublisher(ctx context.Context) error { return h.portal.publisher.Stop(ctx) }
