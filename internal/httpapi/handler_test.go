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
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"appealhub/schemas"
)

func TestSubmitAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	w := b.do(submitRequest(strings.NewReader(testBody), func(r *http.Request) {
		r.Header.Set("traceparent", tp)
		r.Header.Set("Content-Type", "application/json; charset=UTF-8")
		r.Header.Set("X-Request-Id", "portal-req-42")
	}))
	require.Equal(t, http.StatusAccepted, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.Equal(t, testReceipt.StatusURL, w.Header().Get("Location"))
	require.Equal(t, "portal-req-42", w.Header().Get("X-Request-Id"))
	var got schemas.Receipt
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, testReceipt, got)

	require.EqualValues(t, 1, b.sub.calls.Load())
	req := b.sub.lastRequest()
	require.Equal(t, SubmitRequest{ClientID: "portal-1", IdempotencyKey: "key-1", Body: []byte(testBody), TraceParent: tp}, req)
}

func TestSubmitDropsMalformedTraceParent(t *testing.T) {
	t.Parallel()
	for _, tp := range []string{
		"garbage",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
	} {
		b := setup(t, Config{})
		w := b.do(submitRequest(strings.NewReader(testBody), func(r *http.Request) { r.Header.Set("traceparent", tp) }))
		require.Equal(t, http.StatusAccepted, w.Code)
		require.Empty(t, b.sub.lastRequest().TraceParent, tp)
	}
}

// TestSubmitRefusedBeforeSubmitter covers every refusal that must happen before the Submitter is
// called: it never is.
func TestSubmitRefusedBeforeSubmitter(t *testing.T) {
	t.Parallel()
	hdr := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	del := func(k string) func(*http.Request) { return func(r *http.Request) { r.Header.Del(k) } }
	tests := []struct {
		name   string
		body   io.Reader
		mods   []func(*http.Request)
		status int
		code   schemas.Code
	}{
		{"no authorization", nil, []func(*http.Request){del("Authorization")}, 401, schemas.CodeUnauthorized},
		{"basic scheme", nil, []func(*http.Request){hdr("Authorization", "Basic cG9ydGFsOnB3")}, 401, schemas.CodeUnauthorized},
		{"empty bearer", nil, []func(*http.Request){hdr("Authorization", "Bearer ")}, 401, schemas.CodeUnauthorized},
		{"unknown token", nil, []func(*http.Request){hdr("Authorization", "Bearer nope")}, 401, schemas.CodeUnauthorized},
		{"two authorization headers", nil, []func(*http.Request){func(r *http.Request) { r.Header.Add("Authorization", "Bearer portal-token") }}, 401, schemas.CodeUnauthorized},
		{"oversized token", nil, []func(*http.Request){hdr("Authorization", "Bearer "+strings.Repeat("x", 5000))}, 401, schemas.CodeUnauthorized},
		{"authenticator fails", nil, []func(*http.Request){hdr("Authorization", "Bearer broken-token")}, 401, schemas.CodeUnauthorized},
		{"principal without client id", nil, []func(*http.Request){hdr("Authorization", "Bearer empty-token")}, 401, schemas.CodeUnauthorized},
		{"token store down", nil, []func(*http.Request){hdr("Authorization", "Bearer down-token")}, 503, schemas.CodeServiceUnavailable},
		{"authority principal", nil, []func(*http.Request){hdr("Authorization", "Bearer authority-token")}, 403, schemas.CodeForbidden},
		{"operator principal", nil, []func(*http.Request){hdr("Authorization", "Bearer operator-token")}, 403, schemas.CodeForbidden},
		{"no content type", nil, []func(*http.Request){del("Content-Type")}, 415, schemas.CodeUnsupportedMediaType},
		{"text/plain", nil, []func(*http.Request){hdr("Content-Type", "text/plain")}, 415, schemas.CodeUnsupportedMediaType},
		{"json in latin1", nil, []func(*http.Request){hdr("Content-Type", "application/json; charset=iso-8859-1")}, 415, schemas.CodeUnsupportedMediaType},
		{"form", nil, []func(*http.Request){hdr("Content-Type", "application/x-www-form-urlencoded")}, 415, schemas.CodeUnsupportedMediaType},
		{"no idempotency key", nil, []func(*http.Request){del("Idempotency-Key")}, 400, schemas.CodeIdempotencyKeyMissing},
		{"empty idempotency key", nil, []func(*http.Request){hdr("Idempotency-Key", "")}, 400, schemas.CodeIdempotencyKeyMissing},
		{"idempotency key of 201 characters", nil, []func(*http.Request){hdr("Idempotency-Key", strings.Repeat("k", 201))}, 400, schemas.CodeIdempotencyKeyMissing},
		{"non-ASCII idempotency key", nil, []func(*http.Request){hdr("Idempotency-Key", "ключ")}, 400, schemas.CodeIdempotencyKeyMissing},
		{"control character in idempotency key", nil, []func(*http.Request){hdr("Idempotency-Key", "a\x01b")}, 400, schemas.CodeIdempotencyKeyMissing},
		{"two idempotency keys", nil, []func(*http.Request){func(r *http.Request) { r.Header.Add("Idempotency-Key", "key-2") }}, 400, schemas.CodeIdempotencyKeyMissing},
		{"announced length over the limit", strings.NewReader("{}"), []func(*http.Request){func(r *http.Request) { r.ContentLength = 1025 }}, 413, schemas.CodeBodyTooLarge},
		{"body over the limit", strings.NewReader(strings.Repeat(" ", 1025)), nil, 413, schemas.CodeBodyTooLarge},
		{"streamed body over the limit", io.MultiReader(strings.NewReader(strings.Repeat(" ", 1000)), strings.NewReader(strings.Repeat(" ", 1000))),
			[]func(*http.Request){func(r *http.Request) { r.ContentLength = -1 }}, 413, schemas.CodeBodyTooLarge},
		{"unreadable body", io.MultiReader(strings.NewReader("{"), errReader{}), []func(*http.Request){func(r *http.Request) { r.ContentLength = -1 }}, 400, schemas.CodeMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{MaxBodyBytes: 1024})
			body := tt.body
			if body == nil {
				body = strings.NewReader(testBody)
			}
			w := b.do(submitRequest(body, tt.mods...))
			p := requireProblem(t, w, tt.status, tt.code)
			require.Equal(t, "/v1/appeals", p.Instance)
			require.NotEmpty(t, p.Detail)
			require.Zero(t, b.sub.calls.Load(), "the submitter must not be called")
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestSubmitBodyAtTheLimitIsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{MaxBodyBytes: 1024})
	body := strings.Repeat(" ", 1024)
	w := b.do(submitRequest(strings.NewReader(body)))
	require.Equal(t, http.StatusAccepted, w.Code)
	require.Len(t, b.sub.lastRequest().Body, 1024)

	w = b.do(submitRequest(strings.NewReader(body), func(r *http.Request) { r.ContentLength = -1 }))
	require.Equal(t, http.StatusAccepted, w.Code)
}

