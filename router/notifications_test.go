package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/router/notify"
	"appealhub/schemas"
)

// portalWebhook is a portal's webhook endpoint: it verifies each request as docs/notifications.md
// tells portals to (signature and timestamp) and records the notifications it accepted. While
// failing is set it answers 503 without recording.
type portalWebhook struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	secret   []byte
	failing  bool
	got      []schemas.PortalEvent
	refused  int // requests answered 503
	unsigned int // requests whose signature did not verify
}

func newPortalWebhook(t *testing.T) *portalWebhook {
	t.Helper()
	w := &portalWebhook{t: t}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if err := notify.Verify(w.secret, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body,
			time.Now(), notify.DefaultTolerance); err != nil {
			w.unsigned++
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		if w.failing {
			w.refused++
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var e schemas.PortalEvent
		if err := json.Unmarshal(body, &e); err != nil || e.Format != schemas.NotificationFormat ||
			r.Header.Get(notify.HeaderEventID) != fmt.Sprint(e.EventID) {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		w.got = append(w.got, e)
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *portalWebhook) setSecret(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secret = []byte(s)
}

func (w *portalWebhook) setFailing(f bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failing = f
}

func (w *portalWebhook) received() []schemas.PortalEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// statesOf returns the states a delivery's notifications showed, in the order received.
func statesOf(events []schemas.PortalEvent, deliveryID string) []schemas.PortalState {
	var out []schemas.PortalState
	for _, e := range events {
		if e.DeliveryID == deliveryID {
			out = append(out, e.State)
		}
	}
	return out
}

// notificationEnv is a hub environment whose portal client may register a webhook on loopback
// HTTP, with fast sealing; its portal queue is deleted when the test ends.
func notificationEnv(t *testing.T, authorities map[string]string, configure func(*config.Config)) *hubtest.Env {
	t.Helper()
	env := hubtest.NewEnv(t, authorities, func(c *config.Config) {
		c.Audit.SealInterval = 10 * time.Millisecond
		c.Notifications.AllowLoopbackHTTP = true
		if configure != nil {
			configure(c)
		}
	})
	clients := []string{}
	for _, c := range env.Config.Clients {
		if c.Kind == config.ClientPortal {
			clients = append(clients, c.ID)
		}
	}
	brokertest.TrackPortal(t, broker.Config{Names: broker.Names{Prefix: env.Config.Broker.Prefix}}, clients...)
	return env
}

func putSubscription(t *testing.T, hubURL, token string, req schemas.SubscriptionRequest) schemas.Subscription {
	t.Helper()
	body, err := json.Marshal(req)
	require.NoError(t, err)
	resp, err := hubtest.Do(context.Background(), http.MethodPut, hubURL+"/v1/notifications", token,
		http.Header{"Content-Type": {"application/json"}}, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var s schemas.Subscription
	require.NoError(t, json.Unmarshal(resp.Body, &s))
	return s
}

// waitUntil polls cond until it holds; past a minute it fails, with what explain says of the state
// of things (when given).
func waitUntil(t *testing.T, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			var state []string
			for _, e := range explain {
				state = append(state, e())
			}
			t.Fatalf("%s: not within a minute; %v", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caseState describes a case's deliveries and notifications, for a failure message.
func caseState(t *testing.T, env *hubtest.Env, caseID string) func() string {
	return func() string {
		ctx := context.Background()
		c, err := env.Store.Case(ctx, "portal-test", caseID)
		if err != nil {
			return fmt.Sprintf("case: %v", err)
		}
		var events []string
		for _, e := range c.Events {
			events = append(events, fmt.Sprintf("%d:%s/%s", e.Seq, e.Type, e.Status))
		}
		list, _ := env.Store.Notifications(ctx, caseID)
		unsealed, _ := env.Store.UnsealedEvents(ctx)
		cursor, _ := env.Store.NotificationCursor(ctx)
		return fmt.Sprintf("events %v; notifications %+v; %d events unsealed; notification cursor %d", events, list, unsealed, cursor)
	}
}

// TestPortalWebhookEndToEnd: two hub processes; the portal registers a webhook; a submission is
// delivered to a sandbox office, which registers it. The webhook receives, signed, the case's
// acceptance and its delivery's sent, delivered and registered exactly once each, in that order,
// with increasing event ids; the events API and the citizen's tracking show the same timeline.
func TestPortalWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	const code, systemToken = "15000001", "system-token"
	office := httptest.NewUnstartedServer(nil)
	t.Cleanup(office.Close)
	env := notificationEnv(t, map[string]string{code: "http://" + office.Listener.Addr().String() + "/documents/" + code}, func(c *config.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: "sandbox-system", Kind: config.ClientAuthority, Authority: code, TokenSHA256: sha256Hex(systemToken)})
	})
	hub := env.Start(t)
	env.Start(t) // a second process: its notifier, relay and webhook worker compete for the same work
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	sb, err := sandbox.New(sandbox.Options{Name: "office", Hub: hub.URL, Code: code, HubToken: systemToken,
		RegisterAfter: 20 * time.Millisecond, AnswerAfter: time.Hour}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	office.Config.Handler = sb
	office.Start()
	t.Cleanup(func() { require.NoError(t, sb.Close()) })

	hook := newPortalWebhook(t)
	sub := putSubscription(t, hub.URL, env.Token, schemas.SubscriptionRequest{Mode: schemas.NotifyWebhook, URL: hook.srv.URL + "/events"})
	require.Regexp(t, `^whsec_`, sub.Secret)
	hook.setSecret(sub.Secret)

	receipt := env.MustSubmit(t, hub.URL, "webhook-1", hubtest.Submission(1, 1024, code))
	require.Len(t, receipt.AccessCode, schemas.AccessCodeLength)
	var deliveryID string
	waitUntil(t, "the webhook gets registered", func() bool {
		got := hook.received()
		if len(got) == 0 {
			return false
		}
		for _, e := range got {
			if e.DeliveryID != "" {
				deliveryID = e.DeliveryID
			}
		}
		return slices.Contains(statesOf(got, deliveryID), schemas.PortalRegistered)
	}, caseState(t, env, receipt.ID), func() string { return fmt.Sprintf("webhook got %+v", hook.received()) })
	waitUntil(t, "every notification delivered", func() bool {
		list, err := env.Store.Notifications(context.Background(), receipt.ID)
		require.NoError(t, err)
		for _, n := range list {
			if n.Status != schemas.NotificationDelivered {
				return false
			}
		}
		return len(list) == 4
	}, caseState(t, env, receipt.ID))

	got := hook.received()
	require.Equal(t, []schemas.PortalState{schemas.PortalSent, schemas.PortalDelivered, schemas.PortalRegistered},
		statesOf(got, deliveryID), "each once, in order")
	require.Len(t, got, 4, "and the acceptance of the case")
	var last int64
	for _, e := range got {
		require.Equal(t, receipt.ID, e.CaseID)
		require.Equal(t, receipt.TrackingNumber, e.TrackingNumber)
		require.NotEmpty(t, e.Label)
		if e.DeliveryID != "" {
			require.Greater(t, e.EventID, last, "a delivery's events arrive by increasing id")
			last = e.EventID
			require.Equal(t, code, e.Authority)
		}
	}
	hook.mu.Lock()
	require.Zero(t, hook.unsigned)
	hook.mu.Unlock()

	// The events API shows the same timeline.
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+receipt.ID+"/events", env.Token, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var page struct {
		Events []schemas.PortalEvent `json:"events"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &page))
	var apiIDs, hookIDs []int64
	for _, e := range page.Events {
		apiIDs = append(apiIDs, e.EventID)
	}
	for _, e := range got {
		hookIDs = append(hookIDs, e.EventID)
	}
	slices.Sort(hookIDs)
	require.Equal(t, hookIDs, apiIDs, "the notifications are the timeline's entries")

	// The citizen follows the case with the access code, and sees no personal data.
	resp, err = hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/track/"+receipt.TrackingNumber+"?code="+receipt.AccessCode, "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var tr schemas.Tracking
	require.NoError(t, json.Unmarshal(resp.Body, &tr))
	require.Len(t, tr.Events, 4)
	require.Equal(t, schemas.PortalRegistered, tr.Events[3].State)
	require.NotContains(t, string(resp.Body), receipt.ID, "no case id")
	for _, personal := range []string{"Тестенко", "Марія", "testenko", "Звернення", "surname"} {
		require.NotContains(t, string(resp.Body), personal)
	}
}

// TestPortalWebhookRetriesDeadAndRedrive: a webhook that answers 503 gets retries with backoff
// and, after the last attempt, the notification is dead and the later ones of its delivery wait;
// redriven once the webhook is fixed, it and the ones after it arrive in order.
func TestPortalWebhookRetriesDeadAndRedrive(t *testing.T) {
	t.Parallel()
	const code = "15000002"
	office := httptest.NewServer(mustSandbox(t))
	t.Cleanup(office.Close)
	env := notificationEnv(t, map[string]string{code: office.URL + "/documents/" + code}, func(c *config.Config) {
		c.Delivery.MaxAttempts = 3
		c.Delivery.BackoffBase = 20 * time.Millisecond
		c.Delivery.BackoffMax = 50 * time.Millisecond
		c.Delivery.BreakerFailures = 100
	})
	hub := env.Start(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	hook := newPortalWebhook(t)
	hook.setFailing(true)
	sub := putSubscription(t, hub.URL, env.Token, schemas.SubscriptionRequest{Mode: schemas.NotifyWebhook, URL: hook.srv.URL})
	hook.setSecret(sub.Secret)

	receipt := env.MustSubmit(t, hub.URL, "dead-1", hubtest.Submission(1, 1024, code))
	var dead []schemas.NotificationRecord
	waitUntil(t, "the first notification of each stream is dead", func() bool {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/notifications/dead", env.Token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var body struct {
			Notifications []schemas.NotificationRecord `json:"notifications"`
		}
		require.NoError(t, json.Unmarshal(resp.Body, &body))
		dead = body.Notifications
		return len(dead) == 2 // the case's acceptance, and its delivery's "sent"
	}, caseState(t, env, receipt.ID))
	for _, n := range dead {
		require.Equal(t, 3, n.Attempts)
		require.Equal(t, "gave up after 3 attempts: the webhook answered 503 Service Unavailable", n.LastError)
	}
	hook.mu.Lock()
	require.Equal(t, 6, hook.refused, "three attempts each, and nothing else: the delivery's later events wait")
	hook.mu.Unlock()
	var list []schemas.NotificationRecord
	waitUntil(t, "accepted, sent and delivered notified", func() bool {
		var err error
		list, err = env.Store.Notifications(context.Background(), receipt.ID)
		require.NoError(t, err)
		return len(list) == 3
	}, caseState(t, env, receipt.ID))
	require.Equal(t, schemas.NotificationPending, list[2].Status, "delivered waits behind the dead sent")

	hook.setFailing(false)
	for _, n := range dead {
		resp, err := hubtest.Do(context.Background(), http.MethodPost, fmt.Sprintf("%s/v1/notifications/dead/%d/redrive", hub.URL, n.ID),
			env.Token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	}
	waitUntil(t, "the redriven notifications and the one behind them arrive", func() bool { return len(hook.received()) == 3 })
	got := hook.received()
	var d string
	for _, e := range got {
		if e.DeliveryID != "" {
			d = e.DeliveryID
		}
	}
	require.Equal(t, []schemas.PortalState{schemas.PortalSent, schemas.PortalDelivered}, statesOf(got, d))
	resp, err := hubtest.Do(context.Background(), http.MethodPost, fmt.Sprintf("%s/v1/notifications/dead/%d/redrive", hub.URL, dead[0].ID),
		env.Token, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.Status, "not dead any more")
}

// TestPortalAMQPQueue: a portal in amqp mode finds its notifications in its own queue, persistent,
// with the ids in headers, and another portal's events never there.
func TestPortalAMQPQueue(t *testing.T) {
	t.Parallel()
	const code, otherToken = "15000003", "other-portal-token"
	office := httptest.NewServer(mustSandbox(t))
	t.Cleanup(office.Close)
	env := notificationEnv(t, map[string]string{code: office.URL + "/documents/" + code}, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "other-portal", Kind: config.ClientPortal, TokenSHA256: sha256Hex(otherToken)})
	})
	hub := env.Start(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	sub := putSubscription(t, hub.URL, env.Token, schemas.SubscriptionRequest{Mode: schemas.NotifyAMQP})
	require.Equal(t, env.Config.Broker.Prefix+"hub.portal.portal-test", sub.Queue)
	require.Equal(t, env.Config.Broker.Prefix+"hub.portal", sub.Exchange)
	require.Empty(t, sub.Secret)

	receipt := env.MustSubmit(t, hub.URL, "amqp-1", hubtest.Submission(1, 1024, code))
	resp, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/appeals", otherToken,
		http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"other-1"}}, hubtest.Submission(2, 1024, code))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.Status, "another portal's case, never in this queue")
	bcfg := broker.Config{URL: env.Config.Broker.URL, Names: broker.Names{Prefix: env.Config.Broker.Prefix}}
	var got []schemas.PortalEvent
	waitUntil(t, "accepted, sent and delivered in the queue", func() bool {
		for {
			body, headers, ok := brokertest.Get(t, bcfg, sub.Queue)
			if !ok {
				break
			}
			var e schemas.PortalEvent
			require.NoError(t, json.Unmarshal(body, &e))
			require.Equal(t, e.EventID, headers["event_id"])
			require.Equal(t, receipt.ID, e.CaseID, "only this portal's cases")
			got = append(got, e)
		}
		return len(got) == 3
	})
	require.Equal(t, []schemas.PortalState{schemas.PortalAccepted, schemas.PortalSent, schemas.PortalDelivered},
		[]schemas.PortalState{got[0].State, got[1].State, got[2].State})
	// The rows are marked published once the broker confirmed them: a moment after the messages
	// can be read from the queue.
	waitUntil(t, "every notification marked published", func() bool {
		list, err := env.Store.Notifications(context.Background(), receipt.ID)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(list), 3, "accepted, sent and delivered")
		for _, n := range list {
			if n.Status != schemas.NotificationPublished {
				return false
			}
		}
		return true
	})
}

// TestTimelineIsTheOwnersOnly: the events API answers the portal that submitted the case and 404
// to any other; tracking needs the right code, and a wrong one, a wrong number and no code are the
// same 404.
func TestTimelineIsTheOwnersOnly(t *testing.T) {
	t.Parallel()
	const code, otherToken = "15000004", "other-portal-token"
	office := httptest.NewServer(mustSandbox(t))
	t.Cleanup(office.Close)
	env := notificationEnv(t, map[string]string{code: office.URL + "/documents/" + code}, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "other-portal", Kind: config.ClientPortal, TokenSHA256: sha256Hex(otherToken)})
	})
	hub := env.Start(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	receipt := env.MustSubmit(t, hub.URL, "own-1", hubtest.Submission(1, 1024, code))
	get := func(path, token string) hubtest.Response {
		t.Helper()
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+path, token, nil, nil)
		require.NoError(t, err)
		return resp
	}
	events := "/v1/appeals/" + receipt.ID + "/events"
	waitUntil(t, "delivered", func() bool {
		return slices.ContainsFunc(timelineOf(t, get(events, env.Token)), func(e schemas.PortalEvent) bool {
			return e.State == schemas.PortalDelivered
		})
	})
	require.Equal(t, http.StatusNotFound, get(events, otherToken).Status)
	require.Equal(t, http.StatusNotFound, get("/v1/appeals/0191d7a8-0000-7000-8000-000000000000/events", env.Token).Status)

	track := "/v1/track/" + receipt.TrackingNumber + "?code="
	require.Equal(t, http.StatusOK, get(track+receipt.AccessCode, "").Status)
	require.Equal(t, http.StatusOK, get(track+"+"+receipt.AccessCode[:5]+"-"+receipt.AccessCode[5:], "").Status, "spaces and hyphens")
	wrong := []byte(receipt.AccessCode)
	wrong[0] = map[bool]byte{true: '2', false: '3'}[wrong[0] != '2']
	for _, path := range []string{
		track + string(wrong),
		track,
		"/v1/track/" + receipt.TrackingNumber,
		"/v1/track/ZV-2026-99999999?code=" + receipt.AccessCode,
		"/v1/track/not-a-number?code=" + receipt.AccessCode,
	} {
		resp := get(path, "")
		require.Equal(t, http.StatusNotFound, resp.Status, path)
		c, _ := resp.Problem()
		require.Equal(t, string(schemas.CodeNotFound), c)
	}
}

func timelineOf(t *testing.T, resp hubtest.Response) []schemas.PortalEvent {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var page struct {
		Events []schemas.PortalEvent `json:"events"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &page))
	return page.Events
}

func mustSandbox(t *testing.T) *sandbox.Server {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Name: "office"}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sb.Close() })
	return sb
}
