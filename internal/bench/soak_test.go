//go:build soak

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"appealhub/config"
)

// BenchmarkSoak runs the hub as an OS process (`appealhub serve`, built from ./cmd/appealhub) at a
// steady rate for SOAK_DURATION (default 30m) and samples the process's resident memory (VmRSS of
// /proc/<pid>/status: the hub alone, not the load generator or the sandbox systems, which run in
// the benchmark process) and its goroutines (/metrics) every 10 s. Load: SOAK_RATE (default 30)
// signed 1 KiB appeals per second over plain HTTP straight to the process (so that nothing stands
// between the load and the hub's own connection handling) to 10 authorities, arrivals at a fixed
// rate (open loop).
//
// It fails if a submission is refused, if any appeal is not delivered and recorded once at the end,
// or if the memory or the goroutines grew more than a leak would explain: RSS at the end above
// twice the RSS after the first minute, goroutines at the end above twice those after the first
// minute plus 50. Run by `make soak` (-tags soak); docs/performance.md records a run.
func BenchmarkSoak(b *testing.B) {
	readMachine()
	duration, err := time.ParseDuration(os.Getenv("SOAK_DURATION"))
	if err != nil || duration <= 0 {
		duration = 30 * time.Minute
	}
	rate := float64(envInt("SOAK_RATE", 30))
	keys := newSigningKeys(b)
	codes := authorityCodes(10)
	sbs := newSandboxes(b, 5)
	env := signedHubEnv(b, codes, sbs, keys, func(c *config.Config) { c.Log.Level = config.LogLevelWarn })
	dir := b.TempDir()
	bin := filepath.Join(dir, "appealhub")
	if out, err := exec.Command("go", "build", "-o", bin, "appealhub/cmd/appealhub").CombinedOutput(); err != nil {
		b.Fatalf("build appealhub: %v: %s", err, out)
	}
	hub := startHubProcess(b, bin, dir, env.Config)
	pid := hub.cmd.Process.Pid
	ctx := context.Background()
	d := newDriverTo(b, "http://"+hub.addr, nil, env.Token, defaultClients)

	// Memory and goroutines every 10 s, from the start of the load to the end of the delivery.
	type sample struct {
		at         time.Duration
		rss, hwm   int64 // KiB
		goroutines int
	}
	var (
		samplesMu sync.Mutex
		samples   []sample
	)
	start := time.Now()
	take := func() {
		rss, hwm, err := memoryOf(pid)
		if err != nil {
			return // the hub has stopped: the benchmark is ending
		}
		g, _ := hub.goroutines(ctx)
		samplesMu.Lock()
		samples = append(samples, sample{at: time.Since(start), rss: rss, hwm: hwm, goroutines: g})
		samplesMu.Unlock()
	}
	take()
	stopSampling := make(chan struct{})
	var sampling sync.WaitGroup
	sampling.Go(func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				take()
			}
		}
	})

	// The load, a minute at a time; the next minute's bodies are signed while this one runs.
	chunk := int(rate * 60)
	chunks := max(int(duration/time.Minute), 1)
	next := make(chan [][]byte, 1)
	var signErr error
	go func() {
		defer close(next)
		for range chunks {
			bodies, err := keys.signed("soak", 1*kib, codes, chunk)
			if err != nil {
				signErr = err
				return
			}
			next <- bodies
		}
	}()
	var runs []intakeRun
	late := 0
	hubCPU := procCPU(fmt.Sprintf("/proc/%d/stat", pid))
	b.ResetTimer()
	for i := 0; ; i++ {
		bodies, ok := <-next
		if !ok {
			break
		}
		run, l, err := d.open(bodies, "m"+strconv.Itoa(i), rate)
		if err != nil {
			b.Fatalf("minute %d: %v", i, err)
		}
		runs = append(runs, run)
		late += l
	}
	if signErr != nil {
		b.Fatalf("sign: %v", signErr)
	}
	total := chunks * chunk
	waitDelivered(b, env, total, 10*time.Minute)
	hubCPU = procCPU(fmt.Sprintf("/proc/%d/stat", pid)) - hubCPU
	b.StopTimer()
	close(stopSampling)
	sampling.Wait()
	take()
	checkCompareHub(b, env, sbs, total)

	// End-to-end latency of every 10th appeal, per minute.
	var all []time.Duration
	perMinute := make([]time.Duration, len(runs))
	for i, r := range runs {
		sub := intakeRun{start: r.start, end: r.end}
		for j := 0; j < len(r.receipts); j += 10 {
			sub.receipts = append(sub.receipts, r.receipts[j])
		}
		e := measureEndToEnd(b, env, []endToEndRun{{intake: sub}})
		all = append(all, e.latencies...)
		perMinute[i] = Percentile(e.latencies, 99)
	}

	samplesMu.Lock()
	defer samplesMu.Unlock()
	first, last := samples[0], samples[len(samples)-1]
	warm := first
	for _, s := range samples {
		if s.at >= time.Minute {
			warm = s
			break
		}
	}
	var peak sample
	for _, s := range samples {
		if s.rss > peak.rss {
			peak = s
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(first.rss)/1024, "rss-start-MiB")
	b.ReportMetric(float64(warm.rss)/1024, "rss-1min-MiB")
	b.ReportMetric(float64(last.rss)/1024, "rss-end-MiB")
	b.ReportMetric(Millis(Percentile(all, 99)), "e2e-p99-ms")
	var trail strings.Builder
	for _, s := range samples {
		if s.at%(5*time.Minute) < 10*time.Second || s == last {
			fmt.Fprintf(&trail, " %s:%.0f/%d", s.at.Round(time.Second), float64(s.rss)/1024, s.goroutines)
		}
	}
	var p99s strings.Builder
	for i, p := range perMinute {
		if i%5 == 0 || i == len(perMinute)-1 {
			fmt.Fprintf(&p99s, " m%d:%.0f", i, Millis(p))
		}
	}
	use := ReadCPU().Since(runs[0].cpuStart)
	cores := use.Cores()
	fmt.Printf("\nSOAK %s at %.0f/s: %d appeals accepted and delivered (%d sent >100 ms late, %d sent again after a broken connection); e2e p50 %.1f ms p99 %.1f ms (every 10th appeal)\n"+
		"SOAK hub process RSS MiB: start %.1f, after 1 min %.1f, end %.1f, peak %.1f (at %s), VmHWM %.1f; goroutines start %d, after 1 min %d, end %d\n"+
		"SOAK RSS MiB/goroutines every 5 min:%s\nSOAK e2e p99 ms by minute:%s\n"+
		"SOAK cores on average: busy %.2f, hub process %.2f, load generator + sandboxes %.2f, postgres %.2f, rabbitmq %.2f, irq %.2f, other %.2f\n",
		duration, rate, total, late, d.resent.Load(), Millis(Percentile(all, 50)), Millis(Percentile(all, 99)),
		float64(first.rss)/1024, float64(warm.rss)/1024, float64(last.rss)/1024, float64(peak.rss)/1024,
		peak.at.Round(time.Second), float64(last.hwm)/1024, first.goroutines, warm.goroutines, last.goroutines,
		trail.String(), p99s.String(), cores.Busy, hubCPU.Seconds()/use.Wall.Seconds(), cores.Self, cores.Postgres,
		cores.RabbitMQ, cores.IRQ, max(cores.Other-hubCPU.Seconds()/use.Wall.Seconds(), 0))
	if last.rss > 2*warm.rss {
		b.Errorf("hub RSS grew from %d KiB after the first minute to %d KiB at the end", warm.rss, last.rss)
	}
	if last.goroutines > 2*warm.goroutines+50 {
		b.Errorf("hub goroutines grew from %d after the first minute to %d at the end", warm.goroutines, last.goroutines)
	}
}

