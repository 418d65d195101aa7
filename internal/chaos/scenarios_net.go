package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"appealhub/config"
	"appealhub/internal/sandbox"
)

// Log lines of the hub (internal/broker) that the network scenarios count.
const (
	// logReconnect is logged once per lost connection or failed dial, per connection.
	logReconnect = "broker connection down, reconnecting"
	// logStaleSettle is logged when a delivery could not be settled because its channel is gone:
	// the settlement was refused instead of landing on another message, and the broker redelivers.
	logStaleSettle = "settle delivery failed, the broker will redeliver it"
	// logMidFrame is in the error of a connection whose socket ended inside a frame.
	logMidFrame = "unexpected EOF"
)

// blackholeDetectLimit is how soon every hub must report the broker down once the network to it
// is black-holed: 2.5 × the 10 s heartbeat.
const blackholeDetectLimit = 25 * time.Second

// firstPublishLimit bounds the first confirmed publish after a network fault is removed.
const firstPublishLimit = 10 * time.Second

// NetPlan is R4's toxic schedule on the hubs' way to the broker (Env.AMQPProxy). Phases run one
// after the other, Gap apart, while the load runs.
type NetPlan struct {
	// Latency is how long every byte from the broker to the hubs is delayed by 300 ± 100 ms.
	Latency time.Duration
	// Resets is how many times the connections through the proxy are reset (reset_peer: each
	// connection on which the broker sends anything while the toxic is on gets a TCP RST),
	// ResetEvery apart.
	Resets     int
	ResetEvery time.Duration
	// Blackhole is how long no byte passes either way (timeout toxic with no timeout: the
	// connections stay open, nothing arrives). Longer than blackholeDetectLimit, so that the
	// detection is measured.
	Blackhole time.Duration
	// LimitData is how long every connection through the proxy is cut after LimitBytes bytes in
	// either direction (limit_data). A cut falls inside a frame unless it meets a frame boundary
	// by chance; a small LimitBytes cuts a busy connection (a delivery is a few hundred bytes of
	// frames) within a few messages, and again after each reconnect.
	LimitData  time.Duration
	LimitBytes int
	// Gap is the quiet time before the first phase and between two phases.
	Gap time.Duration
}

// DefaultNetPlan is the full profile's R4 schedule, scaled to run in about two minutes:
// latency 30 s (not 60 s), reset_peer ×10 every 2 s, blackhole 35 s (not 45 s, still 10 s more
// than the detection limit), limit_data 10 s at 3,001 bytes, 5 s between phases.
func DefaultNetPlan() NetPlan {
	return NetPlan{Latency: 30 * time.Second, Resets: 10, ResetEvery: 2 * time.Second, Blackhole: 35 * time.Second,
		LimitData: 10 * time.Second, LimitBytes: 3001, Gap: 5 * time.Second}
}

// resetHold is how long a reset_peer toxic stays on: a connection is reset when the broker sends
// on it, which the busy ones (publishing, consuming) do many times a second; an idle one may
// escape a reset, since the broker sends it a heartbeat only every 5 s.
const resetHold = 1500 * time.Millisecond

// r4PublishTimeout is broker.publish_timeout in R4 (test-scaled from 10 s), so that the top finite
// bucket of appealhub_publish_confirm_seconds (10 s) is twice the timeout.
const r4PublishTimeout = 5 * time.Second

