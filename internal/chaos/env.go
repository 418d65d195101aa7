package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
)

// Codes are the EDRPOU codes (valid check digits) of the harness's authorities, in order.
var Codes = []string{"70000013", "70000026", "70000036", "70000042", "70000059", "70000065",
	"70000071", "70000088", "70000094", "70000102", "70000119", "70000125"}

// portalClient is the id of the generator's portal client.
const portalClient = "chaos-portal"

// Options shape an Env.
type Options struct {
	// Hubs is how many hub processes run. Defaults to 2.
	Hubs int
	// Authorities is how many authorities (each with its own sandbox system) there are, at most
	// len(Codes). Defaults to 10.
	Authorities int
	// Sandbox is every sandbox system's options (fault modes); Name is set per system.
	Sandbox sandbox.Options
	// Configure adjusts the hubs' configuration after the harness has set it.
	Configure func(*config.Config)
	// Wrap, if set, wraps each authority's sandbox system (faults the sandbox has no option for).
	Wrap func(code string, next http.Handler) http.Handler
	// ExpectDead, if set, tells the deliveries a scenario makes fail for good on purpose: the
	// checker counts them as deliberately dead (Figures.DeadExpected), neither lost nor failing.
	ExpectDead func(deliveryID string) bool
	// BrokerNodes, when above 1, runs a RabbitMQ cluster of that many nodes (Env.Cluster) instead
	// of one node; the hubs get every node's URL (broker.url and broker.failover_urls, not through
	// the proxy) and Env.Rabbit is the first node.
	BrokerNodes int
}

// Env is one run's world: a private broker node and PostgreSQL instance behind toxiproxy, the hub
// processes, the sandbox systems, and a store opened directly (not through the proxy) for the
// checker. NewEnv ties every part to t's Cleanup.
type Env struct {
	Dir       string
	Rabbit    *RabbitNode
	Cluster   *RabbitCluster // set with Options.BrokerNodes > 1; Rabbit is its first node
	PG        *Postgres
	Proxies   *Proxies
	AMQPProxy *Proxy // the hubs' way to the broker
	PGProxy   *Proxy // the hubs' way to PostgreSQL
	Hubs      []*HubProcess
	Codes     []string
	Systems   map[string]*sandbox.Server // by authority code
	servers   map[string]*httptest.Server
	Store     *store.Store
	Token     string // the portal's bearer token
	Config    config.Config
	opts      Options
}

