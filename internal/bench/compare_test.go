package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/signature"
	"appealhub/internal/signature/signaturetest"
	"appealhub/internal/store/storetest"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// A comparison case: a body size and a number of authorities. The default `make bench` runs
// compareDefault; BENCH_FULL=1 (make bench-scale) adds the long ones.
type compareCase struct {
	name        string
	size        int
	authorities int
	n           int // closed-loop submissions measured
	clients     int
}

const mibBytes = 1 << 20

var (
	compareDefault = []compareCase{
		{name: "1KiB-10", size: 1 * kib, authorities: 10, n: 4000, clients: defaultClients},
		{name: "64KiB-10", size: 64 * kib, authorities: 10, n: 1500, clients: defaultClients},
	}
	compareFull = []compareCase{
		{name: "5MiB-10", size: 5 * mibBytes, authorities: 10, n: 36, clients: 8},
		{name: "1KiB-1000", size: 1 * kib, authorities: 1000, n: 4000, clients: defaultClients},
		{name: "1KiB-10000", size: 1 * kib, authorities: 10000, n: 4000, clients: defaultClients},
	}
)

// compareCases are the cases of this run: BENCH_COMPARE (comma-separated names) picks some of all
// of them; else the default ones, and with BENCH_FULL=1 the long ones too.
func compareCases() []compareCase {
	all := append(append([]compareCase{}, compareDefault...), compareFull...)
	if pick := os.Getenv("BENCH_COMPARE"); pick != "" {
		var out []compareCase
		for _, name := range strings.Split(pick, ",") {
			for _, c := range all {
				if c.name == strings.TrimSpace(name) {
					out = append(out, c)
				}
			}
		}
		return out
	}
	if os.Getenv("BENCH_FULL") == "1" {
		return all
	}
	return compareDefault
}

// openSeconds is how long the open-loop run at half the hub's peak lasts (BENCH_OPEN_SECONDS).
func openSeconds() int { return envInt("BENCH_OPEN_SECONDS", 20) }

// BenchmarkCompare measures the hub end to end against the minimal hand-written pipeline
// (baseline_test.go) on the same machine, services and settings, for each case:
//
//   - hub: HTTPS intake (a TLS front in the process, as a TLS-terminating proxy in production)
//     with signature verification required (every submission carries a CAdES signature of its
//     text and of its attachment, verified against the test PKI), PostgreSQL, the relay,
//     RabbitMQ quorum queues, delivery to sandbox systems, the acknowledgement recorded. A
//     closed loop (32 clients) gives the peak appeals/s and p50/p99 end to end; then an open
//     loop at half that peak (a fixed arrival rate, latency counted from each submission's
//     scheduled time) gives the p99 end to end at a sustainable load;
//   - baseline: the same two runs through the same TLS front, same bodies, same systems;
//   - the ratio hub/baseline of the closed-loop appeals/s.
//
// Each run checks its outcome (every submission accepted, every appeal delivered once and
// recorded) and fails instead of reporting a figure when it is wrong.
func BenchmarkCompare(b *testing.B) {
	readMachine()
	keys := newSigningKeys(b)
	front := newFrontCert(b)
	rounds := max(envInt("BENCH_ROUNDS", 1), 1)
	for _, cc := range compareCases() {
		for round := range rounds {
			compareOnce(b, cc, keys, front, round, rounds)
		}
	}
}

// compareOnce runs one round of case cc: the hub, then the baseline, and records both.
func compareOnce(b *testing.B, cc compareCase, keys *signingKeys, front tls.Certificate, round, rounds int) {
	name := "Compare/" + cc.name
	if rounds > 1 {
		name += fmt.Sprintf(" #%d", round+1)
	}
	b.Run(cc.name, func(b *testing.B) {
		codes := authorityCodes(cc.authorities)
		n := scaled(cc.n)
		warm := min(200, max(n/4, 1))
		var hub, base compareRun
		b.Run("hub", func(b *testing.B) { hub = runHub(b, cc, codes, keys, front, warm, n) })
		if b.Failed() || hub.closed.rate() == 0 {
			return
		}
		b.Run("baseline", func(b *testing.B) { base = runBaseline(b, cc, codes, keys, front, warm, n, hub.openRate) })
		if b.Failed() || base.closed.rate() == 0 {
			return
		}
		ratio := hub.closed.rate() / base.closed.rate()
		b.Logf("%s: hub %.0f appeals/s, baseline %.0f appeals/s: hub/baseline = %.2f", cc.name,
			hub.closed.rate(), base.closed.rate(), ratio)
		recordCompare(compareResult{name: name, cc: cc, hub: hub, base: base})
	})
}