// hubProcess is `appealhub serve` as an OS process, its log in a file.
type hubProcess struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startHubProcess writes cfg (on a free port) to dir/soak.yaml, starts `bin serve` with it, waits
// until /readyz answers 200 and stops the process (SIGTERM) when b ends.
func startHubProcess(b *testing.B, bin, dir string, cfg config.Config) *hubProcess {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("free port: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg.HTTP.Addr, cfg.HTTP.PublicURL = addr, "http://"+addr
	raw, err := cfg.YAML()
	if err != nil {
		b.Fatalf("hub configuration: %v", err)
	}
	cfgPath, logPath := filepath.Join(dir, "soak.yaml"), filepath.Join(dir, "soak.log")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		b.Fatalf("hub configuration: %v", err)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatalf("hub log: %v", err)
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		b.Fatalf("start hub: %v", err)
	}
	h := &hubProcess{addr: addr, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(h.done)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-h.done
			b.Errorf("hub did not stop within 30 s of SIGTERM")
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-h.done:
			tail, _ := os.ReadFile(logPath)
			b.Fatalf("hub exited before it was ready: %.2000s", tail)
		default:
		}
		if resp, err := client.Get("http://" + addr + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				client.CloseIdleConnections()
				return h
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("hub not ready within 2 min")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goroutines reads go_goroutines from the hub's /metrics.
func (h *hubProcess) goroutines(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.addr+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("metrics request: %w", err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("go_goroutines: %w", err)
			}
			return int(f), nil
		}
	}
	return 0, fmt.Errorf("no go_goroutines in /metrics: %w", sc.Err())
}

// memoryOf returns VmRSS and VmHWM (KiB) of process pid.
func memoryOf(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read status: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS for pid %d", pid)
	}
	return rss, hwm, sc.Err()
}
