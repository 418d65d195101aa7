package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/signature/signaturetest"
	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	code := m.Run()
	printSummary(os.Stdout)
	printCompare(os.Stdout)
	signaturetest.Cleanup()
	if code == 0 {
		// lib/pq's listener and net/http keep-alive goroutines wind down asynchronously after Close.
		if err := goleak.Find(
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		); err != nil {
			_, _ = fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// The loads. BENCH_CLIENTS and BENCH_SCALE (a factor on every count) override them for exploring.
const (
	defaultClients = 32
	kib            = 1 << 10
)

// shape is one body size and how many submissions each benchmark sends of it.
type shape struct {
	name        string
	size        int
	intakeN     int // BenchmarkIntake
	endToEndN   int // BenchmarkEndToEnd
	warmUpRound int // submitted (and, end to end, delivered) before the clock starts
}

var shapes = []shape{
	{name: "1KiB", size: 1 * kib, intakeN: 6000, endToEndN: 6000, warmUpRound: 200},
	{name: "64KiB", size: 64 * kib, intakeN: 2000, endToEndN: 2000, warmUpRound: 200},
}

// codes are the five authorities; each has its own sandbox system.
var codes = []string{"50000001", "50000002", "50000003", "50000004", "50000005"}

func clients() int { return envInt("BENCH_CLIENTS", defaultClients) }

func scaled(n int) int {
	f, err := strconv.ParseFloat(os.Getenv("BENCH_SCALE"), 64)
	if err != nil || f <= 0 {
		return n
	}
	return max(int(float64(n)*f), 1)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkIntake measures how many submissions the hub accepts per second (HTTP 202: stored durably
// in one PostgreSQL transaction with its outbox rows) and the accept latency. The relay runs as in
// production (it publishes each outbox row to RabbitMQ), but the five sandbox systems answer only
// after 2 s, so delivery (8 in flight per authority) takes almost no CPU away from intake.
func BenchmarkIntake(b *testing.B) {
	readMachine()
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			systems := newSystems(b, sandbox.Options{Latency: 2 * time.Second})
			env := hubtest.NewEnv(b, systems.endpoints(), productionTimings)
			hub := env.Start(b)
			p := newPortal(b, env, hub.URL, clients())
			warm := p.submitAll(b, "warm", sh.size, sh.warmUpRound)
			n := scaled(sh.intakeN)

			var runs []intakeRun
			b.ResetTimer()
			for i := range b.N {
				runs = append(runs, p.submitAll(b, fmt.Sprintf("r%d", i), sh.size, n))
			}
			b.StopTimer()

			total := len(warm.receipts)
			for _, r := range runs {
				total += len(r.receipts)
			}
			totals, err := env.Store.Totals(context.Background())
			if err != nil {
				b.Fatalf("count rows: %v", err)
			}
			if totals.Appeals != total || totals.Deliveries != total {
				b.Fatalf("stored %d appeals and %d deliveries, want %d of each", totals.Appeals, totals.Deliveries, total)
			}
			in := mergeIntake(runs)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(in.rate(), "submissions/s")
			b.ReportMetric(Millis(Percentile(in.latencies, 50)), "p50-ms")
			b.ReportMetric(Millis(Percentile(in.latencies, 99)), "p99-ms")
			record(result{name: b.Name(), shape: sh, bodyBytes: p.bodyBytes(sh.size), clients: p.clients,
				cfg: env.Config, intake: in, cpu: in.cpu})
		})
	}
}

// BenchmarkEndToEnd measures appeals delivered per second, from the first submission until the
// last delivery is recorded delivered (each appeal has one addressee, so appeals are deliveries),
// and the end-to-end latency of each delivery: delivered_at − received_at, both read back from the
// database. It also reports the intake rate of the same run, with delivery competing for the CPU.
// The run must be correct to report anything: every delivery delivered and recorded once, one
// document per delivery across the sandbox ledgers, the outbox empty.
func BenchmarkEndToEnd(b *testing.B) {
	readMachine()
	for _, sh := range shapes {
		b.Run(sh.name, func(b *testing.B) {
			systems := newSystems(b, sandbox.Options{})
			env := hubtest.NewEnv(b, systems.endpoints(), productionTimings)
			hub := env.Start(b)
			p := newPortal(b, env, hub.URL, clients())
			warm := p.submitAll(b, "warm", sh.size, sh.warmUpRound)
			expected := len(warm.receipts)
			waitDelivered(b, env, expected, 0)
			n := scaled(sh.endToEndN)

			var runs []endToEndRun
			b.ResetTimer()
			for i := range b.N {
				in := p.submitAll(b, fmt.Sprintf("r%d", i), sh.size, n)
				expected += len(in.receipts)
				waitDelivered(b, env, expected, 5*time.Minute)
				runs = append(runs, endToEndRun{intake: in, cpu: ReadCPU().Since(in.cpuStart)})
			}
			b.StopTimer()

			checkDelivered(b, env, systems, expected)
			e := measureEndToEnd(b, env, runs)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(e.rate(), "appeals/s")
			b.ReportMetric(Millis(Percentile(e.latencies, 50)), "p50-ms")
			b.ReportMetric(Millis(Percentile(e.latencies, 99)), "p99-ms")
			in := mergeIntake(e.intake)
			b.ReportMetric(in.rate(), "intake-submissions/s")
			record(result{name: b.Name(), shape: sh, bodyBytes: p.bodyBytes(sh.size), clients: p.clients,
				cfg: env.Config, intake: in, endToEnd: &e, cpu: e.cpu})
		})
	}
}

// productionTimings puts back the production defaults that hubtest shortens for tests and that
// matter to throughput: the relay's safety-net poll (LISTEN/NOTIFY wakes it in any case).
func productionTimings(c *config.Config) {
	c.Relay.PollInterval = config.DefaultRelayPollInterval
}

// systems are the sandbox document systems, one per authority code.
type systems []*system

type system struct {
	code string
	sb   *sandbox.Server
	srv  *httptest.Server
}

func newSystems(b *testing.B, opts sandbox.Options) systems {
	b.Helper()
	var out systems
	for _, code := range codes {
		o := opts
		o.Name = "bench-" + code
		sb, err := sandbox.New(o, zap.NewNop())
		if err != nil {
			b.Fatalf("new sandbox: %v", err)
		}
		srv := httptest.NewServer(sb)
		b.Cleanup(srv.Close)
		out = append(out, &system{code: code, sb: sb, srv: srv})
	}
	return out
}

func (s systems) endpoints() map[string]string {
	m := map[string]string{}
	for _, sys := range s {
		m[sys.code] = sys.srv.URL + "/documents/" + sys.code
	}
	return m
}

// portal submits like the portal: `clients` concurrent HTTP clients with keep-alive connections.
type portal struct {
	env     *hubtest.Env
	url     string
	clients int
	http    *http.Client
	sizes   sync.Map // size → actual body bytes of the first body built
	built   int      // bodies built so far: each submission gets its own content
}

func newPortal(b *testing.B, env *hubtest.Env, url string, clients int) *portal {
	b.Helper()
	tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients, IdleConnTimeout: 30 * time.Second,
		DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &portal{env: env, url: url, clients: clients, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (p *portal) bodyBytes(size int) int {
	v, _ := p.sizes.Load(size)
	n, _ := v.(int)
	return n
}

// intakeRun is one round of submissions.
type intakeRun struct {
	start, end time.Time // before the first request, after the last answer
	latencies  []time.Duration
	receipts   []schemas.Receipt
	cpuStart   CPUSample
	cpu        CPUUse // between start and end
}

func (r intakeRun) rate() float64 {
	return float64(len(r.receipts)) / r.end.Sub(r.start).Seconds()
}

// mergeIntake joins rounds: the rate is over the sum of their durations.
func mergeIntake(runs []intakeRun) intakeRun {
	var m intakeRun
	var wall time.Duration
	for _, r := range runs {
		m.latencies = append(m.latencies, r.latencies...)
		m.receipts = append(m.receipts, r.receipts...)
		wall += r.end.Sub(r.start)
		m.cpu = m.cpu.Add(r.cpu)
	}
	if len(runs) > 0 {
		m.start = runs[0].start
		m.end = m.start.Add(wall)
	}
	return m
}

// submitAll builds n bodies of size bytes (before the clock starts) and submits them from
// p.clients goroutines, each to one of the authorities in turn. Any answer but 202 fails the
// benchmark: a benchmark does not retry its way to a figure. Not safe for concurrent use.
func (p *portal) submitAll(b *testing.B, round string, size, n int) intakeRun {
	b.Helper()
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = Body(p.built+i, size, codes[i%len(codes)])
	}
	p.built += n
	if n > 0 {
		p.sizes.LoadOrStore(size, len(bodies[0]))
	}
	run, err := closedLoop(p.clients, n, round, func(ctx context.Context, key string, i int) (schemas.Receipt, error) {
		return p.submit(ctx, key, bodies[i])
	})
	if err != nil {
		b.Fatalf("submit: %v", err)
	}
	return run
}

// closedLoop submits n requests from clients goroutines, each sending its next as soon as the
// previous is answered; submit sends request i with the idempotency key given. The first error
// ends the run and is returned.
func closedLoop(clients, n int, round string, submit func(ctx context.Context, key string, i int) (schemas.Receipt, error)) (intakeRun, error) {
	run := intakeRun{latencies: make([]time.Duration, n), receipts: make([]schemas.Receipt, n)}
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run.cpuStart = ReadCPU()
	run.start = time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				r, err := submit(ctx, round+"-"+strconv.Itoa(i), i)
				if err != nil {
					err = fmt.Errorf("submission %s-%d: %w", round, i, err)
					failed.CompareAndSwap(nil, &err)
					cancel()
					return
				}
				run.latencies[i] = time.Since(t0)
				run.receipts[i] = r
			}
		})
	}
	wg.Wait()
	run.end = time.Now()
	run.cpu = ReadCPU().Since(run.cpuStart)
	if err := failed.Load(); err != nil {
		return run, *err
	}
	return run, nil
}

