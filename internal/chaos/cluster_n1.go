package chaos

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clusterSize is the number of broker nodes of N1.
const clusterSize = 3

// stallLimit is the longest publishing may stall during a failover in N1.
const stallLimit = 10 * time.Second

// N1 runs two hubs sharing one PostgreSQL against a three-node RabbitMQ cluster (Options.BrokerNodes)
// whose authority queues are quorum queues with a replica on every node. kills times, every
// `every`, it kills (kill -9 of its beam.smp) the node that leads the busiest quorum queues
// (rabbitmqctl list_queues name leader messages: the most messages, then the most queues) and
// starts it again `down` after the kill; before each kill it waits until every replica is online
// again. The hubs are given every node's URL (broker.url and broker.failover_urls). A watcher
// lists the queues all along (one rabbitmqctl call after another), so that choosing the node to
// kill does not wait for a call. Extra criteria: every quorum queue of the hub has a replica on
// each node; every kill happens while the load runs; publishing stalls at most 10 s (the longest
// time a ready outbox row waited while no row was claimed for publishing, from the outbox's
// created_at, available_at and published_at); the leadership of the killed node's queues moved to
// a live node; every replica online again after the last restart.
func N1(appeals, rate, kills int, every, down time.Duration) Scenario {
	var mu sync.Mutex
	var (
		members    string
		led        []string        // per kill: "<queues led>q/<messages>m"
		moved      []time.Duration // per kill: kill → a listing without the killed node as leader (an upper bound; -1: not measured)
		restarts   []time.Duration // per kill: start → node running
		failed     []string
		late       int    // kills after the load ended
		duringLoad []bool // per kill: whether the load ran
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, fmt.Sprintf(format, args...))
	}
	return Scenario{
		ID: "N1",
		Fault: fmt.Sprintf("3-node cluster, 2 hubs: kill -9 of the node leading the busiest quorum queues ×%d every %s, %s down",
			kills, every, down),
		Load: Load{Appeals: appeals, Rate: rate, Seed: 11},
		Env:  Options{BrokerNodes: clusterSize},
		Faults: func(ctx context.Context, r *Run) error {
			c := r.Env.Cluster
			w := watchQueues(ctx, c)
			defer w.stop()
			var restarted time.Time // a listing begun after it shows the restarted node's replicas
			for i := range kills {
				if !sleepCtx(ctx, every) {
					return nil
				}
				snap, ok := w.next(ctx, restarted, 2*time.Minute, allOnline)
				if !ok {
					fail("kill %d: replicas not all online 2m after the previous restart", i+1)
					if snap, ok = w.last(); !ok {
						return fmt.Errorf("n1 kill %d: no queue listing", i+1)
					}
				}
				if i == 0 {
					m, err := replication(snap.queues, r.Env.Codes)
					mu.Lock()
					members = m
					mu.Unlock()
					if err != nil {
						fail("%v", err)
					}
				}
				target, nq, nm := busiestLeader(snap.queues)
				node := c.Node(target)
				if node == nil {
					return fmt.Errorf("n1 kill %d: leader %q is not a node of the cluster", i+1, target)
				}
				running := r.LoadRunning()
				end := r.Log.Begin("broker node kill -9", target)
				killed := time.Now()
				if err := node.Kill(); err != nil {
					return fmt.Errorf("n1 kill %d: %w", i+1, err)
				}
				// The new leaders are looked for beside the outage, which lasts `down` whatever
				// the listings take.
				movedCh := make(chan time.Duration, 1)
				go func() {
					snap, ok := w.next(ctx, killed, 2*time.Minute, func(qs []QuorumQueue) bool { return ledBy(qs, target) == 0 })
					switch {
					case ok:
						movedCh <- time.Since(killed)
					case snap.began.Before(killed):
						// No listing begun after the kill came back in time (rabbitmqctl is slow on
						// a busy machine): not measured. allOnline after the restart still checks
						// that every queue has a leader.
						movedCh <- -1
					default:
						fail("kill %d: the queues led by %s had no live leader 2m after the kill", i+1, target)
						movedCh <- time.Since(killed)
					}
				}()
				sleepCtx(ctx, down-time.Since(killed))
				began := time.Now()
				if err := node.Start(ctx); err != nil {
					return fmt.Errorf("n1 restart %d: %w", i+1, err)
				}
				end()
				restarted = time.Now()
				d := <-movedCh
				mu.Lock()
				led = append(led, fmt.Sprintf("%dq/%dm", nq, nm))
				moved = append(moved, d)
				restarts = append(restarts, restarted.Sub(began))
				if !running {
					late++
				}
				duringLoad = append(duringLoad, running)
				mu.Unlock()
			}
			if _, ok := w.next(ctx, restarted, 2*time.Minute, allOnline); !ok {
				fail("replicas not all online 2m after the last restart")
			}
			return nil
		},
		Criteria: func(rep *Report, r *Run) {
			mu.Lock()
			defer mu.Unlock()
			r.Log.Set("replicas", members)
			r.Log.Set("killed_leader_of", strings.Join(led, " "))
			r.Log.Set("leaders_moved_within", joinDurations(moved))
			r.Log.Set("restart", joinDurations(restarts))
			for _, f := range failed {
				rep.Fail("%s", f)
			}
			if rep.Faults != kills {
				rep.Fail("%d of %d node kills happened", rep.Faults, kills)
			}
			if late > 0 {
				rep.FailTiming("%d of %d kills came after the load had ended (the machine is too slow for the schedule)", late, kills)
			}
			rows, err := outboxTimes(context.Background(), r.Env.PG)
			if err != nil {
				rep.Fail("outbox times: %v", err)
				return
			}
			stalls := publishStalls(rows)
			var per []string
			worst := time.Duration(0)
			for i, w := range r.Log.Windows() {
				// A failover's stall starts at the kill and ends once publishing resumed, at the
				// latest a while after the node is back.
				d := longestStall(stalls, w.Start, w.End.Add(30*time.Second))
				if i < len(duringLoad) && !duringLoad[i] {
					per = append(per, "n/a")
					continue
				}
				per = append(per, round(d))
				worst = max(worst, d)
			}
			overall := longestStall(stalls, time.Time{}, time.Now())
			r.Log.Set("publish_stall_per_kill", strings.Join(per, " "))
			r.Log.Set("publish_stall_max", fmt.Sprintf("%s (%d rows)", round(overall), len(rows)))
			if worst > stallLimit || overall > stallLimit {
				rep.FailTiming("publishing stalled %s (> %s)", round(max(worst, overall)), stallLimit)
			}
		},
	}
}