// compareRun is what one side (hub or baseline) measured.
type compareRun struct {
	bodyBytes int
	closed    endToEnd // the closed loop
	open      endToEnd // the open loop at openRate
	openRate  float64  // appeals/s offered in the open loop
	openLate  int      // open-loop submissions sent more than 100 ms after their scheduled time
	cfg       config.Config
}

func runHub(b *testing.B, cc compareCase, codes []string, keys *signingKeys, front tls.Certificate, warm, n int) compareRun {
	sbs := newSandboxes(b, min(cc.authorities, 5))
	env := signedHubEnv(b, codes, sbs, keys)
	if cc.authorities > 100 {
		env.ReadyWithin = 10 * time.Minute
	}
	hub := env.Start(b)
	d := newDriver(b, startFront(b, front, hub.Addr()), env.Token, cc.clients)

	bodies := keys.bodies(b, "hub", cc.size, codes, warm+n)
	if _, err := d.closed(bodies[:warm], "warm"); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	waitDelivered(b, env, warm, 5*time.Minute)
	out := compareRun{bodyBytes: len(bodies[warm]), cfg: env.Config}

	stopProfile := profileHub(b, cc)
	b.ResetTimer()
	in, err := d.closed(bodies[warm:], "closed")
	if err != nil {
		b.Fatalf("closed loop: %v", err)
	}
	waitDelivered(b, env, warm+n, 10*time.Minute)
	cpu := ReadCPU().Since(in.cpuStart)
	b.StopTimer()
	stopProfile()
	out.closed = measureEndToEnd(b, env, []endToEndRun{{intake: in, cpu: cpu}})

	out.openRate = out.closed.rate() / 2
	m := openCount(cc, out.openRate)
	openBodies := keys.bodies(b, "hub-open", cc.size, codes, m)
	b.StartTimer()
	in, late, err := d.open(openBodies, "open", out.openRate)
	if err != nil {
		b.Fatalf("open loop: %v", err)
	}
	waitDelivered(b, env, warm+n+m, 10*time.Minute)
	out.open = measureEndToEnd(b, env, []endToEndRun{{intake: in, cpu: ReadCPU().Since(in.cpuStart)}})
	out.openLate = late
	b.StopTimer()

	checkCompareHub(b, env, sbs, warm+n+m)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(out.closed.rate(), "appeals/s")
	b.ReportMetric(Millis(Percentile(out.closed.latencies, 50)), "p50-ms")
	b.ReportMetric(Millis(Percentile(out.closed.latencies, 99)), "p99-ms")
	b.ReportMetric(Millis(Percentile(out.open.latencies, 99)), "half-peak-p99-ms")
	return out
}

// signedHubEnv is a hub environment (not started) for codes, each served by one of sbs, with the
// production timings and every appeal's signatures required and verified against keys' PKI;
// change, when given, edits the configuration further.
func signedHubEnv(b *testing.B, codes []string, sbs sandboxes, keys *signingKeys, change ...func(*config.Config)) *hubtest.Env {
	b.Helper()
	endpoints := map[string]string{}
	for i, code := range codes {
		endpoints[code] = sbs.url(i) + "/documents/" + code
	}
	return hubtest.NewEnv(b, endpoints, func(c *config.Config) {
		productionTimings(c)
		// The production request timeout, as the pipeline's: hubtest's 5 s is too short for a
		// 5 MiB document on a loaded machine.
		c.Delivery.RequestTimeout = config.DefaultDeliveryRequestTimeout
		c.Signatures.TrustDir = keys.trustDir
		c.Signatures.Policy.Appeal = config.SignaturePolicyRequired
		c.Relay.BatchSize = envInt("BENCH_RELAY_BATCH", c.Relay.BatchSize)
		for _, f := range change {
			f(c)
		}
	})
}