func (p *portal) submit(ctx context.Context, key string, body []byte) (schemas.Receipt, error) {
	var r schemas.Receipt
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/v1/appeals", bytes.NewReader(body))
	if err != nil {
		return r, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+p.env.Token)
	resp, err := p.http.Do(req)
	if err != nil {
		return r, fmt.Errorf("post: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return r, fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
		return r, fmt.Errorf("decode receipt: %w", cmp.Or(err, errors.New("no id")))
	}
	return r, nil
}

// waitDelivered waits until want deliveries are delivered; any other final status fails at once.
// timeout 0 means a minute.
func waitDelivered(b *testing.B, env *hubtest.Env, want int, timeout time.Duration) {
	b.Helper()
	deadline := time.Now().Add(cmp.Or(timeout, time.Minute))
	for {
		counts, err := env.Store.DeliveryCounts(context.Background())
		if err != nil {
			b.Fatalf("count deliveries: %v", err)
		}
		if counts[schemas.StatusDead] > 0 {
			b.Fatalf("deliveries went dead: %v", counts)
		}
		if counts[schemas.StatusDelivered] >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d deliveries delivered after %s: %v", counts[schemas.StatusDelivered], want,
				cmp.Or(timeout, time.Minute), counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkDelivered fails the benchmark unless every one of want deliveries is delivered and recorded
// so once, each sandbox holds exactly one document per delivery it was sent, and the outbox is
// empty (its last rows are marked published just after their confirms: wait a little for that).
func checkDelivered(b *testing.B, env *hubtest.Env, systems systems, want int) {
	b.Helper()
	ctx := context.Background()
	delivered, err := env.Store.DeliveriesByStatus(ctx, schemas.StatusDelivered)
	if err != nil {
		b.Fatalf("list delivered: %v", err)
	}
	if len(delivered) != want {
		b.Fatalf("%d deliveries delivered, want %d", len(delivered), want)
	}
	authorityOf := make(map[string]string, len(delivered))
	for _, d := range delivered {
		authorityOf[d.ID] = d.Authority
	}
	documents := 0
	for _, s := range systems {
		l := s.sb.Ledger()
		documents += l.Documents
		if len(l.Entries) != l.Documents {
			b.Fatalf("system %s: %d documents but %d ledger entries", s.code, l.Documents, len(l.Entries))
		}
		if l.Requests != l.Documents {
			// Allowed (a repeat under the same idempotency key), but not expected in a run without faults.
			b.Logf("system %s: %d requests for %d documents", s.code, l.Requests, l.Documents)
		}
		for _, e := range l.Entries {
			if authorityOf[e.DeliveryID] != s.code || e.Authority != s.code {
				b.Fatalf("system %s recorded delivery %s of authority %q", s.code, e.DeliveryID, authorityOf[e.DeliveryID])
			}
		}
	}
	if documents != want {
		b.Fatalf("the systems hold %d documents, want %d", documents, want)
	}
	events, err := env.Store.DeliveredEventsPerDelivery(ctx)
	if err != nil {
		b.Fatalf("count delivered events: %v", err)
	}
	if len(events) != want {
		b.Fatalf("%d deliveries have a delivered event, want %d", len(events), want)
	}
	for id, n := range events {
		if n != 1 {
			b.Fatalf("delivery %s recorded delivered %d times", id, n)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		totals, err := env.Store.Totals(ctx)
		if err != nil {
			b.Fatalf("count rows: %v", err)
		}
		if totals.OutboxPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("outbox still has %d pending rows", totals.OutboxPending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endToEndRun is one measured round: its intake, and the CPU used from its first submission until
// every delivery was seen delivered.
type endToEndRun struct {
	intake intakeRun
	cpu    CPUUse
}

// endToEnd is what BenchmarkEndToEnd measured over its rounds.
type endToEnd struct {
	intake    []intakeRun
	latencies []time.Duration // delivered_at − received_at of each delivery
	wall      time.Duration   // sum over rounds of first submission → last delivered_at
	delivered int
	cpu       CPUUse
}

func (e endToEnd) rate() float64 { return float64(e.delivered) / e.wall.Seconds() }

// measureEndToEnd reads each measured case back from the database (as its portal client may) and
// takes received_at and each delivery's delivered_at from it.
func measureEndToEnd(b *testing.B, env *hubtest.Env, runs []endToEndRun) endToEnd {
	b.Helper()
	clientID := env.Config.Clients[0].ID
	var e endToEnd
	for _, run := range runs {
		e.intake = append(e.intake, run.intake)
		e.cpu = e.cpu.Add(run.cpu)
		lat := make([]time.Duration, len(run.intake.receipts))
		last := make([]time.Time, len(run.intake.receipts))
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= len(run.intake.receipts) || failed.Load() != nil {
						return
					}
					c, err := env.Store.Case(context.Background(), clientID, run.intake.receipts[i].ID)
					if err == nil && (len(c.Deliveries) != 1 || c.Deliveries[0].DeliveredAt == nil) {
						err = fmt.Errorf("case %s: deliveries %+v, want one delivered", c.ID, c.Deliveries)
					}
					if err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
					lat[i] = c.Deliveries[0].DeliveredAt.Sub(c.ReceivedAt)
					last[i] = *c.Deliveries[0].DeliveredAt
				}
			})
		}
		wg.Wait()
		if err := failed.Load(); err != nil {
			b.Fatalf("read cases: %v", *err)
		}
		end := run.intake.start
		for _, t := range last {
			if t.After(end) {
				end = t
			}
		}
		e.latencies = append(e.latencies, lat...)
		e.wall += end.Sub(run.intake.start)
		e.delivered += len(lat)
	}
	return e
}