// R4 puts AMQP network toxics between the hubs and the broker while the load runs (NetPlan):
// latency 300 ± 100 ms, reset_peer ×Resets, a blackhole (timeout toxic) both ways, and limit_data
// both ways. broker.publish_timeout is 5 s, the heartbeat 10 s.
//
// Extra criteria: every hub reports every broker connection group down
// (appealhub_broker_connection_up = 0 for each on /metrics) ≤ 25 s after the blackhole starts;
// no publisher stuck beyond its timeout: no publish batch took more than 10 s (2 × the publish
// timeout; appealhub_publish_confirm_seconds observations above its 10 s bucket = 0) and the first
// publish confirmed after the blackhole is removed comes ≤ 10 s later (measured while deliveries
// wait in `accepted`); each reset, blackhole and limit_data phase made the hubs reconnect (their
// logs), so each fault was dealt, and limit_data cut at least one frame in the middle (a hub lost
// a connection with "unexpected EOF").
func R4(appeals, rate int, plan NetPlan) Scenario {
	var mu sync.Mutex
	var detectAll, detectFirst []time.Duration // per hub
	var firstPublish time.Duration
	var firstPublishMeasured, detected bool
	var midFrame int
	reconnects := map[string]int{}
	var order []string
	return Scenario{
		ID: "R4",
		Fault: fmt.Sprintf("AMQP toxics: latency 300±100ms %s, reset_peer ×%d every %s, blackhole %s, limit_data %dB %s",
			plan.Latency, plan.Resets, plan.ResetEvery, plan.Blackhole, plan.LimitBytes, plan.LimitData),
		Load: Load{Appeals: appeals, Rate: rate, Seed: 14},
		Env: Options{Configure: func(c *config.Config) {
			c.Broker.PublishTimeout = r4PublishTimeout
		}},
		Faults: func(ctx context.Context, r *Run) error {
			phase := func(name string, fn func() error) error {
				before := countInLogs(r.Env.Hubs, logReconnect)
				err := fn()
				mu.Lock()
				reconnects[name] = countInLogs(r.Env.Hubs, logReconnect) - before
				order = append(order, name)
				mu.Unlock()
				return err
			}
			if !sleepCtx(ctx, plan.Gap) {
				return nil
			}
			if err := phase("latency", func() error {
				return withToxics(ctx, r, "latency 300±100ms", plan.Latency, Toxic{Name: "r4-latency", Type: "latency",
					Attributes: map[string]any{"latency": 300, "jitter": 100}})
			}); err != nil {
				return err
			}
			if !sleepCtx(ctx, plan.Gap) {
				return nil
			}
			if err := phase("reset_peer", func() error {
				for i := range plan.Resets {
					started := time.Now()
					if err := withToxics(ctx, r, "reset_peer", resetHold, Toxic{Name: "r4-reset", Type: "reset_peer",
						Attributes: map[string]any{"timeout": 0}}); err != nil {
						return fmt.Errorf("reset %d: %w", i+1, err)
					}
					if !sleepCtx(ctx, plan.ResetEvery-time.Since(started)) {
						return nil
					}
				}
				return nil
			}); err != nil {
				return err
			}
			if !sleepCtx(ctx, plan.Gap) {
				return nil
			}
			if err := phase("blackhole", func() error {
				started := time.Now()
				err := holdToxics(ctx, r, "blackhole", func() {
					all, first, ok := waitBrokerDown(ctx, r.Env, plan.Blackhole)
					mu.Lock()
					detectAll, detectFirst, detected = all, first, ok
					mu.Unlock()
					sleepCtx(ctx, plan.Blackhole-time.Since(started))
				},
					Toxic{Name: "r4-blackhole-down", Type: "timeout", Stream: "downstream", Attributes: map[string]any{"timeout": 0}},
					Toxic{Name: "r4-blackhole-up", Type: "timeout", Stream: "upstream", Attributes: map[string]any{"timeout": 0}})
				if err != nil {
					return err
				}
				d, measured := firstPublishAfter(ctx, r, 20*time.Second)
				mu.Lock()
				firstPublish, firstPublishMeasured = d, measured
				mu.Unlock()
				return nil
			}); err != nil {
				return err
			}
			if !sleepCtx(ctx, plan.Gap) {
				return nil
			}
			return phase("limit_data", func() error {
				before := countInLogs(r.Env.Hubs, logReconnect, logMidFrame)
				defer func() {
					mu.Lock()
					midFrame = countInLogs(r.Env.Hubs, logReconnect, logMidFrame) - before
					mu.Unlock()
				}()
				return withToxics(ctx, r, fmt.Sprintf("limit_data %dB", plan.LimitBytes), plan.LimitData,
					Toxic{Name: "r4-limit-down", Type: "limit_data", Stream: "downstream", Attributes: map[string]any{"bytes": plan.LimitBytes}},
					Toxic{Name: "r4-limit-up", Type: "limit_data", Stream: "upstream", Attributes: map[string]any{"bytes": plan.LimitBytes}})
			})
		},
		Criteria: func(rep *Report, r *Run) {
			mu.Lock()
			defer mu.Unlock()
			if want := 3 + plan.Resets; rep.Faults != want {
				rep.Fail("%d of %d faults happened", rep.Faults, want)
			}
			var phases []string
			for _, name := range order {
				phases = append(phases, fmt.Sprintf("%s:%d", name, reconnects[name]))
				if name != "latency" && reconnects[name] == 0 {
					rep.Fail("the %s phase made no hub reconnect (the fault was not dealt)", name)
				}
			}
			r.Log.Set("reconnect_attempts", strings.Join(phases, " "))
			r.Log.Set("cut_mid_frame", strconv.Itoa(midFrame))
			if midFrame == 0 {
				rep.Fail("limit_data cut no frame in the middle (no connection lost with %q)", logMidFrame)
			}
			r.Log.Set("blackhole_detected", fmt.Sprintf("all %s first %s", durations(detectAll), durations(detectFirst)))
			if !detected {
				rep.Fail("not every hub reported the broker down during the %s blackhole: %s", plan.Blackhole, durations(detectAll))
			}
			for i, d := range detectAll {
				if d > blackholeDetectLimit {
					rep.FailTiming("%s reported the broker down %s after the blackhole began (> %s)",
						r.Env.Hubs[i].Name, round(d), blackholeDetectLimit)
				}
			}
			if firstPublishMeasured {
				r.Log.Set("first_publish_after_blackhole", round(firstPublish))
				if firstPublish > firstPublishLimit {
					rep.FailTiming("first confirmed publish %s after the blackhole ended (> %s)", round(firstPublish), firstPublishLimit)
				}
			} else {
				r.Log.Set("first_publish_after_blackhole", "not measured (nothing waited)")
			}
			slow, total, err := slowPublishes(context.Background(), r.Env.Hubs)
			if err != nil {
				rep.Fail("publish durations: %v", err)
				return
			}
			r.Log.Set("publish_batches_over_10s", fmt.Sprintf("%d of %d", slow, total))
			if slow != 0 {
				rep.Fail("%d publish batches took more than 10s (publish timeout %s): a publisher was stuck", slow, r4PublishTimeout)
			}
		},
	}
}