// countingReader yields n spaces, counting what was read.
type countingReader struct {
	left, read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), c.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	c.left -= n
	c.read += n
	return int(n), nil
}

func TestSubmitDefaultLimitStreamed(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{}) // the default: 25 MiB
	body := &countingReader{left: DefaultMaxBodyBytes + 4096}
	w := b.do(submitRequest(body, func(r *http.Request) { r.ContentLength = -1 }))
	requireProblem(t, w, http.StatusRequestEntityTooLarge, schemas.CodeBodyTooLarge)
	require.Zero(t, b.sub.calls.Load())
	require.LessOrEqual(t, body.read, int64(DefaultMaxBodyBytes+1), "reading stops at the limit")
	require.EqualValues(t, 25<<20, DefaultMaxBodyBytes)
}

// TestSubmitErrors maps what the Submitter returns.
func TestSubmitErrors(t *testing.T) {
	t.Parallel()
	fields := []schemas.FieldProblem{{Pointer: "/applicant/surname", Message: "is required"}, {Pointer: "/addressees/0", Message: "must be an 8-digit authority code (EDRPOU)"}}
	tests := []struct {
		name       string
		err        error
		status     int
		code       schemas.Code
		detail     string
		fields     []schemas.FieldProblem
		notInProbs string // text that must not reach the client
	}{
		{"schema violation with fields", &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "bad", Fields: fields}, 400, schemas.CodeSchemaViolation, "bad", fields, ""},
		{"wrapped duplicate key", fmt.Errorf("decode: %w", &schemas.Error{Code: schemas.CodeDuplicateKey, Detail: "dup", Fields: fields[:1]}), 400, schemas.CodeDuplicateKey, "dup", fields[:1], ""},
		{"unknown addressee", schemas.Errorf(schemas.CodeUnknownAddressee, "addressee 12345678 is not registered"), 422, schemas.CodeUnknownAddressee, "addressee 12345678 is not registered", nil, ""},
		{"idempotency key reused", schemas.Errorf(schemas.CodeIdempotencyKeyReused, "reused"), 409, schemas.CodeIdempotencyKeyReused, "reused", nil, ""},
		{"unavailable", fmt.Errorf("begin tx: dial tcp 10.1.2.3:5432: %w", schemas.ErrUnavailable), 503, schemas.CodeServiceUnavailable, detailUnavailable, nil, "10.1.2.3"},
		{"deadline", fmt.Errorf("insert appeal: %w", context.DeadlineExceeded), 503, schemas.CodeServiceUnavailable, detailUnavailable, nil, "insert appeal"},
		{"unexpected", errors.New("pq: relation \"appeals\" does not exist"), 500, schemas.CodeInternal, detailInternal, nil, "relation"},
		{"typed internal", &schemas.Error{Code: schemas.CodeInternal, Detail: "secret internals"}, 500, schemas.CodeInternal, detailInternal, nil, "secret"},
		{"unknown code", &schemas.Error{Code: "made_up", Detail: "secret internals"}, 500, schemas.CodeInternal, detailInternal, nil, "made_up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{})
			b.sub.fn = func(context.Context, SubmitRequest) (schemas.Receipt, error) { return schemas.Receipt{}, tt.err }
			w := b.do(submitRequest(strings.NewReader(testBody)))
			raw := w.Body.String()
			p := requireProblem(t, w, tt.status, tt.code)
			require.Equal(t, tt.detail, p.Detail)
			require.Equal(t, tt.fields, p.Errors)
			require.Empty(t, w.Header().Get("Location"))
			if tt.notInProbs != "" {
				require.NotContains(t, raw, tt.notInProbs)
			}
			if tt.status >= 500 {
				require.Equal(t, 1, b.logs.FilterField(zap.String("request_id", p.RequestID)).FilterFieldKey("error").Len(),
					"the cause is logged with the request id")
			}
		})
	}
}

