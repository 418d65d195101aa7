package router

import "appealhub/internal/httpapi"

// consoleMounts are the handlers of the operators' console.
func (h *Hub) consoleMounts() []httpapi.Mount { return nil }
