package router_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/adapters/jsondoc"
	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// TestForwardToTheCompetentAuthority runs a hub with authority A (a JSON system that only
// receives), authority B (an SEV 1207 office that reports delivered, registered and answered by
// itself) and a suspended authority C. A forwards a case to B through
// POST /v1/authorities/{code}/messages; B's system receives it by the normal path and answers it.
// Forwards the hub cannot carry out are refused whole with 422, nothing applied. Every request and
// response is validated against schemas/openapi.yaml.
func TestForwardToTheCompetentAuthority(t *testing.T) {
	t.Parallel()
	const a, b, c, unknown = "11000001", "11000002", "11000003", "11999999"
	tokA, tokB := "forward-a-token", "forward-b-token"
	sysA := newSystem(t, "a", sandbox.Options{})
	// B's address must be known before the hub starts, and the hub's before B's sandbox is made.
	srvB := httptest.NewUnstartedServer(nil)
	t.Cleanup(srvB.Close)
	env := hubtest.NewEnv(t, map[string]string{a: sysA.endpoint(a), b: "http://" + srvB.Listener.Addr().String() + "/documents/" + b},
		func(cfg *config.Config) {
			for i := range cfg.Authorities {
				if cfg.Authorities[i].Code == b {
					cfg.Authorities[i].Adapter = "sev1207"
				}
			}
			cfg.Authorities = append(cfg.Authorities, config.Authority{Code: c, Name: "Suspended", Adapter: "json",
				Endpoint: "http://127.0.0.1:1/", Status: config.AuthoritySuspended})
			cfg.Clients = append(cfg.Clients,
				config.Client{ID: "sys-a", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tokA)},
				config.Client{ID: "sys-b", Kind: config.ClientAuthority, Authority: b, TokenSHA256: sha256Hex(tokB)})
		})
	env.TrackAuthorities(t, c)
	hub := env.Start(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	sbB, err := sandbox.New(sandbox.Options{Name: "office-b", Format: sandbox.FormatSEV1207, Hub: hub.URL, Code: b, HubToken: tokB,
		RegisterAfter: 20 * time.Millisecond, AnswerAfter: 20 * time.Millisecond, Seed: 3}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	srvB.Config.Handler = sbB
	srvB.Start()
	t.Cleanup(func() { require.NoError(t, sbB.Close()) })

	api := newAPICheck(t, loadOpenAPI(t), hub.URL)
	receipt := env.MustSubmit(t, hub.URL, "forward-1", hubtest.Submission(1, 1024, a))
	appeal := "/v1/appeals/" + receipt.ID
	readCase := func() schemas.Case {
		resp := api.do(t, call{method: http.MethodGet, path: appeal, token: env.Token, status: http.StatusOK})
		return decodeCase(t, resp.Body)
	}
	waitFor(t, 30*time.Second, "A's system has the case", func() bool { return sysA.sb.Ledger().Documents == 1 })
	dA := readCase().Deliveries[0]
	require.Equal(t, a, dA.Authority)

	messages := "/v1/authorities/" + a + "/messages"
	post := func(status int, code schemas.Code, msgs ...schemas.AuthorityMessage) []schemas.MessageResult {
		t.Helper()
		resp := api.do(t, call{method: http.MethodPost, path: messages, token: tokA, header: map[string]string{"Content-Type": "application/json"},
			body: jsondoc.EncodeMessages(msgs), status: status, code: code})
		var out struct {
			Results []schemas.MessageResult `json:"results"`
		}
		if status == http.StatusOK {
			require.NoError(t, json.Unmarshal(resp.Body, &out))
		}
		return out.Results
	}
	regDate := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	require.Equal(t, schemas.StatusRegistered, post(http.StatusOK, "", schemas.AuthorityMessage{MessageID: "a-reg", Of: dA.ID,
		Type: schemas.MsgRegistered, RegistrationNumber: "A-1", RegistrationDate: &regDate})[0].Status)

	// Forwards the hub cannot carry out: refused whole, the valid message before them included.
	forward := func(id, to string) schemas.AuthorityMessage {
		return schemas.AuthorityMessage{MessageID: id, Of: dA.ID, Type: schemas.MsgForwarded, ForwardedTo: to, Reason: "Не належить до компетенції"}
	}
	status := schemas.AuthorityMessage{MessageID: "a-status", Of: dA.ID, Type: schemas.MsgStatus, Text: "На розгляді"}
	for _, tc := range []struct {
		to   string
		code schemas.Code
	}{
		{unknown, schemas.CodeForwardTargetUnknown},
		{c, schemas.CodeForwardTargetInactive},
		{a, schemas.CodeForwardTargetDuplicate},
	} {
		post(http.StatusUnprocessableEntity, tc.code, status, forward("a-fwd-"+tc.to, tc.to))
	}
	before := readCase()
	require.Len(t, before.Deliveries, 1)
	require.Equal(t, schemas.StatusRegistered, before.Deliveries[0].Status)
	for _, e := range before.Events {
		require.NotEqual(t, schemas.AuthorityEvent(schemas.MsgStatus), e.Type, "nothing of a refused request was applied")
	}

	// The forward to B: applied, once.
	require.Equal(t, []schemas.MessageResult{{MessageID: "a-fwd", Of: dA.ID, Applied: true, Status: schemas.StatusForwarded}},
		post(http.StatusOK, "", forward("a-fwd", b)))
	require.True(t, post(http.StatusOK, "", forward("a-fwd", b))[0].Duplicate)
	require.Equal(t, []schemas.MessageResult{{MessageID: "a-fwd-2", Of: dA.ID, Status: schemas.StatusForwarded}},
		post(http.StatusOK, "", forward("a-fwd-2", b)), "a second forward of a forwarded delivery changes nothing")

	// B's office receives the case the usual way, registers and answers it.
	var cs schemas.Case
	waitFor(t, 60*time.Second, "B answered", func() bool {
		cs = readCase()
		return len(cs.Deliveries) == 2 && cs.Deliveries[1].Status == schemas.StatusAnswered
	})
	fromA, toB := cs.Deliveries[0], cs.Deliveries[1]
	require.Equal(t, a, fromA.Authority)
	require.Equal(t, b, toB.Authority)
	require.Equal(t, schemas.StatusForwarded, fromA.Status)
	require.Equal(t, "Не належить до компетенції", fromA.Reason)
	require.Equal(t, toB.ID, fromA.ForwardedTo)
	require.Equal(t, fromA.ID, toB.ForwardedFrom)
	require.Equal(t, schemas.RoutingForwarded, toB.RoutingRule)
	require.Contains(t, toB.RoutingReason, a)
	require.NotEmpty(t, toB.RegistrationNumber)
	require.NotNil(t, toB.Answer)
	require.NotEmpty(t, toB.Answer.Documents)

	ledger := sbB.Ledger()
	require.Equal(t, 1, ledger.Documents, "B's system received the case once")
	require.Equal(t, toB.ID, ledger.Entries[0].DeliveryID)
	require.Equal(t, receipt.TrackingNumber, ledger.Entries[0].TrackingNumber)
	require.Equal(t, toB.RegistrationNumber, ledger.Entries[0].RegistrationNumber)
	require.Zero(t, ledger.MessagesFailed, "the hub took every message of B's office")

	var typesA, typesB []schemas.EventType
	for _, e := range cs.Events {
		if strings.HasPrefix(string(e.Type), "deadline_") {
			continue // the deadline keeper's events come whenever it runs, between any others
		}
		switch e.DeliveryID {
		case fromA.ID:
			typesA = append(typesA, e.Type)
		case toB.ID:
			typesB = append(typesB, e.Type)
		}
	}
	require.Equal(t, []schemas.EventType{schemas.AuthorityEvent(schemas.MsgForwarded), schemas.EventDeliveryForwardedTo,
		schemas.AuthorityEvent(schemas.MsgForwarded)}, typesA[len(typesA)-3:], "the forward, its link, and the stale second forward")
	require.Equal(t, schemas.EventDeliveryForwardedFrom, typesB[0])
	for _, want := range []schemas.EventType{schemas.EventDeliveryQueued, schemas.AuthorityEvent(schemas.MsgDelivered),
		schemas.AuthorityEvent(schemas.MsgRegistered), schemas.AuthorityEvent(schemas.MsgAnswered)} {
		require.Contains(t, typesB, want)
	}
	require.Less(t, slices.Index(typesB, schemas.AuthorityEvent(schemas.MsgRegistered)), slices.Index(typesB, schemas.AuthorityEvent(schemas.MsgAnswered)))

	require.Equal(t, 1, sysA.sb.Ledger().Documents, "A's system got the case once")

	// A case addressed to both: A cannot forward it to B, which already has it.
	both := env.MustSubmit(t, hub.URL, "forward-2", hubtest.Submission(2, 1024, a, b))
	resp := api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + both.ID, token: env.Token, status: http.StatusOK})
	dBoth := decodeCase(t, resp.Body).Deliveries[0]
	require.Equal(t, a, dBoth.Authority)
	post(http.StatusUnprocessableEntity, schemas.CodeForwardTargetDuplicate, schemas.AuthorityMessage{MessageID: "a-fwd-both", Of: dBoth.ID,
		Type: schemas.MsgForwarded, ForwardedTo: b, Reason: "x"})
	resp = api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + both.ID, token: env.Token, status: http.StatusOK})
	after := decodeCase(t, resp.Body)
	require.Len(t, after.Deliveries, 2)
	require.NotEqual(t, schemas.StatusForwarded, after.Deliveries[0].Status)
}

