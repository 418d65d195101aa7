package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"appealhub/config"
	"appealhub/internal/store/storetest"
)

// result is one sub-benchmark's figures, for the summary printed after the run.
type result struct {
	name      string
	shape     shape
	bodyBytes int
	clients   int
	cfg       config.Config
	intake    intakeRun
	endToEnd  *endToEnd // nil for BenchmarkIntake
	cpu       CPUUse
}

var (
	resultsMu sync.Mutex
	results   []result
	machine   Machine
	machineMu sync.Once
)

// readMachine reads the machine facts once, before the first benchmark loads the machine.
func readMachine() {
	machineMu.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		machine = ReadMachine(ctx, storetest.URL())
	})
}

func record(r result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

// printSummary writes the machine, the settings and one line per sub-benchmark, if any ran.
func printSummary(w io.Writer) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return
	}
	c := results[0].cfg
	m := machine
	_, _ = fmt.Fprintf(w, "\nAppeal Hub benchmark summary (%s)\n", time.Now().UTC().Format(time.DateTime+" UTC"))
	_, _ = fmt.Fprintf(w, "machine:  %s, %d cores, %s, %s\n", m.CPU, m.Cores, m.OS, m.GoVersion)
	_, _ = fmt.Fprintf(w, "          PostgreSQL %s\n          RabbitMQ %s\n          load average before: %s\n",
		m.Postgres, m.RabbitMQ, m.LoadBefore)
	_, _ = fmt.Fprintf(w, "settings: %d portal clients, 5 authorities (one sandbox each), one addressee per appeal;\n"+
		"          relay batch %d, poll %s + LISTEN/NOTIFY; delivery concurrency (prefetch) %d per authority;\n"+
		"          %s queues, delivery-limit %d; database pool %d\n",
		results[0].clients, c.Relay.BatchSize, c.Relay.PollInterval, c.Delivery.Concurrency,
		c.Broker.QueueType, c.Broker.DeliveryLimit, c.Database.MaxOpenConns)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "benchmark\tbody B\tn\tintake/s\tp50 ms\tp99 ms\tdelivered/s\te2e p50 ms\te2e p99 ms\twall s\t"+
		"cores: busy\tthis process\tpostgres\trabbitmq\tirq\tother\t")
	for _, r := range results {
		in := r.intake
		e2eRate, e2e50, e2e99, wall := "-", "-", "-", in.end.Sub(in.start)
		if e := r.endToEnd; e != nil {
			e2eRate = fmt.Sprintf("%.0f", e.rate())
			e2e50 = fmt.Sprintf("%.1f", Millis(Percentile(e.latencies, 50)))
			e2e99 = fmt.Sprintf("%.1f", Millis(Percentile(e.latencies, 99)))
			wall = e.wall
		}
		c := r.cpu.Cores()
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%s\t%s\t%s\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			r.name, r.bodyBytes, len(in.receipts), in.rate(), Millis(Percentile(in.latencies, 50)),
			Millis(Percentile(in.latencies, 99)), e2eRate, e2e50, e2e99, wall.Seconds(),
			c.Busy, c.Self, c.Postgres, c.RabbitMQ, c.IRQ, c.Other)
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintln(w, "intake p50/p99: accept latency (request sent → 202 read); e2e: delivered_at − received_at per delivery;\n"+
		"cores: CPU used on average over the measured interval (intake only, or first submit → all delivered);\n"+
		"postgres and rabbitmq: the whole servers, other clients included (processes alive at both ends of the\n"+
		"interval only, so backends that started or exited in it, e.g. other tests' sessions, land in other);\n"+
		"irq: mostly loopback TCP.")
}

// compareResult is one case of BenchmarkCompare: the hub's and the baseline's runs.
type compareResult struct {
	name      string
	cc        compareCase
	hub, base compareRun
}

var compares []compareResult

func recordCompare(r compareResult) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	compares = append(compares, r)
}

