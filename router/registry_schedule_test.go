package router_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/clock"
	"appealhub/internal/httpapi"
	"appealhub/internal/hubtest"
	"appealhub/router"
	"appealhub/schemas"
)

// startHub starts a hub process on env with its own clock and registry sync period.
func startHub(t *testing.T, env *hubtest.Env, c clock.Clock, sync time.Duration) (*router.Hub, string) {
	t.Helper()
	ctx := context.Background()
	h, err := router.New(ctx, env.Config, router.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Clock: c, AuthoritySync: sync})
	require.NoError(t, err)
	if err := h.Start(ctx); err != nil {
		_ = h.Stop(ctx)
		t.Fatalf("start hub: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.Stop(ctx)
	})
	url := "http://" + h.Addr()
	hubtest.WaitReady(t, url)
	return h, url
}

// TestRegistryChangesReachRunningHubs: an authority's own delivery settings and a scheduled
// suspension reach every running hub process. Hub A polls the registry often and runs on a stub
// clock; hub B polls once a minute and runs on the real clock, so it follows by the registry's
// NOTIFY alone and never finds the scheduled change due itself: the change is applied by A when
// A's clock reaches its time, and its NOTIFY makes B unsubscribe too.
func TestRegistryChangesReachRunningHubs(t *testing.T) {
	t.Parallel()
	const opToken = "operator-token"
	env := hubtest.NewEnv(t, nil, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "ops", Kind: config.ClientOperator, TokenSHA256: sha256Hex(opToken)})
		c.Delivery.Concurrency = 4
	})
	stub := clock.NewStub(time.Now().UTC())
	hubA, urlA := startHub(t, env, stub, 100*time.Millisecond)
	hubB, urlB := startHub(t, env, nil, time.Minute)
	code := validCode("2003001")
	env.TrackAuthorities(t, code)
	op := func(method, url, path string, header map[string]string, body string) hubtest.Response {
		t.Helper()
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range header {
			h.Set(k, v)
		}
		resp, err := hubtest.Do(context.Background(), method, url+path, opToken, h, []byte(body))
		require.NoError(t, err)
		return resp
	}
	resp := op(http.MethodPost, urlA, "/v1/authorities", nil, `{"code":"`+code+`","name":"Тестова рада","kind":"local",`+
		`"territory":"UA46000000000000000","topics":["*"],"accepts":["appeal"],"adapter":"json","endpoint":"http://127.0.0.1:9/in"}`)
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	subscribed := func(want int) func() bool {
		return func() bool {
			return hubA.SubscribedConcurrency(code) == want && hubB.SubscribedConcurrency(code) == want
		}
	}
	require.Eventually(t, subscribed(4), 10*time.Second, 10*time.Millisecond, "both consume it with delivery.concurrency")

	// The authority's own settings, through the registry: both hubs consume with them.
	resp = op(http.MethodPatch, urlA, "/v1/authorities/"+code, map[string]string{"If-Match": `"v1"`},
		`{"concurrency":2,"request_timeout":"1500ms","reason":"slow system"}`)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	require.Equal(t, `"v2"`, resp.Header.Get("ETag"))
	require.Eventually(t, subscribed(2), 10*time.Second, 10*time.Millisecond, "both consume it with its own concurrency")
	resp = op(http.MethodGet, urlB, "/v1/authorities/"+code+"/delivery", nil, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var d httpapi.AuthorityDelivery
	require.NoError(t, json.Unmarshal(resp.Body, &d))
	require.Equal(t, 2, d.Concurrency)
	require.Equal(t, int64(1500), d.RequestTimeoutMS)

	// A suspension scheduled an hour ahead (of A's clock): pending, nothing changes yet.
	at := stub.Now().Add(time.Hour).Format(time.RFC3339Nano)
	resp = op(http.MethodPost, urlB, "/v1/authorities/"+code+"/suspend", nil, `{"reason":"move","effective_at":"`+at+`"}`)
	require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
	var a schemas.Authority
	require.NoError(t, json.Unmarshal(resp.Body, &a))
	require.Equal(t, schemas.AuthorityActive, a.Status)
	require.Len(t, a.Pending, 1)
	require.Equal(t, 2, hubB.SubscribedConcurrency(code))

	// A's clock reaches its time: A applies it, and both stop consuming the queue.
	stub.Advance(time.Hour)
	require.Eventually(t, subscribed(0), 10*time.Second, 10*time.Millisecond, "both follow the scheduled suspension")
	resp = op(http.MethodGet, urlB, "/v1/authorities/"+code+"/history", nil, "")
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var history struct {
		Changes []schemas.AuthorityChange `json:"changes"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &history))
	var actions []string
	for _, c := range history.Changes {
		actions = append(actions, c.Action)
	}
	require.Equal(t, []string{"add", "update", "schedule", "suspend"}, actions)
	require.Equal(t, a.Pending[0].ID, history.Changes[3].Pending.ID)
	require.Equal(t, "ops", history.Changes[3].ChangedBy)
}
