//go:build scale

package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// The scale measurement's defaults (SCALE_AUTHORITIES and SCALE_SUBMISSIONS override them).
const (
	scaleAuthorities = 10000
	scaleSubmissions = 2000
	scaleSandboxes   = 4
	// scaleReadyWithin is the readiness target for a hub with 10,000 authorities.
	scaleReadyWithin = 60 * time.Second
)

// TestScale registers 10,000 authorities, starts a hub against a private RabbitMQ node with the
// queue type APPEALHUB_SCALE_QUEUE_TYPE, measures how long until every authority's queue is
// declared and consumed and the broker's memory and file handles before and after, then delivers
// a mixed load spread over all the authorities and checks that every delivery arrived once.
//
// It is a measurement, run by scripts/scale.sh (make scale), which starts the private node and
// sets APPEALHUB_SCALE=1, APPEALHUB_SCALE_AMQP_URL, APPEALHUB_SCALE_NODE and APPEALHUB_SCALE_HOME
// (the directory with the node's Erlang cookie, for rabbitmqctl). Never run it against the shared
// broker: thousands of quorum queues exhaust a node with a low open-file limit.
func TestScale(t *testing.T) {
	// Built only with -tags scale (make scale); the script provides the private node.
	require.Equal(t, "1", os.Getenv("APPEALHUB_SCALE"), "run it with make scale: scripts/scale.sh starts a private RabbitMQ node")
	amqpURL, node := os.Getenv("APPEALHUB_SCALE_AMQP_URL"), os.Getenv("APPEALHUB_SCALE_NODE")
	require.NotEmpty(t, amqpURL, "APPEALHUB_SCALE_AMQP_URL: the private node's AMQP URL (set by scripts/scale.sh)")
	require.NotEmpty(t, node, "APPEALHUB_SCALE_NODE: the private node's name (set by scripts/scale.sh)")
	t.Setenv("TEST_AMQP_URL", amqpURL)
	queueType := cmp.Or(os.Getenv("APPEALHUB_SCALE_QUEUE_TYPE"), config.QueueTypeClassic)
	n, submissions := envInt("SCALE_AUTHORITIES", scaleAuthorities), envInt("SCALE_SUBMISSIONS", scaleSubmissions)
	rmq := rabbitNode{name: node, home: os.Getenv("APPEALHUB_SCALE_HOME")}
	ctx := context.Background()

	sandboxes := make([]*sandbox.Server, scaleSandboxes)
	urls := make([]string, scaleSandboxes)
	for i := range sandboxes {
		sb, err := sandbox.New(sandbox.Options{Name: fmt.Sprintf("scale-%d", i)}, zap.NewNop())
		require.NoError(t, err)
		srv := httptest.NewServer(sb)
		t.Cleanup(func() { srv.Close(); _ = sb.Close() })
		sandboxes[i], urls[i] = sb, srv.URL
	}
	env := hubtest.NewEnv(t, nil, func(c *config.Config) {
		productionTimings(c)
		c.Broker.QueueType = queueType
	})

	codes := scaleCodes(n)
	start := time.Now()
	registerAuthorities(t, env, codes, func(i int) string { return urls[i%len(urls)] + "/documents/" + codes[i] })
	t.Logf("%s: registered %d authorities in %s", queueType, n, time.Since(start).Round(time.Millisecond))

	before := rmq.status(t)
	env.ReadyWithin = 10 * time.Minute // /readyz waits for every subscription's first attempt
	start = time.Now()
	hub := env.Start(t)
	started := time.Since(start)
	consumed, polls := rmq.waitConsumed(t, env.Config.Broker.Prefix, queueType, n, start)
	after := rmq.status(t)
	t.Logf("%s: hub ready (readyz 200) %s after start; every queue declared and consumed after %s (%d polls of rabbitmqctl)",
		queueType, started.Round(time.Millisecond), consumed.Round(100*time.Millisecond), polls)

	// The mixed load: submissions spread over every authority, 32 portal clients at a time.
	start = time.Now()
	var failed atomic.Int64
	var firstErr sync.Once
	work := make(chan int)
	var wg sync.WaitGroup
	for range defaultClients {
		wg.Go(func() {
			for i := range work {
				code := codes[(i*7919)%n]
				resp, err := env.Submit(ctx, hub.URL, fmt.Sprintf("scale-%d", i), hubtest.Submission(i, 1*kib, code))
				if err != nil || resp.Status != 202 {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("submit %d: %v (HTTP %d %s)", i, err, resp.Status, resp.Body) })
				}
			}
		})
	}
	for i := range submissions {
		work <- i
	}
	close(work)
	wg.Wait()
	require.Zero(t, failed.Load(), "submissions refused")
	submitted := time.Since(start)
	totals := env.WaitSettled(t, 10*time.Minute)
	settled := time.Since(start)
	counts, err := env.Store.DeliveryCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, submissions, totals.Deliveries)
	require.Equal(t, submissions, counts[schemas.StatusDelivered], "every delivery delivered: %v", counts)
	documents := 0
	for _, sb := range sandboxes {
		documents += sb.Ledger().Documents
	}
	require.Equal(t, submissions, documents, "one document per delivery in the sandboxes")
	loaded := rmq.status(t)

	t.Logf("%s: %d submissions accepted in %s, all delivered after %s (%.0f/s)", queueType, submissions,
		submitted.Round(time.Millisecond), settled.Round(time.Millisecond), float64(submissions)/settled.Seconds())
	for _, s := range []struct {
		when string
		st   rabbitStatus
	}{{"before the hub", before}, {"after every queue consumed", after}, {"after the load", loaded}} {
		t.Logf("%s: broker %-27s %s", queueType, s.when, s.st)
	}
	t.Logf("SCALE queue_type=%s authorities=%d ready=%s consumed=%s rss_before_mib=%.0f rss_after_mib=%.0f "+
		"rss_loaded_mib=%.0f per_queue_kib=%.1f fds_after=%d handles_after=%d delivered=%d/%d in %s",
		queueType, n, started.Round(time.Millisecond), consumed.Round(100*time.Millisecond), mib(before.RSS), mib(after.RSS),
		mib(loaded.RSS), float64(after.RSS-before.RSS)/float64(n)/1024, after.OSFDs, after.Handles,
		counts[schemas.StatusDelivered], submissions, settled.Round(time.Millisecond))
	if consumed > scaleReadyWithin {
		t.Logf("%s: NOT within %s: every queue consumed only after %s", queueType, scaleReadyWithin, consumed.Round(time.Second))
	}

	// A restart: the queues exist now, as on every start but the first.
	stopCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	require.NoError(t, hub.Stop(stopCtx))
	cancel()
	start = time.Now()
	hub = env.Start(t)
	restarted := time.Since(start)
	reconsumed, _ := rmq.waitConsumed(t, env.Config.Broker.Prefix, queueType, n, start)
	t.Logf("SCALE-RESTART queue_type=%s authorities=%d ready=%s consumed=%s", queueType, n,
		restarted.Round(time.Millisecond), reconsumed.Round(100*time.Millisecond))
	if restarted > scaleReadyWithin {
		t.Logf("%s: restart NOT ready within %s", queueType, scaleReadyWithin)
	}
}