func runBaseline(b *testing.B, cc compareCase, codes []string, keys *signingKeys, front tls.Certificate, warm, n int,
	openRate float64) compareRun {
	sbs := newSandboxes(b, min(cc.authorities, 5))
	endpoints := map[string]string{}
	for i, code := range codes {
		endpoints[code] = sbs.url(i) + "/documents/" + code
	}
	def := config.Default().WithDefaults()
	token := randomHex(16)
	bl := startBaseline(b, baselineConfig{databaseURL: storetest.URL(), amqpURL: amqpURL(),
		prefix: "b" + randomHex(5) + ".", endpoints: endpoints, trustDir: keys.trustDir, token: token,
		maxBody: def.HTTP.MaxBodyBytes, maxOpen: def.Database.MaxOpenConns, prefetch: def.Delivery.Concurrency,
		limit: def.Broker.DeliveryLimit})
	d := newDriver(b, startFront(b, front, bl.Addr()), token, cc.clients)

	bodies := keys.bodies(b, "base", cc.size, codes, warm+n)
	ctx := context.Background()
	if _, err := d.closed(bodies[:warm], "warm"); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	waitBaseline(b, bl, warm)
	out := compareRun{bodyBytes: len(bodies[warm]), openRate: openRate}

	b.ResetTimer()
	in, err := d.closed(bodies[warm:], "closed")
	if err != nil {
		b.Fatalf("closed loop: %v", err)
	}
	waitBaseline(b, bl, warm+n)
	out.closed = baselineEndToEnd(ctx, b, bl, in)
	b.StopTimer()

	m := openCount(cc, openRate)
	openBodies := keys.bodies(b, "base-open", cc.size, codes, m)
	b.StartTimer()
	in, late, err := d.open(openBodies, "open", openRate)
	if err != nil {
		b.Fatalf("open loop: %v", err)
	}
	waitBaseline(b, bl, warm+n+m)
	out.open = baselineEndToEnd(ctx, b, bl, in)
	out.openLate = late
	b.StopTimer()

	documents := sbs.documents()
	if documents != warm+n+m || bl.failures.Load() != 0 {
		b.Fatalf("baseline: %d documents in the systems for %d appeals; %d failed deliveries", documents, warm+n+m,
			bl.failures.Load())
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(out.closed.rate(), "appeals/s")
	b.ReportMetric(Millis(Percentile(out.closed.latencies, 50)), "p50-ms")
	b.ReportMetric(Millis(Percentile(out.closed.latencies, 99)), "p99-ms")
	b.ReportMetric(Millis(Percentile(out.open.latencies, 99)), "half-peak-p99-ms")
	return out
}

// profileHub starts a CPU profile of the hub's closed-loop run when BENCH_HUB_PROFILE names a
// directory (the profile goes to <dir>/hub-<case>.pprof; it covers the whole process, but only the
// hub, its TLS front, the portal clients and the sandbox systems run then). It returns the stop.
func profileHub(b *testing.B, cc compareCase) func() {
	dir := os.Getenv("BENCH_HUB_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, "hub-"+cc.name+".pprof"))
	if err != nil {
		b.Fatalf("profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		b.Fatalf("profile: %v", err)
	}
	stopPerf := perfRecord(b, filepath.Join(dir, "hub-"+cc.name+".perf"))
	return func() {
		stopPerf()
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Errorf("profile: %v", err)
		}
	}
}

// perfRecord samples the whole machine with `perf record -a -g` into out while the closed loop
// runs, when BENCH_PERF=1: where PostgreSQL and RabbitMQ spend their CPU (read it with
// `perf report -i out --comm postgres --children --percentage relative`). It returns the stop.
func perfRecord(b *testing.B, out string) func() {
	if os.Getenv("BENCH_PERF") != "1" {
		return func() {}
	}
	cmd := exec.Command("perf", "record", "-a", "-g", "-q", "-o", out)
	if err := cmd.Start(); err != nil {
		b.Logf("perf record: %v (no machine profile)", err)
		return func() {}
	}
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			b.Logf("perf record: %v", err)
		}
	}
}

