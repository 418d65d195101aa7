package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/internal/sandbox"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The in-process hub's lib/pq listener and net/http keep-alive goroutines wind down
		// asynchronously after Close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// secretText is personal content that must never reach a log.
const secretText = "SECRET-CONTENT-Коваленко"

type testBundle struct {
	sandbox *sandbox.Server
	server  *httptest.Server
	client  *http.Client
	logs    *observer.ObservedLogs
}

func setup(t *testing.T, opts sandbox.Options) *testBundle {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	sb, err := sandbox.New(opts, logger)
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { require.NoError(t, sb.Close()) }) // before srv.Close: releases hanging requests
	// One connection per request: a dropped connection must surface as an error, never be replayed
	// by net/http on a reused connection.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)
	return &testBundle{sandbox: sb, server: srv, client: client, logs: logs}
}

func document(t testing.TB, id, authority string) []byte {
	t.Helper()
	body, err := jsondoc.New().Encode(adapters.Document{
		DeliveryID:     id,
		AppealID:       "appeal-" + id,
		TrackingNumber: "ZV-2026-" + id,
		Authority:      authority,
		Attempt:        1,
		ReceivedAt:     time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Raw:            json.RawMessage(`{"case_kind":"appeal","subject":"s","text":"` + secretText + `"}`),
	})
	require.NoError(t, err)
	return body
}

type answer struct {
	status int
	body   string
}

func (b *testBundle) post(t testing.TB, path, key string, body []byte, header map[string]string) (answer, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.server.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, body: string(got)}, nil
}

func (b *testBundle) mustPost(t testing.TB, id, authority string) answer {
	t.Helper()
	a, err := b.post(t, "/documents", id, document(t, id, authority), nil)
	require.NoError(t, err)
	return a
}

func TestAcceptAndDuplicate(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Name: "sbx"})

	first := b.mustPost(t, "d-1", "66784279")
	require.Equal(t, http.StatusCreated, first.status)
	rep, err := jsondoc.New().DecodeReply("application/json", []byte(first.body))
	require.NoError(t, err)
	require.True(t, rep.Delivered)
	require.Equal(t, "sbx-1", rep.RegistrationNumber)
	require.NotEmpty(t, rep.Reference)

	again := b.mustPost(t, "d-1", "66784279")
	require.Equal(t, http.StatusOK, again.status, "the same key is not a second document")
	require.Equal(t, first.body, again.body, "and gets the same answer")

	second := b.mustPost(t, "d-2", "66784279")
	require.Equal(t, http.StatusCreated, second.status)
	require.Contains(t, second.body, `"registration_number":"sbx-2"`)

	l := b.sandbox.Ledger()
	require.Equal(t, "sbx", l.Name)
	require.Equal(t, 2, l.Documents)
	require.Equal(t, 3, l.Requests)
	require.Zero(t, l.Refused)
	require.Len(t, l.Entries, 2)
	require.Equal(t, sandbox.Entry{
		DeliveryID: "d-1", Authority: "66784279", TrackingNumber: "ZV-2026-d-1", Received: 2,
		FirstAt: l.Entries[0].FirstAt, RegistrationNumber: "sbx-1",
	}, l.Entries[0])
	require.Equal(t, 1, l.Entries[1].Received)
	require.False(t, l.Entries[1].FirstAt.Before(l.Entries[0].FirstAt))
}

