package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

type serverBundle struct {
	*testBundle
	server *Server
	client *http.Client
	base   string
}

func startServer(t *testing.T) *serverBundle {
	t.Helper()
	b := setup(t, Config{})
	s := NewServer(Config{Addr: "127.0.0.1:0"}, b.handler, zaptest.NewLogger(t))
	require.NoError(t, s.Start(t.Context()))
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Stop(ctx))
		tr.CloseIdleConnections()
	})
	return &serverBundle{testBundle: b, server: s, client: &http.Client{Transport: tr}, base: "http://" + s.Addr()}
}

func (sb *serverBundle) post(t *testing.T) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, sb.base+"/v1/appeals", strings.NewReader(testBody))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer portal-token")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "key-1")
	return sb.client.Do(req)
}

func (sb *serverBundle) get(t *testing.T, path string) *http.Response {
	t.Helper()
	resp, err := sb.client.Get(sb.base + path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func readProblem(t *testing.T, resp *http.Response) Problem {
	t.Helper()
	defer resp.Body.Close()
	require.Equal(t, ProblemContentType, resp.Header.Get("Content-Type"))
	var p Problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	return p
}

func TestServerServes(t *testing.T) {
	t.Parallel()
	sb := startServer(t)
	require.NotEmpty(t, sb.server.Addr())
	require.NotEqual(t, "127.0.0.1:0", sb.server.Addr())

	resp, err := sb.post(t)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, testReceipt.StatusURL, resp.Header.Get("Location"))

	require.Equal(t, http.StatusOK, sb.get(t, "/livez").StatusCode)
	require.Equal(t, http.StatusOK, sb.get(t, "/readyz").StatusCode)

	// A body over the limit announced by Content-Length, over a real connection: with
	// Expect: 100-continue the client learns of the 413 before it sends the body.
	sb.client.Transport.(*http.Transport).ExpectContinueTimeout = 10 * time.Second
	req, err := http.NewRequest(http.MethodPost, sb.base+"/v1/appeals", io.LimitReader(zeroReader{}, DefaultMaxBodyBytes+1))
	require.NoError(t, err)
	req.ContentLength = DefaultMaxBodyBytes + 1
	req.Header.Set("Authorization", "Bearer portal-token")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "key-2")
	req.Header.Set("Expect", "100-continue")
	resp, err = sb.client.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, schemas.CodeBodyTooLarge, readProblem(t, resp).Code)
	require.EqualValues(t, 1, sb.sub.calls.Load())
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	s := NewServer(Config{Addr: "127.0.0.1:0"}, b.handler, nil)
	require.Empty(t, s.Addr())
	require.NoError(t, s.Stop(t.Context()), "Stop before Start")
	require.NoError(t, s.Stop(t.Context()), "Stop is idempotent")
	requireClosed(t, s.Stopped())
	require.Error(t, s.Start(t.Context()), "no Start after Stop")

	s = NewServer(Config{Addr: "127.0.0.1:0"}, b.handler, nil)
	require.NoError(t, s.Start(t.Context()))
	require.Error(t, s.Start(t.Context()), "no second Start")

	busy := NewServer(Config{Addr: s.Addr()}, b.handler, nil)
	require.Error(t, busy.Start(t.Context()), "address in use")
	require.NoError(t, busy.Stop(t.Context()))

	require.NoError(t, s.Stop(t.Context()))
	requireClosed(t, s.Stopped())
	require.NoError(t, s.Stop(t.Context()))
	_, err := net.Dial("tcp", s.Addr())
	require.Error(t, err, "nothing listens after Stop")
}

func requireClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	default:
		t.Fatal("channel not closed")
	}
}

