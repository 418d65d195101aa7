package router_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/hubtest"
)

// TestRefusalsStoreNothing sends every kind of bad request to a running hub: each gets its status
// and stable code as problem+json, never a 5xx, and nothing is stored by any of them.
func TestRefusalsStoreNothing(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "sys", sandboxOptions())
	env := hubtest.NewEnv(t, map[string]string{"50000001": sys.endpoint("50000001")},
		func(c *config.Config) { c.HTTP.MaxBodyBytes = 64 << 10 })
	hub := env.Start(t)
	good := string(hubtest.Submission(1, 1024, "50000001"))
	json := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "k-1"}

	cases := []struct {
		name     string
		token    string
		header   map[string]string
		body     string
		status   int
		code     string
		pointers []string
	}{
		{name: "no token", header: json, body: good, status: 401, code: "unauthorized"},
		{name: "wrong token", token: "not-a-token", header: json, body: good, status: 401, code: "unauthorized"},
		{name: "malformed json", token: env.Token, header: json, body: `{"case_kind":`, status: 400, code: "malformed_json"},
		{name: "trailing data", token: env.Token, header: json, body: good + `{}`, status: 400, code: "malformed_json"},
		{name: "duplicate key", token: env.Token, header: json, status: 400, code: "duplicate_key",
			body: strings.Replace(good, `"case_kind":"appeal"`, `"case_kind":"appeal","case_kind":"info_request"`, 1)},
		{name: "invalid utf-8", token: env.Token, header: json, status: 400, code: "invalid_utf8",
			body: strings.Replace(good, "Тестенко", "Тест\xff\xfeенко", 1)},
		{name: "escaped NUL", token: env.Token, header: json, status: 400, code: "nul_character",
			body: strings.Replace(good, "Тестенко", `Тест\u0000енко`, 1)},
		{name: "unknown field", token: env.Token, header: json, status: 400, code: "schema_violation",
			body: strings.Replace(good, `"case_kind"`, `"priority":1,"case_kind"`, 1), pointers: []string{"/priority"}},
		{name: "case variant of a field", token: env.Token, header: json, status: 400, code: "schema_violation",
			body: strings.Replace(good, `"subject"`, `"Subject"`, 1)},
		{name: "missing fields", token: env.Token, header: json, status: 400, code: "schema_violation",
			body: `{"case_kind":"appeal","appeal_kind":"proposal","addressees":["50000001"],"applicant":{"name":"A"}}`},
		{name: "unknown addressee", token: env.Token, header: json, status: 422, code: "unknown_addressee",
			body: string(hubtest.Submission(1, 1024, "50000001", "59999999")), pointers: []string{"/addressees/1"}},
		{name: "body over the limit", token: env.Token, header: json, status: 413, code: "body_too_large",
			body: string(hubtest.Submission(1, 128<<10, "50000001"))},
		{name: "no idempotency key", token: env.Token, header: map[string]string{"Content-Type": "application/json"},
			body: good, status: 400, code: "idempotency_key_missing"},
		{name: "not json", token: env.Token, header: map[string]string{"Content-Type": "text/plain", "Idempotency-Key": "k"},
			body: good, status: 415, code: "unsupported_media_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			resp, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/appeals", tc.token, h, []byte(tc.body))
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.Status, string(resp.Body))
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			code, pointers := resp.Problem()
			require.Equal(t, tc.code, code)
			for _, p := range tc.pointers {
				require.Contains(t, pointers, p)
			}
		})
	}
	totals, err := env.Store.Totals(context.Background())
	require.NoError(t, err)
	require.Zero(t, totals.Appeals)
	require.Zero(t, totals.Deliveries)
	require.Zero(t, totals.Events)
	require.Zero(t, totals.OutboxPending)
}

// TestIdempotencyKey: the same key and body answer the same receipt and store nothing new; the
// same key with another body is a conflict.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "sys", sandboxOptions())
	env := hubtest.NewEnv(t, map[string]string{"60000001": sys.endpoint("60000001")}, nil)
	hub := env.Start(t)
	body := hubtest.Submission(1, 1024, "60000001")
	first := env.MustSubmit(t, hub.URL, "same-key", body)
	again := env.MustSubmit(t, hub.URL, "same-key", body)
	require.NotEmpty(t, first.AccessCode)
	require.Empty(t, again.AccessCode, "the access code is shown once")
	again.AccessCode = first.AccessCode
	require.Equal(t, first, again)

	other := bytes.Replace(body, []byte("Тестове"), []byte("Інше"), 1)
	resp, err := env.Submit(context.Background(), hub.URL, "same-key", other)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, resp.Status)
	code, _ := resp.Problem()
	require.Equal(t, "idempotency_key_reused", code)

	totals, err := env.Store.Totals(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, totals.Appeals)
	require.Equal(t, 1, totals.Deliveries)
}

// TestCaseVisibleOnlyToItsClient: the status of a case, with its deliveries and timeline; another
// portal client, or an id that does not exist, gets 404.
func TestCaseVisibleOnlyToItsClient(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "sys", sandboxOptions())
	other := "other-portal-token"
	env := hubtest.NewEnv(t, map[string]string{"70000001": sys.endpoint("70000001")}, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "other-portal", Kind: config.ClientPortal, TokenSHA256: sha256Hex(other)})
	})
	hub := env.Start(t)
	r := env.MustSubmit(t, hub.URL, "k", hubtest.Submission(1, 1024, "70000001"))
	require.Equal(t, "http://hub.test/v1/appeals/"+r.ID, r.StatusURL)
	env.WaitSettled(t, 30e9)

	resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	c := decodeCase(t, resp.Body)
	require.Equal(t, r.TrackingNumber, c.TrackingNumber)
	require.Len(t, c.Deliveries, 1)
	require.Equal(t, "delivered", string(c.Deliveries[0].Status))
	require.Equal(t, 1, c.Deliveries[0].Attempts)
	var types []string
	for _, e := range c.Events {
		types = append(types, string(e.Type))
	}
	require.Equal(t, []string{"submission_accepted", "delivery_queued", "delivery_delivered"}, types)

	for _, tc := range []struct{ token, id string }{{other, r.ID}, {env.Token, "0191d7a8-0000-7000-8000-000000000000"}, {env.Token, "not-a-uuid"}} {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+tc.id, tc.token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.Status)
		code, _ := resp.Problem()
		require.Equal(t, "not_found", code)
	}
}
