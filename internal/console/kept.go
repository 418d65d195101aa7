package console

import (
	"net/http"
	"time"
)

// keptLimit is how many kept letters the page lists, the most recent first.
const keptLimit = 200

type keptData struct {
	Items  []KeptLetter
	Limit  int
	Now    time.Time
	CanAct bool
}

// keptPage is GET /kept: the messages the hub took from hub.dead and hub.unroutable and kept
// because they were no delivery in transit, the most recent first, without their bodies.
func (c *Console) keptPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Kept == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "Kept messages are unavailable.")
		return
	}
	items, err := c.deps.Kept.KeptLetters(r.Context(), keptLimit)
	if err != nil {
		c.fail(w, r, s, "list kept messages", err)
		return
	}
	c.render(w, r, s, http.StatusOK, "kept", page{Title: "Kept from the broker's sinks", Nav: "queues",
		Data: keptData{Items: items, Limit: keptLimit, Now: c.cfg.NowFunc(), CanAct: s.account.Role.ActsOnDeadLetters()}})
}

// deleteKept is POST /kept/delete (id…, reason): deletes the selected kept messages, for an
// operator who has dealt with them.
func (c *Console) deleteKept(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, bulkAction{verb: "delete", done: "deleted", noun: "kept messages", one: "kept message",
		object: "kept_delete", back: "/kept", available: c.deps.Kept != nil,
		do: func(ids []string, a Action) ([]string, error) { return c.deps.Kept.DeleteKept(r.Context(), ids, a) }})
}
