package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The node's own settings, which clearing an alarm restores: RabbitMQ's defaults, since the
// harness's node configuration sets neither.
const (
	nodeMemoryWatermark = "0.4"      // vm_memory_high_watermark.relative
	nodeDiskFreeLimit   = "50000000" // disk_free_limit.absolute, bytes
)

// blockedDetail is the detail /readyz gives a broker connection the broker has blocked.
const blockedDetail = "broker_blocked"

// resourceAlarm is one kind of broker resource alarm on the harness's node.
type resourceAlarm struct {
	kind  string // for the report
	raise func(ctx context.Context, n *RabbitNode) error
	// clear restores the node's own setting.
	clear func(ctx context.Context, n *RabbitNode) error
}

// memoryAlarm is `rabbitmqctl set_vm_memory_high_watermark 0`: every byte in use is over the
// watermark. Cleared by setting the node's watermark back.
var memoryAlarm = resourceAlarm{kind: "memory alarm",
	raise: func(ctx context.Context, n *RabbitNode) error {
		if _, err := n.Ctl(ctx, "rabbitmqctl", "-q", "set_vm_memory_high_watermark", "0"); err != nil {
			return fmt.Errorf("raise memory alarm: %w", err)
		}
		return nil
	},
	clear: func(ctx context.Context, n *RabbitNode) error {
		if _, err := n.Ctl(ctx, "rabbitmqctl", "-q", "set_vm_memory_high_watermark", nodeMemoryWatermark); err != nil {
			return fmt.Errorf("clear memory alarm: %w", err)
		}
		return nil
	},
}

// diskAlarm is `rabbitmqctl set_disk_free_limit` with a limit 1 GiB above the free space of the
// node's data directory. Cleared by setting the node's limit back.
var diskAlarm = resourceAlarm{kind: "disk alarm",
	raise: func(ctx context.Context, n *RabbitNode) error {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(n.Dir, &fs); err != nil {
			return fmt.Errorf("free space of %s: %w", n.Dir, err)
		}
		limit := int64(fs.Bavail)*fs.Bsize + 1<<30
		if _, err := n.Ctl(ctx, "rabbitmqctl", "-q", "set_disk_free_limit", strconv.FormatInt(limit, 10)); err != nil {
			return fmt.Errorf("raise disk alarm: %w", err)
		}
		return nil
	},
	clear: func(ctx context.Context, n *RabbitNode) error {
		if _, err := n.Ctl(ctx, "rabbitmqctl", "-q", "set_disk_free_limit", nodeDiskFreeLimit); err != nil {
			return fmt.Errorf("clear disk alarm: %w", err)
		}
		return nil
	},
}

// R6 raises a memory alarm on the broker node (rabbitmqctl set_vm_memory_high_watermark 0) for
// hold while the load runs, then sets the watermark back. See alarmScenario for the criteria.
func R6(appeals, rate int, hold time.Duration) Scenario {
	return alarmScenario("R6", memoryAlarm, Load{Appeals: appeals, Rate: rate, Seed: 6}, hold)
}

// R7 raises a disk alarm on the broker node (rabbitmqctl set_disk_free_limit 1 GiB above the free
// space) for hold while the load runs, then sets the limit back. See alarmScenario for the criteria.
func R7(appeals, rate int, hold time.Duration) Scenario {
	return alarmScenario("R7", diskAlarm, Load{Appeals: appeals, Rate: rate, Seed: 7}, hold)
}

// alarmFigures is what an alarm scenario measured during and after its alarm.
type alarmFigures struct {
	mu         sync.Mutex
	setAt      time.Time                // when the alarm was in effect (the raising command returned)
	raiseTook  time.Duration            // how long the rabbitmqctl command that raised the alarm ran
	blocked    map[string]time.Duration // hub → first /readyz naming a blocked broker connection, after the load began
	checks     map[string]bool          // the readiness checks reported blocked, by name
	connStates map[string]int           // the node's client connections by state, 3 s into the alarm
	// seen counts, per hub, what its /readyz said of the delivery publisher during the alarm:
	// blocked, down (not connected) or ok.
	seen        map[string]map[string]int
	pendingAt   [2]int        // outbox rows pending when the alarm was raised and when it was cleared
	published   int           // outbox rows published while the alarm was on
	outboxDrain time.Duration // clear → every outbox row made before the clear published
	drain       time.Duration // clear → every delivery made before the clear out of accepted/queued
	drained     bool
	// publishedAfter counts the outbox rows published in each 5 s after the clear.
	publishedAfter []int
	failed         []string
}

