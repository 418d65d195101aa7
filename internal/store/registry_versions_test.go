package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// race runs n changes at once and returns their errors.
func race(n int, change func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = change(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestRegistryVersionsAreCheckedAtomically: two edits made against the same version, at once:
// exactly one is written, the other fails with ErrVersionConflict, and only the winner is in the
// history. Repeated over several entries so that either may win.
func TestRegistryVersionsAreCheckedAtomically(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	codes := []string{"85015894", "85408783", "66784279", "19863933", "00000431"}
	var seed []schemas.AuthorityChange
	for _, code := range codes {
		seed = append(seed, schemas.AuthorityChange{Action: schemas.ActionImport, ChangedBy: "t", After: entry(code, "Орган "+code, "")})
	}
	_, err := s.ApplyAuthorityChanges(ctx, seed)
	require.NoError(t, err)
	for _, code := range codes {
		a, err := s.RegistryAuthority(ctx, code)
		require.NoError(t, err)
		require.Equal(t, int64(1), a.Version)
		names := []string{"Перша редакція", "Друга редакція"}
		errs := race(2, func(i int) error {
			e := entry(code, names[i], "")
			_, err := s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionUpdate, ChangedBy: "op",
				IfVersion: 1, After: e}})
			return err
		})
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "%s: only one edit wins", code)
				winner = i
				continue
			}
			require.ErrorIs(t, err, store.ErrVersionConflict)
			require.ErrorIs(t, err, schemas.ErrVersionConflict)
		}
		require.NotEqual(t, -1, winner, "%s: one edit wins", code)
		a, err = s.RegistryAuthority(ctx, code)
		require.NoError(t, err)
		require.Equal(t, names[winner], a.Name)
		require.Equal(t, int64(2), a.Version)
		h, err := s.AuthorityHistory(ctx, code)
		require.NoError(t, err)
		require.Len(t, h, 2)
		require.Equal(t, names[winner], h[1].After.Name)
		require.Equal(t, int64(1), h[1].Before.Version)
		require.Equal(t, int64(2), h[1].After.Version)
	}

	// ChangeAuthority makes concurrent changes one after the other, each on what the last left.
	const code = "85015894"
	errs := race(10, func(int) error {
		_, err := s.ChangeAuthority(ctx, schemas.AuthorityChange{Code: code, Action: schemas.ActionUpdate, ChangedBy: "op"},
			func(_ context.Context, cur schemas.Authority) (schemas.Authority, error) {
				cur.MaxMessageBytes++
				return cur, nil
			})
		return err
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	a, err := s.RegistryAuthority(ctx, code)
	require.NoError(t, err)
	require.Equal(t, int64(10), a.MaxMessageBytes, "no change was lost")
	require.Equal(t, int64(12), a.Version)

	// A refusal of resolve rolls back and comes back as it is; a stale version and a missing entry
	// are refused before resolve runs.
	refusal := errors.New("refused")
	_, err = s.ChangeAuthority(ctx, schemas.AuthorityChange{Code: code, Action: schemas.ActionUpdate, ChangedBy: "op"},
		func(_ context.Context, cur schemas.Authority) (schemas.Authority, error) { return cur, refusal })
	require.Equal(t, refusal, err)
	never := func(context.Context, schemas.Authority) (schemas.Authority, error) {
		t.Error("resolve must not run")
		return schemas.Authority{}, nil
	}
	_, err = s.ChangeAuthority(ctx, schemas.AuthorityChange{Code: code, Action: schemas.ActionUpdate, ChangedBy: "op", IfVersion: 11}, never)
	require.ErrorIs(t, err, store.ErrVersionConflict)
	_, err = s.ChangeAuthority(ctx, schemas.AuthorityChange{Code: "33333333", Action: schemas.ActionUpdate, ChangedBy: "op"}, never)
	require.ErrorIs(t, err, store.ErrNotFound)
	h, err := s.AuthorityHistory(ctx, code)
	require.NoError(t, err)
	require.Len(t, h, 12, "refused changes left no history")
}

func TestRegistryScheduleAndCancel(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	const code = "85015894"
	_, err := s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionImport, ChangedBy: "t", After: entry(code, "ОДА", "")}})
	require.NoError(t, err)
	when := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := "n3w-s3cret"
	ch, err := s.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: code, Action: schemas.ActionUpdate,
		Patch: &schemas.AuthorityPatch{Name: new("Нова ОДА"), Token: &tok}, EffectiveAt: when, CreatedBy: "op", Reason: "rename"}, 1)
	require.NoError(t, err)
	require.Equal(t, schemas.ActionSchedule, ch.Action)
	require.Equal(t, when, ch.EffectiveAt)
	require.Positive(t, ch.Pending.ID)
	require.Nil(t, ch.Pending.Patch.Token)
	require.True(t, ch.Pending.SetsToken)
	require.Equal(t, int64(2), ch.After.Version)
	_, err = s.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: code, Action: schemas.ActionSuspend,
		EffectiveAt: when, CreatedBy: "op"}, 1)
	require.ErrorIs(t, err, store.ErrVersionConflict)
	_, err = s.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: "33333333", Action: schemas.ActionSuspend,
		EffectiveAt: when, CreatedBy: "op"}, 0)
	require.ErrorIs(t, err, store.ErrNotFound)

	pending, err := s.PendingAuthorityChanges(ctx, code)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, "Нова ОДА", *pending[0].Patch.Name)
	require.Nil(t, pending[0].Patch.Token, "a scheduled token is never shown")

	// Due: resolve sees the token; the applied entry has it, the history does not.
	var seen *string
	changes, err := s.ApplyDueAuthorityChanges(ctx, when.Add(-time.Second), 10,
		func(_ context.Context, cur schemas.Authority, p schemas.PendingAuthorityChange) (schemas.Authority, string, error) {
			t.Error("not due yet")
			return cur, "", nil
		})
	require.NoError(t, err)
	require.Empty(t, changes)
	changes, err = s.ApplyDueAuthorityChanges(ctx, when, 10,
		func(_ context.Context, cur schemas.Authority, p schemas.PendingAuthorityChange) (schemas.Authority, string, error) {
			seen = p.Patch.Token
			return p.Patch.Apply(cur), "", nil
		})
	require.NoError(t, err)
	require.Len(t, changes, 1)
	require.Equal(t, tok, *seen)
	a, err := s.RegistryAuthority(ctx, code)
	require.NoError(t, err)
	require.Equal(t, "Нова ОДА", a.Name)
	require.Equal(t, tok, a.Token)
	require.Equal(t, int64(3), a.Version)
	require.Equal(t, when, a.EffectiveFrom)
	h, err := s.AuthorityHistory(ctx, code)
	require.NoError(t, err)
	require.Len(t, h, 3)
	for _, c := range h {
		if c.After != nil {
			require.Empty(t, c.After.Token)
		}
		if c.Pending != nil && c.Pending.Patch != nil {
			require.Nil(t, c.Pending.Patch.Token, "the history keeps no credentials")
		}
	}

	// Cancel: once, with its version checked, and not another authority's.
	p, err := s.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: code, Action: schemas.ActionSuspend,
		EffectiveAt: when.Add(time.Hour), CreatedBy: "op"}, 0)
	require.NoError(t, err)
	_, err = s.CancelPendingAuthorityChange(ctx, "85408783", p.Pending.ID, schemas.AuthorityChangeMeta{By: "op"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.CancelPendingAuthorityChange(ctx, code, p.Pending.ID, schemas.AuthorityChangeMeta{By: "op", IfVersion: 3})
	require.ErrorIs(t, err, store.ErrVersionConflict)
	c, err := s.CancelPendingAuthorityChange(ctx, code, p.Pending.ID, schemas.AuthorityChangeMeta{By: "op2", Reason: "no", IfVersion: 4})
	require.NoError(t, err)
	require.Equal(t, schemas.ActionCancel, c.Action)
	require.Equal(t, int64(5), c.After.Version)
	_, err = s.CancelPendingAuthorityChange(ctx, code, p.Pending.ID, schemas.AuthorityChangeMeta{By: "op"})
	require.ErrorIs(t, err, store.ErrNotFound)
	pending, err = s.PendingAuthorityChanges(ctx, code)
	require.NoError(t, err)
	require.Empty(t, pending)
}

// TestDueChangeAndCancelRace: a cancellation and the periodic step race for one scheduled change:
// it is either applied or cancelled, never both.
func TestDueChangeAndCancelRace(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	const code = "85015894"
	_, err := s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionImport, ChangedBy: "t", After: entry(code, "ОДА", "")}})
	require.NoError(t, err)
	when := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 5 {
		p, err := s.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: code, Action: schemas.ActionUpdate,
			Patch: &schemas.AuthorityPatch{ITContact: new("x")}, EffectiveAt: when, CreatedBy: "op"}, 0)
		require.NoError(t, err)
		var applied []schemas.AuthorityChange
		errs := race(2, func(i int) error {
			if i == 0 {
				_, err := s.CancelPendingAuthorityChange(ctx, code, p.Pending.ID, schemas.AuthorityChangeMeta{By: "op"})
				return err
			}
			var err error
			applied, err = s.ApplyDueAuthorityChanges(ctx, when, 10,
				func(_ context.Context, cur schemas.Authority, p schemas.PendingAuthorityChange) (schemas.Authority, string, error) {
					return p.Patch.Apply(cur), "", nil
				})
			return err
		})
		require.NoError(t, errs[1])
		if errs[0] == nil {
			require.Empty(t, applied, "cancelled, so not applied")
		} else {
			require.ErrorIs(t, errs[0], store.ErrNotFound)
			require.Len(t, applied, 1, "applied, so not cancellable")
		}
	}
}