// waitConsumed polls the broker until n authority queues under prefix have a consumer and returns
// the time since start and the number of polls.
func (r rabbitNode) waitConsumed(t *testing.T, prefix, queueType string, n int, start time.Time) (time.Duration, int) {
	t.Helper()
	for polls := 1; ; polls++ {
		queues, withConsumer := r.consumedQueues(t, prefix)
		if withConsumer >= n {
			t.Logf("%s: %d authority queues, %d with a consumer", queueType, queues, withConsumer)
			return time.Since(start), polls
		}
		if polls%20 == 0 {
			t.Logf("%s: %s after start: %d of %d authority queues declared, %d consumed", queueType,
				time.Since(start).Round(time.Second), queues, n, withConsumer)
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("%s: after 10 min only %d of %d authority queues have a consumer", queueType, withConsumer, n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// scaleCodes returns n distinct EDRPOU codes with a correct check digit.
func scaleCodes(n int) []string {
	codes := make([]string, n)
	for i := range codes {
		base := fmt.Sprintf("2%06d", i)
		codes[i] = base + strconv.Itoa(registry.CheckDigit(base+"0"))
	}
	return codes
}

// registerAuthorities stores the authorities as the configuration seeds them, 16 at a time.
func registerAuthorities(t *testing.T, env *hubtest.Env, codes []string, endpoint func(i int) string) {
	t.Helper()
	for _, code := range codes {
		require.NoError(t, registry.CheckEDRPOU(code))
	}
	ctx := context.Background()
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := env.Store.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: codes[i],
					Name: "Територіальна громада " + codes[i], Adapter: "json", Endpoint: endpoint(i),
					Status: config.AuthorityActive}); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range codes {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("register authorities: %v", err)
	}
}

// rabbitNode runs the RabbitMQ CLI against the private node only.
type rabbitNode struct{ name, home string }

func (r rabbitNode) run(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "rabbitmqctl", append([]string{"-n", r.name, "-q"}, args...)...)
	if r.home != "" {
		cmd.Env = append(os.Environ(), "HOME="+r.home)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// consumedQueues counts the authority queues of prefix and those with at least one consumer.
func (r rabbitNode) consumedQueues(t *testing.T, prefix string) (queues, withConsumer int) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(r.run(t, "list_queues", "name", "consumers", "--no-table-headers")))
	for sc.Scan() {
		name, consumers, ok := strings.Cut(sc.Text(), "\t")
		if !ok || !strings.HasPrefix(name, prefix+"hub.authority.") {
			continue
		}
		queues++
		if c, _ := strconv.Atoi(strings.TrimSpace(consumers)); c > 0 {
			withConsumer++
		}
	}
	return queues, withConsumer
}

// rabbitStatus is what the measurement reads from `rabbitmqctl status`.
type rabbitStatus struct {
	RSS, Erlang     int64 // bytes: the OS process's resident set and what the Erlang VM allocated
	QueueProcs      int64 // bytes: classic (queue_procs) plus quorum (quorum_queue_procs, quorum_ets)
	Channels        int64 // bytes: connection_channels + connection_other/readers/writers
	Handles         int   // file_descriptors.total_used (RabbitMQ's file handle accounting)
	HandleLimit     int
	Sockets         int
	OSFDs           int // entries of /proc/PID/fd
	Processes       int
	ProcessesLimit  int
	BreakdownFields map[string]int64
}

func (s rabbitStatus) String() string {
	return fmt.Sprintf("rss %.0f MiB, erlang %.0f MiB (queues %.0f MiB, connections %.0f MiB), file handles %d/%d (sockets %d, os fds %d), processes %d",
		mib(s.RSS), mib(s.Erlang), mib(s.QueueProcs), mib(s.Channels), s.Handles, s.HandleLimit, s.Sockets, s.OSFDs, s.Processes)
}

func (r rabbitNode) status(t *testing.T) rabbitStatus {
	t.Helper()
	var raw struct {
		PID    int                        `json:"pid"`
		Memory map[string]json.RawMessage `json:"memory"`
		FDs    struct {
			TotalUsed    int `json:"total_used"`
			TotalLimit   int `json:"total_limit"`
			SocketsUsed  int `json:"sockets_used"`
			SocketsLimit int `json:"sockets_limit"`
		} `json:"file_descriptors"`
		Processes struct {
			Used  int `json:"used"`
			Limit int `json:"limit"`
		} `json:"processes"`
	}
	require.NoError(t, json.Unmarshal(r.run(t, "status", "--formatter", "json"), &raw))
	var total struct {
		Erlang int64 `json:"erlang"`
		RSS    int64 `json:"rss"`
	}
	require.NoError(t, json.Unmarshal(raw.Memory["total"], &total))
	s := rabbitStatus{RSS: total.RSS, Erlang: total.Erlang, Handles: raw.FDs.TotalUsed, HandleLimit: raw.FDs.TotalLimit,
		Sockets: raw.FDs.SocketsUsed, Processes: raw.Processes.Used, ProcessesLimit: raw.Processes.Limit,
		BreakdownFields: map[string]int64{}}
	for k, v := range raw.Memory {
		var b int64
		if json.Unmarshal(v, &b) == nil {
			s.BreakdownFields[k] = b
		}
	}
	f := s.BreakdownFields
	s.QueueProcs = f["queue_procs"] + f["quorum_queue_procs"] + f["quorum_ets"]
	s.Channels = f["connection_channels"] + f["connection_other"] + f["connection_readers"] + f["connection_writers"]
	if entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", raw.PID)); err == nil {
		s.OSFDs = len(entries)
	}
	return s
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
