package httpapi

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// fakeStats records the query it was given and answers two groups, or the store down for
// authority 00000001.
type fakeStats struct {
	mu   sync.Mutex
	last schemas.StatsQuery
}

func (f *fakeStats) Stats(_ context.Context, q schemas.StatsQuery) (schemas.StatsResult, error) {
	f.mu.Lock()
	f.last = q
	f.mu.Unlock()
	if q.Authority == "00000001" {
		return schemas.StatsResult{}, fmt.Errorf("statistics: %w", schemas.ErrUnavailable)
	}
	median, rate := 3600.5, 0.5
	return schemas.StatsResult{From: q.From, To: q.To, GroupBy: q.GroupBy, AsOf: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Rows: []schemas.StatsRow{
			{Group: "appeal", Label: "citizens' appeal", Received: 3, Registered: 2, Answered: 2, AnsweredOnTime: 1, OnTimeRate: &rate,
				MedianToAnswerSecs: &median},
			{Group: "info_request", Label: "request for public information", Received: 1, Refused: 1},
		},
		Total: schemas.StatsRow{Received: 4, Registered: 2, Refused: 1, Answered: 2, AnsweredOnTime: 1, OnTimeRate: &rate,
			MedianToAnswerSecs: &median}}, nil
}

func (f *fakeStats) query() schemas.StatsQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func TestStatsRoute(t *testing.T) {
	t.Parallel()
	fake := &fakeStats{}
	h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}, Stats: fake},
		zaptest.NewLogger(t))
	const path = "/v1/stats?from=2026-10-01&to=2026-12-01T00:00:00Z&group_by=kind"

	requireProblem(t, serve(h, http.MethodGet, path, "", "", ""), http.StatusUnauthorized, schemas.CodeUnauthorized)
	for _, token := range []string{"portal-token", "authority-token"} {
		requireProblem(t, serve(h, http.MethodGet, path, token, "", ""), http.StatusForbidden, schemas.CodeForbidden)
	}

	w := serve(h, http.MethodGet, path, "operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.JSONEq(t, `{"from":"2026-09-30T21:00:00Z","to":"2026-12-01T00:00:00Z","group_by":"kind","as_of":"2026-12-01T10:00:00Z",
		"rows":[
		  {"group":"appeal","label":"citizens' appeal","received":3,"registered":2,"refused":0,"forwarded":0,"answered":2,
		   "answered_on_time":1,"overdue_now":0,"on_time_rate":0.5,"median_to_registration_seconds":null,
		   "p90_to_registration_seconds":null,"median_to_answer_seconds":3600.5,"p90_to_answer_seconds":null},
		  {"group":"info_request","label":"request for public information","received":1,"registered":0,"refused":1,"forwarded":0,
		   "answered":0,"answered_on_time":0,"overdue_now":0,"on_time_rate":null,"median_to_registration_seconds":null,
		   "p90_to_registration_seconds":null,"median_to_answer_seconds":null,"p90_to_answer_seconds":null}],
		"total":{"group":"","received":4,"registered":2,"refused":1,"forwarded":0,"answered":2,"answered_on_time":1,"overdue_now":0,
		   "on_time_rate":0.5,"median_to_registration_seconds":null,"p90_to_registration_seconds":null,
		   "median_to_answer_seconds":3600.5,"p90_to_answer_seconds":null}}`, w.Body.String())
	kyiv, err := time.LoadLocation("Europe/Kyiv")
	require.NoError(t, err)
	require.Equal(t, schemas.StatsQuery{From: time.Date(2026, 10, 1, 0, 0, 0, 0, kyiv).UTC(), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		GroupBy: schemas.StatsByKind}, fake.query(), "a day is its midnight in Kyiv")

	w = serve(h, http.MethodGet, "/v1/stats?from=2026-10-01&to=2026-11-01&authority=19863933&region=UA80000000000000000&kind=appeal&topic=roads",
		"operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	q := fake.query()
	require.Equal(t, []string{"authority", "19863933", "UA80000000000000000", "appeal", "roads"},
		[]string{string(q.GroupBy), q.Authority, q.Region, string(q.Kind), q.Topic}, "group_by defaults to authority")

	requireProblem(t, serve(h, http.MethodGet, "/v1/stats?from=2026-10-01&to=2026-11-01&authority=00000001", "operator-token", "", ""),
		http.StatusServiceUnavailable, schemas.CodeServiceUnavailable)

	for query, pointer := range map[string]string{
		"to=2026-11-01":                                            "/from",
		"from=2026-10-01":                                          "/to",
		"from=yesterday&to=2026-11-01":                             "/from",
		"from=2026-10-01&to=2026-13-01":                            "/to",
		"from=2026-11-01&to=2026-10-01":                            "/to",
		"from=2026-10-01&to=2026-11-01&group_by=week":              "/group_by",
		"from=2026-10-01&to=2026-11-01&authority=1986393":          "/authority",
		"from=2026-10-01&to=2026-11-01&region=UA80000000000093317": "/region",
		"from=2026-10-01&to=2026-11-01&kind=complaint":             "/kind",
		"from=2026-10-01&to=2026-11-01&format=xml":                 "/format",
	} {
		w := serve(h, http.MethodGet, "/v1/stats?"+query, "operator-token", "", "")
		p := requireProblem(t, w, http.StatusBadRequest, schemas.CodeSchemaViolation)
		require.Len(t, p.Errors, 1, query)
		require.Equal(t, pointer, p.Errors[0].Pointer, query)
	}
}

func TestStatsRouteCSV(t *testing.T) {
	t.Parallel()
	h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}, Stats: &fakeStats{}},
		zaptest.NewLogger(t))
	for name, get := range map[string]func() *httptest.ResponseRecorder{
		"format=csv": func() *httptest.ResponseRecorder {
			return serve(h, http.MethodGet, "/v1/stats?from=2026-10-01&to=2026-11-01&group_by=kind&format=csv", "operator-token", "", "")
		},
		"Accept: text/csv": func() *httptest.ResponseRecorder {
			return serveWith(h, http.MethodGet, "/v1/stats?from=2026-10-01&to=2026-11-01&group_by=kind", "",
				map[string]string{"Accept": "text/html;q=0.5, text/csv"})
		},
	} {
		w := get()
		require.Equal(t, http.StatusOK, w.Code, name)
		require.Equal(t, "text/csv; charset=utf-8", w.Header().Get("Content-Type"), name)
		records, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
		require.NoError(t, err, name)
		require.Equal(t, [][]string{
			schemas.StatsCSVHeader,
			{"group", "appeal", "citizens' appeal", "3", "2", "0", "0", "2", "1", "0", "0.5", "", "", "3600.5", ""},
			{"group", "info_request", "request for public information", "1", "0", "1", "0", "0", "0", "0", "", "", "", "", ""},
			{"total", "", "", "4", "2", "1", "0", "2", "1", "0", "0.5", "", "", "3600.5", ""},
		}, records, name)
	}
	w := serveWith(h, http.MethodGet, "/v1/stats?from=2026-10-01&to=2026-11-01&format=json", "", map[string]string{"Accept": "text/csv"})
	require.Equal(t, "application/json", w.Header().Get("Content-Type"), "format wins over Accept")
}
