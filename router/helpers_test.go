package router_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

func decodeReceipt(t *testing.T, body []byte) schemas.Receipt {
	t.Helper()
	var r schemas.Receipt
	require.NoError(t, json.Unmarshal(body, &r))
	require.NotEmpty(t, r.ID)
	return r
}

func decodeCase(t *testing.T, body []byte) schemas.Case {
	t.Helper()
	var c schemas.Case
	require.NoError(t, json.Unmarshal(body, &c))
	return c
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func sandboxOptions() sandbox.Options { return sandbox.Options{} }

// holdingSandbox is a sandbox system behind a server that holds the first document it is sent
// until release is called (also at cleanup): with a concurrency of 1 the authority's next
// message then waits, ready, in its queue. held is closed once the first document arrived.
func holdingSandbox(t *testing.T, name string) (sb *sandbox.Server, srv *httptest.Server, held <-chan struct{}, release func()) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Name: name}, zaptest.NewLogger(t))
	require.NoError(t, err)
	arrived, released := make(chan struct{}), make(chan struct{})
	var first sync.Once
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() {
			close(arrived)
			<-released
		})
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	return sb, srv, arrived, release
}

// readCase reads case id through the portal API, as its client does.
func readCase(t *testing.T, hubURL, token, id string) schemas.Case {
	t.Helper()
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hubURL+"/v1/appeals/"+id, token, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	return decodeCase(t, resp.Body)
}

// takenMessage is a delivery message taken off its authority's queue while the authority's
// system holds the delivery before it (see takeDeliveryMessage).
type takenMessage struct {
	Env     *hubtest.Env
	Hub     *hubtest.Hub
	Sandbox *sandbox.Server
	Broker  broker.Config
	// Receipt is the submission whose delivery the message carries; Busy the one whose delivery
	// the authority's system holds.
	Receipt, Busy schemas.Receipt
	Msg           schemas.DeliveryMessage
	Body          []byte
	Headers       map[string]any
	// Release lets the authority's system answer the delivery it holds.
	Release func()
}

// takeDeliveryMessage starts a hub with one authority, code, whose system holds the first
// document (concurrency 1, the reconciler out of the way), submits two appeals to it and takes
// the second one's delivery message off the queue: the delivery is then in transit with no
// message anywhere, as if the broker had lost, dead-lettered or misrouted it.
func takeDeliveryMessage(t *testing.T, code string, configure ...func(*config.Config)) takenMessage {
	t.Helper()
	sb, srv, held, release := holdingSandbox(t, "taken")
	env := hubtest.NewEnv(t, map[string]string{code: srv.URL + "/documents/" + code}, func(c *config.Config) {
		c.Authorities[0].Concurrency = 1
		c.Reconcile.After = time.Hour // the reconciler stays out of it
		for _, f := range configure {
			f(c)
		}
	})
	hub := env.Start(t)
	bcfg := broker.Config{URL: env.Config.Broker.URL, Names: broker.Names{Prefix: env.Config.Broker.Prefix}}
	queue := bcfg.Names.AuthorityQueue(code)
	busy := env.MustSubmit(t, hub.URL, "busy", hubtest.Submission(1, 1024, code))
	<-held
	rec := env.MustSubmit(t, hub.URL, "taken", hubtest.Submission(2, 1024, code))
	require.Eventually(t, func() bool { return brokertest.QueueDepth(t, bcfg, queue) == 1 }, 10*time.Second, 10*time.Millisecond)
	body, headers, ok := brokertest.Get(t, bcfg, queue)
	require.True(t, ok)
	var msg schemas.DeliveryMessage
	require.NoError(t, json.Unmarshal(body, &msg))
	require.Equal(t, code, msg.Authority)
	return takenMessage{Env: env, Hub: hub, Sandbox: sb, Broker: bcfg, Receipt: rec, Busy: busy, Msg: msg, Body: body, Headers: headers, Release: release}
}

// publish puts m's message, with extra headers added to its string ones, on exchange with
// routing key key, as the broker would have put it there.
func (m takenMessage) publish(t *testing.T, exchange, key string, extra amqp.Table) {
	t.Helper()
	publishRaw(t, m.Env.Config.Broker.URL, exchange, key, m.headers(extra), m.Msg.DeliveryID+"/"+"1", m.Body)
}

func (m takenMessage) headers(extra amqp.Table) amqp.Table {
	table := amqp.Table{}
	for k, v := range m.Headers {
		if s, ok := v.(string); ok {
			table[k] = s
		}
	}
	for k, v := range extra {
		table[k] = v
	}
	return table
}

// requireEachDeliveredOnce waits until the hub has settled everything and requires that the
// authority's system received the two documents once each and the taken delivery is delivered;
// it returns the taken delivery's case.
func (m takenMessage) requireEachDeliveredOnce(t *testing.T) schemas.Case {
	t.Helper()
	m.Env.WaitSettled(t, 20*time.Second)
	ledger := m.Sandbox.Ledger()
	require.Equal(t, 2, ledger.Documents)
	for _, e := range ledger.Entries {
		require.Equal(t, 1, e.Received, "one document per delivery: %s", e.DeliveryID)
	}
	c := readCase(t, m.Hub.URL, m.Env.Token, m.Receipt.ID)
	require.Equal(t, schemas.StatusDelivered, c.Deliveries[0].Status)
	return c
}

// reconciledDetails returns the details of the delivery_reconciled events of case c.
func reconciledDetails(c schemas.Case) []string {
	var out []string
	for _, e := range c.Events {
		if e.Type == schemas.EventDeliveryReconciled {
			out = append(out, e.Detail)
		}
	}
	return out
}

// publishRaw publishes one persistent message on its own connection and waits for the confirm.
func publishRaw(t *testing.T, url, exchange, key string, headers amqp.Table, messageID string, body []byte) {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	dc, err := ch.PublishWithDeferredConfirmWithContext(t.Context(), exchange, key, false, false, amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, Headers: headers, MessageId: messageID, Body: body})
	require.NoError(t, err)
	ok, err := dc.WaitContext(t.Context())
	require.NoError(t, err)
	require.True(t, ok, "the broker refused the message")
}
