package bench

import (
	"context"
	"fmt"
	"io"
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
		"postgres and rabbitmq: the whole servers, other clients included (postgres: live processes only, so\n"+
		"backends that exited, e.g. other tests' sessions, land in other); irq: mostly loopback TCP.")
}
