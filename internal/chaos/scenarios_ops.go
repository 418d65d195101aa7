package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"appealhub/config"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// authorityQueue is the work queue of an authority on the harness's node (the hubs run without a
// broker prefix; internal/broker's Names.AuthorityQueue).
func authorityQueue(code string) string { return "hub.authority." + code }

// queueInfo is one queue's ready messages and consumers.
type queueInfo struct {
	Name      string `json:"name"`
	Ready     int    `json:"messages_ready"`
	Consumers int    `json:"consumers"`
}

// queueInfos lists the node's queues with their ready messages and consumers, by name.
func queueInfos(ctx context.Context, n *RabbitNode) (map[string]queueInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := n.Ctl(ctx, "rabbitmqctl", "-q", "list_queues", "name", "messages_ready", "consumers", "--formatter", "json")
	if err != nil {
		return nil, err
	}
	var qs []queueInfo
	if err := json.Unmarshal(bytes.TrimSpace(out), &qs); err != nil {
		return nil, fmt.Errorf("list queues: %w: %s", err, out)
	}
	byName := make(map[string]queueInfo, len(qs))
	for _, q := range qs {
		byName[q.Name] = q
	}
	return byName, nil
}

// waitConsumed waits (at most within) until every named queue exists with at least want[name]
// consumers, and returns how long it took and whether it happened.
func waitConsumed(ctx context.Context, n *RabbitNode, want map[string]int, within time.Duration) (time.Duration, bool) {
	start := time.Now()
	ok := waitFor(within, 200*time.Millisecond, func() bool {
		qs, err := queueInfos(ctx, n)
		if err != nil {
			return false
		}
		for name, c := range want {
			if q, found := qs[name]; !found || q.Consumers < c {
				return false
			}
		}
		return true
	})
	return time.Since(start), ok
}

