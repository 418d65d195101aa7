package router_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/hubtest"
	"appealhub/internal/signature/signaturetest"
	"appealhub/internal/store"
	"appealhub/internal/tracing"
	"appealhub/router"
	"appealhub/schemas"
)

// scrape reads hubURL/metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, hubURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hubURL+"/metrics", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(resp.Body))
	require.NoError(t, err, "the metrics must parse")
	return families
}

// value is the value of the series of family name whose labels include labels (counter, gauge or
// a histogram's sample count), 0 when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

var (
	uuidLike     = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-`)
	trackingLike = regexp.MustCompile(`Z[VI]-\d{4}-`)
	// The label names of the hub's metrics and what their values may be.
	boundedLabels = map[string]*regexp.Regexp{
		"outcome":    regexp.MustCompile(`^(accepted|replayed|refused|unavailable|delivered|sent|retry|dead|circuit_open)$`),
		"code":       regexp.MustCompile(`^[a-z_]{1,40}$`),
		"result":     regexp.MustCompile(`^[a-z_]{1,40}$`),
		"stream":     regexp.MustCompile(`^(delivery|portal)$`),
		"authority":  regexp.MustCompile(`^(\d{8}|other)$`),
		"connection": regexp.MustCompile(`^(publish|consume|portal_publish|portal_consume)$`),
		"kind":       regexp.MustCompile(`^(answer|forward|extension_notice|delivery_notice)$`),
		"version":    regexp.MustCompile(`^.{1,64}$`),
		"goversion":  regexp.MustCompile(`^go`),
	}
)

// requireBoundedLabels checks every label of the hub's own series: a known name, a bounded value,
// and never anything that looks like a case, delivery or tracking number.
func requireBoundedLabels(t *testing.T, families map[string]*dto.MetricFamily) {
	t.Helper()
	for name, f := range families {
		if !strings.HasPrefix(name, "appealhub_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotRegexp(t, uuidLike, l.GetValue(), "%s{%s}", name, l.GetName())
				require.NotRegexp(t, trackingLike, l.GetValue(), "%s{%s}", name, l.GetName())
				re, ok := boundedLabels[l.GetName()]
				require.True(t, ok, "%s has an unexpected label %q", name, l.GetName())
				require.Regexp(t, re, l.GetValue(), "%s{%s}", name, l.GetName())
			}
		}
	}
}

// TestMetricsEndToEnd: submissions delivered to a sandbox move the counters of intake, signature
// verification, publishing and delivery; the database levels and broker connections are reported;
// every series' labels are bounded and the output parses.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	p := signaturetest.New(t)
	sys := newSystem(t, "metrics", sandboxOptions())
	a, b := validCode("3303001"), validCode("3303002")
	env := hubtest.NewEnv(t, map[string]string{a: sys.endpoint(a), b: sys.endpoint(b)}, func(c *config.Config) {
		c.Signatures.TrustDir = p.Path("trust")
		c.Signatures.Policy.Appeal = config.SignaturePolicyOptional
	})
	hub := env.Start(t)
	before := scrape(t, hub.URL)
	require.Equal(t, 1.0, value(before, "appealhub_build_info", nil))

	for i := range 4 {
		env.MustSubmit(t, hub.URL, fmt.Sprintf("m%d", i), hubtest.Submission(i, 512, []string{a, b}[i%2]))
	}
	env.MustSubmit(t, hub.URL, "m0", hubtest.Submission(0, 512, a)) // a replay
	resp, err := env.Submit(context.Background(), hub.URL, "bad", []byte(`{"case_kind":"appeal"}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.Status)
	text := "Прошу перевірити."
	env.MustSubmit(t, hub.URL, "signed", signedSubmission(t, text, nil,
		[]schemas.Signature{cades("text", p.Sign(t, "rsa", []byte(text)))}, b))
	resp, err = env.Submit(context.Background(), hub.URL, "forged", signedSubmission(t, text, nil,
		[]schemas.Signature{cades("text", p.Sign(t, "rsa", []byte("another text")))}, b))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
	env.WaitSettled(t, 30*time.Second)

	after := scrape(t, hub.URL)
	delta := func(name string, labels map[string]string) float64 {
		return value(after, name, labels) - value(before, name, labels)
	}
	require.Equal(t, 5.0, delta("appealhub_intake_submissions_total", map[string]string{"outcome": "accepted"}))
	require.Equal(t, 1.0, delta("appealhub_intake_submissions_total", map[string]string{"outcome": "replayed"}))
	require.Equal(t, 2.0, delta("appealhub_intake_submissions_total", map[string]string{"outcome": "refused"}))
	require.Equal(t, 1.0, delta("appealhub_signature_verifications_total", map[string]string{"result": "valid"}))
	require.Equal(t, 1.0, delta("appealhub_signature_verifications_total", nil)-
		delta("appealhub_signature_verifications_total", map[string]string{"result": "valid"}), "one forged signature")
	require.Equal(t, 2.0, delta("appealhub_delivery_attempts_total", map[string]string{"authority": a, "outcome": "delivered"}))
	require.Equal(t, 3.0, delta("appealhub_delivery_attempts_total", map[string]string{"authority": b, "outcome": "delivered"}))
	require.Equal(t, 5.0, delta("appealhub_delivery_duration_seconds", nil))
	require.Positive(t, delta("appealhub_publish_confirm_seconds", map[string]string{"stream": "delivery"}))
	require.Equal(t, 5.0, delta("appealhub_published_messages_total", map[string]string{"stream": "delivery", "result": "confirmed"}))
	require.Equal(t, 1.0, value(after, "appealhub_levels_read_success", nil))
	require.Contains(t, after, "appealhub_outbox_pending_messages")
	require.Contains(t, after, "appealhub_outbox_oldest_age_seconds")
	for _, conn := range []string{"publish", "consume", "portal_publish", "portal_consume"} {
		require.Equal(t, 1.0, value(after, "appealhub_broker_connection_up", map[string]string{"connection": conn}), conn)
		require.Equal(t, 0.0, value(after, "appealhub_broker_connection_blocked", map[string]string{"connection": conn}), conn)
	}
	require.Contains(t, after, "go_goroutines")
	requireBoundedLabels(t, after)
}

