// Package hubtest runs a whole hub in-process for end-to-end tests: its own PostgreSQL schema and
// RabbitMQ name prefix (so tests never collide with each other or a running demo), a random HTTP
// port, a portal client, and helpers to submit and wait.
package hubtest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
	"appealhub/internal/receipt"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/router"
	"appealhub/schemas"
)

// Env is the isolated environment of one test: a migrated schema, a broker prefix, a portal token,
// and the configuration every hub of the test shares.
type Env struct {
	Config config.Config
	Store  *store.Store // for assertions; the hubs open their own
	Token  string       // the portal client's bearer token
	// Identity is the hub's throwaway signing identity; Identity.CA verifies its receipts.
	Identity receipt.IdentityFiles
	// AuthoritySync is how often its hubs poll the registry; 0 means 200ms. Tests of the
	// LISTEN/NOTIFY path set it long.
	AuthoritySync time.Duration
	// ReadyWithin bounds how long Start waits for /readyz; 0 means 30s.
	ReadyWithin time.Duration
	// ReadyClient asks /readyz when the hub serves HTTPS (Config.HTTP.TLS): a client that trusts
	// its certificate and presents one if asked. Nil means http.DefaultClient.
	ReadyClient *http.Client
	t           testing.TB
}

// NewEnv prepares a schema, a broker prefix and a portal client. authorities maps each authority
// code to its system's endpoint; configure may adjust the configuration.
func NewEnv(t testing.TB, authorities map[string]string, configure func(*config.Config)) *Env {
	t.Helper()
	bcfg := brokertest.Config(t)
	scfg := storetest.Config()
	st := storetest.Open(t, scfg)
	token := randomToken()
	sum := sha256.Sum256([]byte(token))
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.HTTP.PublicURL = "http://hub.test"
	cfg.Database.URL, cfg.Database.Schema = scfg.URL, scfg.Schema
	cfg.Broker.URL, cfg.Broker.Prefix = bcfg.URL, bcfg.Names.Prefix
	cfg.Broker.Heartbeat, cfg.Broker.ReconnectMin, cfg.Broker.ReconnectMax = bcfg.Heartbeat, bcfg.ReconnectMin, bcfg.ReconnectMax
	cfg.Relay.PollInterval = 200 * time.Millisecond
	cfg.Delivery.BackoffBase = 50 * time.Millisecond
	cfg.Delivery.BackoffMax = time.Second
	cfg.Delivery.RequestTimeout = 5 * time.Second
	cfg.Shutdown.Grace = 10 * time.Second
	cfg.Clients = []config.Client{{ID: "portal-test", Kind: config.ClientPortal, TokenSHA256: hex.EncodeToString(sum[:])}}
	var codes []string
	for code, endpoint := range authorities {
		codes = append(codes, code)
		cfg.Authorities = append(cfg.Authorities, config.Authority{Code: code, Name: "Authority " + code,
			Adapter: "json", Endpoint: endpoint, Status: config.AuthorityActive})
	}
	brokertest.Track(t, bcfg, codes...)
	identity := withIdentity(t, &cfg)
	if configure != nil {
		configure(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return &Env{Config: cfg, Store: st, Token: token, Identity: identity, t: t}
}

// TrackAuthorities registers authority codes added while the test runs (through the registry), so
// that their queues are deleted when the test ends.
func (e *Env) TrackAuthorities(t testing.TB, codes ...string) {
	t.Helper()
	brokertest.Track(t, broker.Config{Names: broker.Names{Prefix: e.Config.Broker.Prefix}}, codes...)
}

// Hub is one running hub process of an Env.
type Hub struct {
	*router.Hub
	URL string
}

// Start starts a hub on env and stops it (gracefully) when the test ends, unless the test stopped it.
func (e *Env) Start(t testing.TB) *Hub {
	t.Helper()
	return e.StartWithLogger(t, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

// StartWithLogger is Start with a given logger.
func (e *Env) StartWithLogger(t testing.TB, logger *zap.Logger) *Hub {
	t.Helper()
	ctx := context.Background()
	h, err := router.New(ctx, e.Config, router.Options{Logger: logger, AuthoritySync: cmp.Or(e.AuthoritySync, 200*time.Millisecond)})
	if err != nil {
		t.Fatalf("new hub: %v", err)
	}
	if err := h.Start(ctx); err != nil {
		_ = h.Stop(ctx)
		t.Fatalf("start hub: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Stop(ctx)
	})
	scheme := "http://"
	if e.Config.HTTP.TLS.CertFile != "" {
		scheme = "https://"
	}
	hub := &Hub{Hub: h, URL: scheme + h.Addr()}
	waitReady(t, cmp.Or(e.ReadyClient, http.DefaultClient), hub.URL, cmp.Or(e.ReadyWithin, 30*time.Second))
	return hub
}

// Crash stops a hub without grace: work in flight is cut off, as when the process is killed
// between two steps.
func (h *Hub) Crash() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = h.Stop(ctx)
}

// WaitReady waits until url/readyz answers 200, at most 30 s.
func WaitReady(t testing.TB, url string) {
	t.Helper()
	WaitReadyWithin(t, url, 30*time.Second)
}

// WaitReadyWithin waits until url/readyz answers 200, at most within.
func WaitReadyWithin(t testing.TB, url string, within time.Duration) {
	t.Helper()
	waitReady(t, http.DefaultClient, url, within)
}

func waitReady(t testing.TB, client *http.Client, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("hub at %s not ready within %s", url, within)
}

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Problem decodes a problem+json body.
func (r Response) Problem() (code string, pointers []string) {
	var p struct {
		Code   string `json:"code"`
		Errors []struct {
			Pointer string `json:"pointer"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(r.Body, &p)
	for _, e := range p.Errors {
		pointers = append(pointers, e.Pointer)
	}
	return p.Code, pointers
}

// Do sends a request to the hub with the portal token (token "" sends none) and reads the answer.
func Do(ctx context.Context, method, url, token string, header http.Header, body []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, err
}

// Submit posts a submission with an idempotency key as the portal does.
func (e *Env) Submit(ctx context.Context, hubURL, key string, body []byte) (Response, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", key)
	return Do(ctx, http.MethodPost, hubURL+"/v1/appeals", e.Token, h, body)
}

// MustSubmit submits and requires 202, returning the receipt.
func (e *Env) MustSubmit(t testing.TB, hubURL, key string, body []byte) schemas.Receipt {
	t.Helper()
	resp, err := e.Submit(context.Background(), hubURL, key, body)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if resp.Status != http.StatusAccepted {
		t.Fatalf("submit: HTTP %d: %s", resp.Status, resp.Body)
	}
	var r schemas.Receipt
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatalf("submit: %v", err)
	}
	return r
}

// WaitSettled waits until no delivery is pending (accepted or queued) and the outbox is empty, and
// returns the final totals.
func (e *Env) WaitSettled(t testing.TB, timeout time.Duration) store.Counts {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		counts, err := e.Store.DeliveryCounts(ctx)
		if err != nil {
			t.Fatalf("count deliveries: %v", err)
		}
		totals, err := e.Store.Totals(ctx)
		if err != nil {
			t.Fatalf("count rows: %v", err)
		}
		if counts[schemas.StatusAccepted]+counts[schemas.StatusQueued] == 0 && totals.OutboxPending == 0 {
			return totals
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled within %s: deliveries %v, outbox pending %d", timeout, counts, totals.OutboxPending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Submission returns a valid submission body to the given addressees whose text makes the body
// about size bytes (at least a few hundred).
func Submission(n int, size int, addressees ...string) []byte {
	text := fmt.Sprintf("Звернення номер %d. ", n)
	if pad := size - 400; pad > len(text) {
		text += strings.Repeat("ї", (pad-len(text))/2)
	}
	sub := map[string]any{
		"case_kind":   "appeal",
		"appeal_kind": "application",
		"applicant":   map[string]any{"surname": "Тестенко", "name": "Марія", "email": "m.testenko@example.org"},
		"addressees":  addressees,
		"subject":     fmt.Sprintf("Тестове звернення %d", n),
		"text":        text,
	}
	b, _ := json.Marshal(sub)
	return b
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
