package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// loadOpenAPI loads schemas/openapi.yaml and requires it to be a valid OpenAPI 3.0 document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(schemas.OpenAPI())
	require.NoError(t, err, "load schemas/openapi.yaml")
	require.Equal(t, "3.0.3", doc.OpenAPI)
	require.NoError(t, doc.Validate(context.Background(),
		openapi3.EnableSchemaDefaultsValidation(), openapi3.EnableExamplesValidation()), "validate schemas/openapi.yaml")
	return doc
}

// bearerAuth is the AuthenticationFunc of the validation: a bearer scheme is satisfied by any
// well-formed Authorization: Bearer header (whether the hub knows the token is the hub's business).
func bearerAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s == nil || s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return fmt.Errorf("security scheme %q is not http bearer", in.SecuritySchemeName)
	}
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// apiCheck sends requests to a running hub and validates each request and its response against the
// OpenAPI document, recording which operations answered which statuses.
type apiCheck struct {
	doc    *openapi3.T
	router routers.Router
	base   string
	opts   *openapi3filter.Options

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD /path/{template}" → statuses
}

func newAPICheck(t *testing.T, doc *openapi3.T, base string) *apiCheck {
	t.Helper()
	doc.Servers = openapi3.Servers{{URL: base}}
	r, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &apiCheck{doc: doc, router: r, base: base, seen: map[string]map[int]bool{},
		opts: &openapi3filter.Options{AuthenticationFunc: bearerAuth, IncludeResponseStatus: true}}
}

// call is one request and what the hub must answer.
type call struct {
	method, path, token string
	header              map[string]string
	body                []byte
	// invalid marks a request that breaks the document on purpose: its validation must fail.
	invalid bool
	status  int
	code    schemas.Code // the problem code, for refusals
}

func (c *apiCheck) do(t *testing.T, cl call) hubtest.Response {
	t.Helper()
	ctx := context.Background()
	name := cl.method + " " + cl.path
	header := http.Header{}
	for k, v := range cl.header {
		header.Set(k, v)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, bytes.NewReader(cl.body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	if cl.token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	route, params, err := c.router.FindRoute(req)
	require.NoError(t, err, "%s: no operation in the document", name)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: c.opts}
	err = openapi3filter.ValidateRequest(ctx, in)
	if cl.invalid {
		require.Error(t, err, "%s: the document accepts a request it should refuse", name)
	} else {
		require.NoError(t, err, "%s: request does not match the document", name)
	}

	resp, err := hubtest.Do(ctx, cl.method, c.base+cl.path, cl.token, header, cl.body)
	require.NoError(t, err, name)
	require.Equal(t, cl.status, resp.Status, "%s: %s", name, resp.Body)
	if cl.code != "" {
		code, _ := resp.Problem()
		require.Equal(t, string(cl.code), code, name)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.Status,
		Header: resp.Header, Options: c.opts}
	out.SetBodyBytes(resp.Body)
	require.NoError(t, openapi3filter.ValidateResponse(ctx, out), "%s: response %d does not match the document: %s",
		name, resp.Status, resp.Body)

	c.mu.Lock()
	defer c.mu.Unlock()
	key := route.Method + " " + route.Path
	if c.seen[key] == nil {
		c.seen[key] = map[int]bool{}
	}
	c.seen[key][resp.Status] = true
	return resp
}

// validateUnrouted validates an answer to a request no operation describes (an unknown path, a
// wrong method) against the named component response.
func (c *apiCheck) validateUnrouted(t *testing.T, method, path, response string, status int) {
	t.Helper()
	ctx := context.Background()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	require.NoError(t, err)
	_, _, err = c.router.FindRoute(req)
	require.Error(t, err, "%s %s is not in the document", method, path)
	resp, err := hubtest.Do(ctx, method, c.base+path, "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, status, resp.Status, string(resp.Body))
	ref := c.doc.Components.Responses[response]
	require.NotNil(t, ref, response)
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, ref))
	route := &routers.Route{Spec: c.doc, Path: path, Method: method, Operation: op}
	out := &openapi3filter.ResponseValidationInput{Status: resp.Status, Header: resp.Header, Options: c.opts,
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: c.opts}}
	out.SetBodyBytes(resp.Body)
	require.NoError(t, openapi3filter.ValidateResponse(ctx, out), "%s %s: %s", method, path, resp.Body)
}

// exchange is one request the hub made to a document system, and the system's answer.
type exchange struct {
	req    *http.Request
	body   []byte
	status int
	header http.Header
	reply  []byte
}

// recordingSystem is a sandbox document system that records every exchange.
type recordingSystem struct {
	sb  *sandbox.Server
	srv *httptest.Server

	mu  sync.Mutex
	got []exchange
}

func newRecordingSystem(t *testing.T, opts sandbox.Options) *recordingSystem {
	t.Helper()
	sb, err := sandbox.New(opts, zaptest.NewLogger(t))
	require.NoError(t, err)
	s := &recordingSystem{sb: sb}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		sb.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		s.mu.Lock()
		defer s.mu.Unlock()
		s.got = append(s.got, exchange{req: r.Clone(context.Background()), body: body, status: rec.Code,
			header: rec.Header().Clone(), reply: rec.Body.Bytes()})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *recordingSystem) exchanges() []exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// validatePush validates what the hub sent to a document system, and the system's answer, against
// the deliveryPush callback of POST /v1/appeals.
func validatePush(t *testing.T, doc *openapi3.T, x exchange) {
	t.Helper()
	validateCallback(t, doc, doc.Paths.Value("/v1/appeals").Post, "deliveryPush", x)
}

