package chaos

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"appealhub/internal/bench"
)

// DefaultDrainLimit is how long after the last fault a run must have settled.
const DefaultDrainLimit = 120 * time.Second

// goroutineSlack is the growth of a hub's goroutines over its baseline that still passes (10 %).
const goroutineSlack = 0.10

// Scenario is a load, a fault schedule and the scenario's own pass criteria.
type Scenario struct {
	ID    string // R0, R1, …
	Fault string // what is done, for the report
	Load  Load
	Env   Options
	// DrainLimit bounds the drain after the last fault. Defaults to DefaultDrainLimit.
	DrainLimit time.Duration
	// Before, if set, runs once the hubs are ready and before the load and the faults start: a
	// fault that must be in effect when the load begins (it records its window in r.Log too).
	Before func(ctx context.Context, r *Run) error
	// Faults runs beside the load and returns when its (bounded) schedule is done or ctx is done.
	// It records each fault window and its own figures in r.Log. nil means no fault.
	Faults func(ctx context.Context, r *Run) error
	// Criteria checks the scenario's own pass criteria once the report is complete, recording
	// failures with rep.Fail, and those about speed with rep.FailTiming.
	Criteria func(rep *Report, r *Run)
	// Timing makes the criteria about speed (latency percentiles, time to recover) fail the run;
	// without it they are reported only. The full profile (make chaos, on a quiet machine) sets
	// it; the short profile in make test does not, since a busy machine slows everything.
	Timing bool
}

// Run is one scenario being run: its world, generator and fault log.
type Run struct {
	Env *Env
	Gen *Generator
	Log *FaultLog
	// LoadDone is closed when the generator has finished.
	LoadDone chan struct{}
}

// LoadRunning reports whether the generator is still submitting.
func (r *Run) LoadRunning() bool {
	select {
	case <-r.LoadDone:
		return false
	default:
		return true
	}
}

// FaultWindow is one fault: from when it was injected to when the dependency was back.
type FaultWindow struct {
	Kind, Target string
	Start, End   time.Time
}

// FaultLog records the fault windows and figures of a run. Safe for concurrent use.
type FaultLog struct {
	mu      sync.Mutex
	windows []FaultWindow
	figures map[string]string
	order   []string
}

// Begin records the start of a fault and returns the function that records its end.
func (l *FaultLog) Begin(kind, target string) (end func()) {
	l.mu.Lock()
	i := len(l.windows)
	l.windows = append(l.windows, FaultWindow{Kind: kind, Target: target, Start: time.Now()})
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.windows[i].End = time.Now()
	}
}

// Windows returns the fault windows so far.
func (l *FaultLog) Windows() []FaultWindow {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.windows)
}

// Set records a scenario-specific figure.
func (l *FaultLog) Set(name, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.figures == nil {
		l.figures = map[string]string{}
	}
	if _, ok := l.figures[name]; !ok {
		l.order = append(l.order, name)
	}
	l.figures[name] = value
}

// lastEnd is the end of the last fault window (zero without faults).
func (l *FaultLog) lastEnd() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, w := range l.windows {
		last = maxTime(last, maxTime(w.End, w.Start))
	}
	return last
}

// Report is a scenario's outcome.
type Report struct {
	ID, Fault string
	Figures
	Faults   int
	Extra    []string // scenario-specific figures, "name value"
	Failures []string
	// Unchecked are timing criteria that did not hold in a run without Scenario.Timing.
	Unchecked []string
	timing    bool
}

// Fail records a failed pass criterion.
func (r *Report) Fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// FailTiming records a failed criterion about speed: a failure when the scenario checks timing,
// else a note in the report.
func (r *Report) FailTiming(format string, args ...any) {
	if r.timing {
		r.Fail(format, args...)
		return
	}
	r.Unchecked = append(r.Unchecked, fmt.Sprintf(format, args...))
}

// Passed reports whether every criterion held.
func (r *Report) Passed() bool { return len(r.Failures) == 0 }