// TestTraceFollowsTheCase: the portal's traceparent is continued by the spans of intake, publish
// and delivery (one trace), carried in the AMQP message to the delivery worker, sent to the
// authority's system, and written in the log lines of intake and delivery as trace_id.
func TestTraceFollowsTheCase(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "traced", sandboxOptions())
	var mu sync.Mutex
	var received []string
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.Header.Get("traceparent"))
		mu.Unlock()
		sys.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(recorder.Close)
	code := validCode("3303003")
	env := hubtest.NewEnv(t, map[string]string{code: recorder.URL + "/documents/" + code}, nil)

	exporter := tracetest.NewInMemoryExporter()
	tracer, err := tracing.New(context.Background(), tracing.Config{SpanExporter: exporter})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tracer.Shutdown(context.Background()) })
	core, logs := observer.New(zapcore.InfoLevel)
	hub := startHubWith(t, env, router.Options{Logger: zap.New(core), Tracer: tracer})

	const traceID, portalSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", "traced")
	h.Set("traceparent", "00-"+traceID+"-"+portalSpan+"-01")
	resp, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/appeals", env.Token, h, hubtest.Submission(1, 512, code))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	env.WaitSettled(t, 30*time.Second)

	spans := map[string]tracetest.SpanStub{}
	require.Eventually(t, func() bool {
		for _, s := range exporter.GetSpans() {
			spans[s.Name] = s
		}
		return len(spans) >= 4
	}, 10*time.Second, 10*time.Millisecond, "spans: %v", spans)
	for _, name := range []string{"appeal.intake", "outbox.publish", "delivery.process", "delivery.send"} {
		require.Contains(t, spans, name)
		require.Equal(t, traceID, spans[name].SpanContext.TraceID().String(), name)
	}
	parent := func(name string) string { return spans[name].Parent.SpanID().String() }
	id := func(name string) string { return spans[name].SpanContext.SpanID().String() }
	require.Equal(t, portalSpan, parent("appeal.intake"))
	require.Equal(t, id("appeal.intake"), parent("outbox.publish"), "the relay continues the trace stored with the case")
	require.Equal(t, id("outbox.publish"), parent("delivery.process"), "the AMQP message carried the publish span's traceparent")
	require.Equal(t, id("delivery.process"), parent("delivery.send"))
	require.True(t, spans["delivery.process"].Parent.IsRemote())

	mu.Lock()
	require.Equal(t, []string{"00-" + traceID + "-" + id("delivery.send") + "-01"}, received,
		"the authority's system receives the send span's traceparent")
	mu.Unlock()

	for _, msg := range []string{"submission accepted", "delivery sent"} {
		entries := logs.FilterMessage(msg).AllUntimed()
		require.Len(t, entries, 1, msg)
		require.Equal(t, traceID, entries[0].ContextMap()["trace_id"], msg)
	}
}

