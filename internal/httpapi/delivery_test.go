package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// fakeDelivery knows one authority, and reports the store down for another.
type fakeDelivery struct{}

func (fakeDelivery) AuthorityDelivery(_ context.Context, code string) (AuthorityDelivery, error) {
	opened := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	retry := opened.Add(30 * time.Second)
	switch code {
	case "19863933":
		return AuthorityDelivery{Code: code, Breaker: BreakerOpen, ConsecutiveFailures: 5, OpenedAt: &opened, RetryAt: &retry,
			Concurrency: 4, RequestTimeoutMS: 2500, InFlight: 1}, nil
	case "00000001":
		return AuthorityDelivery{}, fmt.Errorf("read limits: %w", schemas.ErrUnavailable)
	}
	return AuthorityDelivery{}, schemas.Errorf(schemas.CodeNotFound, "no such authority")
}

func TestAuthorityDeliveryRoute(t *testing.T) {
	t.Parallel()
	h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}, Delivery: fakeDelivery{}},
		zaptest.NewLogger(t))
	const path = "/v1/authorities/19863933/delivery"

	requireProblem(t, serve(h, http.MethodGet, path, "", "", ""), http.StatusUnauthorized, schemas.CodeUnauthorized)
	for _, token := range []string{"portal-token", "authority-token"} {
		requireProblem(t, serve(h, http.MethodGet, path, token, "", ""), http.StatusForbidden, schemas.CodeForbidden)
	}
	w := serve(h, http.MethodGet, path, "operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"code":"19863933","breaker":"open","consecutive_failures":5,"opened_at":"2026-11-27T10:00:00Z",
		"retry_at":"2026-11-27T10:00:30Z","concurrency":4,"request_timeout_ms":2500,"in_flight":1}`, w.Body.String())
	requireProblem(t, serve(h, http.MethodGet, "/v1/authorities/99999997/delivery", "operator-token", "", ""),
		http.StatusNotFound, schemas.CodeNotFound)
	requireProblem(t, serve(h, http.MethodGet, "/v1/authorities/00000001/delivery", "operator-token", "", ""),
		http.StatusServiceUnavailable, schemas.CodeServiceUnavailable)

	// Without the port the route is absent.
	bare := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}}, zaptest.NewLogger(t))
	requireProblem(t, serve(bare, http.MethodGet, path, "operator-token", "", ""), http.StatusNotFound, schemas.CodeNotFound)
}