// metricSum sums the samples of a counter family on a hub's /metrics (0 when it has none yet).
func metricSum(ctx context.Context, h *HubProcess, family string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL()+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("hub %s metrics: %w", h.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, family+"{") && !strings.HasPrefix(line, family+" ") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("hub %s metrics: %w", h.Name, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// R9 is operator error on the broker while the load runs: the work queue of an authority is
// deleted (rabbitmqctl delete_queue on the harness's node, messages and all), every connection is
// closed (rabbitmqctl close_all_connections), and a second authority's queue is deleted. The two
// authorities whose queues are deleted are slowed (one parallel send per hub, the sandboxes answer
// after 500 ms) so that their queues hold messages when they are deleted; the reconciler runs
// every 5 s and sends again what showed no progress for 20 s. Extra criteria: the consumers
// re-declare each deleted queue and consume it again ≤ 30 s after the delete, and every queue is
// consumed again ≤ 30 s after the connections were closed; when a deleted queue held messages,
// the reconciler sent deliveries again (the global criteria then prove none was lost).
func R9(appeals, rate int) Scenario {
	targets := []string{Codes[0], Codes[1]}
	var mu sync.Mutex
	var held int
	var redeclare, resume time.Duration
	failed := []string{}
	return Scenario{
		ID: "R9", Fault: "delete_queue ×2, close_all_connections ×1 (reconcile.after 20s, interval 5s)",
		Load: Load{Appeals: appeals, Rate: rate, Seed: 9},
		Env: Options{
			Sandbox: sandbox.Options{Latency: 500 * time.Millisecond},
			Configure: func(c *config.Config) {
				c.Reconcile.After = 20 * time.Second
				c.Reconcile.Interval = 5 * time.Second
				for i := range c.Authorities {
					for _, code := range targets {
						if c.Authorities[i].Code == code {
							c.Authorities[i].Concurrency = 1
						}
					}
				}
			},
		},
		Faults: func(ctx context.Context, r *Run) error {
			before, err := queueInfos(ctx, r.Env.Rabbit)
			if err != nil {
				return fmt.Errorf("r9 queues: %w", err)
			}
			want := map[string]int{}
			for _, code := range r.Env.Codes {
				want[authorityQueue(code)] = max(before[authorityQueue(code)].Consumers, 1)
			}
			deleteQueue := func(code string) error {
				name := authorityQueue(code)
				qs, err := queueInfos(ctx, r.Env.Rabbit)
				if err != nil {
					return err
				}
				end := r.Log.Begin("delete_queue", name)
				if _, err := r.Env.Rabbit.Ctl(ctx, "rabbitmqctl", "-q", "delete_queue", name); err != nil {
					return fmt.Errorf("delete %s: %w", name, err)
				}
				d, ok := waitConsumed(ctx, r.Env.Rabbit, map[string]int{name: want[name]}, 60*time.Second)
				end()
				mu.Lock()
				defer mu.Unlock()
				held += qs[name].Ready
				redeclare = max(redeclare, d)
				if !ok {
					failed = append(failed, name+" not consumed again within 60s of its delete")
				}
				return nil
			}
			if !sleepCtx(ctx, 15*time.Second) {
				return nil
			}
			if err := deleteQueue(targets[0]); err != nil {
				return err
			}
			if !sleepCtx(ctx, 5*time.Second) {
				return nil
			}
			end := r.Log.Begin("close_all_connections", r.Env.Rabbit.Name)
			if _, err := r.Env.Rabbit.Ctl(ctx, "rabbitmqctl", "-q", "close_all_connections", "chaos R9"); err != nil {
				return fmt.Errorf("close_all_connections: %w", err)
			}
			// The hubs take a moment to notice; wait until they are gone from the queues first.
			waitFor(10*time.Second, 100*time.Millisecond, func() bool {
				qs, err := queueInfos(ctx, r.Env.Rabbit)
				return err == nil && qs[authorityQueue(r.Env.Codes[2])].Consumers < want[authorityQueue(r.Env.Codes[2])]
			})
			d, ok := waitConsumed(ctx, r.Env.Rabbit, want, 60*time.Second)
			end()
			mu.Lock()
			resume = d
			if !ok {
				failed = append(failed, "queues not all consumed again within 60s of close_all_connections")
			}
			mu.Unlock()
			if !sleepCtx(ctx, 5*time.Second) {
				return nil
			}
			return deleteQueue(targets[1])
		},
		Criteria: func(rep *Report, r *Run) {
			mu.Lock()
			defer mu.Unlock()
			var reconciled float64
			for _, h := range r.Env.Hubs {
				n, err := metricSum(context.Background(), h, "appealhub_reconciled_total")
				if err != nil {
					rep.Fail("reconciled: %v", err)
				}
				reconciled += n
			}
			r.Log.Set("deleted_ready", strconv.Itoa(held))
			r.Log.Set("reconciled", strconv.Itoa(int(reconciled)))
			r.Log.Set("redeclare_max", round(redeclare))
			r.Log.Set("resume_after_close", round(resume))
			for _, f := range failed {
				rep.Fail("%s", f)
			}
			if rep.Faults != 3 {
				rep.Fail("%d of 3 faults happened", rep.Faults)
			}
			if held > 0 && reconciled == 0 {
				rep.Fail("the deleted queues held %d messages and the reconciler sent nothing again", held)
			}
			if redeclare > 30*time.Second {
				rep.FailTiming("a deleted queue was consumed again after %s (> 30s)", round(redeclare))
			}
			if resume > 30*time.Second {
				rep.FailTiming("the queues were consumed again %s after close_all_connections (> 30s)", round(resume))
			}
		},
	}
}

// dmsFaults is the fault mix of R5 in front of a sandbox system: a fixed share of deliveries is
// refused 422 on every send (chosen by their delivery id, so the refusal is permanent), and each
// other request is, at random, answered 503 before anything is recorded, or held beyond the hub's
// request timeout and then recorded. Commit-then-drop is the sandbox's own DropRate. Safe for
// concurrent use.
type dmsFaults struct {
	permanentPct uint32  // percent of deliveries refused 422 for good
	errorRate    float64 // fraction of requests answered 503
	slowRate     float64 // fraction of requests held for slow
	slow         time.Duration

	mu        sync.Mutex
	rng       *rand.Rand
	counts    map[string]int
	permanent map[string]bool // delivery ids refused 422
}

// permanentFailure reports whether a delivery is one of those refused 422 on every send.
func (f *dmsFaults) permanentFailure(deliveryID string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(deliveryID))
	return h.Sum32()%100 < f.permanentPct
}

func (f *dmsFaults) count(kind, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[kind]++
	if kind == "422" {
		f.permanent[key] = true
	}
}

// figures returns the faults dealt so far and how many deliveries were refused 422.
func (f *dmsFaults) figures() (map[string]int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.counts), len(f.permanent)
}

