package httpapi

// The overdue listing for operators (docs/deadlines.md): GET /v1/overdue lists the deliveries
// whose answer or delivery notice is overdue, with no personal data.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"appealhub/schemas"
)

// OverdueLister lists overdue due dates (router.Hub). f.Now is left for it to set from its clock;
// f.Kind is empty or an alarmed kind, f.Limit 1 to schemas.MaxOverdueLimit. It fills NextCursor
// when more items follow. It is called concurrently; an error wrapping schemas.ErrUnavailable is
// answered 503.
type OverdueLister interface {
	Overdue(ctx context.Context, f schemas.OverdueFilter) (schemas.OverduePage, error)
}

// overdue is GET /v1/overdue?authority=&kind=&limit=&cursor= (operator tokens only).
func (h *handler) overdue(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	if p.Kind != KindOperator {
		writeProblem(w, r, schemas.CodeForbidden, "only operator clients may list overdue deliveries", nil)
		return
	}
	f, problem := overdueFilter(r)
	if problem != nil {
		writeProblem(w, r, schemas.CodeSchemaViolation, problem.Message, []schemas.FieldProblem{*problem})
		return
	}
	page, err := h.deps.Overdue.Overdue(r.Context(), f)
	if err != nil {
		h.writeError(w, r, "list overdue", err)
		return
	}
	if page.Items == nil {
		page.Items = []schemas.OverdueItem{}
	}
	writeJSON(w, http.StatusOK, "application/json", page)
}

// overdueFilter reads the query of GET /v1/overdue, or returns the first problem with it.
func overdueFilter(r *http.Request) (schemas.OverdueFilter, *schemas.FieldProblem) {
	q := r.URL.Query()
	f := schemas.OverdueFilter{Authority: q.Get("authority"), Kind: schemas.DueKind(q.Get("kind")), Limit: schemas.DefaultOverdueLimit}
	if f.Authority != "" && !authorityCode(f.Authority) {
		return f, &schemas.FieldProblem{Pointer: "/authority", Message: "must be an 8-digit authority code (EDRPOU)"}
	}
	if f.Kind != "" && !f.Kind.Alarmed() {
		return f, &schemas.FieldProblem{Pointer: "/kind", Message: fmt.Sprintf("must be %q or %q", schemas.DueAnswer, schemas.DueDeliveryNotice)}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > schemas.MaxOverdueLimit {
			return f, &schemas.FieldProblem{Pointer: "/limit", Message: fmt.Sprintf("must be an integer from 1 to %d", schemas.MaxOverdueLimit)}
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := schemas.ParseOverdueCursor(v)
		if err != nil {
			return f, &schemas.FieldProblem{Pointer: "/cursor", Message: "must be a next_cursor this listing gave"}
		}
		f.After = &c
	}
	return f, nil
}

func authorityCode(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