// R10 forces reconnects while deliveries are in flight: the authorities' systems answer after
// 3 s (the document is recorded first), so with the load at 10/s dozens of deliveries are being
// sent, and so unacknowledged, at any moment (each hub sends up to 4 per authority at once: up to
// 80 with 2 hubs and 10 authorities). While the load runs, every `every` (at most `reconnects`
// times) the hubs' AMQP connections are closed, alternately by the broker (rabbitmqctl
// close_all_connections) and by the network (reset_peer on the proxy). The reconciler is off (reconcile.after 1 h), so that no message the broker forgot
// is made good behind the test's back.
//
// The hazard: an ack meant for a delivery received before a reconnect landing on another message
// after it (delivery tags restart at 1 on a new channel). A wrongly acked message is never
// handled: its delivery stays in transit and the run fails on lost or on the drain. Extra
// criteria: the sandbox ledgers hold exactly one document per delivery of the database (each
// recorded once, every one recorded); at least two faults of each kind, and sends in flight when
// each kind struck (the scenario tested what it means to). Figures: the sends in flight at each
// fault (their deliveries unacknowledged, all redelivered by the broker), the settlements the
// hubs refused on a closed channel (stale acks that could not land on another message), and the
// checker's resent (redelivered messages whose document the system had already recorded).
func R10(appeals, rate, reconnects int, every time.Duration) Scenario {
	const concurrency = 4
	inFlight := &sendGauge{}
	var mu sync.Mutex
	atFault := map[string][]int{} // fault kind → sends in flight when it struck
	return Scenario{
		ID: "R10",
		Fault: fmt.Sprintf("forced reconnect every %s while the load runs (close_all_connections, reset_peer), DMS answers after 3s",
			every),
		Load: Load{Appeals: appeals, Rate: rate, Seed: 10},
		Env: Options{
			Sandbox: sandbox.Options{Latency: 3 * time.Second},
			Wrap:    inFlight.wrap,
			Configure: func(c *config.Config) {
				c.Delivery.Concurrency = concurrency
				c.Reconcile.After = time.Hour
			},
		},
		Faults: func(ctx context.Context, r *Run) error {
			for i := 0; i < reconnects && r.LoadRunning(); i++ {
				if !sleepCtx(ctx, every) {
					return nil
				}
				kind := "close_all_connections"
				if i%2 == 1 {
					kind = "reset_peer"
				}
				mu.Lock()
				atFault[kind] = append(atFault[kind], inFlight.now())
				mu.Unlock()
				if kind == "reset_peer" {
					if err := withToxics(ctx, r, kind, resetHold, Toxic{Name: "r10-reset", Type: "reset_peer",
						Attributes: map[string]any{"timeout": 0}}); err != nil {
						return fmt.Errorf("reset %d: %w", i+1, err)
					}
					continue
				}
				end := r.Log.Begin(kind, r.Env.Rabbit.Name)
				if _, err := r.Env.Rabbit.Ctl(ctx, "rabbitmqctl", "-q", "close_all_connections", "chaos R10"); err != nil {
					return fmt.Errorf("close_all_connections %d: %w", i+1, err)
				}
				end()
			}
			return nil
		},
		Criteria: func(rep *Report, r *Run) {
			mu.Lock()
			defer mu.Unlock()
			for _, kind := range []string{"close_all_connections", "reset_peer"} {
				n := 0
				for _, v := range atFault[kind] {
					n += v
				}
				r.Log.Set("in_flight_at_"+kind, fmt.Sprintf("%d %v", n, atFault[kind]))
				switch {
				case len(atFault[kind]) < 2:
					rep.Fail("%d %s faults while the load ran (want at least 2)", len(atFault[kind]), kind)
				case n == 0:
					rep.Fail("no send was in flight when %s struck", kind)
				}
			}
			r.Log.Set("stale_settles_refused", strconv.Itoa(countInLogs(r.Env.Hubs, logStaleSettle)))
			r.Log.Set("reconnect_attempts", strconv.Itoa(countInLogs(r.Env.Hubs, logReconnect)))
			deliveries := 0
			for _, n := range rep.Deliveries {
				deliveries += n
			}
			docs, distinct := 0, map[string]bool{}
			for _, code := range r.Env.Codes {
				for _, en := range r.Env.Systems[code].Ledger().Entries {
					docs++
					distinct[en.DeliveryID] = true
				}
			}
			r.Log.Set("ledger", fmt.Sprintf("%d documents (%d delivery ids) for %d deliveries", docs, len(distinct), deliveries))
			if docs != deliveries || len(distinct) != deliveries {
				rep.Fail("the ledgers hold %d documents (%d delivery ids) for %d deliveries", docs, len(distinct), deliveries)
			}
		},
	}
}

