package registry_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/router/registry"
	"appealhub/schemas"
)

func TestRegistryFieldsAndSettings(t *testing.T) {
	t.Parallel()
	svc, st := newService(t)
	ctx := t.Context()
	importFixture(t, svc)

	// The old column set leaves the new fields at their defaults.
	mon, err := svc.Get(ctx, "42037682")
	require.NoError(t, err)
	require.Equal(t, schemas.DefaultCalendar, mon.Calendar)
	require.Empty(t, mon.Subsystem)
	require.Zero(t, mon.Concurrency)
	require.Zero(t, mon.RequestTimeout)
	require.Equal(t, int64(1), mon.Version)

	by := schemas.AuthorityChangeMeta{By: "op"}
	upd, _, err := svc.Update(ctx, "42037682", schemas.AuthorityPatch{Subsystem: new("sed.osvita-2"), Calendar: new("UA-CRIMEA"),
		Concurrency: new(3), RequestTimeout: new(schemas.Duration(1500 * time.Millisecond))}, by)
	require.NoError(t, err)
	require.Equal(t, "sed.osvita-2", upd.Subsystem)
	require.Equal(t, "UA-CRIMEA", upd.Calendar)
	require.Equal(t, int64(2), upd.Version)
	// The delivery side reads the same settings.
	limits, err := st.AuthorityLimits(ctx, "42037682")
	require.NoError(t, err)
	require.Equal(t, schemas.AuthorityLimits{Code: "42037682", Concurrency: 3, RequestTimeout: 1500 * time.Millisecond}, limits)

	_, _, err = svc.Update(ctx, "42037682", schemas.AuthorityPatch{Concurrency: new(1000), RequestTimeout: new(schemas.Duration(time.Hour)),
		Subsystem: new("a/b"), Calendar: new("")}, by)
	var pointers []string
	for _, p := range schemaError(t, err).Fields {
		pointers = append(pointers, p.Pointer)
	}
	require.ElementsMatch(t, []string{"/concurrency", "/request_timeout", "/subsystem"}, pointers)

	// Back to the hub's defaults (and an empty calendar is the national one).
	upd, _, err = svc.Update(ctx, "42037682", schemas.AuthorityPatch{Concurrency: new(0), RequestTimeout: new(schemas.Duration(0)),
		Calendar: new("")}, by)
	require.NoError(t, err)
	require.Equal(t, schemas.DefaultCalendar, upd.Calendar)
	limits, err = st.AuthorityLimits(ctx, "42037682")
	require.NoError(t, err)
	require.Equal(t, schemas.AuthorityLimits{Code: "42037682"}, limits)

	h, err := svc.History(ctx, "42037682")
	require.NoError(t, err)
	require.Len(t, h, 3)
	require.Equal(t, 3, h[1].After.Concurrency, "the history keeps the settings")
	require.Equal(t, schemas.Duration(1500*time.Millisecond), h[1].After.RequestTimeout)
	require.Equal(t, "sed.osvita-2", h[1].After.Subsystem)
	require.Zero(t, h[2].After.Concurrency)
	require.Equal(t, int64(2), h[1].After.Version)

	// Exported and imported again, with the old column set still importable next to them.
	_, _, err = svc.Update(ctx, "19863933", schemas.AuthorityPatch{Subsystem: new("e-gov"), Concurrency: new(16),
		RequestTimeout: new(schemas.Duration(2 * time.Minute))}, by)
	require.NoError(t, err)
	for _, format := range []string{registry.FormatCSV, registry.FormatYAML} {
		var buf bytes.Buffer
		require.NoError(t, svc.Export(ctx, format, &buf))
		if format == registry.FormatCSV {
			require.True(t, strings.HasPrefix(buf.String(), "code,name,short,kind,parent,territory,topics,accepts,adapter,"+
				"mode,endpoint,tls_client,max_message_bytes,it_contact,status,successor,subsystem,calendar,concurrency,request_timeout\n"))
			require.Contains(t, buf.String(), ",e-gov,UA,16,2m0s\n")
		} else {
			require.Contains(t, buf.String(), "request_timeout: 2m0s")
		}
		other, _ := newService(t)
		_, err := other.ImportFile(ctx, format, &buf, schemas.AuthorityChangeMeta{By: "cli:test"})
		require.NoError(t, err, format)
		got, err := other.Get(ctx, "19863933")
		require.NoError(t, err)
		require.Equal(t, "e-gov", got.Subsystem, format)
		require.Equal(t, 16, got.Concurrency, format)
		require.Equal(t, schemas.Duration(2*time.Minute), got.RequestTimeout, format)
		importFixture(t, other)
		got, err = other.Get(ctx, "19863933")
		require.NoError(t, err)
		require.Equal(t, 16, got.Concurrency, "a file without the column keeps the value")
	}
}