func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})

	const ids, copies = 25, 8
	var mu sync.Mutex
	answers := map[string][]answer{}
	var wg sync.WaitGroup
	for i := range ids {
		id := fmt.Sprintf("d-%03d", i)
		body := document(t, id, "66784279")
		for range copies {
			wg.Go(func() {
				a, err := b.post(t, "/documents", id, body, nil)
				require.NoError(t, err)
				mu.Lock()
				answers[id] = append(answers[id], a)
				mu.Unlock()
			})
		}
	}
	wg.Wait()

	regs := map[string]bool{}
	for id, as := range answers {
		created := 0
		for _, a := range as {
			require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status)
			require.Equal(t, as[0].body, a.body, "every answer for %s is the same", id)
			if a.status == http.StatusCreated {
				created++
			}
		}
		require.Equal(t, 1, created, "exactly one 201 for %s", id)
		regs[as[0].body] = true
	}
	require.Len(t, regs, ids, "registration numbers are distinct")

	l := b.sandbox.Ledger()
	require.Equal(t, ids, l.Documents)
	require.Equal(t, ids*copies, l.Requests)
	for _, e := range l.Entries {
		require.Equal(t, copies, e.Received, e.DeliveryID)
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{MaxBodyBytes: 4096})

	valid := document(t, "d-1", "66784279")
	tests := []struct {
		name   string
		path   string
		key    string
		body   []byte
		header map[string]string
		status int
		code   string
	}{
		{name: "no key", path: "/documents", body: valid, status: 400, code: "missing_idempotency_key"},
		{name: "key mismatch", path: "/documents", key: "d-2", body: valid, status: 400, code: "key_mismatch"},
		{name: "path traversal key", path: "/documents", key: "../etc", body: valid, status: 400, code: "invalid_idempotency_key"},
		{name: "not a document", path: "/documents", key: "d-1", body: []byte(`{"delivery_id":"d-1"}`), status: 400, code: "invalid_document"},
		{name: "unknown field", path: "/documents", key: "d-1", body: []byte(strings.TrimSuffix(string(valid), "}") + `,"x":1}`), status: 400, code: "invalid_document"},
		{name: "other authority", path: "/documents/12345678", key: "d-1", body: valid, status: 400, code: "authority_mismatch"},
		{name: "xml", path: "/documents", key: "d-1", body: valid, header: map[string]string{"Content-Type": "application/xml"}, status: 415, code: "unsupported_media_type"},
		{name: "too large", path: "/documents", key: "d-1", body: bytes.Repeat([]byte(" "), 5000), status: 413, code: "too_large"},
	}
	for _, tt := range tests {
		a, err := b.post(t, tt.path, tt.key, tt.body, tt.header)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.status, a.status, tt.name)
		var problem struct{ Error, Message string }
		require.NoError(t, json.Unmarshal([]byte(a.body), &problem), tt.name)
		require.Equal(t, tt.code, problem.Error, tt.name)
		require.NotEmpty(t, problem.Message, tt.name)
	}
	l := b.sandbox.Ledger()
	require.Zero(t, l.Documents)
	require.Equal(t, len(tests), l.Requests)
	require.Equal(t, len(tests), l.Refused)

	a, err := b.post(t, "/documents/66784279", "d-1", valid, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, a.status, "the matching authority path is accepted")
	require.Equal(t, "66784279", b.sandbox.Ledger().Entries[0].Authority)
}

func TestToken(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Token: "s3cret"})

	body := document(t, "d-1", "66784279")
	for name, header := range map[string]map[string]string{
		"none":  nil,
		"wrong": {"Authorization": "Bearer nope"},
		"basic": {"Authorization": "Basic s3cret"},
	} {
		a, err := b.post(t, "/documents", "d-1", body, header)
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, a.status, name)
	}
	require.Zero(t, b.sandbox.Ledger().Documents)

	a, err := b.post(t, "/documents", "d-1", body, map[string]string{"Authorization": "Bearer s3cret"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, a.status)
	l := b.sandbox.Ledger()
	require.Equal(t, 1, l.Documents)
	require.Equal(t, 3, l.Refused)
}

func TestFailStatusThenHealthy(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{FailStatus: http.StatusUnprocessableEntity})

	for range 3 {
		a := b.mustPost(t, "d-1", "66784279")
		require.Equal(t, http.StatusUnprocessableEntity, a.status)
		require.Contains(t, a.body, "injected_fault")
	}
	l := b.sandbox.Ledger()
	require.Zero(t, l.Documents, "refused before recording")
	require.Equal(t, 3, l.Refused)

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{}))
	require.Equal(t, http.StatusCreated, b.mustPost(t, "d-1", "66784279").status)
	require.Equal(t, 1, b.sandbox.Ledger().Documents)
}

func TestErrorRate(t *testing.T) {
	t.Parallel()

	t.Run("always", func(t *testing.T) {
		t.Parallel()
		b := setup(t, sandbox.Options{ErrorRate: 1})
		for range 5 {
			require.Equal(t, http.StatusServiceUnavailable, b.mustPost(t, "d-1", "66784279").status)
		}
		require.Zero(t, b.sandbox.Ledger().Documents)
	})

	t.Run("seeded fraction", func(t *testing.T) {
		t.Parallel()
		opts := sandbox.Options{ErrorRate: 0.5, ErrorStatus: http.StatusTooManyRequests, Seed: 42}
		run := func() []int {
			b := setup(t, opts)
			var statuses []int
			delivered := 0
			for i := range 40 {
				a := b.mustPost(t, fmt.Sprintf("d-%d", i), "66784279")
				statuses = append(statuses, a.status)
				if a.status == http.StatusCreated {
					delivered++
				} else {
					require.Equal(t, http.StatusTooManyRequests, a.status)
				}
			}
			l := b.sandbox.Ledger()
			require.Equal(t, delivered, l.Documents, "a refused request records nothing")
			require.Equal(t, 40-delivered, l.Refused)
			require.Greater(t, delivered, 5)
			require.Less(t, delivered, 35)
			return statuses
		}
		require.Equal(t, run(), run(), "the same seed gives the same faults")
	})
}

