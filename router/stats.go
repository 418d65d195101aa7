package router

import "appealhub/internal/httpapi"

// statsReader answers GET /v1/stats; nil leaves the route out.
func (h *Hub) statsReader() httpapi.StatsReader { return nil }