// replication checks that every quorum queue, the authority queues of codes among them, has a
// replica on each node, and describes what it found.
func replication(qs []QuorumQueue, codes []string) (string, error) {
	replicated, authority := 0, 0
	byName := map[string]QuorumQueue{}
	for _, q := range qs {
		byName[q.Name] = q
		if len(q.Members) == clusterSize {
			replicated++
		}
	}
	for _, code := range codes {
		if q, ok := byName[authorityQueue(code)]; ok && len(q.Members) == clusterSize {
			authority++
		}
	}
	desc := fmt.Sprintf("%d of %d quorum queues (%d of %d authority queues) on %d nodes",
		replicated, len(qs), authority, len(codes), clusterSize)
	if replicated != len(qs) || authority != len(codes) {
		return desc, fmt.Errorf("quorum queues not replicated on every node: %s", desc)
	}
	return desc, nil
}

// queueSnapshot is one listing of the cluster's quorum queues: the call began at began.
type queueSnapshot struct {
	queues []QuorumQueue
	began  time.Time
}

// queueWatcher lists the cluster's quorum queues one rabbitmqctl call after another (each against
// a node that runs) and keeps the latest listing. Safe for concurrent use.
type queueWatcher struct {
	mu     sync.Mutex
	latest queueSnapshot
	ok     bool
	cancel context.CancelFunc
	done   chan struct{}
}

// watchQueues starts a watcher; stop ends it.
func watchQueues(ctx context.Context, c *RabbitCluster) *queueWatcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &queueWatcher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			began := time.Now()
			qs, err := c.QuorumQueues(ctx)
			if err == nil && len(qs) > 0 {
				w.mu.Lock()
				w.latest, w.ok = queueSnapshot{queues: qs, began: began}, true
				w.mu.Unlock()
			}
			sleepCtx(ctx, 200*time.Millisecond)
		}
	}()
	return w
}

func (w *queueWatcher) stop() {
	w.cancel()
	<-w.done
}

// last returns the latest listing, if any.
func (w *queueWatcher) last() (queueSnapshot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, w.ok
}

