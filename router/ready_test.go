package router_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"appealhub/internal/hubtest"
)

// TestReadyReportsSubscriptions: /readyz lists how many authority queues are consumed. One
// authority whose queue cannot be declared (an operator made it with other arguments) is shown in
// the detail, but does not keep the hub from becoming ready, and the others are delivered to.
func TestReadyReportsSubscriptions(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "ready", sandboxOptions())
	good, bad := validCode("2002001"), validCode("2002002")
	env := hubtest.NewEnv(t, map[string]string{good: sys.endpoint(good), bad: sys.endpoint(bad)}, nil)
	declarePlainQueue(t, env.Config.Broker.URL, env.Config.Broker.Prefix+"hub.authority."+bad)

	hub := env.Start(t) // waits for /readyz 200
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/readyz?verbose", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Contains(t, string(resp.Body), "[+]subscriptions ok: 1 of 2 authority queues consumed\n")

	env.MustSubmit(t, hub.URL, "to-good", hubtest.Submission(1, 512, good))
	require.Eventually(t, func() bool { return sys.sb.Ledger().Documents == 1 }, 10*time.Second, 10*time.Millisecond)
}

// declarePlainQueue declares a classic queue without arguments, as an operator might by mistake.
func declarePlainQueue(t *testing.T, url, queue string) {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	require.NoError(t, err)
}