// TestEveryCodeMapsToItsStatus drives each code of the table through the Submitter.
func TestEveryCodeMapsToItsStatus(t *testing.T) {
	t.Parallel()
	for _, spec := range problemTable {
		t.Run(string(spec.Code), func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{})
			b.sub.fn = func(context.Context, SubmitRequest) (schemas.Receipt, error) {
				return schemas.Receipt{}, schemas.Errorf(spec.Code, "because")
			}
			w := b.do(submitRequest(strings.NewReader(testBody)))
			p := requireProblem(t, w, spec.Status, spec.Code)
			require.Equal(t, spec.Title, p.Title)
			if spec.RetryAfter > 0 {
				require.Equal(t, fmt.Sprint(spec.RetryAfter), w.Header().Get("Retry-After"))
			}
		})
	}
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	b.sub.fn = func(context.Context, SubmitRequest) (schemas.Receipt, error) { panic("boom in submitter") }
	w := b.do(submitRequest(strings.NewReader(testBody)))
	p := requireProblem(t, w, http.StatusInternalServerError, schemas.CodeInternal)
	require.Equal(t, detailInternal, p.Detail)
	require.NotContains(t, w.Body.String(), "boom")
	logged := b.logs.FilterMessage("panic in handler").All()
	require.Len(t, logged, 1)
	require.Equal(t, "boom in submitter", logged[0].ContextMap()["panic"])
	require.Contains(t, logged[0].ContextMap()["stack"], "TestPanicRecovered")
	req := b.logs.FilterMessage("request").All()
	require.Len(t, req, 1)
	require.EqualValues(t, 500, req[0].ContextMap()["status"])
}

func TestAbortHandlerPassesThrough(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	b.sub.fn = func(context.Context, SubmitRequest) (schemas.Receipt, error) { panic(http.ErrAbortHandler) }
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { b.do(submitRequest(strings.NewReader(testBody))) },
		"http.ErrAbortHandler is passed on to the server")
}