// openCount is the number of submissions of an open-loop run at rate: openSeconds of them, but at
// most the closed loop's count for bodies over 1 MiB (they are held in memory).
func openCount(cc compareCase, rate float64) int {
	m := max(int(rate*float64(openSeconds())), 1)
	if cc.size > mibBytes {
		m = min(m, scaled(cc.n))
	}
	return m
}

func amqpURL() string {
	if u := os.Getenv("TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

func waitBaseline(b *testing.B, bl *baseline, want int) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		n, err := bl.delivered(context.Background())
		if err != nil {
			b.Fatalf("baseline: %v", err)
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("baseline: %d of %d delivered after 10 min (%d failures, first: %v)", n, want,
				bl.failures.Load(), bl.firstErr.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func baselineEndToEnd(ctx context.Context, b *testing.B, bl *baseline, in intakeRun) endToEnd {
	b.Helper()
	ids := make([]string, len(in.receipts))
	for i, r := range in.receipts {
		ids[i] = r.ID
	}
	lat, last, err := bl.latencies(ctx, ids)
	if err != nil {
		b.Fatalf("baseline: %v", err)
	}
	return endToEnd{intake: []intakeRun{in}, latencies: lat, wall: last.Sub(in.start), delivered: len(lat),
		cpu: ReadCPU().Since(in.cpuStart)}
}

// checkCompareHub fails unless want deliveries are delivered, each recorded so once, and the
// systems hold one document per delivery.
func checkCompareHub(b *testing.B, env *hubtest.Env, sbs sandboxes, want int) {
	b.Helper()
	ctx := context.Background()
	counts, err := env.Store.DeliveryCounts(ctx)
	if err != nil {
		b.Fatalf("count deliveries: %v", err)
	}
	if counts[schemas.StatusDelivered] != want {
		b.Fatalf("%d deliveries delivered, want %d: %v", counts[schemas.StatusDelivered], want, counts)
	}
	events, err := env.Store.DeliveredEventsPerDelivery(ctx)
	if err != nil {
		b.Fatalf("count delivered events: %v", err)
	}
	for id, k := range events {
		if k != 1 {
			b.Fatalf("delivery %s recorded delivered %d times", id, k)
		}
	}
	if len(events) != want {
		b.Fatalf("%d deliveries have a delivered event, want %d", len(events), want)
	}
	if d := sbs.documents(); d != want {
		b.Fatalf("the systems hold %d documents, want %d", d, want)
	}
}

// authorityCodes returns n distinct EDRPOU codes with a valid check digit ("3" + six digits).
func authorityCodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		base := fmt.Sprintf("3%06d", i)
		out[i] = base + strconv.Itoa(registry.CheckDigit(base+"0"))
	}
	return out
}

// sandboxes are the document systems of a comparison: authority i is served by system i mod len.
type sandboxes []struct {
	sb  *sandbox.Server
	srv *httptest.Server
}

func newSandboxes(b *testing.B, k int) sandboxes {
	b.Helper()
	out := make(sandboxes, k)
	for i := range out {
		sb, err := sandbox.New(sandbox.Options{Name: fmt.Sprintf("compare-%d", i)}, zap.NewNop())
		if err != nil {
			b.Fatalf("new sandbox: %v", err)
		}
		srv := httptest.NewServer(sb)
		b.Cleanup(func() { srv.Close(); _ = sb.Close() })
		out[i].sb, out[i].srv = sb, srv
	}
	return out
}

func (s sandboxes) url(i int) string { return s[i%len(s)].srv.URL }

func (s sandboxes) documents() int {
	n := 0
	for _, x := range s {
		n += x.sb.Ledger().Documents
	}
	return n
}

// signingKeys sign the benchmark's submissions as a citizen's qualified key would: the test PKI of
// internal/signature (made by OpenSSL), its ec256 signer and intermediate CA.
type signingKeys struct {
	trustDir string
	key      crypto.Signer
	cert     *x509.Certificate
	chain    []*x509.Certificate
	built    int
}

func newSigningKeys(b *testing.B) *signingKeys {
	b.Helper()
	p := signaturetest.Shared(b)
	return &signingKeys{trustDir: p.Path("trust"), key: p.Key(b, "ec256"), cert: p.Cert(b, "ec256"),
		chain: []*x509.Certificate{p.Cert(b, "inter")}}
}

// bodies returns k signed submissions of size bytes (before signing) to codes in turn: Body with a
// detached CAdES signature of the text and of the attachment, if any.
func (s *signingKeys) bodies(b *testing.B, round string, size int, codes []string, k int) [][]byte {
	b.Helper()
	out, err := s.signed(round, size, codes, k)
	if err != nil {
		b.Fatalf("sign: %v", err)
	}
	return out
}

// signed is bodies without the benchmark: safe off the benchmark's goroutine, not concurrently
// with itself.
func (s *signingKeys) signed(round string, size int, codes []string, k int) ([][]byte, error) {
	out := make([][]byte, k)
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	first := s.built
	s.built += k
	for range 2 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= k || failed.Load() != nil {
					return
				}
				body, err := s.sign(Body(first+i, size, codes[i%len(codes)]))
				if err != nil {
					err = fmt.Errorf("%s body %d: %w", round, i, err)
					failed.CompareAndSwap(nil, &err)
					return
				}
				out[i] = body
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	return out, nil
}

func (s *signingKeys) sign(body []byte) ([]byte, error) {
	var sub map[string]any
	if err := json.Unmarshal(body, &sub); err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	text, _ := sub["text"].(string)
	at := time.Now().Add(-time.Minute)
	sig, err := signature.Sign([]byte(text), s.key, s.cert, s.chain, at, signature.Detached())
	if err != nil {
		return nil, fmt.Errorf("sign text: %w", err)
	}
	sigs := []any{map[string]any{"of": schemas.SignatureOfText, "format": schemas.SignatureCAdESDetached, "value": sig}}
	if atts, ok := sub["attachments"].([]any); ok {
		for _, a := range atts {
			att, _ := a.(map[string]any)
			content, err := base64.StdEncoding.DecodeString(fmt.Sprint(att["content"]))
			if err != nil {
				return nil, fmt.Errorf("attachment content: %w", err)
			}
			sig, err := signature.Sign(content, s.key, s.cert, s.chain, at, signature.Detached())
			if err != nil {
				return nil, fmt.Errorf("sign attachment: %w", err)
			}
			sigs = append(sigs, map[string]any{"of": att["id"], "format": schemas.SignatureCAdESDetached, "value": sig})
		}
	}
	sub["signatures"] = sigs
	out, err := json.Marshal(sub)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return out, nil
}

// newFrontCert makes a throwaway ECDSA P-256 server certificate for 127.0.0.1.
func newFrontCert(b *testing.B) tls.Certificate {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatalf("front key: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hub.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatalf("front certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatalf("front certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// front terminates TLS on a loopback port and forwards the plain bytes of each connection to
// backend, as a TLS-terminating proxy in front of the hub does. The hub and the baseline sit
// behind the same front, so both pay the same TLS and forwarding cost.
type front struct {
	ln      net.Listener
	url     string
	pool    *x509.CertPool
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	backend string
	// dialErrors counts client connections closed because the backend could not be reached.
	dialErrors  atomic.Int64
	lastDialErr atomic.Pointer[error]
}

func startFront(b *testing.B, cert tls.Certificate, backend string) *front {
	b.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("front listen: %v", err)
	}
	f := &front{ln: tls.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		url: "https://" + raw.Addr().String(), pool: x509.NewCertPool(), conns: map[net.Conn]struct{}{}, backend: backend}
	f.pool.AddCert(cert.Leaf)
	f.wg.Go(f.accept)
	b.Cleanup(f.close)
	return f
}

func (f *front) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			return
		}
		f.wg.Go(func() { f.forward(c) })
	}
}

// track registers c for close; false when the front is closing.
func (f *front) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		_ = c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *front) forward(c net.Conn) {
	defer func() {
		_ = c.Close()
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	up, err := (&net.Dialer{Timeout: 30 * time.Second}).Dial("tcp", f.backend)
	if err != nil {
		f.dialErrors.Add(1)
		f.lastDialErr.Store(&err)
		return
	}
	if !f.track(up) {
		return
	}
	defer func() {
		_ = up.Close()
		f.mu.Lock()
		delete(f.conns, up)
		f.mu.Unlock()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, c)
		_ = up.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(c, up)
	_ = c.Close()
	<-done
}

func (f *front) close() {
	if n := f.dialErrors.Load(); n > 0 {
		fmt.Printf("TLS front: %d connections to %s failed, the last: %v\n", n, f.backend, *f.lastDialErr.Load())
	}
	_ = f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// driver submits like the portal, over HTTPS through a front: keep-alive connections, a bearer
// token, an idempotency key per submission.
type driver struct {
	url     string
	token   string
	clients int
	http    *http.Client
	resent  atomic.Int64 // submissions sent again after a broken connection
}

func newDriver(b *testing.B, f *front, token string, clients int) *driver {
	b.Helper()
	return newDriverTo(b, f.url, f.pool, token, clients)
}

// newDriverTo is newDriver to a base URL: https (trusting pool) or plain http (pool nil).
func newDriverTo(b *testing.B, url string, pool *x509.CertPool, token string, clients int) *driver {
	b.Helper()
	d := &driver{url: url, token: token, clients: clients}
	b.Cleanup(func() {
		if n := d.resent.Load(); n > 0 {
			b.Logf("%d submissions sent again after a broken connection (same idempotency key)", n)
		}
	})
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
		DisableCompression: true, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	b.Cleanup(tr.CloseIdleConnections)
	d.http = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	return d
}

// closed submits bodies from d.clients goroutines, each sending its next as soon as the previous is
// answered. Any answer but 202 ends the run with an error.
func (d *driver) closed(bodies [][]byte, round string) (intakeRun, error) {
	return closedLoop(d.clients, len(bodies), round, func(ctx context.Context, key string, i int) (schemas.Receipt, error) {
		id, err := d.submit(ctx, key, bodies[i])
		return schemas.Receipt{ID: id}, err
	})
}

// open submits bodies at a fixed rate, each at its scheduled time whatever the answers before it
// (an open loop: a slow server does not slow the arrivals down). Latencies are counted from the
// scheduled time; late is how many were sent more than 100 ms after it.
func (d *driver) open(bodies [][]byte, round string, rate float64) (intakeRun, int, error) {
	n := len(bodies)
	run := intakeRun{latencies: make([]time.Duration, n), receipts: make([]schemas.Receipt, n)}
	var failed atomic.Pointer[error]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	late := 0
	interval := time.Duration(float64(time.Second) / rate)
	run.cpuStart = ReadCPU()
	run.start = time.Now()
	for i := range n {
		at := run.start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		} else if wait < -100*time.Millisecond {
			late++
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			id, err := d.submit(ctx, round+"-"+strconv.Itoa(i), bodies[i])
			if err != nil {
				err = fmt.Errorf("submission %s-%d: %w", round, i, err)
				failed.CompareAndSwap(nil, &err)
				cancel()
				return
			}
			run.latencies[i] = time.Since(at)
			run.receipts[i] = schemas.Receipt{ID: id}
		})
	}
	wg.Wait()
	run.end = time.Now()
	run.cpu = ReadCPU().Since(run.cpuStart)
	if err := failed.Load(); err != nil {
		return run, late, *err
	}
	return run, late, nil
}

// submit posts one submission and returns the id of its 202 answer. A request that got no answer
// at all (the connection broke) is sent again with the same idempotency key, at most four times, as a
// portal does, and counted in d.resent; any answer but 202 is an error.
func (d *driver) submit(ctx context.Context, key string, body []byte) (string, error) {
	for attempt := 1; ; attempt++ {
		id, answered, err := d.post(ctx, key, body)
		if err == nil || answered || attempt == 5 || ctx.Err() != nil {
			return id, err
		}
		d.resent.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *driver) post(ctx context.Context, key string, body []byte) (id string, answered bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url+"/v1/appeals", bytes.NewReader(body))
	if err != nil {
		return "", false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := d.http.Do(req)
	if err != nil {
		return "", false, fmt.Errorf("post: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", true, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", true, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, raw)
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
		return "", true, fmt.Errorf("decode answer: %w", errors.Join(err, errors.New("no id")))
	}
	return r.ID, true, nil
}
