package console

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"appealhub/internal/chart"
	"appealhub/schemas"
)

// Limits of the statistics page.
const (
	// defaultStatsDays is the period shown when none is given.
	defaultStatsDays = 30
	// monthlyAfter is the longest period drawn day by day; a longer one is drawn by month.
	monthlyAfter = 92 * 24 * time.Hour
	// topTopics is how many topics the bar chart shows.
	topTopics = 10
)

type statsData struct {
	From, To, Authority, Region, Kind, Topic string
	Unavailable                              bool
	Result                                   schemas.StatsResult
	Charts                                   []string
	CSV                                      string
}

// statsPage is GET /stats?from=&to=&authority=&region=&kind=&topic=[&format=csv]: counts over time,
// the on-time rate, the median times to registration and to answer, and the top topics, as SVG
// charts drawn by the hub; format=csv downloads the figures.
func (c *Console) statsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	now := c.cfg.NowFunc()
	loc, err := time.LoadLocation(schemas.StatsTimeZone)
	if err != nil {
		loc = time.UTC
	}
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	d := statsData{From: q.Get("from"), To: q.Get("to"), Authority: strings.TrimSpace(q.Get("authority")),
		Region: strings.TrimSpace(q.Get("region")), Kind: q.Get("kind"), Topic: strings.TrimSpace(q.Get("topic"))}
	if d.From == "" {
		d.From = today.AddDate(0, 0, -defaultStatsDays+1).Format(time.DateOnly)
	}
	if d.To == "" {
		d.To = today.Format(time.DateOnly)
	}
	if c.deps.Stats == nil {
		d.Unavailable = true
		c.render(w, r, s, http.StatusOK, "stats", page{Title: "Statistics", Nav: "stats", Data: d})
		return
	}
	from, err1 := time.ParseInLocation(time.DateOnly, d.From, loc)
	to, err2 := time.ParseInLocation(time.DateOnly, d.To, loc)
	if err1 != nil || err2 != nil {
		c.render(w, r, s, http.StatusBadRequest, "stats", page{Title: "Statistics", Nav: "stats", Data: d,
			Error: "Give the period as two dates, YYYY-MM-DD."})
		return
	}
	to = to.AddDate(0, 0, 1) // the last day included
	query := schemas.StatsQuery{From: from, To: to, GroupBy: schemas.StatsByDay, Authority: d.Authority, Region: d.Region,
		Kind: schemas.CaseKind(d.Kind), Topic: d.Topic}
	if to.Sub(from) > monthlyAfter {
		query.GroupBy = schemas.StatsByMonth
	}
	if err := query.Check(); err != nil {
		c.render(w, r, s, http.StatusBadRequest, "stats", page{Title: "Statistics", Nav: "stats", Data: d, Error: errorDetail(err)})
		return
	}
	res, err := c.deps.Stats.Stats(r.Context(), query)
	if err != nil {
		c.fail(w, r, s, "compute statistics", err)
		return
	}
	if q.Get("format") == "csv" {
		var buf bytes.Buffer
		if err := res.WriteCSV(&buf); err != nil {
			c.fail(w, r, s, "write statistics", err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="appealhub-stats-`+d.From+`-`+d.To+`.csv"`)
		_, _ = w.Write(buf.Bytes())
		return
	}
	byTopic := query
	byTopic.GroupBy = schemas.StatsByTopic
	topics, err := c.deps.Stats.Stats(r.Context(), byTopic)
	if err != nil {
		c.fail(w, r, s, "compute statistics", err)
		return
	}
	d.Result = res
	d.Charts = statsCharts(res, topics)
	v := q
	v.Set("format", "csv")
	d.CSV = "?" + v.Encode()
	c.render(w, r, s, http.StatusOK, "stats", page{Title: "Statistics", Nav: "stats", Data: d})
}

func errorDetail(err error) string {
	if e, ok := errors.AsType[*schemas.Error](err); ok {
		return e.Detail
	}
	return err.Error()
}

// statsCharts draws the page's charts; a chart that cannot be drawn is left out.
func statsCharts(res, topics schemas.StatsResult) []string {
	series := func(name string, value func(schemas.StatsRow) float64) chart.Series {
		s := chart.Series{Name: name}
		for _, row := range res.Rows {
			s.Points = append(s.Points, chart.Point{Label: row.Group, Value: value(row)})
		}
		return s
	}
	opt := func(v *float64, scale float64) float64 {
		if v == nil {
			return math.NaN()
		}
		return *v * scale
	}
	var out []string
	draw := func(f func(*bytes.Buffer) error) {
		var buf bytes.Buffer
		if f(&buf) == nil {
			out = append(out, buf.String())
		}
	}
	draw(func(b *bytes.Buffer) error {
		return chart.LineWith(b, chart.Options{Title: "Cases over time", Unit: chart.UnitCount},
			series("received", func(r schemas.StatsRow) float64 { return float64(r.Received) }),
			series("registered", func(r schemas.StatsRow) float64 { return float64(r.Registered) }),
			series("answered", func(r schemas.StatsRow) float64 { return float64(r.Answered) }))
	})
	draw(func(b *bytes.Buffer) error {
		return chart.LineWith(b, chart.Options{Title: "Answered on time", Unit: chart.UnitPercent},
			series("on time", func(r schemas.StatsRow) float64 { return opt(r.OnTimeRate, 100) }))
	})
	draw(func(b *bytes.Buffer) error {
		return chart.LineWith(b, chart.Options{Title: "Median time to registration and to answer", Unit: chart.UnitDuration},
			series("to registration", func(r schemas.StatsRow) float64 { return opt(r.MedianToRegistrationSecs, 1) }),
			series("to answer", func(r schemas.StatsRow) float64 { return opt(r.MedianToAnswerSecs, 1) }))
	})
	top := chart.Series{Name: "received"}
	for i, row := range topics.Rows {
		if i == topTopics {
			break
		}
		label := row.Group
		if label == "" {
			label = "(no topic)"
		}
		top.Points = append(top.Points, chart.Point{Label: label, Value: float64(row.Received)})
	}
	draw(func(b *bytes.Buffer) error {
		return chart.BarsWith(b, chart.Options{Title: "Top topics"}, top)
	})
	return out
}
