package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// deadCase makes a case to authority and records its delivery dead after one attempt.
func (b *testBundle) deadCase(t *testing.T, key, authority, reason string) (schemas.StoredCase, string) {
	t.Helper()
	c := b.newCase(t, key, authority)
	b.relayAll(t)
	id := b.deliveryOf(t, c)
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 1,
		Status: schemas.StatusDead, Error: reason, At: b.now.Add(time.Second)})
	require.NoError(t, err)
	require.True(t, applied)
	return c, id
}

func TestDeadDeliveriesListAndFilter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, one := b.deadCase(t, "d1", "00000001", "permanent: HTTP 422")
	_, two := b.deadCase(t, "d2", "00000002", "gave up after 8 attempts: HTTP 503")
	b.newCase(t, "alive", "00000001")

	tests := []struct {
		name string
		f    store.DeadFilter
		want []string
	}{
		{"all", store.DeadFilter{}, []string{one, two}},
		{"by authority", store.DeadFilter{Authority: "00000002"}, []string{two}},
		{"by reason, any case", store.DeadFilter{Reason: "http 422"}, []string{one}},
		{"older than an hour", store.DeadFilter{MinAge: time.Hour, Now: b.now}, nil},
		{"newer than an hour", store.DeadFilter{MaxAge: time.Hour, Now: b.now}, []string{one, two}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, total, err := b.store.DeadDeliveries(b.ctx, tc.f)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), total)
			var got []string
			for _, d := range list {
				got = append(got, d.ID)
				require.NotEmpty(t, d.TrackingNumber)
				require.Equal(t, "A "+d.Authority, d.AuthorityName)
				require.Equal(t, 1, d.Attempts)
			}
			require.ElementsMatch(t, tc.want, got)
		})
	}
}

func TestRedriveDeadGivesAFreshSeries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, id := b.deadCase(t, "r1", "00000001", "gave up after 1 attempts: HTTP 503")
	b.newCase(t, "r2", "00000001")
	at := b.now.Add(time.Minute)

	got, err := b.store.RedriveDead(b.ctx, []string{id, "not-a-uuid", "00000000-0000-0000-0000-000000000000"},
		store.OperatorAction{Actor: "alice", Reason: "system back up", At: at})
	require.NoError(t, err)
	require.Equal(t, []string{id}, got)

	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	d := full.Deliveries[0]
	require.Equal(t, schemas.StatusQueued, d.Status)
	require.Zero(t, d.Attempts, "a fresh series of attempts")
	last := full.Events[len(full.Events)-1]
	require.Equal(t, store.EventDeliveryRedriven, last.Type)
	require.Equal(t, schemas.StatusQueued, last.Status)
	var detail store.OperatorDetail
	require.NoError(t, json.Unmarshal([]byte(last.Detail), &detail))
	require.Equal(t, store.OperatorDetail{Actor: "alice", Reason: "system back up"}, detail)

	// The new outbox row carries attempt 0, and the worker's first attempt records as attempt 1.
	var msgs []schemas.OutboxMessage
	_, _, err = b.store.RelayBatch(b.ctx, at.Add(time.Second), 100, time.Second,
		func(_ context.Context, m []schemas.OutboxMessage) []error {
			msgs = append(msgs, m...)
			return make([]error, len(m))
		})
	require.NoError(t, err)
	var mine []schemas.OutboxMessage
	for _, m := range msgs {
		if m.DeliveryID == id {
			mine = append(mine, m)
		}
	}
	require.Len(t, mine, 1)
	require.Zero(t, mine[0].Attempt)
	applied, err := b.store.RecordOutcome(b.ctx, schemas.DeliveryOutcome{DeliveryID: id, Attempt: 1,
		Status: schemas.StatusDelivered, At: at.Add(2 * time.Second)})
	require.NoError(t, err)
	require.True(t, applied)

	// A delivery that is not dead is not redriven; nor is one redriven twice.
	again, err := b.store.RedriveDead(b.ctx, []string{id}, store.OperatorAction{Actor: "alice", At: at})
	require.NoError(t, err)
	require.Empty(t, again)
	list, _, err := b.store.DeadDeliveries(b.ctx, store.DeadFilter{})
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestDiscardDeadHidesItAndKeepsItDead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, one := b.deadCase(t, "x1", "00000001", "permanent: HTTP 422")
	_, two := b.deadCase(t, "x2", "00000001", "permanent: HTTP 422")
	at := b.now.Add(time.Minute)

	got, err := b.store.DiscardDead(b.ctx, []string{one}, store.OperatorAction{Actor: "bob", Reason: "duplicate", At: at})
	require.NoError(t, err)
	require.Equal(t, []string{one}, got)
	list, total, err := b.store.DeadDeliveries(b.ctx, store.DeadFilter{})
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, two, list[0].ID)

	l, err := b.store.DeadLetter(b.ctx, one)
	require.NoError(t, err)
	require.NotNil(t, l.DiscardedAt)
	require.Equal(t, "bob", l.DiscardedBy)
	require.Equal(t, "duplicate", l.DiscardReason)
	require.Equal(t, []byte(`{"x":1}`), l.Body)
	require.Equal(t, store.EventDeliveryDiscarded, l.Events[len(l.Events)-1].Type)

	full, err := b.store.Case(b.ctx, "portal", c.ID)
	require.NoError(t, err)
	require.Equal(t, schemas.StatusDead, full.Deliveries[0].Status)

	// A discarded delivery is neither discarded again nor redriven.
	again, err := b.store.DiscardDead(b.ctx, []string{one}, store.OperatorAction{Actor: "bob", At: at})
	require.NoError(t, err)
	require.Empty(t, again)
	redriven, err := b.store.RedriveDead(b.ctx, []string{one}, store.OperatorAction{Actor: "bob", At: at})
	require.NoError(t, err)
	require.Empty(t, redriven)

	_, err = b.store.DeadLetter(b.ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestOperatorEventsAreSealed: the operators' actions, case-less or not, are sealed in the event
// chain and the chain verifies.
func TestOperatorEventsAreSealed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, id := b.deadCase(t, "s1", "00000001", "permanent: HTTP 422")
	require.NoError(t, b.store.AddOperator(b.ctx, store.Operator{Login: "alice", Role: store.RoleOperator,
		PasswordHash: "$2a$hash"}, "cli", b.now))
	token := hash("session")
	require.NoError(t, b.store.StartOperatorSession(b.ctx, "alice", token, b.now, b.now.Add(time.Hour)))
	_, err := b.store.RedriveDead(b.ctx, []string{id}, store.OperatorAction{Actor: "alice", Reason: "retry", At: b.now})
	require.NoError(t, err)
	require.NoError(t, b.store.RecordOperatorAction(b.ctx, store.OperatorDetail{Actor: "alice", Action: "registry_update",
		Object: "00000001", Reason: "new endpoint"}, b.now))
	require.NoError(t, b.store.EndOperatorSession(b.ctx, token, b.now))

	events, err := b.store.OperatorEvents(b.ctx, 10)
	require.NoError(t, err)
	var types []schemas.EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	require.Equal(t, []schemas.EventType{store.EventOperatorSignedOut, store.EventOperatorAction, store.EventOperatorSignedIn,
		store.EventOperatorAdded}, types)

	waitSealed(t, b.store)
	r := verifyChain(t, b.store)
	require.True(t, r.Intact(), "%+v", r.Breaks)
	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Equal(t, int64(totals.Events), r.Links)
}

func TestOperatorSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.store.AddOperator(b.ctx, store.Operator{Login: "viewer1", Role: store.RoleViewer,
		PasswordHash: "$2a$hash"}, "cli", b.now))
	err := b.store.AddOperator(b.ctx, store.Operator{Login: "viewer1", Role: store.RoleAdmin, PasswordHash: "x"}, "cli", b.now)
	require.ErrorIs(t, err, store.ErrDuplicate)
	op, err := b.store.Operator(b.ctx, "viewer1")
	require.NoError(t, err)
	require.Equal(t, store.RoleViewer, op.Role)
	require.Equal(t, "$2a$hash", op.PasswordHash)
	_, err = b.store.Operator(b.ctx, "nobody")
	require.ErrorIs(t, err, store.ErrNotFound)

	token := hash("t1")
	require.NoError(t, b.store.StartOperatorSession(b.ctx, "viewer1", token, b.now, b.now.Add(time.Hour)))
	got, expires, err := b.store.OperatorSession(b.ctx, token, b.now.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, "viewer1", got.Login)
	require.True(t, expires.Equal(b.now.Add(time.Hour)))
	_, _, err = b.store.OperatorSession(b.ctx, token, b.now.Add(time.Hour))
	require.ErrorIs(t, err, store.ErrNotFound, "expired")
	_, _, err = b.store.OperatorSession(b.ctx, hash("other"), b.now)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, b.store.SetOperatorPassword(b.ctx, "viewer1", "$2a$new", "cli", b.now))
	_, _, err = b.store.OperatorSession(b.ctx, token, b.now.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrNotFound, "a new password ends the sessions")
	require.ErrorIs(t, b.store.SetOperatorPassword(b.ctx, "nobody", "x", "cli", b.now), store.ErrNotFound)
}

func TestAuthorityQueuesAndTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, _ := b.deadCase(t, "q1", "00000001", "permanent: HTTP 422")
	b.newCase(t, "q2", "00000001", "00000002")
	qs, err := b.store.AuthorityQueues(b.ctx, b.now.Add(-time.Hour))
	require.NoError(t, err)
	require.Len(t, qs, 2)
	require.Equal(t, "00000001", qs[0].Code)
	require.Equal(t, 1, qs[0].Dead)
	require.Equal(t, 1, qs[0].Waiting)
	require.Equal(t, "permanent: HTTP 422", qs[0].LastError)
	require.NotNil(t, qs[0].OldestPending)
	require.Equal(t, 1, qs[1].Waiting)
	require.Zero(t, qs[1].Dead)

	for _, ref := range []string{c.ID, c.TrackingNumber, " " + c.TrackingNumber + " "} {
		tr, err := b.store.TraceCase(b.ctx, ref)
		require.NoError(t, err, ref)
		require.Equal(t, c.ID, tr.Case.ID)
		require.Equal(t, "portal", tr.ClientID)
		require.Len(t, tr.Outbox, 1)
		require.Equal(t, "published", tr.Outbox[0].Status)
	}
	_, err = b.store.TraceCase(b.ctx, "ZV-2026-99999999")
	require.ErrorIs(t, err, store.ErrNotFound)
}