// sendGauge counts the documents the hubs are sending to the sandbox systems right now. Safe for
// concurrent use.
type sendGauge struct {
	mu sync.Mutex
	n  int
}

func (g *sendGauge) add(d int) {
	g.mu.Lock()
	g.n += d
	g.mu.Unlock()
}

func (g *sendGauge) now() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func (g *sendGauge) wrap(_ string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			g.add(1)
			defer g.add(-1)
		}
		next.ServeHTTP(w, r)
	})
}

// withToxics adds toxics to the hubs' way to the broker, records them as one fault window named
// kind, waits hold (or until ctx is done) and removes them again.
func withToxics(ctx context.Context, r *Run, kind string, hold time.Duration, toxics ...Toxic) error {
	return holdToxics(ctx, r, kind, func() { sleepCtx(ctx, hold) }, toxics...)
}

// holdToxics adds toxics to the hubs' way to the broker, records them as one fault window named
// kind, runs during (which returns when the fault is to end) and removes the toxics again, also
// when adding one failed.
func holdToxics(ctx context.Context, r *Run, kind string, during func(), toxics ...Toxic) (err error) {
	end := r.Log.Begin(kind, "amqp proxy")
	var added []string
	defer func() {
		for _, name := range added {
			err = errors.Join(err, r.Env.AMQPProxy.RemoveToxic(context.WithoutCancel(ctx), name))
		}
		end()
	}()
	for _, t := range toxics {
		if err := r.Env.AMQPProxy.AddToxic(t); err != nil {
			return err
		}
		added = append(added, t.Name)
	}
	during()
	return nil
}

