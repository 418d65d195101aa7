package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// queueSorts are the columns the queue page sorts by, each with its order (most urgent first).
var queueSorts = map[string]func(a, b AuthorityQueue) int{
	"code":     func(a, b AuthorityQueue) int { return strings.Compare(a.Code, b.Code) },
	"name":     func(a, b AuthorityQueue) int { return strings.Compare(a.Name, b.Name) },
	"waiting":  func(a, b AuthorityQueue) int { return cmp.Compare(b.Waiting, a.Waiting) },
	"inflight": func(a, b AuthorityQueue) int { return cmp.Compare(b.InFlight, a.InFlight) },
	"retrying": func(a, b AuthorityQueue) int { return cmp.Compare(b.Retrying, a.Retrying) },
	"dead":     func(a, b AuthorityQueue) int { return cmp.Compare(b.Dead, a.Dead) },
	"oldest":   func(a, b AuthorityQueue) int { return cmp.Compare(b.OldestWaiting, a.OldestWaiting) },
	"sent":     func(a, b AuthorityQueue) int { return cmp.Compare(b.SentInWindow, a.SentInWindow) },
	"latency":  func(a, b AuthorityQueue) int { return cmp.Compare(b.LatencyP50, a.LatencyP50) },
	"breaker":  func(a, b AuthorityQueue) int { return cmp.Compare(breakerRank(b.Breaker), breakerRank(a.Breaker)) },
}

func breakerRank(s string) int {
	switch s {
	case "open":
		return 2
	case "half_open":
		return 1
	}
	return 0
}

// queueRow is an authority's row with what the template derives.
type queueRow struct {
	AuthorityQueue
	PerMinute float64
	Trouble   bool
}

type queuesData struct {
	Q        Queues
	Rows     []queueRow
	Sort     string
	Filter   string
	Problems bool
	// SortLink returns the query string that sorts by a column, keeping the filters.
	SortLink func(string) string
	Total    AuthorityQueue
}

// queuesPage is GET /queues?sort=&q=&problems=1: the state of every authority's queue, refreshing
// itself.
func (c *Console) queuesPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Queues == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "Queue figures are unavailable.")
		return
	}
	q := r.URL.Query()
	d := queuesData{Sort: q.Get("sort"), Filter: strings.TrimSpace(q.Get("q")), Problems: q.Get("problems") == "1"}
	if _, ok := queueSorts[d.Sort]; !ok {
		d.Sort = "code"
	}
	qs, err := c.deps.Queues.Queues(r.Context())
	if err != nil {
		c.fail(w, r, s, "read queues", err)
		return
	}
	d.Q = qs
	filter := strings.ToLower(d.Filter)
	for _, a := range qs.Authorities {
		row := queueRow{AuthorityQueue: a, Trouble: a.Dead > 0 || a.Breaker == "open" || a.Retrying > 0}
		if qs.Window > 0 {
			row.PerMinute = float64(a.SentInWindow) / qs.Window.Minutes()
		}
		if filter != "" && !strings.Contains(strings.ToLower(a.Code+" "+a.Name), filter) {
			continue
		}
		if d.Problems && !row.Trouble {
			continue
		}
		d.Total.Waiting += a.Waiting
		d.Total.InFlight += a.InFlight
		d.Total.Retrying += a.Retrying
		d.Total.Dead += a.Dead
		d.Total.SentInWindow += a.SentInWindow
		d.Total.OldestWaiting = max(d.Total.OldestWaiting, a.OldestWaiting)
		d.Rows = append(d.Rows, row)
	}
	by := queueSorts[d.Sort]
	slices.SortStableFunc(d.Rows, func(a, b queueRow) int {
		return cmp.Or(by(a.AuthorityQueue, b.AuthorityQueue), strings.Compare(a.Code, b.Code))
	})
	d.SortLink = func(col string) string {
		v := url.Values{"sort": {col}}
		if d.Filter != "" {
			v.Set("q", d.Filter)
		}
		if d.Problems {
			v.Set("problems", "1")
		}
		return "?" + v.Encode()
	}
	c.render(w, r, s, http.StatusOK, "queues", page{Title: "Queues", Nav: "queues",
		Refresh: int(c.cfg.RefreshEvery / time.Second), Data: d})
}