// TestForwardFromPullInbox: a pull-mode system forwards a case it fetched but never acknowledged;
// the forward proves delivery and the new delivery goes to a pull-mode inbox too.
func TestForwardFromPullInbox(t *testing.T) {
	t.Parallel()
	const a, b = "11100001", "11100002"
	tokA, tokB := "pull-a-token", "pull-b-token"
	env := hubtest.NewEnv(t, nil, func(cfg *config.Config) {
		cfg.Authorities = append(cfg.Authorities,
			config.Authority{Code: a, Name: "Pull A", Adapter: "json", Mode: config.AuthorityModePull, Status: config.AuthorityActive},
			config.Authority{Code: b, Name: "Pull B", Adapter: "json", Mode: config.AuthorityModePull, Status: config.AuthorityActive})
		cfg.Clients = append(cfg.Clients,
			config.Client{ID: "sys-a", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tokA)},
			config.Client{ID: "sys-b", Kind: config.ClientAuthority, Authority: b, TokenSHA256: sha256Hex(tokB)})
	})
	env.TrackAuthorities(t, a, b)
	hub := env.Start(t)
	ctx := context.Background()
	receipt := env.MustSubmit(t, hub.URL, "pull-forward", hubtest.Submission(2, 1024, a))
	inbox := func(code, token string) []schemas.InboxItem {
		status, page := getInbox(t, hub.URL+"/v1/authorities/"+code+"/inbox", token)
		require.Equal(t, http.StatusOK, status)
		return page.Items
	}
	var items []schemas.InboxItem
	waitFor(t, 30*time.Second, "A's inbox has the case", func() bool { items = inbox(a, tokA); return len(items) == 1 })
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	body := jsondoc.EncodeMessages([]schemas.AuthorityMessage{{MessageID: "f", Of: items[0].DeliveryID, Type: schemas.MsgForwarded,
		ForwardedTo: b, Reason: "За належністю"}})
	resp, err := hubtest.Do(ctx, http.MethodPost, hub.URL+"/v1/authorities/"+a+"/messages", tokA, h, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	waitFor(t, 30*time.Second, "B's inbox has the case", func() bool { items = inbox(b, tokB); return len(items) == 1 })
	cs := readCase(t, hub.URL, env.Token, receipt.ID)
	require.Len(t, cs.Deliveries, 2)
	require.Equal(t, schemas.StatusForwarded, cs.Deliveries[0].Status)
	require.NotNil(t, cs.Deliveries[0].DeliveredAt, "the forward proves A's system had the document")
	require.Equal(t, items[0].DeliveryID, cs.Deliveries[1].ID)
	require.Equal(t, cs.Deliveries[0].ID, cs.Deliveries[1].ForwardedFrom)
	require.Equal(t, receipt.TrackingNumber, items[0].TrackingNumber)
}
