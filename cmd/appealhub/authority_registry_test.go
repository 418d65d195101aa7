package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// registryCLI runs `appealhub authority ARGS... --database-url … --database-schema …` against a
// fresh migrated schema.
type registryCLI struct {
	t      *testing.T
	schema string
	store  *store.Store
}

func newRegistryCLI(t *testing.T) *registryCLI {
	t.Helper()
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	return &registryCLI{t: t, schema: cfg.Schema, store: st}
}

func (c *registryCLI) run(args ...string) (stdout, stderr string, err error) {
	c.t.Helper()
	cmd := newAuthorityCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append(args, "--database-url", storetest.URL(), "--database-schema", c.schema))
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err = cmd.ExecuteContext(c.t.Context())
	return out.String(), errOut.String(), err
}

func (c *registryCLI) total() int {
	c.t.Helper()
	page, err := c.store.ListRegistryAuthorities(c.t.Context(), schemas.AuthorityFilter{})
	require.NoError(c.t, err)
	return page.Total
}

const fixtureCSV = "../../internal/demo/data/authorities.csv"

func TestAuthorityImportFixtureCSV(t *testing.T) {
	t.Parallel()
	cli := newRegistryCLI(t)
	out, errOut, err := cli.run("import", fixtureCSV, "--reason", "seed")
	require.NoError(t, err, errOut)
	require.Equal(t, "imported 59 authorities\n", out)
	require.Equal(t, 59, cli.total())
	h, err := cli.store.AuthorityHistory(t.Context(), "00000431")
	require.NoError(t, err)
	require.Len(t, h, 1)
	require.True(t, strings.HasPrefix(h[0].ChangedBy, "cli:"), h[0].ChangedBy)
	require.Equal(t, "seed", h[0].Reason)

	out, errOut, err = cli.run("list", "--territory", "UA05000000000000000")
	require.NoError(t, err)
	require.Equal(t, "2 authorities\n", errOut)
	require.Contains(t, out, "85408783")
	require.Contains(t, out, "Вінницька міська рада")

	// A file with invalid rows: every one reported with its line, nothing applied.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("code,name,short,kind,parent,territory,topics,accepts,adapter\n"+
		"41057336,Миколаївська міська рада,,local,36641833,UA48949643934017654,roads,appeal,json\n"+
		"12345670,Нова рада,,local,,UA48000000000000000,roads,appeal,json\n"+
		"36641833,Миколаївська ОДА,,regional,,UA48,*,appeal,smtp\n"), 0o600))
	fresh := newRegistryCLI(t)
	_, errOut, err = fresh.run("import", bad)
	require.ErrorContains(t, err, "nothing was applied")
	require.Contains(t, errOut, "line 3 (12345670): code: wrong check digit")
	require.Contains(t, errOut, "line 4 (36641833): territory: must be a KATOTTG code")
	require.Contains(t, errOut, "line 4 (36641833): adapter:")
	require.NotContains(t, errOut, "line 2", "line 2 is valid (its parent is on line 4)")
	require.Equal(t, 0, fresh.total())
}

