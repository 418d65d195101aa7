package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	require.Equal(t, "added 44444442 Державне агентство тестування (central, active)\n", out)

	_, errOut, err = cli.run("add", "44444443", "--name", "X", "--kind", "ministry", "--territory", "UA8", "--adapter", "json")
	require.Error(t, err)
	require.Contains(t, errOut, "code: wrong check digit")
	require.Contains(t, errOut, "kind: must be one of")
	require.Contains(t, errOut, "territory: must be a KATOTTG code")

	// A unique variable name: the test runs in parallel, so it cannot use t.Setenv.
	tokenEnv := "APPEALHUB_TEST_TOKEN_" + strings.ToUpper(cli.schema)
	require.NoError(t, os.Setenv(tokenEnv, "s3cret"))
	t.Cleanup(func() { _ = os.Unsetenv(tokenEnv) })
	_, errOut, err = cli.run("update", "44444442", "--short-name", "ДАТ", "--token-env", tokenEnv, "--endpoint", "https://dat.example/in")
	require.NoError(t, err, errOut)
	for _, args := range [][]string{{"suspend", "44444442", "--reason", "maintenance"}, {"resume", "44444442"},
		{"close", "44444442", "--successor", "19863933", "--reason", "merged", "--effective-at", "2027-01-01T00:00:00Z"}} {
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
	h, err := cli.store.AuthorityHistory(t.Context(), "44444442")
	require.NoError(t, err)
	var actions []string
	for _, c := range h {
		actions = append(actions, c.Action)
		require.True(t, strings.HasPrefix(c.ChangedBy, "cli:"))
	}
	require.Equal(t, []string{"add", "update", "suspend", "resume", "close"}, actions)
	require.Equal(t, "2027-01-01T00:00:00Z", h[4].EffectiveAt.Format("2006-01-02T15:04:05Z07:00"))

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
	}
}