// startHubWith starts a hub of env with opts (random port), stopped when the test ends.
func startHubWith(t *testing.T, env *hubtest.Env, opts router.Options) *hubtest.Hub {
	t.Helper()
	opts.AuthoritySync = 200 * time.Millisecond
	h, err := router.New(context.Background(), env.Config, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Stop(ctx)
	})
	require.NoError(t, h.Start(context.Background()))
	hub := &hubtest.Hub{Hub: h, URL: "http://" + h.Addr()}
	hubtest.WaitReady(t, hub.URL)
	return hub
}

// TestReadyzFailsOnBrokerAndSchema: /readyz lists every check, the portal notifications' broker
// connections included, and fails while a broker connection is blocked or down or the database
// schema is behind the binary; /livez answers for the process alone all along.
func TestReadyzFailsOnBrokerAndSchema(t *testing.T) {
	t.Parallel()
	env := hubtest.NewEnv(t, nil, nil)
	hub := env.Start(t)
	ctx := context.Background()
	readyz := func(t *testing.T) hubtest.Response {
		t.Helper()
		resp, err := hubtest.Do(ctx, http.MethodGet, hub.URL+"/readyz?verbose", "", nil, nil)
		require.NoError(t, err)
		return resp
	}
	livez := func(t *testing.T) {
		t.Helper()
		resp, err := hubtest.Do(ctx, http.MethodGet, hub.URL+"/livez", "", nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status)
	}

	resp := readyz(t)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	for _, check := range []string{"database", "schema", "broker_publish", "broker_consume", "broker_portal_publish",
		"broker_portal_consume", "subscriptions"} {
		require.Contains(t, string(resp.Body), "[+]"+check+" ok", check)
	}
	require.Contains(t, string(resp.Body), "readyz check passed\n")

	for _, name := range []string{"broker_consume", "broker_portal_publish"} {
		t.Run("blocked "+name, func(t *testing.T) {
			hub.OverrideBrokerStatus(func(n string, st broker.Status) broker.Status {
				if n == name {
					st.Blocked = true
				}
				return st
			})
			defer hub.OverrideBrokerStatus(nil)
			resp := readyz(t)
			require.Equal(t, http.StatusServiceUnavailable, resp.Status)
			require.Contains(t, string(resp.Body), "[-]"+name+" failed: broker_blocked\n")
			require.Contains(t, string(resp.Body), "readyz check failed\n")
			families := scrape(t, hub.URL)
			conn := strings.TrimPrefix(name, "broker_")
			require.Equal(t, 1.0, value(families, "appealhub_broker_connection_blocked", map[string]string{"connection": conn}))
			livez(t)
		})
	}
	require.Equal(t, http.StatusOK, readyz(t).Status, "ready again once unblocked")

	t.Run("schema behind", func(t *testing.T) {
		hub.OverrideSchemaCheck(func(context.Context) error {
			return fmt.Errorf("%w: database at version 1, binary needs 2: run `appealhub migrate`", store.ErrSchemaOutdated)
		})
		resp := readyz(t)
		require.Equal(t, http.StatusServiceUnavailable, resp.Status)
		require.Contains(t, string(resp.Body), "[-]schema failed: ")
		require.Contains(t, string(resp.Body), "appealhub migrate")
		hub.OverrideSchemaCheck(nil)
		require.Equal(t, http.StatusOK, readyz(t).Status)
		livez(t)
	})

	t.Run("portal publisher down", func(t *testing.T) {
		require.NoError(t, hub.StopPortalPublisher(ctx))
		resp := readyz(t)
		require.Equal(t, http.StatusServiceUnavailable, resp.Status)
		require.Contains(t, string(resp.Body), "[-]broker_portal_publish failed: not connected")
		families := scrape(t, hub.URL)
		require.Equal(t, 0.0, value(families, "appealhub_broker_connection_up", map[string]string{"connection": "portal_publish"}))
		require.Equal(t, 1.0, value(families, "appealhub_broker_connection_up", map[string]string{"connection": "publish"}))
		livez(t)
	})
}