func TestEveryChangeCountsTheVersion(t *testing.T) {
	t.Parallel()
	svc, st := newService(t)
	ctx := t.Context()
	a := goodAuthority()
	a.Parent = ""
	by := schemas.AuthorityChangeMeta{By: "op"}
	added, err := svc.Add(ctx, a, by)
	require.NoError(t, err)
	require.Equal(t, int64(1), added.Version)
	upd, _, err := svc.Update(ctx, a.Code, schemas.AuthorityPatch{ShortName: new("МЦ")}, by)
	require.NoError(t, err)
	require.Equal(t, int64(2), upd.Version)
	sus, _, err := svc.Suspend(ctx, a.Code, by)
	require.NoError(t, err)
	require.Equal(t, int64(3), sus.Version)

	// The configuration's seed counts too, but only when it changes something.
	seed := schemas.AuthorityRoute{Code: "12000001", Name: "Seeded", Adapter: "json"}
	require.NoError(t, st.UpsertAuthority(ctx, seed))
	require.NoError(t, st.UpsertAuthority(ctx, seed))
	got, err := svc.Get(ctx, "12000001")
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version, "a restart with the same configuration changes nothing")
	seed.Endpoint = "https://new.example/in"
	require.NoError(t, st.UpsertAuthority(ctx, seed))
	got, err = svc.Get(ctx, "12000001")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
}

func TestIfVersion(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	importFixture(t, svc)
	const code = "42037682"
	v1 := schemas.AuthorityChangeMeta{By: "op", IfVersion: 1}
	upd, _, err := svc.Update(ctx, code, schemas.AuthorityPatch{ITContact: new("it@mon.example")}, v1)
	require.NoError(t, err)
	require.Equal(t, int64(2), upd.Version)
	for _, change := range []func() error{
		func() error {
			_, _, err := svc.Update(ctx, code, schemas.AuthorityPatch{ShortName: new("x")}, v1)
			return err
		},
		func() error { _, _, err := svc.Suspend(ctx, code, v1); return err },
		func() error { _, _, err := svc.Resume(ctx, code, v1); return err },
		func() error { _, _, err := svc.Close(ctx, code, "", v1); return err },
		func() error {
			m := v1
			m.EffectiveAt = time.Now().Add(time.Hour)
			_, _, err := svc.Suspend(ctx, code, m)
			return err
		},
	} {
		perr := schemaError(t, change())
		require.Equal(t, schemas.CodeVersionConflict, perr.Code)
		require.ErrorIs(t, perr, schemas.ErrVersionConflict)
	}
	got, err := svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version, "no refused change was made")
	require.Equal(t, "active", got.Status)
	require.Empty(t, got.Pending)
}

// TestConcurrentEditsExactlyOneWins: many operators change one entry at once, all against the
// version they read. Exactly one change is made; every other one is refused with version_conflict.
// Without a version, every change is made, none lost: a change that raced another is made again on
// what the other left.
func TestConcurrentEditsExactlyOneWins(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := t.Context()
	importFixture(t, svc)
	const code, editors = "42037682", 8
	run := func(change func(i int) error) []error {
		errs := make([]error, editors)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range editors {
			wg.Go(func() {
				<-start
				errs[i] = change(i)
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	errs := run(func(i int) error {
		_, _, err := svc.Update(ctx, code, schemas.AuthorityPatch{ITContact: new("editor-" + string(rune('a'+i)))},
			schemas.AuthorityChangeMeta{By: "op", IfVersion: 1})
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.Equal(t, schemas.CodeVersionConflict, schemaError(t, err).Code)
	}
	require.Equal(t, 1, won)
	got, err := svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
	h, err := svc.History(ctx, code)
	require.NoError(t, err)
	require.Len(t, h, 2, "one import, one update")

	// Without versions: each editor sets its own field; none is lost.
	fields := []func(p *schemas.AuthorityPatch){
		func(p *schemas.AuthorityPatch) { p.ShortName = new("МОН") },
		func(p *schemas.AuthorityPatch) { p.ITContact = new("it@mon.example") },
		func(p *schemas.AuthorityPatch) { p.Endpoint = new("https://mon.example/in") },
		func(p *schemas.AuthorityPatch) { p.Subsystem = new("sed") },
		func(p *schemas.AuthorityPatch) { p.Concurrency = new(2) },
		func(p *schemas.AuthorityPatch) { p.RequestTimeout = new(schemas.Duration(time.Second)) },
		func(p *schemas.AuthorityPatch) { p.MaxMessageBytes = new(int64(1 << 20)) },
		func(p *schemas.AuthorityPatch) { p.Topics = &[]string{"education"} },
	}
	errs = run(func(i int) error {
		var p schemas.AuthorityPatch
		fields[i](&p)
		_, _, err := svc.Update(ctx, code, p, schemas.AuthorityChangeMeta{By: "op"})
		return err
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err = svc.Get(ctx, code)
	require.NoError(t, err)
	require.Equal(t, int64(2+editors), got.Version)
	require.Equal(t, "МОН", got.ShortName)
	require.Equal(t, "it@mon.example", got.ITContact)
	require.Equal(t, "https://mon.example/in", got.Endpoint)
	require.Equal(t, "sed", got.Subsystem)
	require.Equal(t, 2, got.Concurrency)
	require.Equal(t, schemas.Duration(time.Second), got.RequestTimeout)
	require.Equal(t, int64(1<<20), got.MaxMessageBytes)
	require.Equal(t, []string{"education"}, got.Topics)
}