func TestDrainingRefusesSubmissions(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	var flag atomic.Bool
	flag.Store(true)
	r := submitRequest(strings.NewReader(testBody))
	r = r.WithContext(context.WithValue(r.Context(), drainingKey{}, &flag))
	w := b.do(r)
	requireProblem(t, w, http.StatusServiceUnavailable, schemas.CodeShuttingDown)
	require.Zero(t, b.sub.calls.Load())
}

func TestGetCase(t *testing.T) {
	t.Parallel()
	get := func(path, token string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return r
	}
	t.Run("found", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		w := b.do(get("/v1/appeals/"+testCase.ID, "portal-token"))
		require.Equal(t, http.StatusOK, w.Code)
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		var got schemas.Case
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		require.Equal(t, testCase, got)
	})
	t.Run("another client's case is not found", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		p := requireProblem(t, b.do(get("/v1/appeals/"+testCase.ID, "portal2-token")), http.StatusNotFound, schemas.CodeNotFound)
		require.Equal(t, "/v1/appeals/"+testCase.ID, p.Instance)
		require.EqualValues(t, 1, b.cases.calls.Load())
	})
	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireProblem(t, b.do(get("/v1/appeals/0190f3c4-0000-7000-8000-00000000ffff", "portal-token")), http.StatusNotFound, schemas.CodeNotFound)
	})
	t.Run("malformed id is not looked up", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireProblem(t, b.do(get("/v1/appeals/"+strings.Repeat("a", 200), "portal-token")), http.StatusNotFound, schemas.CodeNotFound)
		requireProblem(t, b.do(get("/v1/appeals/a%27%20OR%201=1", "portal-token")), http.StatusNotFound, schemas.CodeNotFound)
		require.Zero(t, b.cases.calls.Load())
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireProblem(t, b.do(get("/v1/appeals/"+testCase.ID, "")), http.StatusUnauthorized, schemas.CodeUnauthorized)
		require.Zero(t, b.cases.calls.Load())
	})
	t.Run("authority token", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		requireProblem(t, b.do(get("/v1/appeals/"+testCase.ID, "authority-token")), http.StatusForbidden, schemas.CodeForbidden)
		require.Zero(t, b.cases.calls.Load())
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.cases.err = fmt.Errorf("query case: %w", schemas.ErrUnavailable)
		requireProblem(t, b.do(get("/v1/appeals/"+testCase.ID, "portal-token")), http.StatusServiceUnavailable, schemas.CodeServiceUnavailable)
	})
}

