package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeAuth knows a fixed set of tokens.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (Principal, error) {
	switch token {
	case "portal-token":
		return Principal{ClientID: "portal-1", Kind: KindPortal}, nil
	case "portal2-token":
		return Principal{ClientID: "portal-2", Kind: KindPortal}, nil
	case "authority-token":
		return Principal{ClientID: "auth-1", Kind: KindAuthority, Authority: "19863933"}, nil
	case "operator-token":
		return Principal{ClientID: "op-1", Kind: KindOperator}, nil
	case "down-token":
		return Principal{}, fmt.Errorf("look up token: %w", schemas.ErrUnavailable)
	case "broken-token":
		return Principal{}, errors.New("token table corrupted")
	case "empty-token":
		return Principal{}, nil
	default:
		return Principal{}, schemas.Errorf(schemas.CodeUnauthorized, "unknown token")
	}
}

// fakeSubmitter counts calls and answers with fn (a fixed receipt when fn is nil).
type fakeSubmitter struct {
	calls atomic.Int64
	fn    func(ctx context.Context, req SubmitRequest) (schemas.Receipt, error)

	mu   sync.Mutex
	last SubmitRequest
}

var testReceipt = schemas.Receipt{
	ID:             "0190f3c4-7d2e-7a1b-9c3d-4e5f6a7b8c9d",
	TrackingNumber: "ZV-2026-00000001",
	StatusURL:      "/v1/appeals/0190f3c4-7d2e-7a1b-9c3d-4e5f6a7b8c9d",
	ReceivedAt:     time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
}

func (f *fakeSubmitter) Submit(ctx context.Context, req SubmitRequest) (schemas.Receipt, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.last = req
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, req)
	}
	return testReceipt, nil
}

func (f *fakeSubmitter) lastRequest() SubmitRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// fakeCases holds cases by id for their owning client.
type fakeCases struct {
	calls atomic.Int64
	cases map[string]schemas.Case // id → case, owned by portal-1
	err   error
}

func (f *fakeCases) Case(_ context.Context, clientID, id string) (schemas.Case, error) {
	f.calls.Add(1)
	if f.err != nil {
		return schemas.Case{}, f.err
	}
	c, ok := f.cases[id]
	if !ok || clientID != "portal-1" {
		return schemas.Case{}, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	return c, nil
}

type fakeReady struct {
	mu     sync.Mutex
	checks []Check
}

func (f *fakeReady) Ready(context.Context) []Check {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Check(nil), f.checks...)
}

func (f *fakeReady) set(checks ...Check) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = checks
}

type testBundle struct {
	handler http.Handler
	sub     *fakeSubmitter
	cases   *fakeCases
	ready   *fakeReady
	logs    *observer.ObservedLogs
}

var testCase = schemas.Case{
	ID:             testReceipt.ID,
	TrackingNumber: testReceipt.TrackingNumber,
	CaseKind:       schemas.CaseAppeal,
	AppealKind:     schemas.AppealComplaint,
	ReceivedAt:     testReceipt.ReceivedAt,
	Deliveries: []schemas.Delivery{{
		ID: "0190f3c4-0000-7000-8000-000000000001", Authority: "19863933",
		Status: schemas.StatusDelivered, Attempts: 1, UpdatedAt: testReceipt.ReceivedAt,
	}},
	Events: []schemas.Event{{Seq: 1, Type: schemas.EventSubmissionAccepted, At: testReceipt.ReceivedAt}},
}

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	b := &testBundle{
		sub:   &fakeSubmitter{},
		cases: &fakeCases{cases: map[string]schemas.Case{testCase.ID: testCase}},
		ready: &fakeReady{},
		logs:  logs,
	}
	b.handler = NewHandler(cfg, Deps{Auth: fakeAuth{}, Submitter: b.sub, Cases: b.cases, Ready: b.ready}, logger)
	return b
}

const testBody = `{"case_kind":"appeal","appeal_kind":"proposal","applicant":{"surname":"Коваль","name":"Олег"},"addressees":["19863933"],"subject":"Тема","text":"Текст."}`

// submitRequest is a valid POST /v1/appeals; mods change it.
func submitRequest(body io.Reader, mods ...func(r *http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/appeals", body)
	r.Header.Set("Authorization", "Bearer portal-token")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", "key-1")
	for _, m := range mods {
		m(r)
	}
	return r
}

func (b *testBundle) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	b.handler.ServeHTTP(w, r)
	return w
}

// requireProblem asserts w is a problem with status and code, and returns it.
func requireProblem(t *testing.T, w *httptest.ResponseRecorder, status int, code schemas.Code) Problem {
	t.Helper()
	require.Equal(t, status, w.Code, "body: %s", w.Body.String())
	require.Equal(t, ProblemContentType, w.Header().Get("Content-Type"))
	var p Problem
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, code, p.Code)
	require.Equal(t, status, p.Status)
	require.Equal(t, ProblemTypeBase+string(code), p.Type)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, w.Header().Get("X-Request-Id"), p.RequestID)
	if status == http.StatusServiceUnavailable {
		require.NotEmpty(t, w.Header().Get("Retry-After"))
	}
	if status == http.StatusUnauthorized {
		require.True(t, strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer"))
	}
	return p
}
