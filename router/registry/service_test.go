package registry_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/router/registry"
	"appealhub/schemas"
)

var _ registry.Store = (*store.Store)(nil)

var adapterNames = []string{"json", "sev1207"}

func newService(t *testing.T) (*registry.Service, *store.Store) {
	t.Helper()
	st := storetest.New(t)
	return registry.New(st, adapterNames), st
}

func importFixture(t *testing.T, svc *registry.Service) {
	t.Helper()
	f, err := os.Open(fixturePath(t))
	require.NoError(t, err)
	defer f.Close()
	n, err := svc.ImportFile(t.Context(), registry.FormatCSV, f, schemas.AuthorityChangeMeta{By: "cli:test", Reason: "seed"})
	require.NoError(t, err)
	require.Equal(t, 59, n)
}

func count(t *testing.T, svc *registry.Service) int {
	t.Helper()
	page, err := svc.List(t.Context(), schemas.AuthorityFilter{})
	require.NoError(t, err)
	return page.Total
}

func schemaError(t *testing.T, err error) *schemas.Error {
	t.Helper()
	perr, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "want *schemas.Error, got %v", err)
	return perr
}

func TestImportFixtureAndReimport(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	importFixture(t, svc)
	require.Equal(t, 59, count(t, svc))
	mon, err := svc.Get(ctx, "42037682")
	require.NoError(t, err)
	require.Equal(t, "МОН", mon.ShortName)
	require.Equal(t, "00000431", mon.Parent)
	require.Equal(t, []string{"education", "science"}, mon.Topics)
	require.Equal(t, "json", mon.Adapter)
	require.Equal(t, "push", mon.Mode)
	require.Equal(t, "active", mon.Status)

	// An endpoint set later survives a re-import of a file without that column.
	_, _, err = svc.Update(ctx, "42037682", schemas.AuthorityPatch{Endpoint: new("https://mon.example/in")}, schemas.AuthorityChangeMeta{By: "op"})
	require.NoError(t, err)
	importFixture(t, svc)
	mon, err = svc.Get(ctx, "42037682")
	require.NoError(t, err)
	require.Equal(t, "https://mon.example/in", mon.Endpoint)
	h, err := svc.History(ctx, "42037682")
	require.NoError(t, err)
	require.Len(t, h, 3)
	require.Equal(t, []string{"import", "update", "import"}, []string{h[0].Action, h[1].Action, h[2].Action})
}

func TestFailedImportAppliesNothing(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	data, err := os.ReadFile(fixturePath(t))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// Break line 5 (a check digit), line 9 (a kind) and line 61 (a new row with an unknown parent
	// and adapter); every other row is valid.
	lines[4] = "92309002" + lines[4][8:]
	lines[8] = strings.Replace(lines[8], ",central,", ",ministry,", 1)
	lines = append(lines, "19863933,Двійник,,central,00000431,UA80000000000000000,*,appeal,json",
		"85408784,Нова рада,,local,11111111,UA05000000000000000,*,appeal,smtp")
	in := strings.Join(lines, "\n") + "\n"
	_, err = svc.ImportFile(ctx, registry.FormatCSV, strings.NewReader(in), schemas.AuthorityChangeMeta{By: "cli:test"})
	perr := schemaError(t, err)
	require.Equal(t, schemas.CodeSchemaViolation, perr.Code)
	ie, ok := errors.AsType[*registry.ImportError](err)
	require.True(t, ok)
	var got []string
	for _, p := range ie.Problems {
		got = append(got, p.String())
	}
	require.Contains(t, got, "line 5 (92309002): code: wrong check digit: 2, expected 1")
	require.Contains(t, strings.Join(got, "\n"), "line 9 (86507027): kind: must be one of")
	require.Contains(t, got, "line 61 (19863933): code: also on line 3")
	require.Contains(t, strings.Join(got, "\n"), "line 62 (85408784): code: wrong check digit")
	require.Contains(t, strings.Join(got, "\n"), "line 62 (85408784): parent: wrong check digit")
	require.Contains(t, strings.Join(got, "\n"), "line 62 (85408784): adapter:")
	require.Equal(t, 0, count(t, svc), "nothing was applied")
	require.Contains(t, perr.Fields, schemas.FieldProblem{Pointer: "/lines/5/code", Message: "wrong check digit: 2, expected 1"})

	// A valid row whose parent is only in the same file, listed after it, is fine.
	in = "code,name,kind,parent,territory,topics,accepts,adapter\n" +
		"85408783,Вінницька міська рада,local,85015894,UA05628871271542183,housing,appeal,json\n" +
		"85015894,Вінницька ОДА,regional,,UA05000000000000000,*,appeal;info_request,json\n"
	n, err := svc.ImportFile(ctx, registry.FormatCSV, strings.NewReader(in), schemas.AuthorityChangeMeta{By: "cli:test"})
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// A row naming a parent that is neither registered nor in the file refuses the whole file.
	in = "code,name,kind,parent,territory,topics,accepts,adapter\n" +
		"17849544,Луцька міська рада,local,26135329,UA07252492022108112,housing,appeal,json\n" +
		"04442284,Житомирська ОДА,regional,,UA18000000000000000,*,appeal,json\n"
	_, err = svc.ImportFile(ctx, registry.FormatCSV, strings.NewReader(in), schemas.AuthorityChangeMeta{By: "cli:test"})
	ie, ok = errors.AsType[*registry.ImportError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, []registry.RowProblem{{Line: 2, Code: "17849544", Field: "parent", Message: "no authority 26135329 in the registry"}}, ie.Problems)
	require.Equal(t, 2, count(t, svc))
}

