package chaos

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
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
	// arrivals is when each send of a delivery first arrived, by delivery id and attempt number
	// (the document's "attempt"): a send the reconciler repeats keeps its first arrival.
	arrivals map[string]map[int]time.Time
}

// arrived records the arrival of a send of a delivery, read from its document.
func (f *dmsFaults) arrived(key string, body []byte, at time.Time) {
	var doc struct {
		Attempt int `json:"attempt"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Attempt < 1 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.arrivals[key] == nil {
		f.arrivals[key] = map[int]time.Time{}
	}
	if _, ok := f.arrivals[key][doc.Attempt]; !ok {
		f.arrivals[key][doc.Attempt] = at
	}
}

// sendArrivals returns a copy of the arrivals.
func (f *dmsFaults) sendArrivals() map[string]map[int]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]map[int]time.Time, len(f.arrivals))
	for k, v := range f.arrivals {
		out[k] = maps.Clone(v)
	}
	return out
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
		at := time.Now()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		f.arrived(key, body, at)
		r.Body = io.NopCloser(bytes.NewReader(body))
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
			// The document is read already (the hub closes the connection when it gives up):
			// answer late and record it even so: the work of a slow system gets done after the
			// client left.
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
// lost); no other delivery is dead; the systems record no document twice (a global criterion);
// the backoff between one delivery's sends never shrinks beyond jitter and no send comes before it
// is due (checkBackoff).
func R5(appeals, rate, maxAttempts int) Scenario {
	const requestTimeout = 5 * time.Second
	faults := &dmsFaults{permanentPct: 2, errorRate: 0.20, slowRate: 0.10, slow: requestTimeout + time.Second,
		rng: rand.New(rand.NewPCG(5, 5)), counts: map[string]int{}, permanent: map[string]bool{},
		arrivals: map[string]map[int]time.Time{}}
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
			b, err := checkBackoff(context.Background(), r.Env, faults.sendArrivals(), r.Env.Config.Delivery.BackoffJitter)
			if err != nil {
				rep.Fail("backoff: %v", err)
				return
			}
			r.Log.Set("backoff_pairs", fmt.Sprintf("%d schedule, %d sends", b.pairs, b.sends))
			r.Log.Set("backoff_pickup_max", round(b.pickupMax))
			for _, f := range b.failures {
				rep.Fail("%s", f)
			}
			if b.pairs == 0 || b.sends == 0 {
				rep.Fail("no retried delivery to check the backoff on")
			}
		},
	}
}

// retryRow is the outbox row of a retry: scheduled when attempt Attempt failed (Made, the time
// the attempt was recorded) for Due.
type retryRow struct {
	Attempt   int
	Made, Due time.Time
}

// backoffCheck is what checkBackoff found.
type backoffCheck struct {
	pairs     int           // consecutive pairs of waits compared
	sends     int           // sends compared with their due time
	pickupMax time.Duration // the longest a send arrived after it was due
	failures  []string
}

// earlyTolerance absorbs the rounding of the stored times (microseconds) against the sandbox's
// clock reading (the same clock).
const earlyTolerance = 5 * time.Millisecond

// checkBackoff checks the backoff between the sends of each delivery, joining the retry rows of
// the outbox (each failed attempt k schedules attempt k+1: its wait w_k is the row's due time
// minus the time attempt k was recorded) with the arrivals of the sends at the sandbox (by the
// document's attempt number). Two things are checked:
//
//   - the wait never shrinks beyond jitter: for consecutive failed attempts k and k+1 that were
//     both real sends (seen by the sandbox; an attempt made while the authority's breaker was open
//     sends nothing and waits for the breaker, not its backoff), w_{k+1} ≥ w_k·(1−j)/(1+j) with j
//     delivery.backoff_jitter (below the cap a wait doubles, so it even grows by at least
//     2(1−j)/(1+j); at the cap it may shrink by that factor);
//   - no send comes early: each send of attempt k+1 arrives at the sandbox no earlier than its due
//     time (within earlyTolerance).
//
// So the interval the sandbox sees between the end of a failed send and the next send, w_k plus
// the time the retry took to be picked up, published and consumed (reported as the pickup), never
// shrinks beyond jitter except by the pickup of the earlier interval.
func checkBackoff(ctx context.Context, env *Env, arrivals map[string]map[int]time.Time, jitter float64) (backoffCheck, error) {
	var out backoffCheck
	db, err := sql.Open("postgres", env.PG.URL("postgres"))
	if err != nil {
		return out, fmt.Errorf("open database: %w", err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(ctx, `SELECT delivery_id::text, attempt, created_at, available_at FROM outbox
		WHERE attempt > 0 ORDER BY delivery_id, attempt, id`)
	if err != nil {
		return out, fmt.Errorf("read retries: %w", err)
	}
	defer func() { _ = rows.Close() }()
	retries := map[string][]retryRow{}
	for rows.Next() {
		var id string
		var rr retryRow
		if err := rows.Scan(&id, &rr.Attempt, &rr.Made, &rr.Due); err != nil {
			return out, fmt.Errorf("read retries: %w", err)
		}
		// The reconciler may add a row for the same attempt: the first one is the retry.
		if rs := retries[id]; len(rs) == 0 || rs[len(rs)-1].Attempt != rr.Attempt {
			retries[id] = append(retries[id], rr)
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("read retries: %w", err)
	}
	return backoffFindings(retries, arrivals, jitter), nil
}

// backoffFindings checks the retries of each delivery (in attempt order) against the arrivals of
// its sends, as checkBackoff describes.
func backoffFindings(retries map[string][]retryRow, arrivals map[string]map[int]time.Time, jitter float64) backoffCheck {
	var out backoffCheck
	ratio := (1 - jitter) / (1 + jitter)
	for id, rs := range retries {
		sent := arrivals[id]
		for i, rr := range rs {
			if at, ok := sent[rr.Attempt+1]; ok {
				out.sends++
				late := at.Sub(rr.Due)
				out.pickupMax = max(out.pickupMax, late)
				if late < -earlyTolerance {
					out.failures = append(out.failures, fmt.Sprintf("delivery %s: attempt %d sent %s before it was due",
						id, rr.Attempt+1, round(-late)))
				}
			}
			if i == 0 {
				continue
			}
			prev := rs[i-1]
			_, prevSent := sent[prev.Attempt]
			_, curSent := sent[rr.Attempt]
			if prev.Attempt != rr.Attempt-1 || !prevSent || !curSent {
				continue
			}
			out.pairs++
			wPrev, wCur := prev.Due.Sub(prev.Made), rr.Due.Sub(rr.Made)
			if float64(wCur) < float64(wPrev)*ratio-float64(time.Millisecond) {
				out.failures = append(out.failures, fmt.Sprintf("delivery %s: wait after attempt %d is %s, after attempt %d it was %s",
					id, rr.Attempt, round(wCur), prev.Attempt, round(wPrev)))
			}
		}
	}
	slices.Sort(out.failures)
	if len(out.failures) > 5 {
		out.failures = append(out.failures[:5], fmt.Sprintf("and %d more backoff failures", len(out.failures)-5))
	}
	return out
}