func TestDropRateCommitsThenDrops(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{DropRate: 1})

	_, err := b.post(t, "/documents", "d-1", document(t, "d-1", "66784279"), nil)
	require.Error(t, err, "no answer")
	l := b.sandbox.Ledger()
	require.Equal(t, 1, l.Documents, "but the document was recorded")
	require.Equal(t, 1, l.Dropped)

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{}))
	a := b.mustPost(t, "d-1", "66784279")
	require.Equal(t, http.StatusOK, a.status, "the retry is a duplicate")
	require.Contains(t, a.body, `"registration_number":"sandbox-1"`)
	l = b.sandbox.Ledger()
	require.Equal(t, 1, l.Documents)
	require.Equal(t, 2, l.Entries[0].Received)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Latency: 300 * time.Millisecond})

	start := time.Now()
	require.Equal(t, http.StatusCreated, b.mustPost(t, "d-1", "66784279").status)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)

	// A client that gives up before the answer has still delivered.
	impatient := &http.Client{Timeout: 50 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(impatient.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodPost, b.server.URL+"/documents", bytes.NewReader(document(t, "d-2", "66784279")))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "d-2")
	_, err = impatient.Do(req)
	require.Error(t, err)
	require.Eventually(t, func() bool { return b.sandbox.Ledger().Documents == 2 }, 5*time.Second, 5*time.Millisecond)
}

func TestStoreDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "inbox")
	b := setup(t, sandbox.Options{StoreDir: dir})

	bodies := map[string][]byte{}
	for _, id := range []string{"d-1", "d-2", "d-1"} {
		bodies[id] = document(t, id, "66784279")
		a, err := b.post(t, "/documents", id, bodies[id], nil)
		require.NoError(t, err)
		require.Contains(t, []int{200, 201}, a.status)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"d-1.json", "d-2.json"}, names, "one file per document, no temporary files left")
	for id, body := range bodies {
		got, err := os.ReadFile(filepath.Join(dir, id+".json"))
		require.NoError(t, err)
		require.Equal(t, body, got, "stored byte for byte")
	}
}

func TestLedgerAndHealthEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Name: "regional"})
	b.mustPost(t, "d-1", "66784279")
	b.mustPost(t, "d-1", "66784279")

	resp, err := b.client.Get(b.server.URL + "/ledger")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var l sandbox.Ledger
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
	want := b.sandbox.Ledger()
	require.Equal(t, want.Documents, l.Documents)
	require.Equal(t, want.Requests, l.Requests)
	require.Equal(t, "regional", l.Name)
	require.Len(t, l.Entries, 1)
	require.Equal(t, 2, l.Entries[0].Received)
	require.True(t, want.Entries[0].FirstAt.Equal(l.Entries[0].FirstAt))

	health, err := b.client.Get(b.server.URL + "/healthz")
	require.NoError(t, err)
	health.Body.Close()
	require.Equal(t, http.StatusOK, health.StatusCode)

	wrong, err := b.client.Get(b.server.URL + "/documents")
	require.NoError(t, err)
	wrong.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, wrong.StatusCode)
}

func TestLogsCarryIDsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{})
	b.mustPost(t, "d-1", "66784279")
	b.mustPost(t, "d-1", "66784279")
	_, err := b.post(t, "/documents", "d-x", document(t, "d-1", "66784279"), nil)
	require.NoError(t, err)

	logs := b.logs.All()
	require.NotEmpty(t, logs)
	sawID := false
	for _, e := range logs {
		line := fmt.Sprint(e.Message, e.ContextMap())
		require.NotContains(t, line, "SECRET-CONTENT", "no submission content in logs")
		require.NotContains(t, line, "Коваленко")
		if e.ContextMap()["delivery_id"] == "d-1" {
			sawID = true
		}
	}
	require.True(t, sawID, "logs name the delivery id")
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()

	_, err := sandbox.New(sandbox.Options{ErrorRate: 1.5, DropRate: -0.1, ErrorStatus: 200, FailStatus: 99, Latency: -time.Second}, nil)
	require.Error(t, err)
	for _, field := range []string{"error_rate", "drop_rate", "error_status", "fail_status", "latency"} {
		require.ErrorContains(t, err, field, "every problem is reported")
	}

	sb, err := sandbox.New(sandbox.Options{}, nil)
	require.NoError(t, err)
	require.Error(t, sb.SetOptions(sandbox.Options{ErrorRate: 2}))
	require.Equal(t, "sandbox", sb.Ledger().Name)
}

func TestRun(t *testing.T) {
	t.Parallel()

	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sandbox.Run(ctx, "127.0.0.1:0", sandbox.Options{Name: "run"}, zap.New(core)) }()

	var addr string
	require.Eventually(t, func() bool {
		for _, e := range logs.FilterMessage("sandbox listening").All() {
			addr, _ = e.ContextMap()["addr"].(string)
		}
		return addr != ""
	}, 5*time.Second, 5*time.Millisecond)
	_, _, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Post("http://"+addr+"/documents", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "served")

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	require.Equal(t, 1, logs.FilterMessage("sandbox stopped").Len())

	err = sandbox.Run(context.Background(), "127.0.0.1:-1", sandbox.Options{}, nil)
	require.ErrorContains(t, err, "listen on")
	require.False(t, strings.Contains(err.Error(), "panic"))
}