// validateCallback validates a request the hub made, and the answer it got, against the callback
// name of op.
func validateCallback(t *testing.T, doc *openapi3.T, op *openapi3.Operation, name string, x exchange) {
	t.Helper()
	ctx := context.Background()
	cb := op.Callbacks[name]
	require.NotNil(t, cb, "the operation has the %s callback", name)
	keys := cb.Value.Keys()
	require.Len(t, keys, 1)
	item := cb.Value.Value(keys[0])
	require.NotNil(t, item.Post)
	route := &routers.Route{Spec: doc, Path: keys[0], PathItem: item, Method: http.MethodPost, Operation: item.Post}
	opts := &openapi3filter.Options{AuthenticationFunc: bearerAuth, IncludeResponseStatus: true}
	req := x.req.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(x.body))
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts}
	require.NoError(t, openapi3filter.ValidateRequest(ctx, in), "the hub's %s request does not match the callback: %s", name, x.body)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: x.status, Header: x.header, Options: opts}
	out.SetBodyBytes(x.reply)
	require.NoError(t, openapi3filter.ValidateResponse(ctx, out), "the answer does not match the %s callback: %s", name, x.reply)
}

// sevAck is an SEV 1207 v1.5 notice from authority code: delivery id registered (ack_type 3).
func sevAck(code, id string) []byte {
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="utf-8"?>
<Header standart="1207" version="1.5" charset="UTF-8" time="2026-03-02T09:15:00+02:00" msg_type="0" msg_id="sed-ack-1" msg_acknow="0" from_org_id="%s" from_organization="Test" from_sys_id="sed" from_system="SED" to_org_id="00000000" to_organization="Appeal Hub" to_sys_id="APPEALHUB" to_system="appealhub">
  <Acknowledgement msg_id="%s" ack_type="3">
    <RegNumber regdate="2026-03-02">Вх-12/345-26</RegNumber>
    <AckResult errorcode="0" errortext=""/>
  </Acknowledgement>
</Header>
`, code, id)
}

// waitFor polls cond on the test's goroutine (so that cond may use require) until it holds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// message is one JSON authority message; extra is more members, each starting with a comma.
func message(typ, id, of, extra string) []byte {
	return fmt.Appendf(nil, `{"format":"appealhub.message.v1","message_id":%q,"of":%q,"type":%q%s}`, id, of, typ, extra)
}

// TestOpenAPIAgainstRunningHub starts a hub with a portal client, a push-mode authority (a sandbox
// system that requires the hub's token) and two pull-mode authorities (JSON and SEV 1207), calls
// every operation of schemas/openapi.yaml, success and refusals, and validates each request and each
// response against the document; the hub's pushes and the system's answers are validated against
// the deliveryPush callback. Requests that break the document on purpose must fail its validation
// too, and every operation must have answered with success at least once.
func TestOpenAPIAgainstRunningHub(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	const push, pull, xmlPull, unknown = "12000001", "12000002", "12000003", "12999999"
	pushToken, pullToken, xmlToken, hubToken := "push-system-token", "pull-system-token", "xml-system-token", "hub-to-system-token"
	const operatorToken = "operator-token"
	sys := newRecordingSystem(t, sandbox.Options{Name: "push", Token: hubToken})
	env := hubtest.NewEnv(t, map[string]string{push: sys.srv.URL + "/documents/" + push}, func(c *config.Config) {
		c.HTTP.MaxBodyBytes = 16 << 10
		c.Audit.SealInterval = 20 * time.Millisecond // receipts follow the sealing
		c.Notifications.AllowLoopbackHTTP = true     // the portal's webhook below
		for i := range c.Authorities {
			if c.Authorities[i].Code == push {
				c.Authorities[i].Token = hubToken
			}
		}
		c.Authorities = append(c.Authorities,
			config.Authority{Code: pull, Name: "Pull", Adapter: "json", Mode: config.AuthorityModePull, Status: config.AuthorityActive},
			config.Authority{Code: xmlPull, Name: "Pull XML", Adapter: "sev1207", Mode: config.AuthorityModePull, Status: config.AuthorityActive})
		c.Clients = append(c.Clients,
			config.Client{ID: "sys-push", Kind: config.ClientAuthority, Authority: push, TokenSHA256: sha256Hex(pushToken)},
			config.Client{ID: "sys-pull", Kind: config.ClientAuthority, Authority: pull, TokenSHA256: sha256Hex(pullToken)},
			config.Client{ID: "sys-xml", Kind: config.ClientAuthority, Authority: xmlPull, TokenSHA256: sha256Hex(xmlToken)},
			config.Client{ID: "ops", Kind: config.ClientOperator, TokenSHA256: sha256Hex(operatorToken)})
	})
	hub := env.Start(t)
	api := newAPICheck(t, doc, hub.URL)
	hook := portalNotificationsBefore(t, api, env)
	jsonKey := func(key string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Idempotency-Key": key}
	}
	asJSON := map[string]string{"Content-Type": "application/json"}

	// Operations.
	api.do(t, call{method: http.MethodGet, path: "/livez", status: http.StatusOK})
	api.do(t, call{method: http.MethodGet, path: "/readyz", status: http.StatusOK})
	resp := api.do(t, call{method: http.MethodGet, path: "/readyz?verbose", status: http.StatusOK})
	require.Contains(t, string(resp.Body), "readyz check passed")

	// The portal submits, to each authority.
	pushBody := hubtest.Submission(1, 1024, push)
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/appeals", token: env.Token, header: jsonKey("k-push"),
		body: pushBody, status: http.StatusAccepted})
	pushReceipt := decodeReceipt(t, resp.Body)
	require.Equal(t, pushReceipt.StatusURL, resp.Header.Get("Location"))
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/appeals", token: env.Token, header: jsonKey("k-pull"),
		body: hubtest.Submission(2, 1024, pull), status: http.StatusAccepted})
	pullReceipt := decodeReceipt(t, resp.Body)
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/appeals", token: env.Token, header: jsonKey("k-xml"),
		body: hubtest.Submission(3, 1024, xmlPull), status: http.StatusAccepted})
	xmlReceipt := decodeReceipt(t, resp.Body)
	// The same key and body again: the same receipt.
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/appeals", token: env.Token, header: jsonKey("k-push"),
		body: pushBody, status: http.StatusAccepted})
	replayed := decodeReceipt(t, resp.Body)
	require.Empty(t, replayed.AccessCode, "the access code is shown once")
	replayed.AccessCode = pushReceipt.AccessCode
	require.Equal(t, pushReceipt, replayed)

	// Refusals of POST /v1/appeals.
	for _, cl := range []call{
		{token: env.Token, header: jsonKey("k-push"), body: hubtest.Submission(3, 1024, push),
			status: http.StatusConflict, code: schemas.CodeIdempotencyKeyReused},
		{token: env.Token, header: jsonKey("k-bad"), body: bytes.Replace(pushBody, []byte(`"subject"`), []byte(`"priority":1,"subject"`), 1),
			invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{token: env.Token, header: jsonKey("k-bad"), body: []byte(`{"case_kind":`),
			invalid: true, status: http.StatusBadRequest, code: schemas.CodeMalformedJSON},
		{token: env.Token, header: asJSON, body: pushBody,
			invalid: true, status: http.StatusBadRequest, code: schemas.CodeIdempotencyKeyMissing},
		{header: jsonKey("k-bad"), body: pushBody, invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{token: "not-a-token", header: jsonKey("k-bad"), body: pushBody, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{token: pushToken, header: jsonKey("k-bad"), body: pushBody, status: http.StatusForbidden, code: schemas.CodeForbidden},
		{token: env.Token, header: jsonKey("k-big"), body: hubtest.Submission(4, 32<<10, push),
			status: http.StatusRequestEntityTooLarge, code: schemas.CodeBodyTooLarge},
		{token: env.Token, header: map[string]string{"Content-Type": "text/plain", "Idempotency-Key": "k-bad"}, body: pushBody,
			invalid: true, status: http.StatusUnsupportedMediaType, code: schemas.CodeUnsupportedMediaType},
		{token: env.Token, header: jsonKey("k-unknown"), body: hubtest.Submission(5, 1024, push, unknown),
			status: http.StatusUnprocessableEntity, code: schemas.CodeUnknownAddressee},
	} {
		cl.method, cl.path = http.MethodPost, "/v1/appeals"
		api.do(t, cl)
	}

	// The push: the hub delivers to the system with its token and the delivery id as the key.
	waitFor(t, 30*time.Second, "the push delivery is delivered", func() bool {
		delivered, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDelivered)
		require.NoError(t, err)
		return len(delivered) == 1
	})
	pushed := sys.exchanges()
	require.NotEmpty(t, pushed)
	require.Equal(t, "Bearer "+hubToken, pushed[0].req.Header.Get("Authorization"))
	for _, x := range pushed {
		validatePush(t, doc, x)
	}
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + pushReceipt.ID, token: env.Token, status: http.StatusOK})
	pushCase := decodeCase(t, resp.Body)
	require.Len(t, pushCase.Deliveries, 1)
	pushDelivery := pushCase.Deliveries[0]
	require.Equal(t, schemas.StatusDelivered, pushDelivery.Status, "the system's reply was a delivery notice")
	require.Equal(t, pushDelivery.ID, pushed[0].req.Header.Get("Idempotency-Key"))
	for _, cl := range []call{
		{path: "/v1/appeals/0191d7a8-0000-7000-8000-000000000000", token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: "/v1/appeals/" + pushReceipt.ID, status: http.StatusUnauthorized, invalid: true, code: schemas.CodeUnauthorized},
		{path: "/v1/appeals/" + pushReceipt.ID, token: pullToken, status: http.StatusForbidden, code: schemas.CodeForbidden},
	} {
		cl.method = http.MethodGet
		api.do(t, cl)
	}

	// The pull: list, fetch, acknowledge.
	inbox := "/v1/authorities/" + pull + "/inbox"
	var page inboxPage
	waitFor(t, 30*time.Second, "the pull delivery is in the inbox", func() bool {
		resp := api.do(t, call{method: http.MethodGet, path: inbox + "?limit=10", token: pullToken, status: http.StatusOK})
		require.NoError(t, json.Unmarshal(resp.Body, &page))
		return len(page.Items) == 1
	})
	pullID := page.Items[0].DeliveryID
	resp = api.do(t, call{method: http.MethodGet, path: inbox + "/" + pullID, token: pullToken, status: http.StatusOK})
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, pullID, resp.Header.Get("Idempotency-Key"))
	api.do(t, call{method: http.MethodPost, path: inbox + "/" + pullID + "/ack", token: pullToken, status: http.StatusNoContent})
	api.do(t, call{method: http.MethodPost, path: inbox + "/" + pullID + "/ack", token: pullToken, status: http.StatusNoContent})
	for _, cl := range []call{
		{method: http.MethodGet, path: inbox + "?limit=0", token: pullToken, invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{method: http.MethodGet, path: inbox, invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{method: http.MethodGet, path: inbox, token: pushToken, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodGet, path: inbox, token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodGet, path: inbox + "/" + pullID, token: pushToken, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodGet, path: "/v1/authorities/" + push + "/inbox/" + pullID, token: pushToken, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodGet, path: inbox + "/not-a-uuid", token: pullToken, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodPost, path: inbox + "/" + pushDelivery.ID + "/ack", token: pullToken, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{method: http.MethodPost, path: inbox + "/" + pullID + "/ack", status: http.StatusUnauthorized, invalid: true, code: schemas.CodeUnauthorized},
	} {
		api.do(t, cl)
	}

	// Messages: each system reports on its own delivery.
	pullMessages := "/v1/authorities/" + pull + "/messages"
	pushMessages := "/v1/authorities/" + push + "/messages"
	registered := message("registered", "m-1", pullID, `,"registration_number":"01-12/345","registration_date":"2026-03-02T09:30:00+02:00"`)
	var results struct {
		Results []schemas.MessageResult `json:"results"`
	}
	resp = api.do(t, call{method: http.MethodPost, path: pullMessages, token: pullToken, header: asJSON, body: registered, status: http.StatusOK})
	require.NoError(t, json.Unmarshal(resp.Body, &results))
	require.Equal(t, []schemas.MessageResult{{MessageID: "m-1", Of: pullID, Applied: true, Status: schemas.StatusRegistered}}, results.Results)
	resp = api.do(t, call{method: http.MethodPost, path: pullMessages, token: pullToken, header: asJSON, body: registered, status: http.StatusOK})
	require.NoError(t, json.Unmarshal(resp.Body, &results))
	require.True(t, results.Results[0].Duplicate)
	batch := fmt.Appendf(nil, `{"messages":[%s,%s]}`,
		message("registered", "p-1", pushDelivery.ID, `,"registration_number":"7/1","registration_date":"2026-03-02T10:00:00Z"`),
		message("answered", "p-2", pushDelivery.ID, `,"outcome":"explained","documents":[{"file_name":"answer.pdf","media_type":"application/pdf","content":"JVBERi0xLjcK","signatures":[{"of":"answer.pdf","format":"cades-detached","value":"MIIBAA=="}]}]`))
	resp = api.do(t, call{method: http.MethodPost, path: pushMessages, token: pushToken, header: asJSON, body: batch, status: http.StatusOK})
	require.NoError(t, json.Unmarshal(resp.Body, &results))
	require.Len(t, results.Results, 2)
	require.Equal(t, schemas.StatusAnswered, results.Results[1].Status)
	for _, cl := range []call{
		{path: pullMessages, token: pullToken, header: asJSON, body: message("registered", "m-2", pullID, ""),
			invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{path: pullMessages, token: pullToken, header: asJSON, body: message("delivered", "m-3", pushDelivery.ID, ""),
			status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: pushMessages, token: pullToken, header: asJSON, body: message("delivered", "m-4", pushDelivery.ID, ""),
			status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: pullMessages, header: asJSON, body: registered, invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{path: pullMessages, token: pullToken, header: map[string]string{"Content-Type": "text/plain"}, body: registered,
			invalid: true, status: http.StatusUnsupportedMediaType, code: schemas.CodeUnsupportedMediaType},
		{path: pullMessages, token: pullToken, header: map[string]string{"Content-Type": "application/xml"},
			body: []byte(`<Header standart="1207" version="1.5"/>`), status: http.StatusUnsupportedMediaType, code: schemas.CodeUnsupportedMediaType},
		{path: pullMessages, token: pullToken, header: asJSON, body: message("status", "m-5", pullID, `,"text":"`+strings.Repeat("x", 20<<10)+`"`),
			status: http.StatusRequestEntityTooLarge, code: schemas.CodeBodyTooLarge},
	} {
		cl.method = http.MethodPost
		api.do(t, cl)
	}

	resp = api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + pullReceipt.ID, token: env.Token, status: http.StatusOK})
	require.Equal(t, schemas.StatusRegistered, decodeCase(t, resp.Body).Deliveries[0].Status)

	// An SEV 1207 system: its inbox hands out XML, and it reports with a 1207 notice.
	xmlInbox := "/v1/authorities/" + xmlPull + "/inbox"
	waitFor(t, 30*time.Second, "the XML delivery is in the inbox", func() bool {
		resp := api.do(t, call{method: http.MethodGet, path: xmlInbox, token: xmlToken, status: http.StatusOK})
		require.NoError(t, json.Unmarshal(resp.Body, &page))
		return len(page.Items) == 1
	})
	xmlID := page.Items[0].DeliveryID
	resp = api.do(t, call{method: http.MethodGet, path: xmlInbox + "/" + xmlID, token: xmlToken, status: http.StatusOK})
	require.Equal(t, "application/xml", resp.Header.Get("Content-Type"))
	require.Contains(t, string(resp.Body), `msg_id="`+xmlID+`"`)
	api.do(t, call{method: http.MethodPost, path: xmlInbox + "/" + xmlID + "/ack", token: xmlToken, status: http.StatusNoContent})
	xmlMessages := "/v1/authorities/" + xmlPull + "/messages"
	xmlAsXML := map[string]string{"Content-Type": "application/xml"}
	resp = api.do(t, call{method: http.MethodPost, path: xmlMessages, token: xmlToken, header: xmlAsXML, body: sevAck(xmlPull, xmlID), status: http.StatusOK})
	require.NoError(t, json.Unmarshal(resp.Body, &results))
	require.Equal(t, []schemas.MessageResult{{MessageID: "sed-ack-1", Of: xmlID, Applied: true, Status: schemas.StatusRegistered}}, results.Results)
	api.do(t, call{method: http.MethodPost, path: xmlMessages, token: xmlToken, header: xmlAsXML,
		body: []byte(`<Header standart="1207" version="1.4" msg_type="0" msg_id="x"/>`), status: http.StatusBadRequest, code: schemas.CodeMalformedMessage})
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + xmlReceipt.ID, token: env.Token, status: http.StatusOK})
	require.Equal(t, schemas.StatusRegistered, decodeCase(t, resp.Body).Deliveries[0].Status)

	// The hub-signed receipts of the push case: accepted, delivered, registered.
	receipts := "/v1/appeals/" + pushReceipt.ID + "/receipts"
	var signed struct {
		Receipts []schemas.SignedReceipt `json:"receipts"`
	}
	waitFor(t, 30*time.Second, "the push case's three receipts", func() bool {
		resp := api.do(t, call{method: http.MethodGet, path: receipts, token: env.Token, status: http.StatusOK})
		require.NoError(t, json.Unmarshal(resp.Body, &signed))
		return len(signed.Receipts) == 3
	})
	oneReceipt := receipts + "/" + signed.Receipts[2].ID
	resp = api.do(t, call{method: http.MethodGet, path: oneReceipt, token: env.Token, status: http.StatusOK})
	require.Contains(t, string(resp.Body), `"type":"registration"`)
	resp = api.do(t, call{method: http.MethodGet, path: oneReceipt, token: env.Token,
		header: map[string]string{"Accept": "application/pkcs7-mime"}, status: http.StatusOK})
	require.Equal(t, signed.Receipts[2].CMS, resp.Body)
	for _, cl := range []call{
		{path: "/v1/appeals/0191d7a8-0000-7000-8000-000000000000/receipts", token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: receipts + "/0191d7a8-0000-7000-8000-000000000000", token: env.Token, status: http.StatusNotFound, code: schemas.CodeNotFound},
		{path: receipts, invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{path: oneReceipt, token: pullToken, status: http.StatusForbidden, code: schemas.CodeForbidden},
	} {
		cl.method = http.MethodGet
		api.do(t, cl)
	}

	// The authority registry (operator tokens only) and the public directory (no token).
	kmu := []byte(`{"code":"00000431","name":"Кабінет Міністрів України","short_name":"КМУ","kind":"central",` +
		`"territory":"UA80000000000000000","topics":["*"],"accepts":["appeal","info_request"],"adapter":"json","reason":"seed"}`)
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/authorities", token: operatorToken, header: asJSON, body: kmu, status: http.StatusCreated})
	require.Equal(t, "/v1/authorities/00000431", resp.Header.Get("Location"))
	for _, token := range []string{env.Token, pushToken} {
		api.do(t, call{method: http.MethodPost, path: "/v1/authorities", token: token, header: asJSON, body: kmu,
			status: http.StatusForbidden, code: schemas.CodeForbidden})
		api.do(t, call{method: http.MethodGet, path: "/v1/authorities/00000431/history", token: token,
			status: http.StatusForbidden, code: schemas.CodeForbidden})
	}
	api.do(t, call{method: http.MethodPost, path: "/v1/authorities", token: operatorToken, header: asJSON,
		body: bytes.Replace(kmu, []byte("00000431"), []byte("00000432"), 1), status: http.StatusBadRequest, code: schemas.CodeSchemaViolation})
	csvFile := "code,name,short,kind,parent,territory,topics,accepts,adapter\n" +
		"19863933,Міністерство цифрової трансформації України,Мінцифри,central,00000431,UA80000000000000000,digital;e_services,appeal;info_request,json\n"
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/authorities?reason=import", token: operatorToken,
		header: map[string]string{"Content-Type": "text/csv"}, body: []byte(csvFile), status: http.StatusOK})
	require.JSONEq(t, `{"imported":1}`, string(resp.Body))
	api.do(t, call{method: http.MethodGet, path: "/v1/authorities?kind=central&per_page=10", token: operatorToken, status: http.StatusOK})
	api.do(t, call{method: http.MethodGet, path: "/v1/authorities/19863933", token: operatorToken, status: http.StatusOK})
	api.do(t, call{method: http.MethodGet, path: "/v1/authorities/19999990", token: operatorToken, status: http.StatusNotFound, code: schemas.CodeNotFound})
	api.do(t, call{method: http.MethodPatch, path: "/v1/authorities/19863933", token: operatorToken, header: asJSON,
		body: []byte(`{"it_contact":"it@thedigital.gov.ua","reason":"contact"}`), status: http.StatusOK})
	api.do(t, call{method: http.MethodPost, path: "/v1/authorities/19863933/suspend", token: operatorToken, status: http.StatusOK})
	api.do(t, call{method: http.MethodPost, path: "/v1/authorities/19863933/resume", token: operatorToken, header: asJSON,
		body: []byte(`{"reason":"back"}`), status: http.StatusOK})
	api.do(t, call{method: http.MethodPost, path: "/v1/authorities/19863933/close", token: operatorToken, header: asJSON,
		body: []byte(`{"successor":"00000431","reason":"merged"}`), status: http.StatusOK})
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/authorities/19863933/history", token: operatorToken, status: http.StatusOK})
	var history struct {
		Changes []schemas.AuthorityChange `json:"changes"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &history))
	require.Len(t, history.Changes, 5)
	require.Equal(t, "ops", history.Changes[4].ChangedBy)
	// Versions (ETag, If-Match) and a scheduled change, withdrawn before its time.
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/authorities/00000431", token: operatorToken, status: http.StatusOK})
	api.do(t, call{method: http.MethodPatch, path: "/v1/authorities/00000431", token: operatorToken,
		header: map[string]string{"Content-Type": "application/json", "If-Match": `"v999"`}, body: []byte(`{"it_contact":"x"}`),
		status: http.StatusPreconditionFailed, code: schemas.CodeVersionConflict})
	resp = api.do(t, call{method: http.MethodPost, path: "/v1/authorities/00000431/suspend", token: operatorToken,
		header: map[string]string{"Content-Type": "application/json", "If-Match": resp.Header.Get("ETag")},
		body:   []byte(`{"reason":"maintenance","effective_at":"2099-01-01T00:00:00Z"}`), status: http.StatusAccepted})
	var scheduled schemas.Authority
	require.NoError(t, json.Unmarshal(resp.Body, &scheduled))
	require.Len(t, scheduled.Pending, 1)
	pendingPath := fmt.Sprintf("/v1/authorities/00000431/pending/%d", scheduled.Pending[0].ID)
	api.do(t, call{method: http.MethodDelete, path: pendingPath + "?reason=not+needed", token: operatorToken,
		header: map[string]string{"If-Match": resp.Header.Get("ETag")}, status: http.StatusOK})
	api.do(t, call{method: http.MethodDelete, path: pendingPath, token: operatorToken, status: http.StatusNotFound, code: schemas.CodeNotFound})
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/authorities/" + push + "/delivery", token: operatorToken, status: http.StatusOK})
	require.Contains(t, string(resp.Body), `"breaker":"closed"`)
	api.do(t, call{method: http.MethodGet, path: "/v1/authorities/19999990/delivery", token: operatorToken, status: http.StatusNotFound, code: schemas.CodeNotFound})
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/overdue?authority=" + push + "&kind=answer&limit=10", token: operatorToken, status: http.StatusOK})
	require.JSONEq(t, `{"items":[]}`, string(resp.Body), "nothing is overdue yet")
	for _, cl := range []call{
		{path: "/v1/overdue?kind=forward", token: operatorToken, invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{path: "/v1/overdue?limit=0", token: operatorToken, invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{path: "/v1/overdue?cursor=not-a-cursor", token: operatorToken, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{path: "/v1/overdue", token: env.Token, status: http.StatusForbidden, code: schemas.CodeForbidden},
		{path: "/v1/overdue", invalid: true, status: http.StatusUnauthorized, code: schemas.CodeUnauthorized},
		{path: "/v1/stats?from=2020-01-01&to=2100-01-01&group_by=kind", token: operatorToken, status: http.StatusOK},
		{path: "/v1/stats?from=2020-01-01&to=2100-01-01&format=csv", token: operatorToken, status: http.StatusOK},
		{path: "/v1/stats?from=2020-01-01&to=2100-01-01&group_by=week", token: operatorToken, invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation},
		{path: "/v1/stats?from=2020-01-01&to=2100-01-01", token: env.Token, status: http.StatusForbidden, code: schemas.CodeForbidden},
	} {
		cl.method = http.MethodGet
		api.do(t, cl)
	}
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/directory?q=%D0%BA%D0%B0%D0%B1%D1%96%D0%BD%D0%B5%D1%82", status: http.StatusOK})
	require.Contains(t, string(resp.Body), `"00000431"`)
	api.do(t, call{method: http.MethodGet, path: "/v1/directory?territory=UA05", invalid: true, status: http.StatusBadRequest, code: schemas.CodeSchemaViolation})

	portalNotificationsAfter(t, api, env, hook, doc, pushReceipt, pullToken)

	// What no operation describes.
	api.validateUnrouted(t, http.MethodGet, "/v1/nothing-here", "NotFound", http.StatusNotFound)
	api.validateUnrouted(t, http.MethodDelete, "/v1/appeals/"+pushReceipt.ID, "MethodNotAllowed", http.StatusMethodNotAllowed)

	// Every operation of the document answered with success at least once, and every refusal this
	// test set out to see was seen.
	statuses := map[int]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			key := method + " " + path
			ok := false
			for st := range api.seen[key] {
				statuses[st] = true
				ok = ok || st < 300
			}
			require.True(t, ok, "%s was exercised with success", key)
		}
	}
	for _, st := range []int{400, 401, 403, 404, 409, 413, 415, 422} {
		require.True(t, statuses[st], "status %d was exercised", st)
	}
}

