package registry_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/clock"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// scheduleBundle is a registry on a stub clock over the fixture.
type scheduleBundle struct {
	svc   *registry.Service
	st    *store.Store
	clock *clock.Stub
	t0    time.Time
}

func newScheduleBundle(t *testing.T) *scheduleBundle {
	t.Helper()
	st := storetest.New(t)
	t0 := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	b := &scheduleBundle{st: st, clock: clock.NewStub(t0), t0: t0}
	b.svc = registry.New(st, adapterNames, registry.WithClock(b.clock))
	importFixture(t, b.svc)
	return b
}

func (b *scheduleBundle) at(d time.Duration, by, reason string) schemas.AuthorityChangeMeta {
	return schemas.AuthorityChangeMeta{By: by, Reason: reason, EffectiveAt: b.t0.Add(d)}
}

func (b *scheduleBundle) applyDue(t *testing.T) []string {
	t.Helper()
	changes, err := b.svc.ApplyDue(t.Context())
	require.NoError(t, err)
	out := []string{}
	for _, c := range changes {
		out = append(out, c.Code+" "+c.Action)
	}
	return out
}

func TestScheduledChangesApplyWhenTheirTimeComes(t *testing.T) {
	t.Parallel()
	b := newScheduleBundle(t)
	ctx := t.Context()
	const code = "42037682"

	// Scheduled: answered with the entry as it stands, the scheduled change and the pending list.
	cur, p, err := b.svc.Update(ctx, code, schemas.AuthorityPatch{ShortName: new("МОН України"), Token: new("n3w"),
		Concurrency: new(2)}, b.at(time.Hour, "op-1", "rename"))
	require.NoError(t, err)
	require.NotNil(t, p)
	require.Equal(t, "МОН", cur.ShortName, "not applied yet")
	require.Equal(t, schemas.ActionUpdate, p.Action)
	require.Equal(t, b.t0.Add(time.Hour), p.EffectiveAt)
	require.True(t, p.SetsToken)
	require.Nil(t, p.Patch.Token, "a scheduled token is never shown")
	require.Equal(t, int64(2), cur.Version, "scheduling is a change of the entry")
	_, suspend, err := b.svc.Suspend(ctx, code, b.at(time.Hour, "op-2", "maintenance"))
	require.NoError(t, err)
	_, closing, err := b.svc.Close(ctx, code, "00000431", b.at(3*time.Hour, "op-2", "merged"))
	require.NoError(t, err)
	got, err := b.svc.Get(ctx, code)
	require.NoError(t, err)
	require.Len(t, got.Pending, 3)
	require.Equal(t, []int64{p.ID, suspend.ID, closing.ID}, []int64{got.Pending[0].ID, got.Pending[1].ID, got.Pending[2].ID}, "soonest first")
	require.Equal(t, "00000431", got.Pending[2].Successor)
	require.Equal(t, "active", got.Status)
	require.Equal(t, int64(4), got.Version)

	// Nothing is due yet; a second before, still nothing.
	require.Empty(t, b.applyDue(t))
	b.clock.Advance(time.Hour - time.Second)
	require.Empty(t, b.applyDue(t))

	// At its time: the rename and the suspension, in the order they were scheduled; once only.
	b.clock.Advance(time.Second)
	require.Equal(t, []string{code + " update", code + " suspend"}, b.applyDue(t))
	require.Empty(t, b.applyDue(t))
	got, err = b.svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, "МОН України", got.ShortName)
	require.Equal(t, "n3w", got.Token)
	require.Equal(t, 2, got.Concurrency)
	require.Equal(t, "suspended", got.Status)
	require.Equal(t, b.t0.Add(time.Hour), got.EffectiveFrom)
	require.Len(t, got.Pending, 1)
	limits, err := b.st.AuthorityLimits(ctx, code)
	require.NoError(t, err)
	require.Equal(t, 2, limits.Concurrency)

	b.clock.Advance(5 * time.Hour) // late: the close applies with its own effective time
	require.Equal(t, []string{code + " close"}, b.applyDue(t))
	got, err = b.svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, "closed", got.Status)
	require.Equal(t, "00000431", got.Successor)
	require.Equal(t, b.t0.Add(3*time.Hour), got.EffectiveFrom)
	require.Empty(t, got.Pending)

	// The history: each scheduling with its effective time, then each applied change, by whom it
	// was scheduled, linked to its scheduling.
	h, err := b.svc.History(ctx, code)
	require.NoError(t, err)
	type step struct {
		action, by, reason string
		effective          time.Time
		pending            int64
	}
	var steps []step
	for _, c := range h[1:] {
		require.NotNil(t, c.Pending, c.Action)
		if c.Pending.Patch != nil {
			require.Nil(t, c.Pending.Patch.Token, "no token in the history")
		}
		steps = append(steps, step{c.Action, c.ChangedBy, c.Reason, c.EffectiveAt, c.Pending.ID})
	}
	require.Equal(t, []step{
		{"schedule", "op-1", "rename", b.t0.Add(time.Hour), p.ID},
		{"schedule", "op-2", "maintenance", b.t0.Add(time.Hour), suspend.ID},
		{"schedule", "op-2", "merged", b.t0.Add(3 * time.Hour), closing.ID},
		{"update", "op-1", "rename", b.t0.Add(time.Hour), p.ID},
		{"suspend", "op-2", "maintenance", b.t0.Add(time.Hour), suspend.ID},
		{"close", "op-2", "merged", b.t0.Add(3 * time.Hour), closing.ID},
	}, steps)
	require.Equal(t, b.t0.Add(6*time.Hour), h[6].ChangedAt, "applied at the clock's time")
	require.True(t, h[1].Pending.SetsToken)
}

