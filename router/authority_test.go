package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
		return c[schemas.StatusQueued] == 3 && tot.OutboxPending == 0
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
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
		require.NoError(t, err)
		c := decodeCase(t, resp.Body)
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