// alarmScenario raises a broker resource alarm just before the load starts, holds it for hold
// while the load runs (the load of 40 s outlasts it) and clears it. The broker blocks the
// connections that publish, at their first publish; consumers go on. Extra criteria: the alarm is
// in effect before the load ends; the API keeps accepting during the alarm (every answer to a
// submission made while it is on is 2xx, an attempt without an answer within the portal's timeout
// counting against speed, and the outbox grows: more rows pending when it is cleared than when it
// was raised); every hub's /readyz fails with a broker connection check whose detail is
// broker_blocked (the hub's publisher was told connection.blocked) ≤ 5 s after the load began
// with the alarm on; every delivery made before the clear has left accepted/queued ≤ 30 s after
// it (and the run drains ≤ 30 s after the clear or the end of the load).
func alarmScenario(id string, a resourceAlarm, load Load, hold time.Duration) Scenario {
	fig := &alarmFigures{blocked: map[string]time.Duration{}, checks: map[string]bool{}, seen: map[string]map[string]int{}}
	var end func() // ends the alarm's window in the fault log
	return Scenario{
		ID: id, Fault: fmt.Sprintf("broker %s %s under load", a.kind, hold), Load: load,
		DrainLimit: 30 * time.Second,
		Before: func(ctx context.Context, r *Run) error {
			var err error
			end, err = raiseAlarm(ctx, r, a, fig)
			return err
		},
		Faults:   func(ctx context.Context, r *Run) error { return holdAlarm(ctx, r, a, hold, fig, end) },
		Criteria: func(rep *Report, r *Run) { alarmCriteria(rep, r, hold, fig) },
	}
}

// raiseAlarm raises the alarm (before the load: on a busy machine one rabbitmqctl command takes
// seconds, up to a minute was seen, and the alarm must be in effect while the load of 40 s runs)
// and returns what ends its window in the fault log.
func raiseAlarm(ctx context.Context, r *Run, a resourceAlarm, fig *alarmFigures) (end func(), err error) {
	db, err := sql.Open("postgres", r.Env.PG.URL("postgres"))
	if err != nil {
		return nil, fmt.Errorf("%s: open database: %w", a.kind, err)
	}
	defer func() { _ = db.Close() }()
	before, err := outboxPending(ctx, db)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	end = r.Log.Begin(a.kind, r.Env.Rabbit.Name)
	if err := a.raise(ctx, r.Env.Rabbit); err != nil {
		end()
		return nil, err
	}
	set := time.Now()
	fig.mu.Lock()
	defer fig.mu.Unlock()
	fig.setAt, fig.raiseTook, fig.pendingAt[0] = set, set.Sub(began), before
	return end, nil
}

