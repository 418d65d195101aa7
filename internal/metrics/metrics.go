// Package metrics holds the hub's Prometheus metrics: the collectors, one registry per hub process
// and the /metrics handler. Every name starts with appealhub_ and is in base units (seconds, bytes,
// totals). Labels are bounded: an authority is labelled by its 8-digit code (bounded by the
// registry), outcomes and results by fixed words; never by a case, delivery or tracking number.
//
// The levels that live in the database (outbox, dead deliveries, overdue due dates) are read when
// Prometheus scrapes, bounded by LevelsTimeout, so a scrape never hangs on an unreachable database.
// docs/observability.md lists every metric.
package metrics

import (
	"context"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// LevelsTimeout bounds the database read of one scrape.
const LevelsTimeout = 2 * time.Second

// Intake outcomes.
const (
	IntakeAccepted    = "accepted"    // a new case was stored
	IntakeReplayed    = "replayed"    // the same Idempotency-Key and body again: the first receipt
	IntakeRefused     = "refused"     // a problem the portal must fix (4xx)
	IntakeUnavailable = "unavailable" // the hub could not store it now (5xx); the portal retries
)

// Delivery attempt outcomes.
const (
	DeliveryDelivered   = "delivered"    // the system confirmed it
	DeliverySent        = "sent"         // the system took it; its delivery notice is awaited
	DeliveryRetry       = "retry"        // a transient failure; a retry is scheduled
	DeliveryDead        = "dead"         // a permanent refusal or the last attempt failed
	DeliveryCircuitOpen = "circuit_open" // the authority's breaker is open; no send was made
)

// Levels are the levels read from the database at each scrape.
type Levels struct {
	OutboxPending   int
	OutboxOldest    time.Duration
	DeadByAuthority map[string]int
	OverdueByKind   map[string]int
}

// LevelsFunc reads the levels; ctx carries the scrape's timeout.
type LevelsFunc func(ctx context.Context) (Levels, error)

// ConnectionFunc reports one broker connection's state.
type ConnectionFunc func() (up, blocked bool)

// Metrics are one hub process's metrics. Its methods are safe for concurrent use; a nil *Metrics
// records nothing.
type Metrics struct {
	registry *prometheus.Registry

	intake         *prometheus.CounterVec
	intakeRefused  *prometheus.CounterVec
	signatures     *prometheus.CounterVec
	publishConfirm *prometheus.HistogramVec
	published      *prometheus.CounterVec
	attempts       *prometheus.CounterVec
	attemptSeconds *prometheus.HistogramVec
	deadLettered   *prometheus.CounterVec
	reconciled     *prometheus.CounterVec
	sinkKept       *prometheus.CounterVec

	state *stateCollector
}

// New returns Metrics with their own registry, holding the hub's collectors, the Go runtime's and
// the process's, and appealhub_build_info.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_intake_submissions_total",
			Help: "Submissions answered at POST /v1/appeals, by outcome (accepted, replayed, refused, unavailable).",
		}, []string{"outcome"}),
		intakeRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_intake_refusals_total",
			Help: "Submissions refused at intake, by problem code.",
		}, []string{"code"}),
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_signature_verifications_total",
			Help: "Citizens' signatures verified at intake, by result (valid, a refusal's problem code, or error).",
		}, []string{"result"}),
		publishConfirm: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "appealhub_publish_confirm_seconds",
			Help:    "Time from publishing a batch of outbox messages to the broker's confirms, by stream.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"stream"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_published_messages_total",
			Help: "Outbox messages published, by stream and result (confirmed, failed).",
		}, []string{"stream", "result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_delivery_attempts_total",
			Help: "Delivery attempts to authorities' systems, by authority code and outcome.",
		}, []string{"authority", "outcome"}),
		attemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "appealhub_delivery_duration_seconds",
			Help:    "Duration of one delivery attempt (encoding and sending), by authority code.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"authority"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_dead_lettered_messages_total",
			Help: "Broker messages rejected to the dead-letter queue (unreadable or unknown), by authority code.",
		}, []string{"authority"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_reconciled_total",
			Help: "Deliveries in transit sent again for the same attempt, by reason (lost_after_publish, no_outbox_row, claim_stuck, redelivery_limit, dead_lettered, unroutable).",
		}, []string{"reason"}),
		sinkKept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "appealhub_sink_letters_kept_total",
			Help: "Messages taken from hub.dead or hub.unroutable that were no delivery in transit, kept in the database, by sink (dead, unroutable).",
		}, []string{"sink"}),
		state: newStateCollector(),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "appealhub_build_info",
		Help: "Always 1; the labels tell the hub's version and the Go version it was built with.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version(), runtime.Version()).Set(1)
	m.registry.MustRegister(m.intake, m.intakeRefused, m.signatures, m.publishConfirm, m.published, m.attempts,
		m.attemptSeconds, m.deadLettered, m.reconciled, m.sinkKept, m.state, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// version is the main module's version ("(devel)" for a build from a checkout).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError,
		Timeout: 2 * LevelsTimeout})
}

// Registry is the registry the handler serves (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Intake counts one answer of intake; code is the problem code of a refusal ("" otherwise).
func (m *Metrics) Intake(outcome, code string) {
	if m == nil {
		return
	}
	m.intake.WithLabelValues(outcome).Inc()
	if outcome == IntakeRefused && code != "" {
		m.intakeRefused.WithLabelValues(code).Inc()
	}
}

