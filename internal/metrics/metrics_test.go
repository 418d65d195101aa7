package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/internal/metrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	srv.CloseClientConnections()
	return families
}

// series returns the value of the one series of name with exactly labels, and whether it exists.
func series(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		if len(have) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func requireSeries(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := series(families, name, labels)
	require.True(t, ok, "%s%v missing", name, labels)
	require.Equal(t, want, got, "%s%v", name, labels)
}

func TestRecordedValues(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Intake(metrics.IntakeAccepted, "")
	m.Intake(metrics.IntakeAccepted, "")
	m.Intake(metrics.IntakeRefused, "validation_failed")
	m.SignatureVerified("valid")
	m.Published("delivery", 3*time.Millisecond, 4, 1)
	m.DeliveryAttempt("12345678", metrics.DeliveryDelivered, 20*time.Millisecond)
	m.DeliveryAttempt("12345678", metrics.DeliveryCircuitOpen, 0)
	m.DeliveryAttempt("0190a7c2-uuid-like", metrics.DeliveryRetry, time.Second)
	m.DeadLettered("12345678")
	m.SinkLetterKept("dead")
	m.AddConnection("publish", func() (bool, bool) { return true, true })
	m.SetLevels(func(context.Context) (metrics.Levels, error) {
		return metrics.Levels{OutboxPending: 3, OutboxOldest: 1500 * time.Millisecond,
			DeadByAuthority: map[string]int{"12345678": 2}, OverdueByKind: map[string]int{"answer": 1}}, nil
	})

	f := scrape(t, m)
	requireSeries(t, f, "appealhub_intake_submissions_total", map[string]string{"outcome": "accepted"}, 2)
	requireSeries(t, f, "appealhub_intake_refusals_total", map[string]string{"code": "validation_failed"}, 1)
	requireSeries(t, f, "appealhub_signature_verifications_total", map[string]string{"result": "valid"}, 1)
	requireSeries(t, f, "appealhub_publish_confirm_seconds", map[string]string{"stream": "delivery"}, 1)
	requireSeries(t, f, "appealhub_published_messages_total", map[string]string{"stream": "delivery", "result": "failed"}, 1)
	requireSeries(t, f, "appealhub_delivery_attempts_total", map[string]string{"authority": "12345678", "outcome": "delivered"}, 1)
	requireSeries(t, f, "appealhub_delivery_attempts_total", map[string]string{"authority": "other", "outcome": "retry"}, 1)
	requireSeries(t, f, "appealhub_delivery_duration_seconds", map[string]string{"authority": "12345678"}, 1) // circuit_open not timed
	requireSeries(t, f, "appealhub_dead_lettered_messages_total", map[string]string{"authority": "12345678"}, 1)
	requireSeries(t, f, "appealhub_sink_letters_kept_total", map[string]string{"sink": "dead"}, 1)
	requireSeries(t, f, "appealhub_broker_connection_up", map[string]string{"connection": "publish"}, 1)
	requireSeries(t, f, "appealhub_broker_connection_blocked", map[string]string{"connection": "publish"}, 1)
	requireSeries(t, f, "appealhub_outbox_pending_messages", nil, 3)
	requireSeries(t, f, "appealhub_outbox_oldest_age_seconds", nil, 1.5)
	requireSeries(t, f, "appealhub_deliveries_dead", map[string]string{"authority": "12345678"}, 2)
	requireSeries(t, f, "appealhub_deadlines_overdue", map[string]string{"kind": "answer"}, 1)
	requireSeries(t, f, "appealhub_levels_read_success", nil, 1)
	require.Len(t, f["appealhub_build_info"].GetMetric(), 1)
}

// TestScrapeDoesNotWaitForAnUnreachableDatabase: a levels read that does not answer is cut off at
// LevelsTimeout; the scrape answers with everything else and levels_read_success 0.
func TestScrapeDoesNotWaitForAnUnreachableDatabase(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.Intake(metrics.IntakeAccepted, "")
	m.SetLevels(func(ctx context.Context) (metrics.Levels, error) {
		<-ctx.Done() // a database that never answers
		return metrics.Levels{}, errors.Join(errors.New("read levels"), ctx.Err())
	})
	f := scrape(t, m)
	requireSeries(t, f, "appealhub_levels_read_success", nil, 0)
	requireSeries(t, f, "appealhub_intake_submissions_total", map[string]string{"outcome": "accepted"}, 1)
	require.NotContains(t, f, "appealhub_outbox_pending_messages")
}

func TestAuthorityLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"12345678": "12345678", "1234567": "other", "123456789": "other", "1234567a": "other",
		"": "other", "ZV-2026-00000001": "other",
	} {
		require.Equal(t, want, metrics.AuthorityLabel(in), in)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.Intake(metrics.IntakeAccepted, "")
	m.SignatureVerified("valid")
	m.Published("delivery", time.Millisecond, 1, 0)
	m.DeliveryAttempt("12345678", metrics.DeliveryDead, time.Millisecond)
	m.DeadLettered("12345678")
	m.AddConnection("publish", nil)
	m.SetLevels(nil)
}
