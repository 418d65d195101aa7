package chaos

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// metricsHub serves body as a hub's /metrics and returns a HubProcess pointing at it.
func metricsHub(t *testing.T, body string) *HubProcess {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return &HubProcess{Name: "hub", Addr: strings.TrimPrefix(srv.URL, "http://")}
}

func TestMetricSamplesNet(t *testing.T) {
	h := metricsHub(t, `# HELP appealhub_broker_connection_up 1 while open.
# TYPE appealhub_broker_connection_up gauge
appealhub_broker_connection_up{connection="publish"} 1
appealhub_broker_connection_up{connection="consume"} 0
appealhub_broker_connection_up_other 7
appealhub_broker_connection_blocked{connection="publish"} 0
`)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	got, err := metricSamples(context.Background(), client, h, "appealhub_broker_connection_up")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{`{connection="publish"}`: 1, `{connection="consume"}`: 0}
	if len(got) != len(want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("samples %v, want %v", got, want)
		}
	}
}

func TestSlowPublishesNet(t *testing.T) {
	// Two streams on one hub, one on another: 3 + 1 batches above the 10 s bucket, 12 + 4 in all.
	a := metricsHub(t, `appealhub_publish_confirm_seconds_bucket{stream="delivery",le="5"} 9
appealhub_publish_confirm_seconds_bucket{stream="delivery",le="10"} 9
appealhub_publish_confirm_seconds_bucket{stream="delivery",le="+Inf"} 12
appealhub_publish_confirm_seconds_bucket{stream="portal",le="10"} 0
appealhub_publish_confirm_seconds_bucket{stream="portal",le="+Inf"} 0
appealhub_publish_confirm_seconds_sum{stream="delivery"} 80.5
appealhub_publish_confirm_seconds_count{stream="delivery"} 12
`)
	b := metricsHub(t, `appealhub_publish_confirm_seconds_bucket{stream="delivery",le="10"} 3
appealhub_publish_confirm_seconds_bucket{stream="delivery",le="+Inf"} 4
`)
	slow, total, err := slowPublishes(context.Background(), []*HubProcess{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if slow != 4 || total != 16 {
		t.Fatalf("slow %d of %d, want 4 of 16", slow, total)
	}
}