// SignatureVerified counts one signature verification with its result.
func (m *Metrics) SignatureVerified(result string) {
	if m == nil {
		return
	}
	m.signatures.WithLabelValues(result).Inc()
}

// Published records one published batch of a stream: how long the confirms took, and how many of
// its messages were confirmed and how many failed.
func (m *Metrics) Published(stream string, took time.Duration, confirmed, failed int) {
	if m == nil {
		return
	}
	m.publishConfirm.WithLabelValues(stream).Observe(took.Seconds())
	m.published.WithLabelValues(stream, "confirmed").Add(float64(confirmed))
	m.published.WithLabelValues(stream, "failed").Add(float64(failed))
}

// DeliveryAttempt records one delivery attempt to authority's system.
func (m *Metrics) DeliveryAttempt(authority, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	a := AuthorityLabel(authority)
	m.attempts.WithLabelValues(a, outcome).Inc()
	if outcome != DeliveryCircuitOpen {
		m.attemptSeconds.WithLabelValues(a).Observe(took.Seconds())
	}
}

// DeadLettered counts one message rejected to the dead-letter queue of authority's queue.
func (m *Metrics) DeadLettered(authority string) {
	if m == nil {
		return
	}
	m.deadLettered.WithLabelValues(AuthorityLabel(authority)).Inc()
}

// Reconciled counts one delivery the reconciler sent again; reason is a fixed word.
func (m *Metrics) Reconciled(reason string) {
	if m == nil {
		return
	}
	m.reconciled.WithLabelValues(reason).Inc()
}

// SinkLetterKept counts one message of a sink queue (sink is "dead" or "unroutable") kept in the
// database because it was no delivery in transit.
func (m *Metrics) SinkLetterKept(sink string) {
	if m == nil {
		return
	}
	m.sinkKept.WithLabelValues(sink).Inc()
}

// AddConnection reports a broker connection (name is a fixed word, e.g. delivery_publish) as
// appealhub_broker_connection_up and appealhub_broker_connection_blocked, read at each scrape.
func (m *Metrics) AddConnection(name string, state ConnectionFunc) {
	if m == nil {
		return
	}
	m.state.mu.Lock()
	defer m.state.mu.Unlock()
	m.state.conns = append(m.state.conns, namedConn{name: name, state: state})
}

// SetLevels sets how the levels are read from the database at each scrape.
func (m *Metrics) SetLevels(read LevelsFunc) {
	if m == nil {
		return
	}
	m.state.mu.Lock()
	defer m.state.mu.Unlock()
	m.state.levels = read
}

// AuthorityLabel returns code when it is an 8-digit authority code, else "other": a label value
// never carries anything unbounded.
func AuthorityLabel(code string) string {
	if len(code) != 8 {
		return "other"
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return "other"
		}
	}
	return code
}

// stateCollector reads, at each scrape, the broker connections and the database levels.
type stateCollector struct {
	mu     sync.Mutex
	conns  []namedConn
	levels LevelsFunc

	up, blocked, pending, oldest, dead, overdue, levelsOK *prometheus.Desc
}

type namedConn struct {
	name  string
	state ConnectionFunc
}

func newStateCollector() *stateCollector {
	return &stateCollector{
		up: prometheus.NewDesc("appealhub_broker_connection_up",
			"1 while the broker connection (or group of connections) is open, else 0.", []string{"connection"}, nil),
		blocked: prometheus.NewDesc("appealhub_broker_connection_blocked",
			"1 while the broker blocks the connection (memory or disk alarm), else 0.", []string{"connection"}, nil),
		pending: prometheus.NewDesc("appealhub_outbox_pending_messages",
			"Outbox rows not yet published to the broker.", nil, nil),
		oldest: prometheus.NewDesc("appealhub_outbox_oldest_age_seconds",
			"Age of the oldest pending outbox row (0 when none is pending).", nil, nil),
		dead: prometheus.NewDesc("appealhub_deliveries_dead",
			"Deliveries that ended dead and wait for an operator, by authority code.", []string{"authority"}, nil),
		overdue: prometheus.NewDesc("appealhub_deadlines_overdue",
			"Open due dates past due (deadline breaches), by kind of due date.", []string{"kind"}, nil),
		levelsOK: prometheus.NewDesc("appealhub_levels_read_success",
			"1 when this scrape read the database levels, 0 when it could not (they are left out).", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.blocked, c.pending, c.oldest, c.dead, c.overdue, c.levelsOK} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	conns, read := c.conns, c.levels
	c.mu.Unlock()
	for _, conn := range conns {
		up, blocked := conn.state()
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, bit(up), conn.name)
		ch <- prometheus.MustNewConstMetric(c.blocked, prometheus.GaugeValue, bit(blocked), conn.name)
	}
	if read == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), LevelsTimeout)
	defer cancel()
	l, err := read(ctx)
	ch <- prometheus.MustNewConstMetric(c.levelsOK, prometheus.GaugeValue, bit(err == nil))
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(l.OutboxPending))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, l.OutboxOldest.Seconds())
	for code, n := range l.DeadByAuthority {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(n), AuthorityLabel(code))
	}
	for kind, n := range l.OverdueByKind {
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(n), kind)
	}
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
