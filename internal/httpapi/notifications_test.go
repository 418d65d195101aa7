package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// fakeNotifications keeps subscriptions by client and one dead notification of portal-1.
type fakeNotifications struct {
	subs     map[string]schemas.Subscription
	lastReq  schemas.SubscriptionRequest
	redriven []string // "client/id"
}

func (f *fakeNotifications) Subscription(_ context.Context, client string) (schemas.Subscription, error) {
	s, ok := f.subs[client]
	if !ok {
		return s, schemas.Errorf(schemas.CodeNotFound, "no subscription")
	}
	return s, nil
}

func (f *fakeNotifications) Subscribe(_ context.Context, client string, req schemas.SubscriptionRequest) (schemas.Subscription, error) {
	if req.Mode != schemas.NotifyWebhook && req.Mode != schemas.NotifyAMQP {
		return schemas.Subscription{}, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "bad mode",
			Fields: []schemas.FieldProblem{{Pointer: "/mode", Message: "must be webhook or amqp"}}}
	}
	f.lastReq = req
	s := schemas.Subscription{Client: client, Mode: req.Mode, URL: req.URL, Secret: "whsec_x"}
	f.subs[client] = s
	return s, nil
}

var deadOne = schemas.NotificationRecord{ID: 7, Client: "portal-1", EventID: 42, CaseID: testCase.ID,
	State: schemas.PortalRegistered, Status: schemas.NotificationDead, Attempts: 8, LastError: "gave up"}

func (f *fakeNotifications) DeadNotifications(_ context.Context, client string, _ int) ([]schemas.NotificationRecord, error) {
	if client == "" || client == "portal-1" {
		return []schemas.NotificationRecord{deadOne}, nil
	}
	return nil, nil
}

func (f *fakeNotifications) RedriveNotification(_ context.Context, client string, id int64) (schemas.NotificationRecord, error) {
	if id != deadOne.ID || (client != "" && client != deadOne.Client) {
		return schemas.NotificationRecord{}, schemas.Errorf(schemas.CodeNotFound, "no such dead notification")
	}
	f.redriven = append(f.redriven, fmt.Sprintf("%s/%d", client, id))
	r := deadOne
	r.Status, r.Attempts = schemas.NotificationPending, 0
	return r, nil
}

// fakeTimelines holds the timeline of testCase (owned by portal-1), trackable with code
// ABCDE23456.
type fakeTimelines struct{ events []schemas.PortalEvent }

func (f *fakeTimelines) CaseTimeline(_ context.Context, clientID, caseID string) ([]schemas.PortalEvent, error) {
	if clientID != "portal-1" || caseID != testCase.ID {
		return nil, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	return f.events, nil
}

func (f *fakeTimelines) Track(_ context.Context, number, code string) (schemas.Tracking, error) {
	if number != testCase.TrackingNumber || code != "ABCDE23456" {
		return schemas.Tracking{}, schemas.Errorf(schemas.CodeNotFound, "no such case, or a wrong code")
	}
	return schemas.Tracking{TrackingNumber: number, CaseKind: schemas.CaseAppeal, Events: f.events}, nil
}

func notificationsHandler(t *testing.T) (http.Handler, *fakeNotifications) {
	t.Helper()
	n := &fakeNotifications{subs: map[string]schemas.Subscription{}}
	var events []schemas.PortalEvent
	for i := range 5 {
		events = append(events, schemas.PortalEvent{EventID: int64(10 + 3*i), TrackingNumber: testCase.TrackingNumber,
			State: schemas.PortalSent, Label: schemas.PortalSent.Label(), At: time.Date(2026, 3, 1, 10, i, 0, 0, time.UTC)})
	}
	h := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}, Notifications: n,
		Timelines: &fakeTimelines{events: events}}, zaptest.NewLogger(t))
	return h, n
}

