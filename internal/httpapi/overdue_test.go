package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// fakeOverdue records the filter it was given and answers one item, or the store down for
// authority 00000001.
type fakeOverdue struct {
	mu   sync.Mutex
	last schemas.OverdueFilter
}

func (f *fakeOverdue) Overdue(_ context.Context, filter schemas.OverdueFilter) (schemas.OverduePage, error) {
	f.mu.Lock()
	f.last = filter
	f.mu.Unlock()
	if filter.Authority == "00000001" {
		return schemas.OverduePage{}, fmt.Errorf("list overdue: %w", schemas.ErrUnavailable)
	}
	due := time.Date(2026, 4, 2, 21, 0, 0, 0, time.UTC)
	return schemas.OverduePage{Items: []schemas.OverdueItem{{DeliveryID: "d-1", AppealID: "a-1", TrackingNumber: "ZV-2026-00000001",
		Authority: "19863933", CaseKind: schemas.CaseAppeal, Status: schemas.StatusRegistered, Kind: schemas.DueAnswer, DueAt: due,
		LateSeconds: 60, Rule: "appeal.answer.month"}}, NextCursor: "abc"}, nil
}

func (f *fakeOverdue) filter() schemas.OverdueFilter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

func TestOverdueRoute(t *testing.T) {
	t.Parallel()
	fake := &fakeOverdue{}
	h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}, Overdue: fake},
		zaptest.NewLogger(t))

	requireProblem(t, serve(h, http.MethodGet, "/v1/overdue", "", "", ""), http.StatusUnauthorized, schemas.CodeUnauthorized)
	for _, token := range []string{"portal-token", "authority-token"} {
		requireProblem(t, serve(h, http.MethodGet, "/v1/overdue", token, "", ""), http.StatusForbidden, schemas.CodeForbidden)
	}
	w := serve(h, http.MethodGet, "/v1/overdue", "operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"items":[{"delivery_id":"d-1","appeal_id":"a-1","tracking_number":"ZV-2026-00000001","authority":"19863933",
		"case_kind":"appeal","status":"registered","kind":"answer","due_at":"2026-04-02T21:00:00Z","late_seconds":60,
		"rule":"appeal.answer.month"}],"next_cursor":"abc"}`, w.Body.String())
	require.Equal(t, schemas.OverdueFilter{Limit: schemas.DefaultOverdueLimit}, fake.filter())

	cursor := schemas.OverdueCursor{DueAt: time.Date(2026, 4, 2, 21, 0, 0, 0, time.UTC), ID: 42}
	w = serve(h, http.MethodGet, "/v1/overdue?authority=19863933&kind=delivery_notice&limit=500&cursor="+cursor.String(), "operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, schemas.OverdueFilter{Authority: "19863933", Kind: schemas.DueDeliveryNotice, Limit: 500, After: &cursor}, fake.filter())

	for query, pointer := range map[string]string{
		"authority=1986393":   "/authority",
		"authority=1986393x":  "/authority",
		"kind=forward":        "/kind",
		"kind=ANSWER":         "/kind",
		"limit=0":             "/limit",
		"limit=501":           "/limit",
		"limit=ten":           "/limit",
		"cursor=not-a-cursor": "/cursor",
		"cursor=" + schemas.OverdueCursor{ID: 0}.String(): "/cursor",
	} {
		w := serve(h, http.MethodGet, "/v1/overdue?"+query, "operator-token", "", "")
		p := requireProblem(t, w, http.StatusBadRequest, schemas.CodeSchemaViolation)
		require.Len(t, p.Errors, 1, query)
		require.Equal(t, pointer, p.Errors[0].Pointer, query)
	}
	requireProblem(t, serve(h, http.MethodGet, "/v1/overdue?authority=00000001", "operator-token", "", ""),
		http.StatusServiceUnavailable, schemas.CodeServiceUnavailable)

	// Without the port the route is absent.
	bare := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}}, zaptest.NewLogger(t))
	requireProblem(t, serve(bare, http.MethodGet, "/v1/overdue", "operator-token", "", ""), http.StatusNotFound, schemas.CodeNotFound)
}

func TestOverdueCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := schemas.OverdueCursor{DueAt: time.Date(2026, 10, 25, 0, 30, 0, 123456000, time.UTC), ID: 7}
	got, err := schemas.ParseOverdueCursor(c.String())
	require.NoError(t, err)
	require.Equal(t, c, got)
	for _, bad := range []string{"", "!!", "MTIz", "MTIzLjQ1Ng==", "MTIzLjA"} {
		_, err := schemas.ParseOverdueCursor(bad)
		require.Error(t, err, bad)
	}
}
