package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters/jsondoc"
	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/schemas"
)

type inboxPage struct {
	Items []schemas.InboxItem `json:"items"`
}

func getInbox(t *testing.T, url, token string) (int, inboxPage) {
	t.Helper()
	resp, err := hubtest.Do(context.Background(), http.MethodGet, url, token, nil, nil)
	require.NoError(t, err)
	var p inboxPage
	if resp.Status == http.StatusOK {
		require.NoError(t, json.Unmarshal(resp.Body, &p))
	}
	return resp.Status, p
}

// TestPullInbox: a pull-mode authority's system fetches its deliveries, which stay hidden for the
// visibility timeout, acknowledges them (delivered), and gets back what it did not acknowledge.
// Another authority sees none of it.
func TestPullInbox(t *testing.T) {
	t.Parallel()
	const a, b = "11000001", "11000002"
	tokA, tokB := "authority-a-token", "authority-b-token"
	env := hubtest.NewEnv(t, nil, func(c *config.Config) {
		c.Delivery.InboxVisibility = 500 * time.Millisecond
		c.Authorities = append(c.Authorities,
			config.Authority{Code: a, Name: "A", Adapter: "json", Mode: config.AuthorityModePull, Status: config.AuthorityActive},
			config.Authority{Code: b, Name: "B", Adapter: "json", Mode: config.AuthorityModePull, Status: config.AuthorityActive})
		c.Clients = append(c.Clients,
			config.Client{ID: "sys-a", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tokA)},
			config.Client{ID: "sys-b", Kind: config.ClientAuthority, Authority: b, TokenSHA256: sha256Hex(tokB)})
	})
	hub := env.Start(t)
	var receipts []schemas.Receipt
	for i := range 3 {
		receipts = append(receipts, env.MustSubmit(t, hub.URL, fmt.Sprintf("k%d", i), hubtest.Submission(i, 1024, a)))
	}
	inbox := hub.URL + "/v1/authorities/" + a + "/inbox"
	require.Eventually(t, func() bool {
		c, err := env.Store.DeliveryCounts(context.Background())
		require.NoError(t, err)
		tot, err := env.Store.Totals(context.Background())
		require.NoError(t, err)
		if c[schemas.StatusQueued] != 3 || tot.OutboxPending != 0 {
			return false
		}
		// Queued means published; the worker puts each item into the inbox a moment later.
		for _, r := range receipts {
			cs, err := env.Store.Case(context.Background(), "portal-test", r.ID)
			require.NoError(t, err)
			if !slices.ContainsFunc(cs.Events, func(e schemas.Event) bool { return e.Type == schemas.EventDeliveryInInbox }) {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond)

	// Authority B, and the portal, cannot see A's inbox.
	status, _ := getInbox(t, inbox, tokB)
	require.Equal(t, http.StatusNotFound, status)
	status, _ = getInbox(t, inbox, env.Token)
	require.Equal(t, http.StatusNotFound, status)

	status, first := getInbox(t, inbox+"?limit=2", tokA)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, first.Items, 2)
	status, second := getInbox(t, inbox, tokA)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, second.Items, 1, "fetched items are hidden")

	// The document in A's format; B can neither read it nor acknowledge it.
	item := first.Items[0]
	resp, err := hubtest.Do(context.Background(), http.MethodGet, inbox+"/"+item.DeliveryID, tokA, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	doc, err := jsondoc.DecodeDocument(resp.Body)
	require.NoError(t, err)
	require.Equal(t, item.DeliveryID, doc.DeliveryID)
	require.Equal(t, a, doc.Authority)
	for _, u := range []string{hub.URL + "/v1/authorities/" + b + "/inbox/" + item.DeliveryID, inbox + "/" + item.DeliveryID} {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, u, tokB, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.Status, u)
		resp, err = hubtest.Do(context.Background(), http.MethodPost, u+"/ack", tokB, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.Status, u)
	}

	// A acknowledges the first two (twice: the second time changes nothing).
	for range 2 {
		for _, it := range first.Items {
			resp, err := hubtest.Do(context.Background(), http.MethodPost, inbox+"/"+it.DeliveryID+"/ack", tokA, nil, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusNoContent, resp.Status)
		}
	}
	// The third was not acknowledged: it comes back after the visibility timeout.
	require.Eventually(t, func() bool {
		_, p := getInbox(t, inbox, tokA)
		return len(p.Items) == 1 && p.Items[0].DeliveryID == second.Items[0].DeliveryID && p.Items[0].FetchCount == 2
	}, 10*time.Second, 50*time.Millisecond)

	statuses := map[schemas.DeliveryStatus]int{}
	for _, r := range receipts {
		c := readCase(t, hub.URL, env.Token, r.ID)
		statuses[c.Deliveries[0].Status]++
	}
	require.Equal(t, map[schemas.DeliveryStatus]int{schemas.StatusDelivered: 2, schemas.StatusSent: 1}, statuses)
	events, err := env.Store.DeliveredEventsPerDelivery(context.Background())
	require.NoError(t, err)
	require.Len(t, events, 2)
	for _, n := range events {
		require.Equal(t, 1, n)
	}
}