// printCompare writes the hub against the baseline, one line per case and side, if any ran.
func printCompare(w io.Writer) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(compares) == 0 {
		return
	}
	m := machine
	_, _ = fmt.Fprintf(w, "\nAppeal Hub against the minimal pipeline (%s)\n", time.Now().UTC().Format(time.DateTime+" UTC"))
	_, _ = fmt.Fprintf(w, "machine:  %s, %d cores, %s; load average before: %s\n", m.CPU, m.Cores, m.GoVersion, m.LoadBefore)
	c := compares[0].hub.cfg
	_, _ = fmt.Fprintf(w, "settings: HTTPS (TLS front) + CAdES signatures required; %s queues, delivery-limit %d;\n"+
		"          prefetch %d per authority; database pool %d; relay batch %d, poll %s\n",
		c.Broker.QueueType, c.Broker.DeliveryLimit, c.Delivery.Concurrency, c.Database.MaxOpenConns,
		c.Relay.BatchSize, c.Relay.PollInterval)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintln(tw, "case\tside\tbody B\tclients\tn\tappeals/s\tp50 ms\tp99 ms\tratio\t"+
		"open rate/s\topen n\topen p50 ms\topen p99 ms\tlate\tcores: busy\tthis process\tpostgres\trabbitmq\tirq\tother\t")
	for _, r := range compares {
		ratio := r.hub.closed.rate() / r.base.closed.rate()
		for _, side := range []struct {
			name string
			run  compareRun
		}{{"hub", r.hub}, {"baseline", r.base}} {
			k := side.run
			cores := k.closed.cpu.Cores()
			rs := "-"
			if side.name == "hub" {
				rs = fmt.Sprintf("%.2f", ratio)
			}
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%.1f\t%.1f\t%s\t%.0f\t%d\t%.1f\t%.1f\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
				r.name, side.name, k.bodyBytes, r.cc.clients, k.closed.delivered, k.closed.rate(),
				Millis(Percentile(k.closed.latencies, 50)), Millis(Percentile(k.closed.latencies, 99)), rs,
				k.openRate, k.open.delivered, Millis(Percentile(k.open.latencies, 50)),
				Millis(Percentile(k.open.latencies, 99)), k.openLate,
				cores.Busy, cores.Self, cores.Postgres, cores.RabbitMQ, cores.IRQ, cores.Other)
		}
	}
	_ = tw.Flush()
	printRatioRounds(w)
	_, _ = fmt.Fprintln(w, "appeals/s, p50/p99: closed loop, first submission → last acknowledgement recorded; latency =\n"+
		"acknowledgement recorded − received; ratio = hub/baseline appeals/s; open: fixed arrival rate = half the\n"+
		"hub's closed-loop rate, for both sides; late = arrivals sent over 100 ms behind schedule; cores: closed loop.")
}

// printRatioRounds writes, for each case run in several rounds (BENCH_ROUNDS), the median of
// its rounds' ratios with the lowest and highest: one run's ratio moves by several percent on a
// small machine, the median of interleaved rounds much less. Callers hold resultsMu.
func printRatioRounds(w io.Writer) {
	var order []string
	ratios := map[string][]float64{}
	for _, r := range compares {
		if _, seen := ratios[r.cc.name]; !seen {
			order = append(order, r.cc.name)
		}
		ratios[r.cc.name] = append(ratios[r.cc.name], r.hub.closed.rate()/r.base.closed.rate())
	}
	for _, name := range order {
		rs := ratios[name]
		if len(rs) < 2 {
			continue
		}
		_, _ = fmt.Fprintf(w, "%s: median ratio %.2f over %d rounds (lowest %.2f, highest %.2f)\n",
			name, median(rs), len(rs), slices.Min(rs), slices.Max(rs))
	}
}

// median returns the median of xs (the mean of the middle two for an even count); xs is not
// changed.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