func TestRouting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path string
		status       int
		code         schemas.Code
		allow        string
	}{
		{http.MethodGet, "/", 404, schemas.CodeNotFound, ""},
		{http.MethodGet, "/v1/nothing", 404, schemas.CodeNotFound, ""},
		{http.MethodPost, "/v1/appeals/x/y", 404, schemas.CodeNotFound, ""},
		{http.MethodGet, "/v1/appeals", 405, schemas.CodeMethodNotAllowed, "POST"},
		{http.MethodPut, "/v1/appeals", 405, schemas.CodeMethodNotAllowed, "POST"},
		{http.MethodDelete, "/v1/appeals/abc", 405, schemas.CodeMethodNotAllowed, "GET, HEAD"},
		{http.MethodPost, "/livez", 405, schemas.CodeMethodNotAllowed, "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Config{})
			w := b.do(httptest.NewRequest(tt.method, tt.path, nil))
			p := requireProblem(t, w, tt.status, tt.code)
			require.Equal(t, tt.path, p.Instance)
			require.Equal(t, tt.allow, w.Header().Get("Allow"))
			require.Zero(t, b.sub.calls.Load())
			entries := b.logs.FilterMessage("request").All()
			require.Len(t, entries, 1)
			require.Equal(t, "unmatched", entries[0].ContextMap()["route"])
		})
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	t.Run("livez", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.ready.set(Check{Name: "postgres", OK: false})
		w := b.do(httptest.NewRequest(http.MethodGet, "/livez", nil))
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"status":"ok"}`, w.Body.String())
	})
	t.Run("ready", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.ready.set(Check{Name: "postgres", OK: true}, Check{Name: "rabbitmq", OK: true})
		w := b.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"status":"ok","checks":[{"name":"postgres","ok":true},{"name":"rabbitmq","ok":true}]}`, w.Body.String())
	})
	t.Run("not ready", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.ready.set(Check{Name: "postgres", OK: true}, Check{Name: "rabbitmq", OK: false, Detail: "connection blocked"})
		w := b.do(httptest.NewRequest(http.MethodGet, "/readyz", nil))
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		require.JSONEq(t, `{"status":"unavailable","checks":[{"name":"postgres","ok":true},{"name":"rabbitmq","ok":false,"detail":"connection blocked"}]}`, w.Body.String())
	})
	t.Run("verbose", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		b.ready.set(Check{Name: "postgres", OK: true}, Check{Name: "rabbitmq", OK: false, Detail: "connection blocked"})
		w := b.do(httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		require.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))
		require.Equal(t, "[+]postgres ok\n[-]rabbitmq failed: connection blocked\nreadyz check failed\n", w.Body.String())
	})
	t.Run("no checks", func(t *testing.T) {
		t.Parallel()
		h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}}, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"status":"ok","checks":[]}`, w.Body.String())
	})
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	w := b.do(httptest.NewRequest(http.MethodGet, "/livez", nil))
	generated := w.Header().Get("X-Request-Id")
	require.Regexp(t, `^[0-9a-f]{32}$`, generated)
	w = b.do(httptest.NewRequest(http.MethodGet, "/livez", nil))
	require.NotEqual(t, generated, w.Header().Get("X-Request-Id"))

	r := httptest.NewRequest(http.MethodGet, "/livez", nil)
	r.Header.Set("X-Request-Id", "abc-123_x.y:z")
	require.Equal(t, "abc-123_x.y:z", b.do(r).Header().Get("X-Request-Id"))

	for _, insane := range []string{"has space", strings.Repeat("a", 129), "<script>", "новий"} {
		r := httptest.NewRequest(http.MethodGet, "/livez", nil)
		r.Header.Set("X-Request-Id", insane)
		got := b.do(r).Header().Get("X-Request-Id")
		require.Regexp(t, `^[0-9a-f]{32}$`, got, insane)
	}
}

// TestRequestLog checks the one line per request: its fields, and no body or personal data.
func TestRequestLog(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	b.sub.fn = func(context.Context, SubmitRequest) (schemas.Receipt, error) {
		return schemas.Receipt{}, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "bad",
			Fields: []schemas.FieldProblem{{Pointer: "/applicant/surname", Message: "is required"}}}
	}
	w := b.do(submitRequest(strings.NewReader(testBody), func(r *http.Request) { r.Header.Set("X-Request-Id", "req-77") }))
	require.Equal(t, http.StatusBadRequest, w.Code)
	entries := b.logs.All()
	require.Len(t, entries, 1, "one line per request")
	fields := entries[0].ContextMap()
	require.Equal(t, "request", entries[0].Message)
	require.Equal(t, "POST", fields["method"])
	require.Equal(t, "POST /v1/appeals", fields["route"])
	require.EqualValues(t, 400, fields["status"])
	require.Equal(t, "req-77", fields["request_id"])
	require.Equal(t, "portal-1", fields["client_id"])
	require.Contains(t, fields, "duration")
	for _, e := range entries {
		for _, v := range e.ContextMap() {
			s := fmt.Sprint(v)
			require.NotContains(t, s, "Коваль")
			require.NotContains(t, s, "portal-token")
		}
	}
}

func TestNewHandlerNeedsDeps(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { NewHandler(Config{}, Deps{Auth: fakeAuth{}}, nil) })
}

func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	require.Equal(t, Config{
		Addr: DefaultAddr, MaxBodyBytes: DefaultMaxBodyBytes, ReadHeaderTimeout: DefaultReadHeaderTimeout,
		ReadTimeout: DefaultReadTimeout, WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout,
		TrackPerMinute: DefaultTrackPerMinute, TrackBurst: DefaultTrackBurst,
	}, c)
	require.Greater(t, c.WriteTimeout, c.ReadTimeout)
	c = Config{Addr: ":0", MaxBodyBytes: 10, ReadTimeout: -1}.WithDefaults()
	require.Equal(t, ":0", c.Addr)
	require.EqualValues(t, 10, c.MaxBodyBytes)
	require.Equal(t, DefaultReadTimeout, c.ReadTimeout)
}
