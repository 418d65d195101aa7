package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/tracing"
	"appealhub/router"
	"appealhub/schemas"
)

// canaryLoad is how many canary appeals the canary test submits.
const canaryLoad = 50

// canaries are the personal data of the i-th canary appeal, each a unique ASCII string (so that no
// encoder escapes it) that occurs nowhere else.
func canaries(i int) map[string]string {
	return map[string]string{
		"surname":    fmt.Sprintf("Cnrysurname%03dqz", i),
		"name":       fmt.Sprintf("Cnryname%03dqz", i),
		"patronymic": fmt.Sprintf("Cnrypatronymic%03dqz", i),
		"address":    fmt.Sprintf("Cnrystreet %03dqz, Kyiv", i),
		"email":      fmt.Sprintf("cnry.mail%03dqz@example.org", i),
		"phone":      fmt.Sprintf("+380 (77) 9%03d-4%03d", i, i),
		"subject":    fmt.Sprintf("Cnrysubject%03dqz", i),
		"text":       fmt.Sprintf("Cnrytext%03dqz: прошу відремонтувати дорогу.", i),
	}
}

// canarySubmission is the i-th canary appeal to the addressees.
func canarySubmission(t *testing.T, i int, addressees ...string) []byte {
	t.Helper()
	c := canaries(i)
	body, err := json.Marshal(map[string]any{"case_kind": "appeal", "appeal_kind": "complaint", "addressees": addressees,
		"applicant": map[string]any{"surname": c["surname"], "name": c["name"], "patronymic": c["patronymic"],
			"address": c["address"], "email": c["email"], "phone": c["phone"]},
		"subject": c["subject"], "text": c["text"]})
	require.NoError(t, err)
	return body
}

// recordingSink wraps a sandbox system and keeps the headers and bodies of what it received.
type recordingSink struct {
	mu      sync.Mutex
	headers []string
	bodies  []string
}

func (s *recordingSink) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.headers = append(s.headers, fmt.Sprintf("%s %s %v", r.Method, r.URL, r.Header))
		s.bodies = append(s.bodies, string(body))
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// amqpTap is an exclusive queue bound to the hub's delivery and portal exchanges that keeps what
// the hub publishes there.
type amqpTap struct {
	mu       sync.Mutex
	messages []amqp.Delivery
}

func newAMQPTap(t *testing.T, cfg config.Config, codes []string, portals []string) *amqpTap {
	t.Helper()
	names := broker.Names{Prefix: cfg.Broker.Prefix}
	conn, err := amqp.Dial(cfg.Broker.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() }) // the exclusive queue goes with the connection
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	require.NoError(t, err)
	for _, code := range codes {
		require.NoError(t, ch.QueueBind(q.Name, code, names.Deliver(), false, nil))
	}
	for _, client := range portals {
		require.NoError(t, ch.QueueBind(q.Name, client, names.Portal(), false, nil))
	}
	msgs, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	require.NoError(t, err)
	tap := &amqpTap{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range msgs {
			tap.mu.Lock()
			tap.messages = append(tap.messages, m)
			tap.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
	return tap
}

func (a *amqpTap) snapshot() []amqp.Delivery {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]amqp.Delivery(nil), a.messages...)
}