// TableHeader is the header of the table Row writes (Markdown).
const TableHeader = "| scenario | fault | appeals | accepted | lost | duplicated | unexpected | recovered | double appeals | " +
	"resent | drain | accept p99 | accept→DMS p99 | scenario figures | result |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"

// Row is the report as one Markdown table row.
func (r *Report) Row() string {
	result := "pass"
	if len(r.Unchecked) > 0 {
		result += " (timing not checked: " + strings.Join(r.Unchecked, "; ") + ")"
	}
	if !r.Passed() {
		result = "FAIL: " + strings.Join(r.Failures, "; ")
	}
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s |",
		r.ID, r.Fault, r.Appeals, r.Accepted, r.Lost, r.Duplicated, r.Unexpected, r.Recovered, r.DoubleAppeals,
		r.Resent, round(r.Drain), round(r.AcceptP99), round(r.DeliverP99), strings.Join(r.Extra, ", "), result)
}

func round(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// RunScenario starts a fresh Env, runs the load and the faults, drains, checks, prints the report
// (and appends its row to the file named by APPEALHUB_CHAOS_REPORT, if set) and fails t on every
// failed criterion.
func RunScenario(t testing.TB, sc Scenario) Report {
	t.Helper()
	env := NewEnv(t, sc.Env)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	baseline := map[string]int{}
	for _, h := range env.Hubs {
		baseline[h.Name] = steadyGoroutines(ctx, t, h)
	}
	r := &Run{Env: env, Log: &FaultLog{}, LoadDone: make(chan struct{}),
		Gen: NewGenerator(sc.Load, env.Token, strings.ToLower(sc.ID)+"-"+randomHex(4), env.URLs(), env.Codes)}

	if sc.Before != nil {
		must(t, sc.Before(ctx, r))
	}
	faultErr := make(chan error, 1)
	go func() {
		if sc.Faults == nil {
			faultErr <- nil
			return
		}
		faultErr <- sc.Faults(ctx, r)
	}()
	outcomes := r.Gen.Run(ctx)
	close(r.LoadDone)
	must(t, <-faultErr)
	// Every hub runs again (a schedule restarts what it killed); one that does not is a failure.
	for _, h := range env.Hubs {
		if cmd, _ := h.running(); cmd == nil {
			t.Errorf("chaos: %s is not running after the faults", h.Name)
			must(t, h.Start())
			must(t, h.WaitReady(ctx, 60*time.Second))
		}
	}

	_, loadEnd := r.Gen.Span()
	since := maxTime(loadEnd, r.Log.lastEnd())
	limit := sc.DrainLimit
	if limit == 0 {
		limit = DefaultDrainLimit
	}
	f, err := env.Drain(ctx, since, limit)
	must(t, err)
	attempts := r.Gen.Attempts()
	f, err = env.Check(ctx, f, outcomes, len(attempts))
	must(t, err)

	rep := Report{ID: sc.ID, Fault: sc.Fault, Figures: f, Faults: len(r.Log.Windows()), timing: sc.Timing}
	rep.global(ctx, env, baseline)
	if sc.Criteria != nil {
		sc.Criteria(&rep, r)
	}
	r.Log.mu.Lock()
	for _, name := range r.Log.order {
		rep.Extra = append(rep.Extra, name+" "+r.Log.figures[name])
	}
	r.Log.mu.Unlock()

	logLatencies(t, attempts)
	t.Logf("%s: %d appeals, %d accepted, %d attempts, deliveries %v, outbox pending %d, queue messages %d, gave up %d, refused %d, orphans %d, without row %d",
		sc.ID, f.Appeals, f.Accepted, f.Attempts, f.Deliveries, f.OutboxPending, f.QueueMessages, f.GaveUp, f.Refused, f.Orphans, f.WithoutRow)
	fmt.Printf("%s\n%s\n", TableHeader, rep.Row())
	if path := os.Getenv("APPEALHUB_CHAOS_REPORT"); path != "" {
		if err := appendLine(path, rep.Row()); err != nil {
			t.Errorf("chaos report: %v", err)
		}
	}
	for _, fl := range rep.Failures {
		t.Errorf("%s: %s", sc.ID, fl)
	}
	return rep
}

// global checks the criteria every scenario shares.
func (r *Report) global(ctx context.Context, env *Env, baseline map[string]int) {
	if r.Lost != 0 {
		r.Fail("lost = %d", r.Lost)
	}
	if r.Duplicated != 0 {
		r.Fail("duplicated = %d", r.Duplicated)
	}
	if r.Unexpected != 0 {
		r.Fail("unexpected = %d", r.Unexpected)
	}
	if r.DoubleAppeals != 0 {
		r.Fail("double appeals = %d", r.DoubleAppeals)
	}
	if r.Accepted+r.GaveUp+r.Refused != r.Appeals || r.Accepted != r.Appeals {
		r.Fail("accepted %d of %d (gave up %d, refused %d)", r.Accepted, r.Appeals, r.GaveUp, r.Refused)
	}
	if !r.Drained {
		r.Fail("not drained within the limit: deliveries %v, outbox pending %d, queue messages %d %v",
			r.Deliveries, r.OutboxPending, r.QueueMessages, r.QueuesLeft)
	}
	if n := r.Deliveries["dead"] - r.DeadExpected; n != 0 {
		r.Fail("%d dead deliveries (%d of %d deliberately)", n, r.DeadExpected, r.Deliveries["dead"])
	}
	for _, h := range env.Hubs {
		if p, err := h.Panicked(); err != nil || p {
			r.Fail("%s panicked (or its log is unreadable: %v)", h.Name, err)
		}
	}
	// Connections the hubs keep to the sandboxes hold goroutines of their own: close them first.
	for _, code := range env.Codes {
		env.servers[code].CloseClientConnections()
	}
	var growth []string
	for _, h := range env.Hubs {
		limit := int(float64(baseline[h.Name]) * (1 + goroutineSlack))
		var n int
		ok := waitFor(15*time.Second, 250*time.Millisecond, func() bool {
			var err error
			n, err = h.Goroutines(ctx)
			return err == nil && n <= limit
		})
		growth = append(growth, fmt.Sprintf("%d→%d", baseline[h.Name], n))
		if !ok {
			r.Fail("%s goroutines %d > %d (baseline %d + 10 %%)", h.Name, n, limit, baseline[h.Name])
		}
	}
	r.Extra = append(r.Extra, "goroutines "+strings.Join(growth, " "))
}

// steadyGoroutines waits (at most 15 s) until a hub's goroutine count is the same twice a second
// apart: a hub just ready may still be starting consumers.
func steadyGoroutines(ctx context.Context, t testing.TB, h *HubProcess) int {
	t.Helper()
	prev := -1
	var n int
	waitFor(15*time.Second, time.Second, func() bool {
		var err error
		n, err = h.Goroutines(ctx)
		must(t, err)
		same := n == prev
		prev = n
		return same
	})
	return n
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if !strings.Contains(readFile(path), TableHeader) {
		line = "\n" + TableHeader + "\n" + line
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sleepCtx waits d or until ctx is done; it reports whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logLatencies logs the accepted attempts' latency percentiles per second of the run.
func logLatencies(t testing.TB, attempts []Attempt) {
	t.Helper()
	if len(attempts) == 0 {
		return
	}
	first := attempts[0].Start
	for _, a := range attempts {
		if a.Start.Before(first) {
			first = a.Start
		}
	}
	bySecond := map[int][]time.Duration{}
	for _, a := range attempts {
		s := int(a.Start.Sub(first) / time.Second)
		bySecond[s] = append(bySecond[s], a.Latency)
	}
	var b strings.Builder
	for _, s := range slices.Sorted(maps.Keys(bySecond)) {
		ds := bySecond[s]
		fmt.Fprintf(&b, " %ds:n=%d,p50=%s,p99=%s", s, len(ds), round(bench.Percentile(ds, 50)), round(bench.Percentile(ds, 99)))
	}
	t.Logf("attempt latency by second:%s", b.String())
}

func readFile(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}