// next waits (at most within) for a listing begun at or after since for which cond holds.
func (w *queueWatcher) next(ctx context.Context, since time.Time, within time.Duration,
	cond func([]QuorumQueue) bool) (queueSnapshot, bool) {
	var snap queueSnapshot
	ok := waitFor(within, 100*time.Millisecond, func() bool {
		s, ok := w.last()
		if !ok || s.began.Before(since) || ctx.Err() != nil {
			return false
		}
		snap = s
		return cond(s.queues)
	})
	return snap, ok
}

// allOnline reports whether every quorum queue has a leader and each of its members online.
func allOnline(qs []QuorumQueue) bool {
	for _, q := range qs {
		if len(q.Online) != len(q.Members) || q.Leader == "" {
			return false
		}
	}
	return true
}

// ledBy counts the queues whose leader is node or unknown.
func ledBy(qs []QuorumQueue, node string) int {
	n := 0
	for _, q := range qs {
		if q.Leader == "" || q.Leader == node {
			n++
		}
	}
	return n
}

// busiestLeader returns the node that leads the quorum queues with the most messages (then the
// most queues), with how many queues it leads and their messages.
func busiestLeader(qs []QuorumQueue) (node string, queues, messages int) {
	type load struct{ queues, messages int }
	by := map[string]load{}
	for _, q := range qs {
		if q.Leader == "" {
			continue
		}
		l := by[q.Leader]
		l.queues++
		l.messages += q.Messages
		by[q.Leader] = l
	}
	for _, n := range slices.Sorted(maps.Keys(by)) {
		l := by[n]
		if node == "" || l.messages > messages || (l.messages == messages && l.queues > queues) {
			node, queues, messages = n, l.queues, l.messages
		}
	}
	return node, queues, messages
}

// outboxRow is when an outbox row could first be published (the later of created_at and
// available_at) and when it was.
type outboxRow struct {
	Ready, Published time.Time
}

// outboxTimes reads every published outbox row's times with psql (the harness's store has no
// query for them), ordered by published_at.
func outboxTimes(ctx context.Context, pg *Postgres) ([]outboxRow, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := pg.run(ctx, "psql", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-d", "postgres", "-XAtq", "-F", ",", "-c",
		`SELECT (extract(epoch FROM greatest(created_at, available_at)) * 1e6)::bigint,
		        (extract(epoch FROM published_at) * 1e6)::bigint
		   FROM outbox WHERE status = 'published' ORDER BY published_at, id`)
	if err != nil {
		return nil, err
	}
	var rows []outboxRow
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		ready, published, ok := strings.Cut(strings.TrimSpace(sc.Text()), ",")
		if !ok {
			continue
		}
		r, err1 := strconv.ParseInt(ready, 10, 64)
		p, err2 := strconv.ParseInt(published, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("outbox times: unexpected line %q", sc.Text())
		}
		rows = append(rows, outboxRow{Ready: time.UnixMicro(r), Published: time.UnixMicro(p)})
	}
	return rows, sc.Err()
}

// stall is an interval in which some outbox row was ready and none was published.
type stall struct{ From, To time.Time }

// publishStalls returns the stalls between consecutive publications of rows (ordered by
// Published): between the publications at p[i] and p[i+1], a stall runs from the later of p[i]
// and the earliest Ready of the rows published at p[i+1] or later, to p[i+1]. Publishing is
// batched (a batch's rows share a time), so a stall is at least the gap between two batches.
func publishStalls(rows []outboxRow) []stall {
	n := len(rows)
	if n < 2 {
		return nil
	}
	// earliest[i] is the earliest Ready among rows[i:].
	earliest := make([]time.Time, n)
	earliest[n-1] = rows[n-1].Ready
	for i := n - 2; i >= 0; i-- {
		earliest[i] = rows[i].Ready
		if earliest[i+1].Before(earliest[i]) {
			earliest[i] = earliest[i+1]
		}
	}
	var out []stall
	for i := 0; i+1 < n; i++ {
		from := maxTime(rows[i].Published, earliest[i+1])
		if to := rows[i+1].Published; to.After(from) {
			out = append(out, stall{From: from, To: to})
		}
	}
	return out
}

// longestStall is the longest of stalls that overlap [from, to].
func longestStall(stalls []stall, from, to time.Time) time.Duration {
	var longest time.Duration
	for _, s := range stalls {
		if s.To.Before(from) || s.From.After(to) {
			continue
		}
		longest = max(longest, s.To.Sub(s.From))
	}
	return longest
}

// joinDurations lists ds, a negative one (not measured) as n/a.
func joinDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = "n/a"
		if d >= 0 {
			parts[i] = round(d)
		}
	}
	return strings.Join(parts, " ")
}