func TestOperatorRegistryChangesAreAuditedInTheirTransaction(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	const code = "85015894"
	_, err := s.ApplyAuthorityChanges(t.Context(), []schemas.AuthorityChange{{Action: schemas.ActionImport, ChangedBy: "cli:t", After: entry(code, "ОДА", "")}})
	require.NoError(t, err)
	operatorEvents := func() []string {
		evs, err := s.OperatorEvents(t.Context(), 10)
		require.NoError(t, err)
		var out []string
		for _, e := range evs {
			out = append(out, string(e.Type)+" "+e.Detail)
		}
		return out
	}
	require.Empty(t, operatorEvents(), "a change not made as an operator has no audit event")

	ctx := store.AsOperator(t.Context(), "admin1")
	renamed := entry(code, "Нова ОДА", "")
	_, err = s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionUpdate, ChangedBy: "console:admin1",
		Reason: "official name changed", IfVersion: 1, After: renamed}})
	require.NoError(t, err)
	when := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = s.ScheduleAuthorityChange(ctx, schemas.PendingAuthorityChange{Code: code, Action: schemas.ActionSuspend,
		EffectiveAt: when, CreatedBy: "console:admin1", Reason: "reorganised"}, 2)
	require.NoError(t, err)
	// Refused changes (a stale version) leave neither history nor an audit event.
	_, err = s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionUpdate, ChangedBy: "console:admin1",
		Reason: "late", IfVersion: 1, After: renamed}})
	require.ErrorIs(t, err, store.ErrVersionConflict)

	got := operatorEvents()
	require.Len(t, got, 2)
	require.Contains(t, got[0], `"action":"registry_schedule","object":"85015894 v3","reason":"reorganised"`)
	require.Contains(t, got[1], `"actor":"admin1","action":"registry_update","object":"85015894 v2","reason":"official name changed"`)
	h, err := s.AuthorityHistory(t.Context(), code)
	require.NoError(t, err)
	require.Len(t, h, 3)
}