// waitBrokerDown polls every hub's /metrics (at most within) until each reports every broker
// connection group down (appealhub_broker_connection_up 0). It returns, per hub, how long that
// took and how long until the first group was down (its /readyz then fails), and whether every
// hub got there.
func waitBrokerDown(ctx context.Context, env *Env, within time.Duration) (all, first []time.Duration, ok bool) {
	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	all, first = make([]time.Duration, len(env.Hubs)), make([]time.Duration, len(env.Hubs))
	doneAll, doneFirst := make([]bool, len(env.Hubs)), make([]bool, len(env.Hubs))
	ok = waitFor(within, 200*time.Millisecond, func() bool {
		finished := true
		for i, h := range env.Hubs {
			if doneAll[i] {
				continue
			}
			ups, err := metricSamples(ctx, client, h, "appealhub_broker_connection_up")
			if err != nil || len(ups) == 0 {
				finished = false
				continue
			}
			down := 0
			for _, v := range ups {
				if v == 0 {
					down++
				}
			}
			if down > 0 && !doneFirst[i] {
				doneFirst[i], first[i] = true, time.Since(start)
			}
			if down == len(ups) {
				doneAll[i], all[i] = true, time.Since(start)
			} else {
				finished = false
			}
		}
		return finished
	})
	for i := range env.Hubs {
		if !doneAll[i] {
			all[i] = time.Since(start)
		}
		if !doneFirst[i] {
			first[i] = time.Since(start)
		}
	}
	return all, first, ok
}

// slowPublishes sums, over the hubs and streams, the publish batches that took more than 10 s
// (appealhub_publish_confirm_seconds above its 10 s bucket) and all batches.
func slowPublishes(ctx context.Context, hubs []*HubProcess) (slow, total int, err error) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for _, h := range hubs {
		buckets, err := metricSamples(ctx, client, h, "appealhub_publish_confirm_seconds_bucket")
		if err != nil {
			return 0, 0, err
		}
		for labels, v := range buckets {
			switch {
			case strings.Contains(labels, `le="+Inf"`):
				total += int(v)
				slow += int(v)
			case strings.Contains(labels, `le="10"`):
				slow -= int(v)
			}
		}
	}
	return slow, total, nil
}

// metricSamples returns the samples of a metric on a hub's /metrics, by their label set
// ("{…}", "" without labels).
func metricSamples(ctx context.Context, client *http.Client, h *HubProcess, name string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub %s metrics: %w", h.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hub %s metrics: status %d", h.Name, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, found := strings.CutPrefix(line, name)
		if !found || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("hub %s metrics: %w", h.Name, err)
		}
		out[strings.TrimSpace(rest[:i])] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hub %s metrics: %w", h.Name, err)
	}
	return out, nil
}

// countInLogs counts the lines of the hubs' logs (every run of each process) that contain every
// one of subs.
func countInLogs(hubs []*HubProcess, subs ...string) int {
	n := 0
	for _, h := range hubs {
	lines:
		for line := range strings.Lines(readFile(h.logPath)) {
			for _, s := range subs {
				if !strings.Contains(line, s) {
					continue lines
				}
			}
			n++
		}
	}
	return n
}

// durations formats durations as "[a b …]".
func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = round(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