func (f *dmsFaults) wrap(_ string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if f.permanentFailure(key) {
			f.count("422", key)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"title":"document refused","status":422,"code":"invalid_document"}`)
			return
		}
		f.mu.Lock()
		dice := f.rng.Float64()
		f.mu.Unlock()
		switch {
		case dice < f.errorRate:
			f.count("503", key)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case dice < f.errorRate+f.slowRate:
			f.count("slow", key)
			// Read the document now (the hub closes the connection when it gives up), answer late
			// and record it even so: the work of a slow system gets done after the client left.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			t := time.NewTimer(f.slow)
			defer t.Stop()
			<-t.C
			late := r.Clone(context.WithoutCancel(r.Context()))
			late.Body = io.NopCloser(bytes.NewReader(body))
			late.ContentLength = int64(len(body))
			next.ServeHTTP(w, late)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// R5 puts faults in the authorities' systems: 20 % of requests answered 503, 10 % answered only
// after the hub's request timeout (and then recorded), 5 % recorded and their connection closed
// without an answer (commit-then-drop), and 2 % of deliveries refused 422 on every send. The hub
// gets up to maxAttempts sends per delivery, and its breaker cools down in 5 s. Extra criteria: every delivery refused 422 is dead,
// after at most delivery.max_attempts sends, and the checker counts it as deliberately dead (not
// lost); no other delivery is dead; the systems record no document twice (a global criterion).
func R5(appeals, rate, maxAttempts int) Scenario {
	const requestTimeout = 5 * time.Second
	faults := &dmsFaults{permanentPct: 2, errorRate: 0.20, slowRate: 0.10, slow: requestTimeout + time.Second,
		rng: rand.New(rand.NewPCG(5, 5)), counts: map[string]int{}, permanent: map[string]bool{}}
	return Scenario{
		ID: "R5", Fault: "DMS 20% 503, 10% slow > request timeout, 5% commit-then-drop, 2% permanent 422",
		Load: Load{Appeals: appeals, Rate: rate, Seed: 5},
		Env: Options{
			// Of the 70 % of requests that reach the sandbox, 7 % are dropped: 5 % of all.
			Sandbox:    sandbox.Options{DropRate: 0.07, Seed: 5},
			Wrap:       faults.wrap,
			ExpectDead: faults.permanentFailure,
			Configure: func(c *config.Config) {
				c.Delivery.RequestTimeout = requestTimeout
				c.Delivery.MaxAttempts = maxAttempts
				// Test-scaled: the breaker opens now and then under this mix; its cool-down is
				// shortened so that the run drains in minutes.
				c.Delivery.BreakerCooldown = 5 * time.Second
			},
		},
		Criteria: func(rep *Report, r *Run) {
			counts, refused := faults.figures()
			r.Log.Set("dms_faults", fmt.Sprint(counts))
			r.Log.Set("refused_422", strconv.Itoa(refused))
			r.Log.Set("dead_expected", strconv.Itoa(rep.DeadExpected))
			if rep.DeadExpected != refused {
				rep.Fail("%d deliveries refused 422, %d of them dead", refused, rep.DeadExpected)
			}
			if refused == 0 || counts["503"] == 0 || counts["slow"] == 0 {
				rep.Fail("the fault mix was not dealt: %v", counts)
			}
			dead, err := r.Env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDead)
			if err != nil {
				rep.Fail("dead deliveries: %v", err)
				return
			}
			most := 0
			for _, d := range dead {
				most = max(most, d.Attempts)
				if d.Attempts > r.Env.Config.Delivery.MaxAttempts {
					rep.Fail("delivery %s dead after %d attempts (> %d)", d.ID, d.Attempts, r.Env.Config.Delivery.MaxAttempts)
				}
			}
			r.Log.Set("dead_attempts_max", strconv.Itoa(most))
		},
	}
}
