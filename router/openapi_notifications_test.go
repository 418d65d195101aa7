package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
	"appealhub/internal/hubtest"
	"appealhub/schemas"
)

// recordingWebhook is a portal's webhook that records every request and its answer: it refuses
// the first one for good (400) and takes the others (204).
type recordingWebhook struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []exchange
}

func (w *recordingWebhook) exchanges() []exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// portalNotificationsBefore registers the portal's webhook (with the refusals of PUT and GET
// /v1/notifications) before the test submits anything, so that every case of the test is notified.
func portalNotificationsBefore(t *testing.T, api *apiCheck, env *hubtest.Env) *recordingWebhook {
	t.Helper()
	brokertest.TrackPortal(t, broker.Config{Names: broker.Names{Prefix: env.Config.Broker.Prefix}}, "portal-test")
	w := &recordingWebhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		status := http.StatusNoContent
		if len(w.got) == 0 {
			status = http.StatusBadRequest
		}
		rw.WriteHeader(status)
		w.got = append(w.got, exchange{req: r.Clone(context.Background()), body: body, status: status, header: http.Header{}})
	}))
	t.Cleanup(w.srv.Close)

	asJSON := map[string]string{"Content-Type": "application/json"}
	api.do(t, call{method: http.MethodGet, path: "/v1/notifications", token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound})
	for _, cl := range []call{
		{token: env.Token, header: asJSON, body: []byte(`{"mode":"sms"}`), invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{token: env.Token, header: asJSON, body: []byte(`{"mode":"webhook","url":"ftp://portal.example/x"}`), status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{token: env.Token, header: asJSON, body: []byte(`{"mode":"webhook","url":"http://portal.example/x"}`), status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{token: env.Token, header: asJSON, body: []byte(`{"mode":"amqp","url":"https://portal.example/x"}`), status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{token: env.Token, header: asJSON, body: []byte(`{"mode":`), invalid: true, status: http.StatusBadRequest, code: schemas.CodeMalformedJSON},
		{token: env.Token, header: asJSON, body: []byte(`{"mode":"amqp","url":"https://p.example/` + strings.Repeat("x", 20<<10) + `"}`),
			invalid: true, status: http.StatusRequestEntityTooLarge, code: schemas.CodeBodyTooLarge},
		{token: env.Token, header: map[string]string{"Content-Type": "text/plain"}, body: []byte(`{"mode":"amqp"}`),
			invalid: true, status: http.StatusUnsupportedMediaType, code: schemas.CodeUnsupportedMediaType},
		{header: asJSON, body: []byte(`{"mode":"amqp"}`), invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
	} {
		cl.method, cl.path = http.MethodPut, "/v1/notifications"
		api.do(t, cl)
	}
	resp := api.do(t, call{method: http.MethodPut, path: "/v1/notifications", token: env.Token, header: asJSON,
		body: []byte(`{"mode":"webhook","url":"` + w.srv.URL + `/events"}`), status: http.StatusOK})
	var sub schemas.Subscription
	require.NoError(t, json.Unmarshal(resp.Body, &sub))
	require.NotEmpty(t, sub.Secret)
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/notifications", token: env.Token, status: http.StatusOK})
	require.NotContains(t, string(resp.Body), sub.Secret, "the secret is shown once")
	return w
}

// portalNotificationsAfter exercises the events API, the tracking, and the dead notification the
// webhook refused, and validates every webhook request against the portalWebhook callback.
func portalNotificationsAfter(t *testing.T, api *apiCheck, env *hubtest.Env, w *recordingWebhook, doc *openapi3.T,
	pushReceipt schemas.Receipt, otherToken string) {
	t.Helper()
	events := "/v1/appeals/" + pushReceipt.ID + "/events"
	resp := api.do(t, call{method: http.MethodGet, path: events + "?limit=2", token: env.Token, status: http.StatusOK})
	var page struct {
		Events    []schemas.PortalEvent `json:"events"`
		NextAfter *int64                `json:"next_after"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &page))
	require.Len(t, page.Events, 2)
	require.NotNil(t, page.NextAfter)
	api.do(t, call{method: http.MethodGet, path: fmt.Sprintf("%s?after=%d", events, *page.NextAfter), token: env.Token, status: http.StatusOK})
	for _, cl := range []call{
		{path: events + "?limit=0", token: env.Token, invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{path: "/v1/appeals/0191d7a8-0000-7000-8000-000000000000/events", token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: events, token: otherToken, status: http.StatusForbidden, code: schemas.CodeForbidden},
		{path: events, invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{path: "/v1/track/" + pushReceipt.TrackingNumber + "?code=" + pushReceipt.AccessCode, status: http.StatusOK},
		{path: "/v1/track/" + pushReceipt.TrackingNumber + "?code=AAAAAAAAAA", status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: "/v1/track/ZV-2026-99999999?code=" + pushReceipt.AccessCode, status: http.StatusNotFound, code: schemas.CodeNotFound},
	} {
		cl.method = http.MethodGet
		api.do(t, cl)
	}

	// The notification the webhook refused is dead; redriven, it is delivered.
	var dead struct {
		Notifications []schemas.NotificationRecord `json:"notifications"`
	}
	waitFor(t, 30*time.Second, "the refused notification is dead", func() bool {
		resp := api.do(t, call{method: http.MethodGet, path: "/v1/notifications/dead", token: env.Token, status: http.StatusOK})
		require.NoError(t, json.Unmarshal(resp.Body, &dead))
		return len(dead.Notifications) == 1
	})
	require.Contains(t, dead.Notifications[0].LastError, "permanent: the webhook answered 400")
	const operatorToken = "operator-token"
	api.do(t, call{method: http.MethodGet, path: "/v1/notifications/dead?client=portal-test&limit=10", token: operatorToken, status: http.StatusOK})
	redrive := fmt.Sprintf("/v1/notifications/dead/%d/redrive", dead.Notifications[0].ID)
	for _, cl := range []call{
		{method: http.MethodGet, path: "/v1/notifications/dead?limit=0", token: env.Token, invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{method: http.MethodGet, path: "/v1/notifications/dead", token: otherToken, status: http.StatusForbidden, code: schemas.CodeForbidden},
		{method: http.MethodGet, path: "/v1/notifications/dead", invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{method: http.MethodPost, path: redrive, token: otherToken, status: http.StatusForbidden, code: schemas.CodeForbidden},
		{method: http.MethodPost, path: "/v1/notifications/dead/999999/redrive", token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodPost, path: redrive, token: env.Token, status: http.StatusOK},
		{method: http.MethodPost, path: redrive, token: operatorToken, status: http.StatusNotFound, code: schemas.CodeNotFound},
	} {
		api.do(t, cl)
	}
	waitFor(t, 30*time.Second, "the redriven notification is delivered", func() bool {
		list, err := env.Store.Notifications(context.Background(), dead.Notifications[0].CaseID)
		require.NoError(t, err)
		return slices.ContainsFunc(list, func(n schemas.NotificationRecord) bool {
			return n.ID == dead.Notifications[0].ID && n.Status == schemas.NotificationDelivered
		})
	})

	put := doc.Paths.Value("/v1/notifications").Put
	got := w.exchanges()
	require.GreaterOrEqual(t, len(got), 2)
	for _, x := range got {
		x.req.Body = io.NopCloser(bytes.NewReader(x.body))
		validateCallback(t, doc, put, "portalWebhook", x)
	}

	// Moving to the portal's own queue.
	resp = api.do(t, call{method: http.MethodPut, path: "/v1/notifications", token: env.Token,
		header: map[string]string{"Content-Type": "application/json"}, body: []byte(`{"mode":"amqp"}`), status: http.StatusOK})
	require.Contains(t, string(resp.Body), `"queue":"`+env.Config.Broker.Prefix+`hub.portal.portal-test"`)
}

// TestOpenAPIPortalStates: the document's PortalState enum is schemas.PortalStates().
func TestOpenAPIPortalStates(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	var enum []string
	for _, v := range doc.Components.Schemas["PortalState"].Value.Enum {
		enum = append(enum, v.(string))
	}
	var states []string
	for _, s := range schemas.PortalStates() {
		states = append(states, string(s))
	}
	require.Equal(t, states, enum)
}
