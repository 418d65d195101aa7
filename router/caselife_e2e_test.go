package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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

// TestCaseLifeEndToEnd drives cases through every path of their life with a portal webhook
// registered: A is a JSON system whose messages the test posts itself; B and C are SEV 1207
// offices that report by themselves (B refuses registration of every document, C registers and
// answers). One case is registered then answered by A, one refused by B, one forwarded by A to C
// and answered there, one extended then answered by A, one returned by A. Every delivery's
// notifications reach the webhook exactly once each, in the order of its timeline; each carries
// the answer due date in force at its event (none before delivery): the one GET /v1/appeals/{id}
// showed then, the extended one from the extension on, however late the notifier made it.
func TestCaseLifeEndToEnd(t *testing.T) {
	t.Parallel()
	const a, b, c = "16000001", "16000002", "16000003"
	tokA, tokB, tokC := "life-a-token", "life-b-token", "life-c-token"
	sysA := newSystem(t, "a", sandbox.Options{}) // reports nothing by itself
	srvB, srvC := httptest.NewUnstartedServer(nil), httptest.NewUnstartedServer(nil)
	t.Cleanup(srvB.Close)
	t.Cleanup(srvC.Close)
	endpoint := func(srv *httptest.Server, code string) string {
		return "http://" + srv.Listener.Addr().String() + "/documents/" + code
	}
	env := notificationEnv(t, map[string]string{a: sysA.endpoint(a), b: endpoint(srvB, b), c: endpoint(srvC, c)}, func(cfg *config.Config) {
		cfg.Deadlines.KeepInterval = 20 * time.Millisecond
		for i := range cfg.Authorities {
			if cfg.Authorities[i].Code != a {
				cfg.Authorities[i].Adapter = "sev1207"
			}
		}
		cfg.Clients = append(cfg.Clients,
			config.Client{ID: "sys-a", Kind: config.ClientAuthority, Authority: a, TokenSHA256: sha256Hex(tokA)},
			config.Client{ID: "sys-b", Kind: config.ClientAuthority, Authority: b, TokenSHA256: sha256Hex(tokB)},
			config.Client{ID: "sys-c", Kind: config.ClientAuthority, Authority: c, TokenSHA256: sha256Hex(tokC)})
	})
	hub := env.Start(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	office := func(srv *httptest.Server, name, code, token string, refuse float64) {
		sb, err := sandbox.New(sandbox.Options{Name: name, Format: sandbox.FormatSEV1207, Hub: hub.URL, Code: code, HubToken: token,
			RegisterAfter: 20 * time.Millisecond, AnswerAfter: 20 * time.Millisecond, RefuseRate: refuse, Seed: 5},
			zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
		require.NoError(t, err)
		srv.Config.Handler = sb
		srv.Start()
		t.Cleanup(func() { require.NoError(t, sb.Close()) })
	}
	office(srvB, "office-b", b, tokB, 1)
	office(srvC, "office-c", c, tokC, 0)

	hook := newPortalWebhook(t)
	sub := putSubscription(t, hub.URL, env.Token, schemas.SubscriptionRequest{Mode: schemas.NotifyWebhook, URL: hook.srv.URL + "/events"})
	hook.setSecret(sub.Secret)

	readCase := func(id string) schemas.Case {
		t.Helper()
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+id, env.Token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		return decodeCase(t, resp.Body)
	}
	answerDue := func(d schemas.Delivery) *time.Time {
		for _, due := range d.Due {
			if due.Kind == schemas.DueAnswer {
				return &due.DueAt
			}
		}
		return nil
	}
	// delivered waits until the case's first delivery is delivered and has its answer due date.
	delivered := func(id string) (schemas.Delivery, time.Time) {
		t.Helper()
		var d schemas.Delivery
		waitUntil(t, "delivered with a due date", func() bool {
			d = readCase(id).Deliveries[0]
			return d.Status == schemas.StatusDelivered && answerDue(d) != nil
		}, caseState(t, env, id))
		return d, *answerDue(d)
	}
	n := 0
	post := func(m schemas.AuthorityMessage) {
		t.Helper()
		n++
		m.MessageID = fmt.Sprintf("life-%d", n)
		resp, err := hubtest.Do(context.Background(), http.MethodPost, hub.URL+"/v1/authorities/"+a+"/messages", tokA,
			http.Header{"Content-Type": {"application/json"}}, jsondoc.EncodeMessages([]schemas.AuthorityMessage{m}))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		var out struct {
			Results []schemas.MessageResult `json:"results"`
		}
		require.NoError(t, json.Unmarshal(resp.Body, &out))
		require.Len(t, out.Results, 1)
		require.True(t, out.Results[0].Applied, "%s applied: %+v", m.Type, out.Results[0])
	}
	regDate := time.Now().UTC()
	register := func(of string) {
		post(schemas.AuthorityMessage{Of: of, Type: schemas.MsgRegistered, RegistrationNumber: "A-" + of[:8], RegistrationDate: &regDate})
	}
	answer := func(of string) {
		post(schemas.AuthorityMessage{Of: of, Type: schemas.MsgAnswered, Outcome: schemas.OutcomeExplained, Text: "Роз'яснено."})
	}

	submit := func(key string, i int, to string) schemas.Receipt {
		return env.MustSubmit(t, hub.URL, key, hubtest.Submission(i, 1024, to))
	}
	answered, refused, forwarded, extended, returned := submit("life-answered", 1, a), submit("life-refused", 2, b),
		submit("life-forwarded", 3, a), submit("life-extended", 4, a), submit("life-returned", 5, a)
	cases := []schemas.Receipt{answered, refused, forwarded, extended, returned}

	// driven is, per delivery of A, the due date each state's notification carries: the one GET
	// showed at the time.
	driven := map[string]map[schemas.PortalState]time.Time{}

	// (a) registered, then answered.
	d, due := delivered(answered.ID)
	register(d.ID)
	answer(d.ID)
	driven[d.ID] = map[schemas.PortalState]time.Time{schemas.PortalDelivered: due, schemas.PortalRegistered: due,
		schemas.PortalAnswered: due}

	// (c) registered, then forwarded to C, whose office registers and answers.
	d, due = delivered(forwarded.ID)
	register(d.ID)
	post(schemas.AuthorityMessage{Of: d.ID, Type: schemas.MsgForwarded, ForwardedTo: c, Reason: "Не належить до компетенції"})
	driven[d.ID] = map[schemas.PortalState]time.Time{schemas.PortalDelivered: due, schemas.PortalRegistered: due,
		schemas.PortalForwarded: due}

	// (d) registered, extended by ten days, then answered once the new due date shows.
	d, due = delivered(extended.ID)
	register(d.ID)
	newDue := due.AddDate(0, 0, 10)
	post(schemas.AuthorityMessage{Of: d.ID, Type: schemas.MsgExtended, NewDueDate: &newDue, Reason: "Потрібна додаткова перевірка"})
	var moved time.Time
	waitUntil(t, "the extended due date", func() bool {
		at := answerDue(readCase(extended.ID).Deliveries[0])
		if at == nil || at.Equal(due) {
			return false
		}
		moved = *at
		return true
	}, caseState(t, env, extended.ID))
	require.True(t, moved.After(due), "extended from %s to %s", due, moved)
	answer(d.ID)
	driven[d.ID] = map[schemas.PortalState]time.Time{schemas.PortalDelivered: due, schemas.PortalRegistered: due,
		schemas.PortalExtended: moved, schemas.PortalAnswered: moved}

	// (e) returned for insufficient data.
	d, due = delivered(returned.ID)
	post(schemas.AuthorityMessage{Of: d.ID, Type: schemas.MsgReturned, Reason: "Недостатньо даних", Text: "Не зазначено суть питання."})
	driven[d.ID] = map[schemas.PortalState]time.Time{schemas.PortalDelivered: due, schemas.PortalReturned: due}

	// (b) refused by B's office, and C's delivery answered by C's office.
	waitUntil(t, "B refused", func() bool { return readCase(refused.ID).Deliveries[0].Status == schemas.StatusRefused },
		caseState(t, env, refused.ID))
	waitUntil(t, "C answered", func() bool {
		ds := readCase(forwarded.ID).Deliveries
		return len(ds) == 2 && ds[1].Status == schemas.StatusAnswered
	}, caseState(t, env, forwarded.ID))

	// Every notification of every case delivered, and the timeline of each case settled.
	timelines := map[string][]schemas.PortalEvent{}
	for _, r := range cases {
		waitUntil(t, "every notification of "+r.ID+" delivered", func() bool {
			list, err := env.Store.Notifications(context.Background(), r.ID)
			require.NoError(t, err)
			resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID+"/events", env.Token, nil, nil)
			require.NoError(t, err)
			timelines[r.ID] = timelineOf(t, resp)
			if len(list) != len(timelines[r.ID]) {
				return false
			}
			for _, n := range list {
				if n.Status != schemas.NotificationDelivered {
					return false
				}
			}
			return true
		}, caseState(t, env, r.ID))
	}

	got := hook.received()
	seen := map[int64]bool{}
	for _, e := range got {
		require.False(t, seen[e.EventID], "event %d notified once", e.EventID)
		seen[e.EventID] = true
	}
	hook.mu.Lock()
	require.Zero(t, hook.unsigned)
	hook.mu.Unlock()

	// Per delivery: the webhook got the timeline's entries, once each, in its order.
	byDelivery := func(events []schemas.PortalEvent) map[string][]schemas.PortalEvent {
		out := map[string][]schemas.PortalEvent{}
		for _, e := range events {
			out[e.DeliveryID] = append(out[e.DeliveryID], e)
		}
		return out
	}
	states := func(events []schemas.PortalEvent) []schemas.PortalState {
		var out []schemas.PortalState
		for _, e := range events {
			out = append(out, e.State)
		}
		return out
	}
	ids := func(events []schemas.PortalEvent) []int64 {
		var out []int64
		for _, e := range events {
			out = append(out, e.EventID)
		}
		return out
	}
	hooked := byDelivery(got)
	want := map[string][]schemas.PortalState{
		answered.ID: {schemas.PortalSent, schemas.PortalDelivered, schemas.PortalRegistered, schemas.PortalAnswered},
		refused.ID:  {schemas.PortalSent, schemas.PortalDelivered, schemas.PortalRefused},
		extended.ID: {schemas.PortalSent, schemas.PortalDelivered, schemas.PortalRegistered, schemas.PortalExtended, schemas.PortalAnswered},
		returned.ID: {schemas.PortalSent, schemas.PortalDelivered, schemas.PortalReturned},
	}
	for _, r := range cases {
		cs := readCase(r.ID)
		timeline := byDelivery(timelines[r.ID])
		require.Equal(t, []schemas.PortalState{schemas.PortalAccepted}, states(timeline[""]), "the case's acceptance")
		var acceptance []schemas.PortalEvent
		for _, e := range hooked[""] {
			if e.CaseID == r.ID {
				acceptance = append(acceptance, e)
			}
		}
		require.Equal(t, ids(timeline[""]), ids(acceptance), "the case's acceptance, once")
		for i, dl := range cs.Deliveries {
			mine := hooked[dl.ID]
			require.Equal(t, ids(timeline[dl.ID]), ids(mine), "delivery %s: the timeline's entries, once each, in order", dl.ID)
			require.True(t, slices.IsSorted(ids(mine)), "delivery %s: by increasing event id", dl.ID)
			s := states(mine)
			if w, ok := want[r.ID]; ok {
				require.Equal(t, w, s, "case %s", r.ID)
			}
			if r.ID == forwarded.ID {
				last := []schemas.PortalState{schemas.PortalForwarded, schemas.PortalAnswered}[i]
				require.Equal(t, []schemas.PortalState{schemas.PortalSent, schemas.PortalDelivered, schemas.PortalRegistered, last}, s,
					"forwarded case, delivery %d (to %s)", i, dl.Authority)
			}
			dueNow := answerDue(dl)
			require.NotNil(t, dueNow, "delivery %s has an answer due date", dl.ID)
			if w, ok := driven[dl.ID]; ok {
				final := w[s[len(s)-1]]
				require.True(t, final.Equal(*dueNow), "delivery %s: GET shows %s, want %s", dl.ID, *dueNow, final)
			}
			for _, e := range mine {
				require.Equal(t, r.TrackingNumber, e.TrackingNumber)
				require.Equal(t, dl.Authority, e.Authority)
				if e.State == schemas.PortalSent {
					require.Nil(t, e.DueAt, "delivery %s sent: no answer due date before delivery", dl.ID)
					continue
				}
				w, ok := driven[dl.ID][e.State]
				if !ok { // B and C: no extension, the due date GET shows from delivery on
					w = *dueNow
				}
				require.NotNil(t, e.DueAt, "delivery %s %s carries the due date", dl.ID, e.State)
				require.True(t, w.Equal(*e.DueAt), "delivery %s %s: due %s, want %s", dl.ID, e.State, *e.DueAt, w)
			}
		}
	}
	fwd := readCase(forwarded.ID).Deliveries
	require.Len(t, fwd, 2)
	require.Equal(t, []string{a, c}, []string{fwd[0].Authority, fwd[1].Authority})
	require.Equal(t, fwd[0].ID, fwd[1].ForwardedFrom)
	require.Len(t, got, len(timelines[answered.ID])+len(timelines[refused.ID])+len(timelines[forwarded.ID])+
		len(timelines[extended.ID])+len(timelines[returned.ID]), "nothing else reached the webhook")
}
