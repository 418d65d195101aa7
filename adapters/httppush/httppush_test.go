package httppush_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/adapters"
	"appealhub/adapters/httppush"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type testBundle struct {
	transport *httppush.Transport
	server    *httptest.Server
}

// setup starts a server running handler and a transport with cfg.
func setup(t *testing.T, cfg httppush.Config, handler http.HandlerFunc) *testBundle {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	tr := httppush.New(cfg)
	t.Cleanup(func() { require.NoError(t, tr.Close()) })
	return &testBundle{transport: tr, server: srv}
}

func request(endpoint string) adapters.Request {
	return adapters.Request{
		Endpoint:   endpoint,
		DeliveryID: "0190f5a0-0000-7000-8000-0000000000aa",
		MediaType:  "application/json",
		Body:       []byte(`{"format":"appealhub.delivery.v1"}`),
	}
}

func TestSendHeadersAndBody(t *testing.T) {
	t.Parallel()

	type seen struct {
		method string
		header http.Header
		body   []byte
	}
	got := make(chan seen, 1)
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{method: r.Method, header: r.Header.Clone(), body: body}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"status":"delivered"}`)
	})

	req := request(b.server.URL + "/documents/66784279")
	req.Token = "s3cret"
	req.Headers = map[string]string{
		"traceparent":     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"Idempotency-Key": "forged",
		"authorization":   "Basic forged",
		"content-type":    "text/plain",
	}
	resp, err := b.transport.Send(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, adapters.Response{
		Status:    http.StatusCreated,
		MediaType: "application/json; charset=utf-8",
		Body:      []byte(`{"status":"delivered"}`),
	}, resp)

	s := <-got
	require.Equal(t, http.MethodPost, s.method)
	require.Equal(t, req.Body, s.body)
	require.Equal(t, []string{req.DeliveryID}, s.header.Values("Idempotency-Key"), "Headers cannot replace the key")
	require.Equal(t, []string{"Bearer s3cret"}, s.header.Values("Authorization"))
	require.Equal(t, []string{"application/json"}, s.header.Values("Content-Type"))
	require.Equal(t, req.Headers["traceparent"], s.header.Get("Traceparent"))
}

func TestSendWithoutToken(t *testing.T) {
	t.Parallel()

	got := make(chan http.Header, 1)
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	})
	req := request(b.server.URL)
	req.Headers = map[string]string{"Authorization": "Bearer forged"}
	resp, err := b.transport.Send(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.Status)
	require.Empty(t, resp.Body)
	require.Empty(t, (<-got).Values("Authorization"), "no token, no Authorization header")
}

func TestSendStatusClasses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		status    int
		ok        bool
		permanent bool
	}{
		{status: 200, ok: true},
		{status: 201, ok: true},
		{status: 202, ok: true},
		{status: 204, ok: true},
		{status: 301, permanent: true},
		{status: 302, permanent: true},
		{status: 400, permanent: true},
		{status: 401, permanent: true},
		{status: 403, permanent: true},
		{status: 404, permanent: true},
		{status: 409, permanent: true},
		{status: 413, permanent: true},
		{status: 422, permanent: true},
		{status: 408},
		{status: 429},
		{status: 500},
		{status: 502},
		{status: 503},
		{status: 504},
	}
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		var status int
		_, _ = fmt.Sscanf(r.URL.Path, "/%d", &status)
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		if status != http.StatusNoContent {
			_, _ = fmt.Fprintf(w, "answer %d", status)
		}
	})
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			resp, err := b.transport.Send(context.Background(), request(fmt.Sprintf("%s/%d", b.server.URL, tt.status)))
			require.Equal(t, tt.status, resp.Status)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			serr, ok := errors.AsType[*httppush.StatusError](err)
			require.True(t, ok, "want a *StatusError, got %v", err)
			require.Equal(t, tt.status, serr.Status)
			require.Equal(t, fmt.Sprintf("answer %d", tt.status), serr.Body)
			require.Equal(t, tt.permanent, adapters.IsPermanent(err))
			require.Equal(t, !tt.permanent, serr.Transient())
			require.Contains(t, err.Error(), "0190f5a0-0000-7000-8000-0000000000aa", "the error names the delivery")
		})
	}
}

func TestStatusErrorBody(t *testing.T) {
	t.Parallel()

	long := "Помилка\x00\x1b[31m " + strings.Repeat("ж", 300) + "\xff"
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, long)
	})
	_, err := b.transport.Send(context.Background(), request(b.server.URL))
	serr, ok := errors.AsType[*httppush.StatusError](err)
	require.True(t, ok)
	require.Equal(t, 7*time.Second, serr.RetryAfter)
	require.LessOrEqual(t, len(serr.Body), 200)
	require.True(t, strings.HasPrefix(serr.Body, "Помилка  [31m жж"), "control characters are blanked: %q", serr.Body)
	require.True(t, strings.ToValidUTF8(serr.Body, "?") == serr.Body, "valid UTF-8")
	require.NotContains(t, err.Error(), "Помилка", "the body stays out of the error text")
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	b := setup(t, httppush.Config{Timeout: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })

	start := time.Now()
	_, err := b.transport.Send(context.Background(), request(b.server.URL))
	require.Error(t, err)
	require.Less(t, time.Since(start), 10*time.Second, "the timeout bounds the request")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "no answer within 200ms")
	require.False(t, adapters.IsPermanent(err))
}

func TestSendContextCancel(t *testing.T) {
	t.Parallel()

	started := make(chan struct{})
	release := make(chan struct{})
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := b.transport.Send(ctx, request(b.server.URL))
	require.ErrorIs(t, err, context.Canceled)
	require.NotContains(t, err.Error(), "no answer within", "the caller cancelled; it was not our timeout")
	require.False(t, adapters.IsPermanent(err))
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	tr := httppush.New(httppush.Config{ConnectTimeout: time.Second})
	t.Cleanup(func() { _ = tr.Close() })
	_, err = tr.Send(context.Background(), request("http://"+addr+"/documents"))
	require.Error(t, err)
	require.False(t, adapters.IsPermanent(err))
	_, isStatus := errors.AsType[*httppush.StatusError](err)
	require.False(t, isStatus)
	require.ErrorContains(t, err, "connection refused")
}

func TestSendConnectionDropped(t *testing.T) {
	t.Parallel()

	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	_, err := b.transport.Send(context.Background(), request(b.server.URL))
	require.Error(t, err)
	require.False(t, adapters.IsPermanent(err))
	_, isStatus := errors.AsType[*httppush.StatusError](err)
	require.False(t, isStatus)
}

func TestSendMaxResponseBytes(t *testing.T) {
	t.Parallel()

	b := setup(t, httppush.Config{MaxResponseBytes: 16}, func(w http.ResponseWriter, r *http.Request) {
		var n int
		_, _ = fmt.Sscanf(r.URL.Path, "/%d", &n)
		_, _ = io.WriteString(w, strings.Repeat("x", n))
	})
	resp, err := b.transport.Send(context.Background(), request(b.server.URL+"/16"))
	require.NoError(t, err)
	require.Len(t, resp.Body, 16)

	_, err = b.transport.Send(context.Background(), request(b.server.URL+"/17"))
	require.ErrorIs(t, err, httppush.ErrResponseTooLarge)
	require.False(t, adapters.IsPermanent(err))
}

func TestSendRefusesBadRequests(t *testing.T) {
	t.Parallel()

	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("no request should reach the server, got %s", r.URL)
	})
	tests := map[string]func(*adapters.Request){
		"empty delivery id":     func(r *adapters.Request) { r.DeliveryID = "" },
		"no scheme":             func(r *adapters.Request) { r.Endpoint = strings.TrimPrefix(r.Endpoint, "http://") },
		"ftp":                   func(r *adapters.Request) { r.Endpoint = "ftp://example.org/x" },
		"unparsable endpoint":   func(r *adapters.Request) { r.Endpoint = "http://[::1" },
		"newline in header":     func(r *adapters.Request) { r.Headers = map[string]string{"traceparent": "a\r\nX-Evil: 1"} },
		"bad header name":       func(r *adapters.Request) { r.Headers = map[string]string{"a b": "c"} },
		"newline in token":      func(r *adapters.Request) { r.Token = "t\nX-Evil: 1" },
		"newline in media type": func(r *adapters.Request) { r.MediaType = "a\nb" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := request(b.server.URL)
			mutate(&req)
			_, err := b.transport.Send(context.Background(), req)
			require.Error(t, err)
			require.True(t, adapters.IsPermanent(err), "%v", err)
		})
	}
}

func TestSendTLS(t *testing.T) {
	t.Parallel()

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	trusted := httppush.New(httppush.Config{TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
	t.Cleanup(func() { _ = trusted.Close() })
	resp, err := trusted.Send(context.Background(), request(srv.URL))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.Status)

	untrusted := httppush.New(httppush.Config{})
	t.Cleanup(func() { _ = untrusted.Close() })
	_, err = untrusted.Send(context.Background(), request(srv.URL))
	require.ErrorContains(t, err, "certificate")
	require.False(t, adapters.IsPermanent(err))
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()

	var mu sync.Mutex
	keys := map[string]int{}
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys[r.Header.Get("Idempotency-Key")]++
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			req := request(b.server.URL)
			req.DeliveryID = fmt.Sprintf("d-%02d", i)
			_, err := b.transport.Send(context.Background(), req)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, keys, 64)
	for k, n := range keys {
		require.Equal(t, 1, n, k)
	}
}

// TestSendNotResentOnClosedConnections: a document that makes the receiving system drop the
// connection without an answer is sent once per Send, however many idle keep-alive connections
// the transport holds (net/http would resend a replayable POST on each of them).
func TestSendNotResentOnClosedConnections(t *testing.T) {
	t.Parallel()

	const warm = 4
	var mu sync.Mutex
	arrived, crashes := 0, 0
	all := make(chan struct{})
	b := setup(t, httppush.Config{}, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == "crash" {
			mu.Lock()
			crashes++
			mu.Unlock()
			panic(http.ErrAbortHandler)
		}
		// Hold the warming requests until all have arrived, so that each has its own connection.
		mu.Lock()
		arrived++
		if arrived == warm {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	})
	var wg sync.WaitGroup
	for range warm {
		wg.Go(func() {
			req := request(b.server.URL)
			req.Body = []byte("warm")
			_, err := b.transport.Send(context.Background(), req)
			require.NoError(t, err)
		})
	}
	wg.Wait()

	req := request(b.server.URL)
	req.Body = []byte("crash")
	_, err := b.transport.Send(context.Background(), req)
	require.Error(t, err)
	require.False(t, adapters.IsPermanent(err), "no answer is transient: %v", err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, crashes, "sends of one document in one Send")
}