// routePattern matches the route registrations of internal/httpapi.
var routePattern = regexp.MustCompile(`h\.mux\.HandleFunc\("([A-Z]+) (/[^"]*)"`)

// TestOpenAPICoversEveryRouteAndCode: the routes registered in internal/httpapi and the operations of
// schemas/openapi.yaml are the same set; the Problem code enum is exactly schemas.Codes(); and every
// problem response of the document pairs its codes with the statuses of docs/errors.md.
func TestOpenAPICoversEveryRouteAndCode(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)

	files, err := filepath.Glob(filepath.Join("..", "internal", "httpapi", "*.go"))
	require.NoError(t, err)
	routes := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
			routes[m[1]+" "+m[2]] = true
		}
	}
	require.GreaterOrEqual(t, len(routes), 8, "found the route registrations of internal/httpapi")
	operations := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			operations[method+" "+path] = true
		}
	}
	require.Equal(t, routes, operations, "routes of internal/httpapi = operations of schemas/openapi.yaml")

	var enum []string
	for _, v := range doc.Components.Schemas["ProblemCode"].Value.Enum {
		enum = append(enum, v.(string))
	}
	var codes []string
	for _, c := range schemas.Codes() {
		codes = append(codes, string(c))
	}
	require.ElementsMatch(t, codes, enum, "ProblemCode enum = schemas.Codes()")

	// docs/errors.md: | `code` | status | …
	errorsDoc, err := os.ReadFile(filepath.Join("..", "docs", "errors.md"))
	require.NoError(t, err)
	statusOf := map[string]int{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_0-9]+)` \\| ([0-9]{3}) \\|").FindAllStringSubmatch(string(errorsDoc), -1) {
		var st int
		_, err := fmt.Sscan(m[2], &st)
		require.NoError(t, err)
		statusOf[m[1]] = st
	}
	require.Len(t, statusOf, len(codes), "docs/errors.md has a row per code")
	inResponses := map[string]bool{}
	for name, ref := range doc.Components.Responses {
		mt := ref.Value.Content.Get("application/problem+json")
		if mt == nil {
			continue
		}
		var st []any
		var cs []any
		for _, sub := range mt.Schema.Value.AllOf {
			if p := sub.Value.Properties["status"]; p != nil && sub.Ref == "" {
				st = p.Value.Enum
			}
			if p := sub.Value.Properties["code"]; p != nil && sub.Ref == "" {
				cs = p.Value.Enum
			}
		}
		require.Len(t, st, 1, "response %s names its status", name)
		require.NotEmpty(t, cs, "response %s names its codes", name)
		for _, c := range cs {
			require.Equal(t, statusOf[c.(string)], int(st[0].(float64)), "response %s: code %s has the status of docs/errors.md", name, c)
			inResponses[c.(string)] = true
		}
	}
	for _, c := range codes {
		require.True(t, inResponses[c], "code %s appears in a problem response of the document", c)
	}
}

// TestOpenAPIAgreesWithJSONSchemas: the OpenAPI 3.0 translations of the submission, delivery
// document and authority message schemas accept and refuse the same documents as the normative
// JSON Schemas (through the hub's own decoders).
func TestOpenAPIAgreesWithJSONSchemas(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	visit := func(schema string, body []byte) error {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		return doc.Components.Schemas[schema].Value.VisitJSON(v)
	}

	submission := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(hubtest.Submission(1, 600, "12000001"), &m))
		edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	applicantSet := func(k string, v any) func(map[string]any) {
		return func(m map[string]any) { m["applicant"].(map[string]any)[k] = v }
	}
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	all := func(fs ...func(map[string]any)) func(map[string]any) {
		return func(m map[string]any) {
			for _, f := range fs {
				f(m)
			}
		}
	}
	attachment := func(a map[string]any) func(map[string]any) { return set("attachments", []any{a}) }
	for name, body := range map[string][]byte{
		"minimal":                 submission(func(map[string]any) {}),
		"topic and territory":     submission(all(del("addressees"), set("topic", "roads"), set("territory", "UA05000000000000000"))),
		"info request":            submission(all(set("case_kind", "info_request"), del("appeal_kind"))),
		"urgent":                  submission(all(set("case_kind", "info_request"), del("appeal_kind"), set("urgent", true), set("urgency_reason", "health"))),
		"attachment":              submission(attachment(map[string]any{"id": "a1", "file_name": "a.pdf", "media_type": "application/pdf", "content": "aGVsbG8="})),
		"signature":               submission(set("signatures", []any{map[string]any{"of": "text", "format": "cades-detached", "value": "MIIBAA=="}})),
		"submitted at":            submission(set("submitted_at", "2026-03-01T10:05:00+02:00")),
		"appeal without kind":     submission(del("appeal_kind")),
		"info request with kind":  submission(set("case_kind", "info_request")),
		"urgent without reason":   submission(set("urgent", true)),
		"no addressees":           submission(del("addressees")),
		"empty addressees":        submission(set("addressees", []any{})),
		"topic only":              submission(all(del("addressees"), set("topic", "roads"))),
		"unknown field":           submission(set("priority", 1)),
		"no name":                 submission(func(m map[string]any) { delete(m["applicant"].(map[string]any), "name") }),
		"blank subject":           submission(set("subject", "   ")),
		"bad addressee":           submission(set("addressees", []any{"123"})),
		"repeated addressee":      submission(set("addressees", []any{"12000001", "12000001"})),
		"bad phone":               submission(applicantSet("phone", "call me")),
		"bad territory":           submission(all(del("addressees"), set("topic", "roads"), set("territory", "05000000000000000"))),
		"path in file name":       submission(attachment(map[string]any{"file_name": "a/b.pdf", "media_type": "application/pdf", "content": "aGVsbG8="})),
		"dot file name":           submission(attachment(map[string]any{"file_name": "..", "media_type": "application/pdf", "content": "aGVsbG8="})),
		"unpadded base64":         submission(attachment(map[string]any{"file_name": "a.pdf", "media_type": "application/pdf", "content": "aGVsbG8"})),
		"media type with params":  submission(attachment(map[string]any{"file_name": "a.pdf", "media_type": "text/plain; charset=utf-8", "content": "aGVsbG8="})),
		"unknown signature":       submission(set("signatures", []any{map[string]any{"of": "text", "format": "pkcs7", "value": "MIIBAA=="}})),
		"bad submitted at":        submission(set("submitted_at", "yesterday")),
		"negative co-signers":     submission(set("co_signers", -1)),
		"bad portal id":           submission(set("portal_submission_id", "has space")),
		"string urgent":           submission(set("urgent", "yes")),
		"unknown case kind":       submission(set("case_kind", "petition")),
		"applicant not an object": submission(set("applicant", "Ivan")),
	} {
		_, jsErr := schemas.DecodeSubmission(body)
		oaErr := visit("Submission", body)
		require.Equal(t, jsErr == nil, oaErr == nil, "submission %q: JSON Schema %v, OpenAPI %v", name, jsErr, oaErr)
	}

	const of = "0191d7a8-0000-7000-8000-000000000001"
	doc1 := `,"documents":[{"file_name":"a.pdf","media_type":"application/pdf","content":"JVBERi0xLjcK"}]`
	for name, body := range map[string][]byte{
		"delivered":               message("delivered", "m", of, ""),
		"accepted with time":      message("accepted", "m", of, `,"at":"2026-03-02T09:30:00Z"`),
		"registered":              message("registered", "m", of, `,"registration_number":"1","registration_date":"2026-03-02T09:30:00Z","registrar":"Office"`),
		"refused":                 message("refused", "m", of, `,"refusal_code":"duplicate","refusal_text":"Already received"`),
		"status":                  message("status", "m", of, `,"text":"In progress"`),
		"registered simple":       message("registered", "m", of, `,"registration_number":"1","registration_date":"2026-03-02T09:30:00Z","simple":true`),
		"simple not a boolean":    message("status", "m", of, `,"text":"x","simple":"yes"`),
		"extended":                message("extended", "m", of, `,"new_due_date":"2026-04-02T00:00:00Z","reason":"Inspection"`),
		"forwarded":               message("forwarded", "m", of, `,"forwarded_to":"12345678","reason":"Competence"`),
		"returned":                message("returned", "m", of, `,"reason":"No address"`),
		"not considered":          message("not_considered", "m", of, ""),
		"answered text":           message("answered", "m", of, `,"outcome":"satisfied","text":"Done"`),
		"answered documents":      message("answered", "m", of, `,"outcome":"explained"`+doc1),
		"answered refused":        message("answered", "m", of, `,"outcome":"refused","text":"No","legal_basis":"Art. 8","appeal_procedure":"Court"`),
		"batch":                   fmt.Appendf(nil, `{"messages":[%s,%s]}`, message("delivered", "a", of, ""), message("accepted", "b", of, "")),
		"registered no date":      message("registered", "m", of, `,"registration_number":"1"`),
		"refused unknown ground":  message("refused", "m", of, `,"refusal_code":"bored","refusal_text":"No"`),
		"refused no text":         message("refused", "m", of, `,"refusal_code":"duplicate"`),
		"extended no reason":      message("extended", "m", of, `,"new_due_date":"2026-04-02T00:00:00Z"`),
		"forwarded bad code":      message("forwarded", "m", of, `,"forwarded_to":"123","reason":"Competence"`),
		"answered no outcome":     message("answered", "m", of, `,"text":"Done"`),
		"answered nothing":        message("answered", "m", of, `,"outcome":"satisfied"`),
		"answered refused basis":  message("answered", "m", of, `,"outcome":"refused","text":"No"`),
		"unknown type":            message("lost", "m", of, ""),
		"wrong format":            bytes.Replace(message("delivered", "m", of, ""), []byte("message.v1"), []byte("message.v2"), 1),
		"unknown field":           message("delivered", "m", of, `,"priority":1`),
		"blank text":              message("status", "m", of, `,"text":" "`),
		"bad date":                message("delivered", "m", of, `,"at":"02.03.2026"`),
		"document bad signature":  message("answered", "m", of, `,"outcome":"satisfied","documents":[{"file_name":"a.pdf","media_type":"application/pdf","content":"JVBERi0xLjcK","signatures":[{"of":"a.pdf","format":"gpg","value":"MIIBAA=="}]}]`),
		"document empty content":  message("answered", "m", of, `,"outcome":"satisfied","documents":[{"file_name":"a.pdf","media_type":"application/pdf","content":""}]`),
		"no message id":           []byte(`{"format":"appealhub.message.v1","of":"x","type":"delivered"}`),
		"empty batch":             []byte(`{"messages":[]}`),
		"batch with a bad one":    fmt.Appendf(nil, `{"messages":[%s,%s]}`, message("delivered", "a", of, ""), message("registered", "b", of, "")),
		"batch with extra member": fmt.Appendf(nil, `{"messages":[%s],"more":1}`, message("delivered", "a", of, "")),
		"array":                   fmt.Appendf(nil, `[%s]`, message("delivered", "a", of, "")),
	} {
		_, jsErr := schemas.DecodeAuthorityMessages(body)
		var oaErr error
		if bytes.HasPrefix(body, []byte(`{"messages"`)) {
			oaErr = visit("AuthorityMessageBatch", body)
		} else {
			oaErr = visit("AuthorityMessage", body)
		}
		require.Equal(t, jsErr == nil, oaErr == nil, "message %q: JSON Schema %v, OpenAPI %v", name, jsErr, oaErr)
	}

	delivery := func(edit func(m map[string]any)) []byte {
		var sub any
		require.NoError(t, json.Unmarshal(hubtest.Submission(1, 600, "12000001"), &sub))
		m := map[string]any{"format": "appealhub.delivery.v1", "delivery_id": of, "appeal_id": of, "tracking_number": "ZV-2026-00000001",
			"authority": "12000001", "attempt": 1, "received_at": "2026-03-01T10:05:00Z", "submission": sub}
		edit(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	for name, body := range map[string][]byte{
		"ok":                 delivery(func(map[string]any) {}),
		"retry":              delivery(set("attempt", 3)),
		"attempt zero":       delivery(set("attempt", 0)),
		"wrong format":       delivery(set("format", "appealhub.delivery.v2")),
		"no submission":      delivery(del("submission")),
		"bad authority":      delivery(set("authority", "x")),
		"bad tracking":       delivery(set("tracking_number", "ZV 1")),
		"unknown field":      delivery(set("priority", 1)),
		"bad submission":     delivery(set("submission", map[string]any{"case_kind": "appeal"})),
		"bad received at":    delivery(set("received_at", "now")),
		"space in the id":    delivery(set("delivery_id", "a b")),
		"submission as text": delivery(set("submission", "{}")),
	} {
		jsErr := schemas.ValidateDelivery(body)
		oaErr := visit("DeliveryDocument", body)
		require.Equal(t, jsErr == nil, oaErr == nil, "delivery %q: JSON Schema %v, OpenAPI %v", name, jsErr, oaErr)
	}
}