func TestChangesRecordHistory(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	importFixture(t, svc)
	a := goodAuthority()
	a.Code, a.Parent, a.Name = validCode("4444444"), "00000431", "Державне агентство тестування"
	when := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	added, err := svc.Add(ctx, a, schemas.AuthorityChangeMeta{By: "operator-1", Reason: "new body", EffectiveAt: when})
	require.NoError(t, err)
	require.Equal(t, when, added.EffectiveFrom)

	_, err = svc.Add(ctx, a, schemas.AuthorityChangeMeta{By: "operator-1"})
	require.Equal(t, "/code", schemaError(t, err).Fields[0].Pointer, "a second add is refused")

	_, _, err = svc.Update(ctx, a.Code, schemas.AuthorityPatch{Topics: &[]string{"Bad Topic"}, Kind: new("x")}, schemas.AuthorityChangeMeta{By: "operator-1"})
	require.Len(t, schemaError(t, err).Fields, 2)
	_, _, err = svc.Update(ctx, a.Code, schemas.AuthorityPatch{Status: new("closed")}, schemas.AuthorityChangeMeta{By: "operator-1"})
	require.Equal(t, schemas.CodeSchemaViolation, schemaError(t, err).Code)
	_, _, err = svc.Update(ctx, a.Code, schemas.AuthorityPatch{Parent: new(validCode("7777777"))}, schemas.AuthorityChangeMeta{By: "operator-1"})
	require.Contains(t, schemaError(t, err).Fields[0].Message, "no authority")

	upd, _, err := svc.Update(ctx, a.Code, schemas.AuthorityPatch{ShortName: new("ДАТ"), Token: new("s3cret")}, schemas.AuthorityChangeMeta{By: "cli:alice", Reason: "rename"})
	require.NoError(t, err)
	require.Equal(t, "ДАТ", upd.ShortName)
	_, _, err = svc.Suspend(ctx, a.Code, schemas.AuthorityChangeMeta{By: "operator-1", Reason: "maintenance"})
	require.NoError(t, err)
	_, _, err = svc.Resume(ctx, a.Code, schemas.AuthorityChangeMeta{By: "operator-1"})
	require.NoError(t, err)
	_, _, err = svc.Close(ctx, a.Code, "00000439", schemas.AuthorityChangeMeta{By: "operator-1"})
	require.Contains(t, schemaError(t, err).Fields[0].Message, "check digit")
	_, _, err = svc.Close(ctx, a.Code, "19863933", schemas.AuthorityChangeMeta{By: "operator-2", Reason: "merged"})
	require.NoError(t, err)
	_, _, err = svc.Resume(ctx, a.Code, schemas.AuthorityChangeMeta{By: "operator-1"})
	require.Equal(t, schemas.CodeSchemaViolation, schemaError(t, err).Code, "a closed authority stays closed")

	h, err := svc.History(ctx, a.Code)
	require.NoError(t, err)
	require.Len(t, h, 5)
	type step struct{ action, by, reason, status string }
	var steps []step
	for _, c := range h {
		steps = append(steps, step{c.Action, c.ChangedBy, c.Reason, c.After.Status})
		require.False(t, c.ChangedAt.IsZero())
		require.Empty(t, c.After.Token, "credentials are never kept in the history")
	}
	require.Equal(t, []step{{"add", "operator-1", "new body", "active"}, {"update", "cli:alice", "rename", "active"},
		{"suspend", "operator-1", "maintenance", "suspended"}, {"resume", "operator-1", "", "active"},
		{"close", "operator-2", "merged", "closed"}}, steps)
	require.Nil(t, h[0].Before)
	require.Equal(t, when, h[0].EffectiveAt)
	require.Equal(t, "Державне агентство тестування", h[1].Before.Name)
	require.Equal(t, "ДАТ", h[1].After.ShortName)
	require.Equal(t, "19863933", h[4].After.Successor)

	got, err := svc.Get(ctx, a.Code)
	require.NoError(t, err)
	require.Equal(t, "s3cret", got.Token, "the token is kept in the registry")

	_, err = svc.History(ctx, "99999997")
	require.Equal(t, schemas.CodeNotFound, schemaError(t, err).Code)
	_, _, err = svc.Suspend(ctx, "99999997", schemas.AuthorityChangeMeta{By: "x"})
	require.Equal(t, schemas.CodeNotFound, schemaError(t, err).Code)
}