// TestCanaryPersonalDataStaysInTheDocuments: a load of canary appeals (every personal field a
// unique string) to a JSON and an SEV 1207 authority, with some refused submissions carrying
// canaries too, runs with the log at debug level, spans recorded and the hub's AMQP messages
// tapped. No canary appears in any log line, metric, span, AMQP header or property, portal
// notification, refusal answer, or HTTP header sent to an authority; every one appears in the document bodies the
// authorities received, which shows the canaries were there to be found.
func TestCanaryPersonalDataStaysInTheDocuments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const jsonCode, sevCode = "18000001", "18000002"
	sink := &recordingSink{}
	jsonSys, err := sandbox.New(sandbox.Options{Name: "canary-json"}, zap.NewNop())
	require.NoError(t, err)
	sevSys, err := sandbox.New(sandbox.Options{Name: "canary-sev", Format: sandbox.FormatSEV1207}, zap.NewNop())
	require.NoError(t, err)
	jsonSrv, sevSrv := httptest.NewServer(sink.wrap(jsonSys)), httptest.NewServer(sink.wrap(sevSys))
	t.Cleanup(jsonSrv.Close)
	t.Cleanup(sevSrv.Close)
	env := notificationEnv(t, map[string]string{jsonCode: jsonSrv.URL + "/documents/" + jsonCode}, func(c *config.Config) {
		c.Authorities = append(c.Authorities, config.Authority{Code: sevCode, Name: "Authority " + sevCode, Adapter: "sev1207",
			Endpoint: sevSrv.URL + "/documents/" + sevCode, Status: config.AuthorityActive})
	})
	env.TrackAuthorities(t, sevCode)

	exporter := tracetest.NewInMemoryExporter()
	tracer, err := tracing.New(ctx, tracing.Config{SpanExporter: exporter})
	require.NoError(t, err)
	t.Cleanup(func() { _ = tracer.Shutdown(context.Background()) })
	core, logs := observer.New(zapcore.DebugLevel)
	hub := startHubWith(t, env, router.Options{Logger: zap.New(core), Tracer: tracer})
	tap := newAMQPTap(t, env.Config, []string{jsonCode, sevCode}, []string{"portal-test"})
	putSubscription(t, hub.URL, env.Token, schemas.SubscriptionRequest{Mode: schemas.NotifyAMQP})

	for i := range canaryLoad {
		env.MustSubmit(t, hub.URL, fmt.Sprintf("canary-%d", i), canarySubmission(t, i, []string{jsonCode, sevCode}[i%2]))
	}
	// Refusals carrying canaries: a schema violation, a duplicate key, an unknown addressee.
	refused := canaryLoad
	bad := canarySubmission(t, refused, jsonCode)
	var refusals []string
	for i, body := range [][]byte{
		bytes.Replace(bad, []byte(`"case_kind":"appeal"`), []byte(`"case_kind":"petition"`), 1),
		bytes.Replace(bad, []byte(`"subject":`), []byte(`"subject":"x","subject":`), 1),
		canarySubmission(t, refused, "18999999"),
	} {
		resp, err := env.Submit(ctx, hub.URL, fmt.Sprintf("canary-bad-%d", i), body)
		require.NoError(t, err)
		require.GreaterOrEqual(t, resp.Status, 400, string(resp.Body))
		require.Less(t, resp.Status, 500, string(resp.Body))
		refusals = append(refusals, string(resp.Body))
	}
	env.WaitSettled(t, time.Minute)
	waitFor(t, 30*time.Second, "every document received", func() bool {
		return jsonSys.Ledger().Documents+sevSys.Ledger().Documents == canaryLoad
	})
	waitFor(t, 30*time.Second, "every delivery published and tapped", func() bool {
		n := 0
		for _, m := range tap.snapshot() {
			if m.Exchange == (broker.Names{Prefix: env.Config.Broker.Prefix}).Deliver() {
				n++
			}
		}
		return n >= canaryLoad
	})
	waitFor(t, 30*time.Second, "portal notifications published and tapped", func() bool {
		for _, m := range tap.snapshot() {
			if m.Exchange == (broker.Names{Prefix: env.Config.Broker.Prefix}).Portal() {
				return true
			}
		}
		return false
	})
	waitFor(t, 30*time.Second, "every send's span exported", func() bool {
		n := 0
		for _, s := range exporter.GetSpans() {
			if s.Name == "delivery.send" {
				n++
			}
		}
		return n >= canaryLoad
	})

	// Where personal data must never be.
	places := map[string][]string{"refusal": refusals}
	for _, e := range logs.All() {
		line := fmt.Sprintf("%s %s %s %s %v", e.Level, e.LoggerName, e.Message, e.Stack, e.ContextMap())
		places["log"] = append(places["log"], line)
	}
	require.NotEmpty(t, places["log"], "the hub logged")
	resp, err := hubtest.Do(ctx, http.MethodGet, hub.URL+"/metrics", "", nil, nil)
	require.NoError(t, err)
	places["metrics"] = []string{string(resp.Body)}
	for _, s := range exporter.GetSpans() {
		places["span"] = append(places["span"], fmt.Sprintf("%s %v %v %v %v", s.Name, s.Attributes, s.Events, s.Status, s.Links))
	}
	require.NotEmpty(t, places["span"], "the hub recorded spans")
	portalMessages := 0
	for _, m := range tap.snapshot() {
		props := fmt.Sprintf("%v %s %s %s %s %s %s %s %s", m.Headers, m.ContentType, m.CorrelationId, m.MessageId, m.Type,
			m.AppId, m.UserId, m.ReplyTo, m.RoutingKey)
		places["amqp headers"] = append(places["amqp headers"], props)
		if m.Exchange == (broker.Names{Prefix: env.Config.Broker.Prefix}).Portal() {
			portalMessages++
			places["portal notification"] = append(places["portal notification"], string(m.Body))
		}
	}
	require.Positive(t, portalMessages, "the portal stream was tapped")
	sink.mu.Lock()
	places["http headers to authorities"] = append([]string(nil), sink.headers...)
	bodies := strings.Join(sink.bodies, "\n")
	sink.mu.Unlock()

	for i := 0; i <= refused; i++ {
		for field, canary := range canaries(i) {
			for place, texts := range places {
				for _, text := range texts {
					require.NotContains(t, text, canary, "canary %s of appeal %d in the %s", field, i, place)
				}
			}
			if i < canaryLoad && field != "phone" && field != "text" {
				require.Contains(t, bodies, canary, "canary %s of appeal %d in the documents delivered", field, i)
			}
		}
	}
}