func TestAuthorityRegistryCommands(t *testing.T) {
	t.Parallel()
	cli := newRegistryCLI(t)
	_, errOut, err := cli.run("import", fixtureCSV)
	require.NoError(t, err, errOut)

	out, errOut, err := cli.run("add", "44444442", "--name", "Державне агентство тестування", "--kind", "central",
		"--parent", "00000431", "--territory", "UA80000000000000000", "--topics", "testing;quality",
		"--accepts", "appeal", "--adapter", "json", "--reason", "new body")
	require.NoError(t, err, errOut)
	require.Equal(t, "added 44444442 Державне агентство тестування (central, active, version 1)\n", out)

	_, errOut, err = cli.run("add", "44444443", "--name", "X", "--kind", "ministry", "--territory", "UA8", "--adapter", "json")
	require.Error(t, err)
	require.Contains(t, errOut, "code: wrong check digit")
	require.Contains(t, errOut, "kind: must be one of")
	require.Contains(t, errOut, "territory: must be a KATOTTG code")

	// A unique variable name: the test runs in parallel, so it cannot use t.Setenv.
	tokenEnv := "APPEALHUB_TEST_TOKEN_" + strings.ToUpper(cli.schema)
	require.NoError(t, os.Setenv(tokenEnv, "s3cret"))
	t.Cleanup(func() { _ = os.Unsetenv(tokenEnv) })
	_, errOut, err = cli.run("update", "44444442", "--short-name", "ДАТ", "--token-env", tokenEnv, "--endpoint", "https://dat.example/in",
		"--subsystem", "dat.sed", "--calendar", "UA", "--concurrency", "3", "--request-timeout", "45s")
	require.NoError(t, err, errOut)
	_, errOut, err = cli.run("update", "44444442", "--concurrency", "300", "--request-timeout", "1h", "--subsystem", "a b")
	require.Error(t, err)
	require.Contains(t, errOut, "concurrency: must be from 1 to 256")
	require.Contains(t, errOut, "request_timeout: must be from 100ms to 10m0s")
	require.Contains(t, errOut, "subsystem: must be 1 to 64")
	_, _, err = cli.run("update", "44444442", "--request-timeout", "soon")
	require.ErrorContains(t, err, "--request-timeout: must be a duration")
	// Effective in the past: applied at once, with its effective time recorded.
	for _, args := range [][]string{{"suspend", "44444442", "--reason", "maintenance"}, {"resume", "44444442"},
		{"close", "44444442", "--successor", "19863933", "--reason", "merged", "--effective-at", "2026-01-01T00:00:00Z"}} {
		_, errOut, err := cli.run(args...)
		require.NoError(t, err, errOut)
	}
	a, err := cli.store.RegistryAuthority(t.Context(), "44444442")
	require.NoError(t, err)
	require.Equal(t, "closed", a.Status)
	require.Equal(t, "19863933", a.Successor)
	require.Equal(t, "ДАТ", a.ShortName)
	require.Equal(t, "s3cret", a.Token)
	require.Equal(t, []string{"testing", "quality"}, a.Topics)
	require.Equal(t, "dat.sed", a.Subsystem)
	require.Equal(t, 3, a.Concurrency)
	require.Equal(t, schemas.Duration(45*time.Second), a.RequestTimeout)
	h, err := cli.store.AuthorityHistory(t.Context(), "44444442")
	require.NoError(t, err)
	var actions []string
	for _, c := range h {
		actions = append(actions, c.Action)
		require.True(t, strings.HasPrefix(c.ChangedBy, "cli:"))
	}
	require.Equal(t, []string{"add", "update", "suspend", "resume", "close"}, actions)
	require.Equal(t, "2026-01-01T00:00:00Z", h[4].EffectiveAt.Format("2006-01-02T15:04:05Z07:00"))

	_, _, err = cli.run("suspend", "99999997")
	require.ErrorContains(t, err, "not_found")

	// Export, then import into an empty registry: the same entries.
	for _, format := range []string{"csv", "yaml"} {
		file := filepath.Join(t.TempDir(), "registry."+format)
		_, errOut, err := cli.run("export", "--format", format, "-o", file)
		require.NoError(t, err, errOut)
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NotContains(t, string(data), "s3cret", "tokens are never exported")
		other := newRegistryCLI(t)
		out, errOut, err := other.run("import", file)
		require.NoError(t, err, errOut)
		require.Equal(t, "imported 60 authorities\n", out)
		b, err := other.store.RegistryAuthority(t.Context(), "44444442")
		require.NoError(t, err)
		require.Equal(t, "closed", b.Status)
		require.Equal(t, "https://dat.example/in", b.Endpoint)
		require.Equal(t, 3, b.Concurrency)
		require.Equal(t, schemas.Duration(45*time.Second), b.RequestTimeout)
		require.Equal(t, "dat.sed", b.Subsystem)
	}
}

func TestAuthorityScheduleCancelAndVersions(t *testing.T) {
	t.Parallel()
	cli := newRegistryCLI(t)
	_, errOut, err := cli.run("import", fixtureCSV)
	require.NoError(t, err, errOut)
	const code = "42037682"

	// --if-version: the change is made only against the entry's current version.
	_, errOut, err = cli.run("update", code, "--it-contact", "it@mon.example", "--if-version", "2")
	require.ErrorContains(t, err, "version_conflict")
	require.Empty(t, errOut)
	out, errOut, err := cli.run("update", code, "--it-contact", "it@mon.example", "--if-version", "1")
	require.NoError(t, err, errOut)
	require.Contains(t, out, "version 2")

	// A later --effective-at schedules the change; show lists it; cancel withdraws it.
	out, errOut, err = cli.run("suspend", code, "--effective-at", "2099-01-01T00:00:00Z", "--reason", "maintenance", "--if-version", "2")
	require.NoError(t, err, errOut)
	m := regexp.MustCompile(`^scheduled suspend of 42037682 for 2099-01-01T00:00:00Z as change ([0-9]+) \(withdraw it with: appealhub authority cancel 42037682 ([0-9]+)\)\n$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	require.Equal(t, m[1], m[2])
	out, errOut, err = cli.run("show", code)
	require.NoError(t, err, errOut)
	var shown schemas.Authority
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	require.Equal(t, "active", shown.Status, "not suspended yet")
	require.Equal(t, int64(3), shown.Version)
	require.Len(t, shown.Pending, 1)
	require.Equal(t, m[1], strconv.FormatInt(shown.Pending[0].ID, 10))
	require.Equal(t, "maintenance", shown.Pending[0].Reason)

	_, _, err = cli.run("cancel", code, m[1], "--if-version", "2")
	require.ErrorContains(t, err, "version_conflict")
	out, errOut, err = cli.run("cancel", code, m[1], "--reason", "not needed")
	require.NoError(t, err, errOut)
	require.Equal(t, "cancelled change "+m[1]+" of 42037682 Міністерство освіти і науки України (central, active, version 4)\n", out)
	_, _, err = cli.run("cancel", code, m[1])
	require.ErrorContains(t, err, "not_found")
	_, _, err = cli.run("cancel", code, "x")
	require.ErrorContains(t, err, "ID must be")
	_, _, err = cli.run("show", "99999997")
	require.ErrorContains(t, err, "not_found")

	h, err := cli.store.AuthorityHistory(t.Context(), code)
	require.NoError(t, err)
	var actions []string
	for _, c := range h {
		actions = append(actions, c.Action)
	}
	require.Equal(t, []string{"import", "update", "schedule", "cancel"}, actions)
	require.Equal(t, "2099-01-01T00:00:00Z", h[2].EffectiveAt.Format(time.RFC3339))
	require.Equal(t, "not needed", h[3].Reason)
}