func codes(page schemas.AuthorityPage) []string {
	out := []string{}
	for _, a := range page.Items {
		out = append(out, a.Code)
	}
	return out
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	importFixture(t, svc)
	dir := func(f schemas.AuthorityFilter) schemas.AuthorityPage {
		t.Helper()
		page, err := svc.Directory(ctx, f)
		require.NoError(t, err)
		return page
	}
	// Ukrainian, case-insensitive, partial words, name or short name.
	require.Equal(t, []string{"19863933"}, codes(dir(schemas.AuthorityFilter{Query: "ЦИФРОВОЇ трансф"})))
	require.Equal(t, []string{"19863933"}, codes(dir(schemas.AuthorityFilter{Query: "мінциф"})))
	require.Equal(t, []string{"85408783", "85015894"}, codes(dir(schemas.AuthorityFilter{Query: "вінниц"})), "ordered by name")
	require.Equal(t, []string{"85015894"}, codes(dir(schemas.AuthorityFilter{Query: "вінниц ода"})))
	require.Equal(t, []string{"22646990"}, codes(dir(schemas.AuthorityFilter{Query: "мін'юст"})))
	require.Empty(t, codes(dir(schemas.AuthorityFilter{Query: "%"})), "LIKE wildcards are literal")
	// Territory: a region and everything under it.
	require.Equal(t, []string{"85408783", "85015894"}, codes(dir(schemas.AuthorityFilter{Territory: "UA05000000000000000"})))
	require.Equal(t, []string{"85408783"}, codes(dir(schemas.AuthorityFilter{Territory: "UA05628871271542183"})))
	kyiv := dir(schemas.AuthorityFilter{Territory: "UA80000000000000000", Limit: 200})
	require.Equal(t, 14, kyiv.Total, "the fixture has 14 bodies in Kyiv (UA80…)")
	// Kind and topic (a "*" authority is competent for every topic).
	require.Equal(t, 1, dir(schemas.AuthorityFilter{Kind: "non_state"}).Total)
	health := codes(dir(schemas.AuthorityFilter{Topic: "health", Kind: "central"}))
	require.ElementsMatch(t, []string{"00000431", "92060091"}, health)
	require.Equal(t, []string{"85408783"}, codes(dir(schemas.AuthorityFilter{Topic: "roads", Kind: "local", Territory: "UA05000000000000000"})))
	// Paging: ordered by name, pages do not overlap, total counts all.
	all := dir(schemas.AuthorityFilter{Limit: 200})
	require.Equal(t, 59, all.Total)
	p1 := dir(schemas.AuthorityFilter{Limit: 10})
	p2 := dir(schemas.AuthorityFilter{Limit: 10, Offset: 10})
	require.Equal(t, codes(all)[:10], codes(p1))
	require.Equal(t, codes(all)[10:20], codes(p2))
	require.Equal(t, 59, p2.Total)
	require.Len(t, dir(schemas.AuthorityFilter{}).Items, registry.DefaultPerPage)
	// Only active authorities that accept submissions.
	_, _, err := svc.Suspend(ctx, "19863933", schemas.AuthorityChangeMeta{By: "op"})
	require.NoError(t, err)
	_, _, err = svc.Update(ctx, "92060091", schemas.AuthorityPatch{Accepts: &[]string{}}, schemas.AuthorityChangeMeta{By: "op"})
	require.NoError(t, err)
	require.Empty(t, codes(dir(schemas.AuthorityFilter{Query: "мінциф"})))
	require.Equal(t, []string{"00000431"}, codes(dir(schemas.AuthorityFilter{Topic: "health", Kind: "central"})))
	require.Equal(t, 57, dir(schemas.AuthorityFilter{}).Total)
	require.Equal(t, 59, count(t, svc), "the operator's list still has them")
	// Bad filters are refused.
	for _, f := range []schemas.AuthorityFilter{{Territory: "UA05"}, {Kind: "x"}, {Topic: "X Y"}, {Limit: registry.MaxPerPage + 1}} {
		_, err := svc.Directory(ctx, f)
		require.Equal(t, schemas.CodeSchemaViolation, schemaError(t, err).Code, "%+v", f)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	importFixture(t, svc)
	_, _, err := svc.Suspend(ctx, "19863933", schemas.AuthorityChangeMeta{By: "op"})
	require.NoError(t, err)
	for _, format := range []string{registry.FormatCSV, registry.FormatYAML} {
		var buf bytes.Buffer
		require.NoError(t, svc.Export(ctx, format, &buf))
		other, _ := newService(t)
		n, err := other.ImportFile(ctx, format, &buf, schemas.AuthorityChangeMeta{By: "cli:test"})
		require.NoError(t, err, format)
		require.Equal(t, 59, n)
		want, err := svc.List(ctx, schemas.AuthorityFilter{})
		require.NoError(t, err)
		got, err := other.List(ctx, schemas.AuthorityFilter{})
		require.NoError(t, err)
		for i := range want.Items {
			w, g := want.Items[i], got.Items[i]
			w.EffectiveFrom, w.UpdatedAt, g.EffectiveFrom, g.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			w.Version, g.Version = 0, 0
			require.Equal(t, w, g, format)
		}
	}
}

func TestChangeNeedsWho(t *testing.T) {
	t.Parallel()
	svc := registry.New(nil, adapterNames)
	_, err := svc.Add(context.Background(), goodAuthority(), schemas.AuthorityChangeMeta{})
	require.ErrorContains(t, err, "who")
}

func TestStatusChangesOfConfigSeededAuthorities(t *testing.T) {
	t.Parallel()
	svc, st := newService(t)
	ctx := t.Context()
	require.NoError(t, st.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "12000001", Name: "Seeded", Adapter: "json"}))
	a, _, err := svc.Suspend(ctx, "12000001", schemas.AuthorityChangeMeta{By: "op"})
	require.NoError(t, err, "a seeded entry without kind or territory can still be suspended")
	require.Equal(t, "suspended", a.Status)
	_, _, err = svc.Close(ctx, "12000001", validCode("7777777"), schemas.AuthorityChangeMeta{By: "op"})
	require.Equal(t, "/successor", schemaError(t, err).Fields[0].Pointer, "the successor must exist")
	_, _, err = svc.Update(ctx, "12000001", schemas.AuthorityPatch{Name: new("Renamed")}, schemas.AuthorityChangeMeta{By: "op"})
	ps := schemaError(t, err).Fields
	var pointers []string
	for _, p := range ps {
		pointers = append(pointers, p.Pointer)
	}
	require.ElementsMatch(t, []string{"/code", "/kind", "/territory"}, pointers, "an update needs the whole entry valid")
}