// holdAlarm runs beside the load: it watches the hubs' readiness until the alarm has been in
// effect for hold, clears it (always, also on failure) and measures the drain after the clear.
func holdAlarm(ctx context.Context, r *Run, a resourceAlarm, hold time.Duration, fig *alarmFigures, endWindow func()) error {
	end := sync.OnceFunc(endWindow)
	defer end()
	// Whatever happens, the alarm is cleared (the node's own setting restored) before returning.
	cleared := false
	defer func() {
		if !cleared {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			_ = a.clear(cctx, r.Env.Rabbit)
		}
	}()
	db, err := sql.Open("postgres", r.Env.PG.URL("postgres"))
	if err != nil {
		return fmt.Errorf("%s: open database: %w", a.kind, err)
	}
	defer func() { _ = db.Close() }()
	fig.mu.Lock()
	set := fig.setAt
	fig.mu.Unlock()
	// The hubs can learn of the alarm from the moment the load makes them publish: now.
	loadStart := time.Now()

	watchCtx, stopWatch := context.WithDeadline(ctx, set.Add(hold))
	var watch sync.WaitGroup
	watch.Go(func() { watchReadiness(watchCtx, r.Env, loadStart, fig) })
	var diag sync.WaitGroup // not waited for before the clear
	defer diag.Wait()
	diag.Go(func() {
		// The broker's own view, once the hubs have had time to publish into the alarm.
		if !sleepCtx(watchCtx, 3*time.Second) {
			return
		}
		// A figure only: on a busy machine the command may take longer than the alarm lasts.
		states, err := connectionStates(ctx, r.Env.Rabbit)
		fig.mu.Lock()
		defer fig.mu.Unlock()
		if err != nil {
			states = map[string]int{"unknown (" + err.Error() + ")": 0}
		}
		fig.connStates = states
	})
	<-watchCtx.Done()
	stopWatch()
	watch.Wait()
	if ctx.Err() != nil {
		return nil
	}
	pending, err := outboxPending(ctx, db)
	if err != nil {
		return err
	}
	published, err := publishedBetween(ctx, db, set, time.Now())
	if err != nil {
		return err
	}
	if err := a.clear(ctx, r.Env.Rabbit); err != nil {
		return err
	}
	cleared = true
	at := time.Now()
	end()
	fig.mu.Lock()
	fig.pendingAt[1], fig.published = pending, published
	fig.mu.Unlock()

	// Drain after the clear: the backlog the alarm held back is published and sent on.
	var outboxDone time.Duration
	ok := waitFor(2*time.Minute, 200*time.Millisecond, func() bool {
		var n, d int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending' AND created_at <= $1`, at).Scan(&n)
		if err != nil {
			return false
		}
		if n == 0 && outboxDone == 0 {
			outboxDone = time.Since(at)
		}
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE status IN ('accepted', 'queued') AND created_at <= $1`, at).Scan(&d)
		return err == nil && n == 0 && d == 0
	})
	// How the backlog left: outbox rows published in each 5 s after the clear.
	var buckets []int
	rows, err := db.QueryContext(ctx, `SELECT floor(extract(epoch FROM published_at - $1) / 5)::int, count(*)
		FROM outbox WHERE published_at > $1 GROUP BY 1 ORDER BY 1`, at)
	if err != nil {
		return fmt.Errorf("outbox publishes after the clear: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var b, n int
		if err := rows.Scan(&b, &n); err != nil {
			return fmt.Errorf("outbox publishes after the clear: %w", err)
		}
		for len(buckets) <= b && b < 100 {
			buckets = append(buckets, 0)
		}
		if b < 100 {
			buckets[b] = n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox publishes after the clear: %w", err)
	}
	fig.mu.Lock()
	defer fig.mu.Unlock()
	fig.outboxDrain, fig.drain, fig.drained, fig.publishedAfter = outboxDone, time.Since(at), ok, buckets
	return nil
}

// watchReadiness polls every hub's /readyz until ctx ends and records, per hub, how long after
// from it first named a broker connection blocked, and what it said of the delivery publisher.
func watchReadiness(ctx context.Context, env *Env, from time.Time, fig *alarmFigures) {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for ctx.Err() == nil {
		for _, h := range env.Hubs {
			checks, err := readiness(ctx, client, h)
			if err != nil {
				continue
			}
			fig.mu.Lock()
			for _, c := range checks {
				if !c.OK && c.Detail == blockedDetail {
					if _, ok := fig.blocked[h.Name]; !ok {
						fig.blocked[h.Name] = time.Since(from)
					}
					fig.checks[c.Name] = true
				}
				if c.Name == "broker_publish" {
					state := "ok"
					switch {
					case c.Detail == blockedDetail:
						state = "blocked"
					case !c.OK:
						state = "down"
					}
					if fig.seen[h.Name] == nil {
						fig.seen[h.Name] = map[string]int{}
					}
					fig.seen[h.Name][state]++
				}
			}
			fig.mu.Unlock()
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// readyCheck is one check of /readyz.
type readyCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// readiness returns the checks a hub's /readyz reports (whether it answers 200 or 503).
func readiness(ctx context.Context, client *http.Client, h *HubProcess) ([]readyCheck, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL()+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s /readyz: %w", h.Name, err)
	}
	var body struct {
		Checks []readyCheck `json:"checks"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("%s /readyz: %w", h.Name, err)
	}
	return body.Checks, nil
}

// connectionStates counts the node's client connections by state (running; blocking: not
// publishing yet; blocked: stopped while publishing; …).
func connectionStates(ctx context.Context, n *RabbitNode) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := n.Ctl(ctx, "rabbitmqctl", "-q", "list_connections", "name", "state", "--formatter", "json")
	if err != nil {
		return nil, err
	}
	var conns []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(out))), &conns); err != nil {
		return nil, fmt.Errorf("list connections: %w: %s", err, out)
	}
	states := map[string]int{}
	for _, c := range conns {
		states[c.State]++
	}
	return states, nil
}