func TestScheduledChangesAreValidatedTwice(t *testing.T) {
	t.Parallel()
	b := newScheduleBundle(t)
	ctx := t.Context()
	const code = "42037682"

	// Refused when scheduled: the change is not valid on the entry as it stands.
	_, _, err := b.svc.Update(ctx, code, schemas.AuthorityPatch{Concurrency: new(0 - 5)}, b.at(time.Hour, "op", ""))
	require.Equal(t, "/concurrency", schemaError(t, err).Fields[0].Pointer)
	_, _, err = b.svc.Close(ctx, code, validCode("7777777"), b.at(time.Hour, "op", ""))
	require.Equal(t, "/successor", schemaError(t, err).Fields[0].Pointer)
	_, _, err = b.svc.Suspend(ctx, "99999997", b.at(time.Hour, "op", ""))
	require.Equal(t, schemas.CodeNotFound, schemaError(t, err).Code)

	// Valid when scheduled, not when due: closed in between, the resume is dropped and the history
	// says why.
	_, resume, err := b.svc.Resume(ctx, code, b.at(2*time.Hour, "op-1", "back"))
	require.NoError(t, err)
	_, _, err = b.svc.Close(ctx, code, "", schemas.AuthorityChangeMeta{By: "op-2", Reason: "abolished"})
	require.NoError(t, err, "a change effective now applies at once")
	b.clock.Advance(2 * time.Hour)
	require.Equal(t, []string{code + " cancel"}, b.applyDue(t))
	got, err := b.svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, "closed", got.Status)
	require.Empty(t, got.Pending)
	h, err := b.svc.History(ctx, code)
	require.NoError(t, err)
	last := h[len(h)-1]
	require.Equal(t, schemas.ActionCancel, last.Action)
	require.Equal(t, store.RegistryBy, last.ChangedBy)
	require.Equal(t, resume.ID, last.Pending.ID)
	require.Contains(t, last.Reason, "a closed authority cannot be resumed")
}

