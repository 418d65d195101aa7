package router

// SubscribedConcurrency returns the concurrency this hub process consumes the authority's queue
// with, or 0 when it does not consume it (for tests of how registry changes reach running hubs).
func (h *Hub) SubscribedConcurrency(code string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subscribed[code]
}
