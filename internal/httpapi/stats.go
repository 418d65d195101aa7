package httpapi

// Statistics for operators (docs/statistics.md): GET /v1/stats counts the deliveries received in a
// period, grouped, as JSON or CSV. No personal data.

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"appealhub/schemas"
)

// statsDateLayout is a day in Europe/Kyiv, the other form from and to take.
const statsDateLayout = "2006-01-02"

// stats is GET /v1/stats?from=&to=&group_by=&authority=&region=&kind=&topic=&format= (operator
// tokens only). JSON by default; CSV with Accept: text/csv or format=csv.
func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if p.Kind != KindOperator {
		writeProblem(w, r, schemas.CodeForbidden, "only operator clients may read statistics", nil)
		return
	}
	q, asCSV, problem := statsQuery(r)
	if problem == nil {
		if perr, ok := errors.AsType[*schemas.Error](q.Check()); ok && len(perr.Fields) > 0 {
			problem = &perr.Fields[0]
		}
	}
	if problem != nil {
		writeProblem(w, r, schemas.CodeSchemaViolation, problem.Message, []schemas.FieldProblem{*problem})
		return
	}
	res, err := h.deps.Stats.Stats(r.Context(), q)
	if err != nil {
		h.writeError(w, r, "statistics", err)
		return
	}
	if res.Rows == nil {
		res.Rows = []schemas.StatsRow{}
	}
	if !asCSV {
		writeJSON(w, http.StatusOK, "application/json", res)
		return
	}
	var buf bytes.Buffer
	if err := res.WriteCSV(&buf); err != nil {
		h.writeError(w, r, "statistics as CSV", err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/csv; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// statsQuery reads the query of GET /v1/stats and whether CSV is asked for, or returns the first
// problem with it. group_by defaults to authority.
func statsQuery(r *http.Request) (schemas.StatsQuery, bool, *schemas.FieldProblem) {
	v := r.URL.Query()
	q := schemas.StatsQuery{GroupBy: schemas.StatsGroupBy(v.Get("group_by")), Authority: v.Get("authority"),
		Region: v.Get("region"), Kind: schemas.CaseKind(v.Get("kind")), Topic: v.Get("topic")}
	if q.GroupBy == "" {
		q.GroupBy = schemas.StatsByAuthority
	}
	asCSV := false
	switch v.Get("format") {
	case "":
		asCSV = acceptsCSV(r.Header.Values("Accept"))
	case "csv":
		asCSV = true
	case "json":
	default:
		return q, false, &schemas.FieldProblem{Pointer: "/format", Message: `must be "json" or "csv"`}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := v.Get(t.name)
		if s == "" {
			return q, asCSV, &schemas.FieldProblem{Pointer: "/" + t.name, Message: "is required: an RFC 3339 time or a day (2026-10-01, midnight in Kyiv)"}
		}
		at, ok := statsTime(s)
		if !ok {
			return q, asCSV, &schemas.FieldProblem{Pointer: "/" + t.name, Message: "must be an RFC 3339 time or a day (2026-10-01, midnight in Kyiv)"}
		}
		*t.dst = at
	}
	return q, asCSV, nil
}

// statsTime parses an RFC 3339 time, or a day as its midnight in Europe/Kyiv, and returns it in UTC.
func statsTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	loc, err := time.LoadLocation(schemas.StatsTimeZone)
	if err != nil {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(statsDateLayout, s, loc)
	return t.UTC(), err == nil
}

// acceptsCSV reports whether the Accept headers name text/csv (before or without JSON).
func acceptsCSV(accept []string) bool {
	for _, h := range accept {
		for part := range strings.SplitSeq(h, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "text/csv":
				return true
			case "application/json", "*/*", "application/*":
				return false
			}
		}
	}
	return false
}
