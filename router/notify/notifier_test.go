package notify_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/internal/audit"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/router/notify"
	"appealhub/schemas"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("EET", 2*3600))
	src := schemas.NotificationSource{Client: "portal", ChainPos: 9, Previous: schemas.StatusDelivered,
		Event: schemas.CaseEvent{CaseID: "c1", TrackingNumber: "ZV-2026-00000001", Seq: 42, Type: schemas.AuthorityEvent(schemas.MsgRegistered),
			Status: schemas.StatusRegistered, DeliveryID: "d1", Authority: "00000001", AuthorityName: "Рада", At: at}}
	n, ok, err := notify.Build(src)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, schemas.PortalRegistered, n.State)
	require.JSONEq(t, `{"format":"appealhub.notification.v1","event_id":42,"case_id":"c1","tracking_number":"ZV-2026-00000001",
		"delivery_id":"d1","authority":"00000001","authority_name":"Рада","state":"registered","label":"Зареєстровано",
		"at":"2026-03-02T07:00:00Z"}`, string(n.Payload))

	src.Previous = schemas.StatusRegistered // a second registration notice
	_, ok, err = notify.Build(src)
	require.NoError(t, err)
	require.False(t, ok)
}

// twoHubs is one schema opened by two store handles, as two hub processes do.
type twoHubs struct {
	ctx    context.Context
	stores [2]*store.Store
}

func newCase(t *testing.T, s *store.Store, key string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(key))
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: key, RequestSHA256: sum[:],
		CaseKind: schemas.CaseAppeal, Body: []byte(`{}`), ReceivedAt: time.Now().UTC(),
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}}}
	_, err := s.CreateCase(context.Background(), nc, "ZV-2026-")
	require.NoError(t, err)
	return nc.ID
}

// TestTwoNotifiersNotifyEachEventOnce runs the background notifiers of two hub processes on one
// schema while cases are accepted, relayed and sealed: every event the vocabulary shows is
// notified exactly once.
func TestTwoNotifiersNotifyEachEventOnce(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	h := twoHubs{ctx: context.Background()}
	h.stores[0] = storetest.Open(t, cfg)
	h.stores[1] = storetest.Open(t, cfg)
	s := h.stores[0]
	require.NoError(t, s.UpsertAuthority(h.ctx, schemas.AuthorityRoute{Code: "00000001", Name: "Рада", Adapter: "json"}))
	sum := sha256.Sum256([]byte("portal-token"))
	require.NoError(t, s.UpsertClient(h.ctx, schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	_, err := s.PutSubscription(h.ctx, schemas.SubscriptionRecord{Client: "portal", Mode: schemas.NotifyAMQP}, time.Now())
	require.NoError(t, err)

	core, problems := observer.New(zap.WarnLevel)
	for _, st := range h.stores {
		n := notify.NewNotifier(st, notify.Config{Interval: time.Millisecond, BatchSize: 2}, zap.New(core))
		require.NoError(t, n.Start(h.ctx))
		t.Cleanup(func() { _ = n.Stop(context.Background()) })
	}
	sealer := audit.NewSealer(s, audit.Config{SealInterval: time.Millisecond, BatchSize: 3}, nil)
	require.NoError(t, sealer.Start(h.ctx))
	t.Cleanup(func() { _ = sealer.Stop(context.Background()) })

	const cases = 10
	var ids []string
	for i := range cases {
		ids = append(ids, newCase(t, h.stores[i%2], fmt.Sprintf("two-%d", i)))
		if i%3 == 0 {
			_, _, err := s.RelayBatch(h.ctx, time.Now().Add(time.Minute), 100, time.Second,
				func(_ context.Context, msgs []schemas.OutboxMessage) []error { return make([]error, len(msgs)) })
			require.NoError(t, err)
		}
	}
	_, _, err = s.RelayBatch(h.ctx, time.Now().Add(time.Minute), 100, time.Second,
		func(_ context.Context, msgs []schemas.OutboxMessage) []error { return make([]error, len(msgs)) })
	require.NoError(t, err)

	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		total := 0
		for _, id := range ids {
			list, err := s.Notifications(h.ctx, id)
			require.NoError(t, err)
			require.LessOrEqual(t, len(list), 2, "case %s: accepted and sent, once each", id)
			seen := map[int64]bool{}
			for _, n := range list {
				require.False(t, seen[n.EventID], "event %d notified twice", n.EventID)
				seen[n.EventID] = true
			}
			total += len(list)
		}
		if total == 2*cases {
			break
		}
		require.False(t, time.Now().After(deadline), "%d of %d notifications made", total, 2*cases)
	}
	for _, id := range ids {
		list, err := s.Notifications(h.ctx, id)
		require.NoError(t, err)
		require.Equal(t, schemas.PortalAccepted, list[0].State)
		require.Equal(t, schemas.PortalSent, list[1].State)
	}
	require.Zero(t, problems.Len(), "%v", problems.All())
}

func TestNotifierCallsNotifiedFunc(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := context.Background()
	require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "00000001", Name: "Рада", Adapter: "json"}))
	sum := sha256.Sum256([]byte("portal-token"))
	require.NoError(t, s.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	_, err := s.PutSubscription(ctx, schemas.SubscriptionRecord{Client: "portal", Mode: schemas.NotifyAMQP}, time.Now())
	require.NoError(t, err)
	id := newCase(t, s, "one")
	sealer := audit.NewSealer(s, audit.Config{}, nil)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		_, err := sealer.Seal(ctx)
		require.NoError(t, err)
		n, err := s.UnsealedEvents(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		require.False(t, time.Now().After(deadline))
	}
	woken := 0
	n := notify.NewNotifier(s, notify.Config{NotifiedFunc: func() { woken++ }}, nil)
	got, err := n.Notify(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, got)
	require.Equal(t, 1, woken)
	got, err = n.Notify(ctx)
	require.NoError(t, err)
	require.Zero(t, got)
	require.Equal(t, 1, woken)
	list, err := s.Notifications(ctx, id)
	require.NoError(t, err)
	var p schemas.PortalEvent
	task, err := s.WebhookTask(ctx, list[0].ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(task.Payload, &p))
	require.Equal(t, schemas.NotificationFormat, p.Format)
}
