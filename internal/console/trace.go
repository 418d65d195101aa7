package console

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"appealhub/schemas"
)

// traceEntry is one line of a case's timeline, whatever it comes from.
type traceEntry struct {
	At       time.Time
	Source   string // event, outbox, message, receipt, due
	Delivery string
	What     string
	Status   string
	Detail   string
}

type traceData struct {
	Ref     string
	Found   bool
	T       Trace
	Entries []traceEntry
}

// tracePage is GET /trace?ref=: a case found by tracking number or id, with its whole timeline
// across deliveries, attempts, authorities' messages, receipts and due dates.
func (c *Console) tracePage(w http.ResponseWriter, r *http.Request, s *session) {
	d := traceData{Ref: strings.TrimSpace(r.URL.Query().Get("ref"))}
	if d.Ref == "" || c.deps.Traces == nil {
		if c.deps.Traces == nil {
			c.renderError(w, r, s, http.StatusServiceUnavailable, "Case traces are unavailable.")
			return
		}
		c.render(w, r, s, http.StatusOK, "trace", page{Title: "Case trace", Nav: "trace", Data: d})
		return
	}
	t, err := c.deps.Traces.Trace(r.Context(), d.Ref)
	if errors.Is(err, schemas.ErrNotFound) {
		c.render(w, r, s, http.StatusNotFound, "trace", page{Title: "Case trace", Nav: "trace", Data: d,
			Error: "No case has this tracking number or id."})
		return
	}
	if err != nil {
		c.fail(w, r, s, "trace case", err)
		return
	}
	d.Found, d.T, d.Entries = true, t, timeline(t)
	c.render(w, r, s, http.StatusOK, "trace", page{Title: "Case " + t.Case.TrackingNumber, Nav: "trace", Data: d})
}

// timeline merges everything known of a case into one list in time order.
func timeline(t Trace) []traceEntry {
	var out []traceEntry
	for _, e := range t.Case.Events {
		out = append(out, traceEntry{At: e.At, Source: "event", Delivery: e.DeliveryID, What: string(e.Type),
			Status: string(e.Status), Detail: e.Detail})
	}
	for _, o := range t.Outbox {
		out = append(out, traceEntry{At: o.AvailableAt, Source: "outbox", Delivery: o.DeliveryID,
			What: "attempt " + strconv.Itoa(o.Attempt+1) + " handed to the broker", Status: o.Status, Detail: o.LastError})
	}
	for _, m := range t.Messages {
		applied := "applied"
		if !m.Applied {
			applied = "recorded, not applied"
		}
		out = append(out, traceEntry{At: m.ReceivedAt, Source: "message", Delivery: m.DeliveryID,
			What: "authority message " + m.Type, Status: applied, Detail: "message id " + m.MessageID})
	}
	for _, rc := range t.Receipts {
		out = append(out, traceEntry{At: rc.CreatedAt, Source: "receipt", Delivery: rc.DeliveryID,
			What: "receipt " + rc.Type, Detail: rc.ID})
	}
	for _, d := range t.Case.Deliveries {
		for _, due := range d.Due {
			out = append(out, traceEntry{At: due.DueAt, Source: "due", Delivery: d.ID, What: "due: " + string(due.Kind),
				Status: string(due.State), Detail: due.Explanation.Rule + " (" + due.Explanation.Term + ")"})
		}
	}
	slices.SortStableFunc(out, func(a, b traceEntry) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	return out
}
