package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

func entry(code, name, parent string) *schemas.Authority {
	return &schemas.Authority{Code: code, Name: name, ShortName: "", Kind: schemas.AuthorityKindLocal, Parent: parent,
		Territory: "UA05000000000000000", Topics: []string{"roads"}, Accepts: []string{"appeal"}, Adapter: "json",
		Mode: "push", Status: "active", Token: "s3cret"}
}

func TestRegistryChangesAreAllOrNothing(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	// A child listed before its parent in one batch: the foreign key is checked at commit.
	got, err := s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{
		{Action: schemas.ActionImport, ChangedBy: "cli:test", Reason: "seed", After: entry("85408783", "Вінницька міська рада", "85015894")},
		{Action: schemas.ActionImport, ChangedBy: "cli:test", After: entry("85015894", "Вінницька ОДА", "")},
	})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Nil(t, got[0].Before)
	require.NotZero(t, got[0].ID)
	require.Equal(t, got[0].ChangedAt, got[0].EffectiveAt, "a change without an effective time takes effect when made")

	// A batch whose second change fails leaves the first unapplied.
	renamed := entry("85015894", "Перейменована ОДА", "")
	_, err = s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{
		{Action: schemas.ActionUpdate, ChangedBy: "op", After: renamed},
		{Action: schemas.ActionAdd, ChangedBy: "op", After: entry("85408783", "Дубль", "")},
	})
	require.ErrorIs(t, err, store.ErrDuplicate)
	_, err = s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{
		{Action: schemas.ActionUpdate, ChangedBy: "op", After: renamed},
		{Action: schemas.ActionImport, ChangedBy: "op", After: entry("11111111", "Сирота", "22222222")},
	})
	require.Error(t, err, "a parent that exists nowhere fails at commit")
	a, err := s.RegistryAuthority(ctx, "85015894")
	require.NoError(t, err)
	require.Equal(t, "Вінницька ОДА", a.Name)
	_, err = s.RegistryAuthority(ctx, "11111111")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionSuspend, ChangedBy: "op", After: entry("33333333", "Нема", "")}})
	require.ErrorIs(t, err, store.ErrNotFound)

	when := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: schemas.ActionUpdate, ChangedBy: "op", Reason: "rename",
		EffectiveAt: when, After: renamed}})
	require.NoError(t, err)
	h, err := s.AuthorityHistory(ctx, "85015894")
	require.NoError(t, err)
	require.Len(t, h, 2, "failed batches left no history")
	require.Equal(t, "Вінницька ОДА", h[1].Before.Name)
	require.Equal(t, "Перейменована ОДА", h[1].After.Name)
	require.Equal(t, when, h[1].EffectiveAt)
	require.Equal(t, "rename", h[1].Reason)
	require.Empty(t, h[1].After.Token, "the history keeps no credentials")
	a, err = s.RegistryAuthority(ctx, "85015894")
	require.NoError(t, err)
	require.Equal(t, "s3cret", a.Token)
	require.Equal(t, when, a.EffectiveFrom)
}

func TestRegistryReadsConfigSeededAuthorities(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	require.NoError(t, s.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "12000001", Name: "Seeded", Adapter: "json"}))
	a, err := s.RegistryAuthority(ctx, "12000001")
	require.NoError(t, err)
	require.Equal(t, "", a.Kind)
	require.Equal(t, []string{"appeal", "info_request"}, a.Accepts)
	require.Equal(t, []string{}, a.Topics)
	require.Equal(t, "push", a.Mode)
	page, err := s.ListRegistryAuthorities(ctx, schemas.AuthorityFilter{Directory: true})
	require.NoError(t, err)
	require.Zero(t, page.Total, "an entry not described in the registry is not in the public directory")
	page, err = s.ListRegistryAuthorities(ctx, schemas.AuthorityFilter{})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total)
}

func TestRegistrySearch(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	oda := entry("85015894", "Вінницька обласна державна адміністрація", "")
	oda.ShortName, oda.Topics = "Вінницька ОДА", []string{"*"}
	council := entry("85408783", "Вінницька міська рада", "85015894")
	council.Territory = "UA05628871271542183"
	lviv := entry("66784279", "Львівська міська рада (100% відкрита)", "")
	lviv.Territory, lviv.Kind = "UA46489064427713930", schemas.AuthorityKindLocal
	_, err := s.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{{Action: "import", ChangedBy: "t", After: oda},
		{Action: "import", ChangedBy: "t", After: council}, {Action: "import", ChangedBy: "t", After: lviv}})
	require.NoError(t, err)
	find := func(f schemas.AuthorityFilter) []string {
		t.Helper()
		page, err := s.ListRegistryAuthorities(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, a := range page.Items {
			out = append(out, a.Code)
		}
		return out
	}
	require.Equal(t, []string{"85408783", "85015894"}, find(schemas.AuthorityFilter{Query: "ВІННИЦ"}))
	require.Equal(t, []string{"85015894"}, find(schemas.AuthorityFilter{Query: "ода"}), "the short name matches too")
	require.Equal(t, []string{"85408783", "66784279"}, find(schemas.AuthorityFilter{Query: "МІСЬК рада"}))
	require.Equal(t, []string{"66784279"}, find(schemas.AuthorityFilter{Query: "100%"}))
	require.Empty(t, find(schemas.AuthorityFilter{Query: "_"}), "LIKE wildcards match themselves only")
	require.Equal(t, []string{"85408783", "85015894"}, find(schemas.AuthorityFilter{TerritoryPrefix: "UA05"}))
	require.Equal(t, []string{"85408783"}, find(schemas.AuthorityFilter{TerritoryPrefix: "UA05628871271542183"}))
	require.Equal(t, []string{"85408783", "85015894", "66784279"}, find(schemas.AuthorityFilter{Topic: "roads"}))
	require.Equal(t, []string{"85015894"}, find(schemas.AuthorityFilter{Topic: "health"}), "* is every topic")
	require.Equal(t, []string{"85408783"}, find(schemas.AuthorityFilter{Parent: "85015894"}))
	require.Equal(t, []string{"85015894"}, find(schemas.AuthorityFilter{Limit: 1, Offset: 1}))
}
