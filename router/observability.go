package router

import "appealhub/internal/httpapi"

// observabilityMounts are the handlers of the metrics.
func (h *Hub) observabilityMounts() []httpapi.Mount { return nil }