// TestAuthorityMessages: an authority's system reports registration and an answer in JSON; a
// repeated message changes nothing, a stale one is recorded without moving the delivery back, and a
// message about another authority's delivery is refused whole, with nothing stored.
func TestAuthorityMessages(t *testing.T) {
	t.Parallel()
	sysA := newSystem(t, "a", sandboxOptions())
	sysB := newSystem(t, "b", sandboxOptions())
	const a, b = "12000001", "12000002"
	tokA, tokB := "authority-a-token", "authority-b-token"
	env := hubtest.NewEnv(t, map[string]string{a: sysA.endpoint(a), b: sysB.endpoint(b)}, func(c *config.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: "sys-a", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tokA)},
			config.Client{ID: "sys-b", Kind: config.ClientAuthority, Authority: b, TokenSHA256: sha256Hex(tokB)})
	})
	hub := env.Start(t)
	rA := env.MustSubmit(t, hub.URL, "ka", hubtest.Submission(1, 1024, a))
	rB := env.MustSubmit(t, hub.URL, "kb", hubtest.Submission(2, 1024, b))
	env.WaitSettled(t, 30*time.Second)
	deliveryOf := func(r schemas.Receipt) string {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
		require.NoError(t, err)
		return decodeCase(t, resp.Body).Deliveries[0].ID
	}
	dA, dB := deliveryOf(rA), deliveryOf(rB)
	post := func(code, token string, msgs ...schemas.AuthorityMessage) hubtest.Response {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		resp, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/authorities/"+code+"/messages", token, h, jsondoc.EncodeMessages(msgs))
		require.NoError(t, err)
		return resp
	}
	regDate := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	registered := schemas.AuthorityMessage{MessageID: "m-1", Of: dA, Type: schemas.MsgRegistered, RegistrationNumber: "01-12/345", RegistrationDate: &regDate}

	resp := post(a, tokA, registered)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var out struct {
		Results []schemas.MessageResult `json:"results"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &out))
	require.Equal(t, []schemas.MessageResult{{MessageID: "m-1", Of: dA, Applied: true, Status: schemas.StatusRegistered}}, out.Results)

	// The same message again: success, nothing changes.
	resp = post(a, tokA, registered)
	require.Equal(t, http.StatusOK, resp.Status)
	require.NoError(t, json.Unmarshal(resp.Body, &out))
	require.True(t, out.Results[0].Duplicate)

	// A late delivery notice after registration: recorded, the delivery stays registered.
	resp = post(a, tokA, schemas.AuthorityMessage{MessageID: "m-0", Of: dA, Type: schemas.MsgDelivered})
	require.Equal(t, http.StatusOK, resp.Status)
	require.NoError(t, json.Unmarshal(resp.Body, &out))
	require.Equal(t, schemas.MessageResult{MessageID: "m-0", Of: dA, Status: schemas.StatusRegistered}, out.Results[0])

	// A batch that includes B's delivery is refused whole, and its valid part is not stored either.
	answered := schemas.AuthorityMessage{MessageID: "m-2", Of: dA, Type: schemas.MsgAnswered, Outcome: schemas.OutcomeExplained, Text: "Роз'яснено."}
	resp = post(a, tokA, answered, schemas.AuthorityMessage{MessageID: "m-3", Of: dB, Type: schemas.MsgDelivered})
	require.Equal(t, http.StatusNotFound, resp.Status, string(resp.Body))
	// B cannot post to A's path; a message about a made-up id is not found.
	require.Equal(t, http.StatusNotFound, post(a, tokB, answered).Status)
	require.Equal(t, http.StatusNotFound, post(a, tokA, schemas.AuthorityMessage{MessageID: "m-4", Of: "0191d7a8-0000-7000-8000-000000000000", Type: schemas.MsgDelivered}).Status)
	// A malformed message is a 400 with nothing stored.
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	bad, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/authorities/"+a+"/messages", tokA, h,
		[]byte(`{"format":"appealhub.message.v1","message_id":"m-5","of":"`+dA+`","type":"registered"}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, bad.Status)

	resp = post(a, tokA, answered)
	require.Equal(t, http.StatusOK, resp.Status)

	cs := readCase(t, hub.URL, env.Token, rA.ID)
	require.Equal(t, schemas.StatusAnswered, cs.Deliveries[0].Status)
	var types []string
	for _, e := range cs.Events {
		types = append(types, string(e.Type))
	}
	require.Equal(t, []string{"submission_accepted", "delivery_queued", "delivery_delivered", "authority_registered",
		"authority_delivered", "authority_answered"}, types)
	require.Equal(t, schemas.StatusDelivered, readCase(t, hub.URL, env.Token, rB.ID).Deliveries[0].Status, "B's delivery untouched")
}