// NewEnv starts everything and waits until every hub is ready. It fails t on any error.
func NewEnv(t testing.TB, o Options) *Env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("chaos: the harness runs as root (PostgreSQL's tools run as the postgres user)")
	}
	ctx := context.Background()
	hubs, n := o.Hubs, o.Authorities
	if hubs == 0 {
		hubs = 2
	}
	if n == 0 {
		n = 10
	}
	if n > len(Codes) {
		t.Fatalf("chaos: at most %d authorities", len(Codes))
	}
	dir, err := os.MkdirTemp("", "appealhub-chaos-")
	if err != nil {
		t.Fatalf("chaos dir: %v", err)
	}
	// The postgres user must reach its data directory inside.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatalf("chaos dir: %v", err)
	}
	e := &Env{Dir: dir, Codes: Codes[:n], Systems: map[string]*sandbox.Server{},
		servers: map[string]*httptest.Server{}, opts: o}
	t.Cleanup(func() { e.close(t) })

	began := time.Now()
	if o.BrokerNodes > 1 {
		e.startCluster(t, ctx, o.BrokerNodes)
	} else {
		e.Rabbit, err = NewRabbitNode(filepath.Join(dir, "rabbit"))
		must(t, err)
		must(t, e.Rabbit.Start(ctx))
		t.Logf("chaos: broker node %s on %s started in %s", e.Rabbit.Name, e.Rabbit.Addr(), time.Since(began).Round(time.Millisecond))
	}
	began = time.Now()
	e.PG, err = NewPostgres(ctx, filepath.Join(dir, "pg"))
	must(t, err)
	must(t, e.PG.Start(ctx))
	t.Logf("chaos: PostgreSQL on %s started in %s", e.PG.Addr(), time.Since(began).Round(time.Millisecond))
	e.Store, err = store.Open(ctx, store.Config{URL: e.PG.URL("postgres"), MaxOpenConns: 8})
	must(t, err)

	e.Proxies = NewProxies()
	e.AMQPProxy, err = e.Proxies.Add("amqp", e.Rabbit.Addr())
	must(t, err)
	e.PGProxy, err = e.Proxies.Add("postgres", e.PG.Addr())
	must(t, err)

	endpoints := map[string]string{}
	for _, code := range e.Codes {
		so := o.Sandbox
		so.Name = "dms-" + code
		sb, err := sandbox.New(so, zap.NewNop())
		must(t, err)
		var h http.Handler = sb
		if o.Wrap != nil {
			h = o.Wrap(code, sb)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(func() { srv.Close(); _ = sb.Close() })
		e.Systems[code], e.servers[code] = sb, srv
		endpoints[code] = srv.URL + "/documents/" + code
	}

	e.Token = randomHex(16)
	e.Config = hubConfig(e, endpoints)
	if o.Configure != nil {
		o.Configure(&e.Config)
	}
	if err := e.Config.Validate(); err != nil {
		t.Fatalf("chaos hub configuration: %v", err)
	}
	began = time.Now()
	bin, err := BuildHub(ctx)
	must(t, err)
	t.Logf("chaos: hub built in %s", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	for i := range hubs {
		h, err := NewHubProcess(bin, dir, fmt.Sprintf("hub%d", i+1), e.Config)
		must(t, err)
		e.Hubs = append(e.Hubs, h)
	}
	must(t, e.Hubs[0].Migrate(ctx))
	for _, h := range e.Hubs {
		must(t, h.Start())
	}
	for _, h := range e.Hubs {
		must(t, h.WaitReady(ctx, 60*time.Second))
	}
	t.Logf("chaos: %d hubs ready in %s", len(e.Hubs), time.Since(began).Round(time.Millisecond))
	return e
}

// hubConfig is the hubs' configuration: the dependencies through the proxies, timings shortened
// for a run of minutes (reconnects, relay poll, backoff), signatures off.
func hubConfig(e *Env, endpoints map[string]string) config.Config {
	sum := sha256.Sum256([]byte(e.Token))
	cfg := config.Default()
	cfg.Database.URL = fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=5", e.PGProxy.Addr())
	cfg.Database.MaxOpenConns, cfg.Database.MaxIdleConns = 20, 10
	cfg.Broker.URL = fmt.Sprintf("amqp://guest:guest@%s/", e.AMQPProxy.Addr())
	if e.Cluster != nil {
		urls := e.Cluster.URLs()
		cfg.Broker.URL, cfg.Broker.FailoverURLs = urls[0], urls[1:]
	}
	cfg.Broker.ReconnectMin, cfg.Broker.ReconnectMax = 100*time.Millisecond, 2*time.Second
	cfg.Relay.PollInterval = 250 * time.Millisecond
	cfg.Delivery.RequestTimeout = 5 * time.Second
	cfg.Delivery.BackoffBase = 200 * time.Millisecond
	cfg.Delivery.BackoffMax = 5 * time.Second
	cfg.Shutdown.Grace = 10 * time.Second
	cfg.Log.Level = "warn"
	cfg.Clients = []config.Client{{ID: portalClient, Kind: config.ClientPortal, TokenSHA256: hex.EncodeToString(sum[:])}}
	for _, code := range e.Codes {
		cfg.Authorities = append(cfg.Authorities, config.Authority{Code: code, Name: "Authority " + code,
			Adapter: "json", Endpoint: endpoints[code], Status: config.AuthorityActive})
	}
	return cfg
}

// URLs returns the hubs' base URLs.
func (e *Env) URLs() []string {
	var out []string
	for _, h := range e.Hubs {
		out = append(out, h.URL())
	}
	return out
}

// close stops the hubs, proxies, broker and PostgreSQL and removes the directory (kept, with the
// logs, when t failed and APPEALHUB_CHAOS_KEEP is set).
func (e *Env) close(t testing.TB) {
	ctx := context.Background()
	var errs []error
	for _, h := range e.Hubs {
		if err := h.Stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
		if t.Failed() {
			t.Logf("%s log tail:\n%s", h.Name, h.LogTail(40))
		}
	}
	if e.Store != nil {
		_ = e.Store.Close()
	}
	if e.Proxies != nil {
		e.Proxies.Close()
	}
	if e.Cluster != nil {
		if err := e.Cluster.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	} else if e.Rabbit != nil {
		if err := e.Rabbit.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if e.PG != nil {
		if err := e.PG.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// A safety net: whatever still runs from this run's directory 5 s after the stops returned (a
	// broker node or PostgreSQL that did not stop; helpers of a stopped node get those seconds to
	// exit on their own) is killed by its pid.
	left := stragglers(e.Dir)
	for wait := time.Now().Add(5 * time.Second); len(left) > 0 && time.Now().Before(wait); left = stragglers(e.Dir) {
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still running from %s: %v (killed)", e.Dir, left))
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	if t.Failed() && os.Getenv("APPEALHUB_CHAOS_KEEP") != "" {
		t.Logf("chaos: kept %s", e.Dir)
	} else if err := os.RemoveAll(e.Dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("chaos cleanup: %v", err)
	}
}

// straggler is a process left running: its pid and its program.
type straggler struct {
	pid     int
	program string
}

func (s straggler) String() string { return fmt.Sprintf("%d %s", s.pid, s.program) }

// stragglers returns the processes whose command line names dir.
func stragglers(dir string) []straggler {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []straggler
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(dir+"/")) && !zombie(pid) {
			program, _, _ := bytes.Cut(cmdline, []byte{0})
			out = append(out, straggler{pid: pid, program: filepath.Base(string(program))})
		}
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("chaos: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