func outboxPending(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending outbox rows: %w", err)
	}
	return n, nil
}

func publishedBetween(ctx context.Context, db *sql.DB, from, to time.Time) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE published_at > $1 AND published_at <= $2`, from, to).Scan(&n); err != nil {
		return 0, fmt.Errorf("count published outbox rows: %w", err)
	}
	return n, nil
}

func alarmCriteria(rep *Report, r *Run, hold time.Duration, fig *alarmFigures) {
	windows := r.Log.Windows()
	if len(windows) != 1 {
		rep.Fail("%d alarms happened, want 1", len(windows))
		return
	}
	w := windows[0]
	// Every submission answered while the alarm was on.
	statuses := map[int]int{}
	for _, at := range r.Gen.Attempts() {
		if !at.Start.Before(w.Start) && at.Start.Add(at.Latency).Before(w.End) {
			statuses[at.Status]++
		}
	}
	accepted := 0
	for st, n := range statuses {
		if st >= 200 && st < 300 {
			accepted += n
		}
	}
	r.Log.Set("answers_during_alarm", fmt.Sprint(statuses))
	// An attempt without an answer (status 0) is the portal's timeout: a matter of speed.
	if answered := countAnswers(statuses) - statuses[0]; accepted == 0 || accepted != answered {
		rep.Fail("during the alarm %d of %d answers were 2xx: %v", accepted, answered, statuses)
	}
	if statuses[0] > 0 {
		rep.FailTiming("%d attempts during the alarm got no answer within the portal's timeout", statuses[0])
	}

	fig.mu.Lock()
	defer fig.mu.Unlock()
	for _, f := range fig.failed {
		rep.Fail("%s", f)
	}
	if _, loadEnd := r.Gen.Span(); !fig.setAt.Before(loadEnd) {
		rep.Fail("the alarm was set %s after the load had ended (raising it took %s): nothing was checked under load",
			round(fig.setAt.Sub(loadEnd)), round(fig.raiseTook))
	}
	r.Log.Set("alarm", round(w.End.Sub(w.Start)))
	r.Log.Set("raise_cmd", round(fig.raiseTook))
	r.Log.Set("outbox_pending", fmt.Sprintf("%d→%d", fig.pendingAt[0], fig.pendingAt[1]))
	r.Log.Set("published_during_alarm", strconv.Itoa(fig.published))
	r.Log.Set("connections", fmt.Sprint(fig.connStates))
	var seen []string
	cut := 0
	for _, h := range r.Env.Hubs {
		seen = append(seen, fmt.Sprintf("%s %v", h.Name, fig.seen[h.Name]))
		cut += strings.Count(readFile(h.logPath), "publish batch cut short")
	}
	r.Log.Set("publisher_during_alarm", strings.Join(seen, " "))
	r.Log.Set("publish_batches_cut", strconv.Itoa(cut))
	if fig.pendingAt[1] <= fig.pendingAt[0] {
		rep.Fail("the outbox did not grow during the alarm: %d→%d pending", fig.pendingAt[0], fig.pendingAt[1])
	}
	var worst time.Duration
	for _, h := range r.Env.Hubs {
		d, ok := fig.blocked[h.Name]
		if !ok {
			rep.Fail("%s /readyz never named the broker blocked during the %s alarm", h.Name, round(hold))
			continue
		}
		worst = max(worst, d)
	}
	r.Log.Set("readyz_blocked_max", round(worst))
	r.Log.Set("blocked_checks", strings.Join(slices.Sorted(maps.Keys(fig.checks)), "+"))
	if worst > 5*time.Second {
		rep.FailTiming("/readyz named the broker blocked %s after the alarm (> 5s)", round(worst))
	}
	r.Log.Set("outbox_drain_after_clear", round(fig.outboxDrain))
	r.Log.Set("published_per_5s_after_clear", fmt.Sprint(fig.publishedAfter))
	r.Log.Set("drain_after_clear", round(fig.drain))
	switch {
	case !fig.drained:
		rep.Fail("deliveries made before the clear still pending %s after it", round(fig.drain))
	case fig.drain > 30*time.Second:
		rep.FailTiming("drain after the clear took %s (> 30s)", round(fig.drain))
	}
}

func countAnswers(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