// TestAuthorityMessageIDReusedForAnotherMessage: the same message id with another content is a
// conflict, like an idempotency key reused with another body; the registration shows on the case.
func TestAuthorityMessageIDReusedForAnotherMessage(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "a", sandboxOptions())
	const a, tok = "13000001", "authority-token"
	env := hubtest.NewEnv(t, map[string]string{a: sys.endpoint(a)}, func(c *config.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "sys", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tok)})
	})
	hub := env.Start(t)
	r := env.MustSubmit(t, hub.URL, "k", hubtest.Submission(1, 1024, a))
	env.WaitSettled(t, 30*time.Second)
	get := func() schemas.Case {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
		require.NoError(t, err)
		return decodeCase(t, resp.Body)
	}
	d := get().Deliveries[0].ID
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	post := func(m schemas.AuthorityMessage) int {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		resp, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/authorities/"+a+"/messages", tok, h,
			jsondoc.EncodeMessages([]schemas.AuthorityMessage{m}))
		require.NoError(t, err)
		return resp.Status
	}
	require.Equal(t, http.StatusOK, post(schemas.AuthorityMessage{MessageID: "x", Of: d, Type: schemas.MsgRegistered, RegistrationNumber: "7/1", RegistrationDate: &at}))
	require.Equal(t, http.StatusConflict, post(schemas.AuthorityMessage{MessageID: "x", Of: d, Type: schemas.MsgRegistered, RegistrationNumber: "7/2", RegistrationDate: &at}))
	c := get()
	require.Equal(t, "7/1", c.Deliveries[0].RegistrationNumber)
	require.NotNil(t, c.Deliveries[0].RegisteredAt)
	require.True(t, at.Equal(*c.Deliveries[0].RegisteredAt))
}

// TestAuthoritySizeLimit: a document larger than the authority's system takes is dead at once,
// with the reason, and a message larger than it may send is refused with 413.
func TestAuthoritySizeLimit(t *testing.T) {
	t.Parallel()
	sys := newSystem(t, "small", sandboxOptions())
	const a, tok = "15000001", "authority-token"
	env := hubtest.NewEnv(t, map[string]string{a: sys.endpoint(a)}, func(c *config.Config) {
		c.Authorities[0].MaxMessageBytes = 3000
		c.Clients = append(c.Clients, config.Client{ID: "sys", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tok)})
	})
	hub := env.Start(t)
	small := env.MustSubmit(t, hub.URL, "small", hubtest.Submission(1, 1024, a))
	env.MustSubmit(t, hub.URL, "large", hubtest.Submission(2, 8192, a))
	env.WaitSettled(t, 30*time.Second)
	dead, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDead)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Contains(t, dead[0].LastError, "at most 3000")
	require.Equal(t, 1, dead[0].Attempts, "not retried")
	require.Equal(t, 1, sys.sb.Ledger().Documents)

	resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+small.ID, env.Token, nil, nil)
	require.NoError(t, err)
	d := decodeCase(t, resp.Body).Deliveries[0].ID
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	big := schemas.AuthorityMessage{MessageID: "m", Of: d, Type: schemas.MsgAnswered, Outcome: schemas.OutcomeExplained,
		Documents: []schemas.AuthorityDocument{{FileName: "a.txt", MediaType: "text/plain", Content: make([]byte, 4000)}}}
	resp, err = hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/authorities/"+a+"/messages", tok, h,
		jsondoc.EncodeMessages([]schemas.AuthorityMessage{big}))
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.Status)
}