func TestCancelScheduledChange(t *testing.T) {
	t.Parallel()
	b := newScheduleBundle(t)
	ctx := t.Context()
	const code = "42037682"
	_, p, err := b.svc.Suspend(ctx, code, b.at(time.Hour, "op-1", "maintenance"))
	require.NoError(t, err)

	_, err = b.svc.Cancel(ctx, code, p.ID, schemas.AuthorityChangeMeta{By: "op-2", IfVersion: 1})
	require.Equal(t, schemas.CodeVersionConflict, schemaError(t, err).Code, "scheduling counted the version")
	_, err = b.svc.Cancel(ctx, "19863933", p.ID, schemas.AuthorityChangeMeta{By: "op-2"})
	require.Equal(t, schemas.CodeNotFound, schemaError(t, err).Code, "another authority's change is not found")
	a, err := b.svc.Cancel(ctx, code, p.ID, schemas.AuthorityChangeMeta{By: "op-2", Reason: "not needed", IfVersion: 2})
	require.NoError(t, err)
	require.Empty(t, a.Pending)
	require.Equal(t, int64(3), a.Version)
	_, err = b.svc.Cancel(ctx, code, p.ID, schemas.AuthorityChangeMeta{By: "op-2"})
	require.Equal(t, schemas.CodeNotFound, schemaError(t, err).Code, "a change is cancelled once")

	b.clock.Advance(2 * time.Hour)
	require.Empty(t, b.applyDue(t), "a cancelled change never applies")
	got, err := b.svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, "active", got.Status)
	h, err := b.svc.History(ctx, code)
	require.NoError(t, err)
	require.Equal(t, []string{"import", "schedule", "cancel"}, []string{h[0].Action, h[1].Action, h[2].Action})
	require.Equal(t, "op-2", h[2].ChangedBy)
	require.Equal(t, "not needed", h[2].Reason)
	require.Equal(t, p.ID, h[2].Pending.ID)
	require.Equal(t, b.t0.Add(time.Hour), h[2].Pending.EffectiveAt)
}

// TestDueChangesApplyExactlyOnceAcrossProcesses: four registries (as in four hub processes, each
// with its own connection pool) run the periodic step at once over many due changes. Each change
// is applied by exactly one of them, and one authority's changes apply in their order.
func TestDueChangesApplyExactlyOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	t0 := time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)
	stub := clock.NewStub(t0)
	svc := registry.New(st, adapterNames, registry.WithClock(stub))
	importFixture(t, svc)
	ctx := t.Context()
	page, err := svc.List(ctx, schemas.AuthorityFilter{Kind: schemas.AuthorityKindCentral})
	require.NoError(t, err)
	codes := codes(page)[:10]
	for _, code := range codes {
		for i, contact := range []string{"first@example", "second@example", "third@example"} {
			_, _, err := svc.Update(ctx, code, schemas.AuthorityPatch{ITContact: new(contact)},
				schemas.AuthorityChangeMeta{By: "op", EffectiveAt: t0.Add(time.Minute + time.Duration(i)*time.Second)})
			require.NoError(t, err)
		}
	}
	stub.Advance(time.Hour)
	var procs []*registry.Service
	for range 4 {
		procs = append(procs, registry.New(storetest.Open(t, cfg), adapterNames, registry.WithClock(stub)))
	}
	applied := make([][]schemas.AuthorityChange, len(procs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range procs {
		wg.Go(func() {
			<-start
			for {
				changes, err := p.ApplyDue(ctx)
				if err != nil {
					t.Errorf("process %d: %v", i, err)
					return
				}
				if len(changes) == 0 {
					return
				}
				applied[i] = append(applied[i], changes...)
			}
		})
	}
	close(start)
	wg.Wait()
	seen := map[int64]int{}
	for _, changes := range applied {
		for _, c := range changes {
			require.Equal(t, schemas.ActionUpdate, c.Action)
			seen[c.Pending.ID]++
		}
	}
	require.Len(t, seen, 3*len(codes))
	for id, n := range seen {
		require.Equal(t, 1, n, "scheduled change %d applied once", id)
	}
	for _, code := range codes {
		a, err := svc.Get(ctx, code)
		require.NoError(t, err)
		require.Equal(t, "third@example", a.ITContact, "%s: the last scheduled change is the last applied", code)
		require.Empty(t, a.Pending)
		h, err := svc.History(ctx, code)
		require.NoError(t, err)
		require.Len(t, h, 7, "import, three schedules, three updates")
	}
}