func send(h http.Handler, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestSubscriptionRoutes(t *testing.T) {
	t.Parallel()
	h, n := notificationsHandler(t)
	requireProblem(t, send(h, http.MethodGet, "/v1/notifications", "portal-token", "", ""), http.StatusNotFound, schemas.CodeNotFound)

	w := send(h, http.MethodPut, "/v1/notifications", "portal-token", "application/json", `{"mode":"webhook","url":"https://p.example/h"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var s schemas.Subscription
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &s))
	require.Equal(t, "portal-1", s.Client)
	require.Equal(t, "whsec_x", s.Secret)
	require.Equal(t, schemas.SubscriptionRequest{Mode: schemas.NotifyWebhook, URL: "https://p.example/h"}, n.lastReq)
	w = send(h, http.MethodGet, "/v1/notifications", "portal-token", "", "")
	require.Equal(t, http.StatusOK, w.Code)

	for _, tt := range []struct {
		name, token, contentType, body string
		status                         int
		code                           schemas.Code
		pointer                        string
	}{
		{"UnknownField", "portal-token", "application/json", `{"mode":"amqp","queue":"x"}`, 400, schemas.CodeSchemaViolation, "/queue"},
		{"WrongType", "portal-token", "application/json", `{"mode":1}`, 400, schemas.CodeSchemaViolation, "/mode"},
		{"BadMode", "portal-token", "application/json", `{"mode":"sms"}`, 400, schemas.CodeSchemaViolation, "/mode"},
		{"NotJSON", "portal-token", "application/json", `{"mode":`, 400, schemas.CodeMalformedJSON, ""},
		{"NotJSONType", "portal-token", "text/plain", `{"mode":"amqp"}`, 415, schemas.CodeUnsupportedMediaType, ""},
		{"NoToken", "", "application/json", `{"mode":"amqp"}`, 401, schemas.CodeUnauthorized, ""},
		{"Authority", "authority-token", "application/json", `{"mode":"amqp"}`, 403, schemas.CodeForbidden, ""},
		{"Operator", "operator-token", "application/json", `{"mode":"amqp"}`, 403, schemas.CodeForbidden, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := requireProblem(t, send(h, http.MethodPut, "/v1/notifications", tt.token, tt.contentType, tt.body), tt.status, tt.code)
			if tt.pointer != "" {
				require.Equal(t, tt.pointer, p.Errors[0].Pointer)
			}
		})
	}
}

func TestDeadNotificationRoutes(t *testing.T) {
	t.Parallel()
	h, n := notificationsHandler(t)
	for _, token := range []string{"portal-token", "operator-token"} {
		w := send(h, http.MethodGet, "/v1/notifications/dead", token, "", "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.Contains(t, w.Body.String(), `"last_error":"gave up"`)
	}
	w := send(h, http.MethodGet, "/v1/notifications/dead", "portal2-token", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"notifications":[]}`, w.Body.String(), "another portal sees none of portal-1's")
	requireProblem(t, send(h, http.MethodGet, "/v1/notifications/dead?limit=0", "portal-token", "", ""), 400, schemas.CodeSchemaViolation)
	requireProblem(t, send(h, http.MethodGet, "/v1/notifications/dead", "authority-token", "", ""), 403, schemas.CodeForbidden)

	requireProblem(t, send(h, http.MethodPost, "/v1/notifications/dead/7/redrive", "portal2-token", "", ""), 404, schemas.CodeNotFound)
	requireProblem(t, send(h, http.MethodPost, "/v1/notifications/dead/x/redrive", "portal-token", "", ""), 404, schemas.CodeNotFound)
	w = send(h, http.MethodPost, "/v1/notifications/dead/7/redrive", "portal-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, w.Body.String(), `"status":"pending"`)
	w = send(h, http.MethodPost, "/v1/notifications/dead/7/redrive?client=portal-1", "operator-token", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, []string{"portal-1/7", "portal-1/7"}, n.redriven)
}

func TestCaseEventsPages(t *testing.T) {
	t.Parallel()
	h, _ := notificationsHandler(t)
	base := "/v1/appeals/" + testCase.ID + "/events"
	type page struct {
		Events    []schemas.PortalEvent `json:"events"`
		NextAfter *int64                `json:"next_after"`
	}
	get := func(query string) page {
		t.Helper()
		w := send(h, http.MethodGet, base+query, "portal-token", "", "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var p page
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
		return p
	}
	var ids []int64
	query := "?limit=2"
	for range 10 {
		p := get(query)
		for _, e := range p.Events {
			ids = append(ids, e.EventID)
		}
		if p.NextAfter == nil {
			break
		}
		query = fmt.Sprintf("?limit=2&after=%d", *p.NextAfter)
	}
	require.Equal(t, []int64{10, 13, 16, 19, 22}, ids)
	require.Len(t, get("").Events, 5)
	require.Empty(t, get("?after=22").Events)
	require.Equal(t, []int64{13, 16}, []int64{get("?after=11&limit=2").Events[0].EventID, get("?after=11&limit=2").Events[1].EventID})

	requireProblem(t, send(h, http.MethodGet, base+"?limit=501", "portal-token", "", ""), 400, schemas.CodeSchemaViolation)
	requireProblem(t, send(h, http.MethodGet, base+"?after=-1", "portal-token", "", ""), 400, schemas.CodeSchemaViolation)
	requireProblem(t, send(h, http.MethodGet, base, "portal2-token", "", ""), 404, schemas.CodeNotFound)
	requireProblem(t, send(h, http.MethodGet, base, "authority-token", "", ""), 403, schemas.CodeForbidden)
	requireProblem(t, send(h, http.MethodGet, "/v1/appeals/not%20an%20id/events", "portal-token", "", ""), 404, schemas.CodeNotFound)
}

func TestTrackNeedsOnlyTheCode(t *testing.T) {
	t.Parallel()
	h, _ := notificationsHandler(t)
	w := send(h, http.MethodGet, "/v1/track/"+testCase.TrackingNumber+"?code=ABCDE23456", "", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	var tr schemas.Tracking
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &tr))
	require.Len(t, tr.Events, 5)
	for _, path := range []string{
		"/v1/track/" + testCase.TrackingNumber + "?code=ABCDE23457",
		"/v1/track/" + testCase.TrackingNumber,
		"/v1/track/ZV-2026-99999999?code=ABCDE23456",
	} {
		requireProblem(t, send(h, http.MethodGet, path, "", "", ""), 404, schemas.CodeNotFound)
	}
}