// TestServerStopDrains: Stop waits for the request in flight, which completes normally.
func TestServerStopDrains(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	entered, release := make(chan struct{}), make(chan struct{})
	b.sub.fn = func(ctx context.Context, _ SubmitRequest) (schemas.Receipt, error) {
		close(entered)
		<-release
		return testReceipt, nil
	}
	s := NewServer(Config{Addr: "127.0.0.1:0"}, b.handler, zaptest.NewLogger(t))
	require.NoError(t, s.Start(t.Context()))
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	sb := &serverBundle{testBundle: b, server: s, client: &http.Client{Transport: tr}, base: "http://" + s.Addr()}

	type result struct {
		status int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := sb.post(t)
		if err != nil {
			got <- result{err: err}
			return
		}
		_ = resp.Body.Close()
		got <- result{status: resp.StatusCode}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	// Shutdown has begun once the listener refuses connections.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", s.Addr())
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, 5*time.Second, 5*time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was in flight", err)
	default:
	}

	close(release)
	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, http.StatusAccepted, r.status)
	require.NoError(t, <-stopped)
	requireClosed(t, s.Stopped())
}

// TestServerStopTimeout: when ctx ends first, Stop closes the connections and says so.
func TestServerStopTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	entered, release := make(chan struct{}), make(chan struct{})
	handlerDone := make(chan struct{})
	b.sub.fn = func(ctx context.Context, _ SubmitRequest) (schemas.Receipt, error) {
		defer close(handlerDone)
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return schemas.Receipt{}, ctx.Err()
	}
	s := NewServer(Config{Addr: "127.0.0.1:0"}, b.handler, zaptest.NewLogger(t))
	require.NoError(t, s.Start(t.Context()))
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	sb := &serverBundle{testBundle: b, server: s, client: &http.Client{Transport: tr}, base: "http://" + s.Addr()}

	clientErr := make(chan error, 1)
	go func() {
		resp, err := sb.post(t)
		if err == nil {
			_ = resp.Body.Close()
		}
		clientErr <- err
	}()
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Stop(ctx)
	require.ErrorIs(t, err, context.Canceled)
	requireClosed(t, s.Stopped())
	require.Error(t, <-clientErr, "the connection was closed under the request")
	close(release)
	<-handlerDone
	require.ErrorIs(t, s.Stop(context.Background()), context.Canceled, "later calls return the first result")
}

func TestServerSetDraining(t *testing.T) {
	t.Parallel()
	sb := startServer(t)
	sb.ready.set(Check{Name: "postgres", OK: true})
	require.Equal(t, http.StatusOK, sb.get(t, "/readyz").StatusCode)

	sb.server.SetDraining()
	sb.server.SetDraining() // idempotent

	resp, err := sb.post(t)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Equal(t, schemas.CodeShuttingDown, readProblem(t, resp).Code)
	require.Zero(t, sb.sub.calls.Load())

	resp = sb.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var body struct {
		Status string  `json:"status"`
		Checks []Check `json:"checks"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "unavailable", body.Status)
	require.Contains(t, body.Checks, Check{Name: "draining", OK: false, Detail: "shutting down"})

	require.Equal(t, http.StatusOK, sb.get(t, "/livez").StatusCode, "still alive while draining")
	// Reading cases goes on while draining.
	req, err := http.NewRequest(http.MethodGet, sb.base+"/v1/appeals/"+testCase.ID, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer portal-token")
	resp, err = sb.client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestServerStreamedBodyOverDefaultLimit streams a chunked body just over 25 MiB over a real
// connection: the server stops reading at the limit and answers 413.
func TestServerStreamedBodyOverDefaultLimit(t *testing.T) {
	t.Parallel()
	sb := startServer(t)
	body := &countingReader{left: DefaultMaxBodyBytes + 4096}
	req, err := http.NewRequest(http.MethodPost, sb.base+"/v1/appeals", io.NopCloser(body))
	require.NoError(t, err)
	req.ContentLength = -1 // chunked
	req.Header.Set("Authorization", "Bearer portal-token")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "key-3")
	keepAlive := &http.Transport{}
	defer keepAlive.CloseIdleConnections()
	resp, err := (&http.Client{Transport: keepAlive}).Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.True(t, resp.Close, "the server closes the connection instead of reading the rest of the body")
	require.Equal(t, schemas.CodeBodyTooLarge, readProblem(t, resp).Code)
	require.Zero(t, sb.sub.calls.Load())
}
