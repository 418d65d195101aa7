package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// Tests that call Load use t.Setenv and so cannot run in parallel.

// clearEnv unsets (sets empty, which Load treats as unset) every APPEALHUB_* variable Load reads, so the
// tests do not depend on the caller's environment.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range keys() {
		t.Setenv(EnvVar(k.path), "")
	}
}

// writeFile writes content to a temporary YAML file and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "appealhub.yaml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestLoadWithoutFileGivesDefaults(t *testing.T) {
	clearEnv(t)

	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, Default(), c)
}

func TestLoadYAML(t *testing.T) {
	clearEnv(t)

	path := writeFile(t, `
http:
  addr: 127.0.0.1:9090
  max_body_bytes: 1048576
database:
  schema: demo_1
broker:
  prefix: demo.
  queue_type: classic
delivery:
  backoff_max: 90m
  backoff_jitter: 0.5
log:
  format: console
clients:
  - id: portal
    kind: portal
    token_sha256: `+hashA+`
authorities:
  - code: "42037682"
    name: МОН
    endpoint: http://127.0.0.1:8091/documents/42037682
    token: s3cret
`)
	c, err := Load(path, nil)
	require.NoError(t, err)

	want := Default()
	want.HTTP.Addr = "127.0.0.1:9090"
	want.HTTP.PublicURL = "http://127.0.0.1:9090"
	want.HTTP.MaxBodyBytes = 1 << 20
	want.Database.Schema = "demo_1"
	want.Broker.Prefix = "demo."
	want.Broker.QueueType = QueueTypeClassic
	want.Delivery.BackoffMax = 90 * time.Minute
	want.Delivery.BackoffJitter = 0.5
	want.Log.Format = LogFormatConsole
	want.Clients = []Client{{ID: "portal", Kind: ClientPortal, TokenSHA256: hashA}}
	want.Authorities = []Authority{{
		Code: "42037682", Name: "МОН", Adapter: "json", Endpoint: "http://127.0.0.1:8091/documents/42037682",
		Token: "s3cret", Status: "active", Mode: "push",
	}}
	require.Equal(t, want, c)
	require.NoError(t, c.Validate())
}

func TestLoadEmptyFile(t *testing.T) {
	clearEnv(t)

	c, err := Load(writeFile(t, "# nothing set\n"), nil)
	require.NoError(t, err)
	require.Equal(t, Default(), c)
}

// TestLoadEnvOverridesEveryKey sets every scalar key through its environment variable, with a file that
// sets none of them, and checks that each one took effect.
func TestLoadEnvOverridesEveryKey(t *testing.T) {
	clearEnv(t)

	path := writeFile(t, "log:\n  level: warn\ndelivery:\n  max_attempts: 3\n")
	want := Default()
	wantV := reflect.ValueOf(&want).Elem()
	scalars := 0
	for i, k := range keys() {
		if k.typ.Kind() == reflect.Slice {
			continue
		}
		scalars++
		f := wantV.FieldByIndex(k.index)
		var env string
		switch k.path {
		case "http.addr":
			env = "127.0.0.1:7001"
		case "http.public_url":
			env = "https://hub.example/"
		case "database.url":
			env = "postgres://u:p@db.example:5432/hub?sslmode=require"
		case "broker.url":
			env = "amqps://u:p@mq.example:5671/vh"
		default:
			switch v := f.Interface().(type) {
			case time.Duration:
				f.Set(reflect.ValueOf(v + time.Duration(i+1)*time.Second))
				env = f.Interface().(time.Duration).String()
			case int:
				f.SetInt(int64(v + i + 1))
				env = fmt.Sprint(f.Interface())
			case int64:
				f.SetInt(v + int64(i) + 1)
				env = fmt.Sprint(f.Interface())
			case float64:
				f.SetFloat(0.75)
				env = "0.75"
			case string:
				env = "env_" + strings.ReplaceAll(k.path, ".", "_")
			case bool:
				f.SetBool(!v)
				env = fmt.Sprint(!v)
			default:
				t.Fatalf("key %s has a type this test does not know: %T", k.path, v)
			}
		}
		if f.Kind() == reflect.String {
			f.SetString(env)
		}
		t.Setenv(EnvVar(k.path), env)
	}
	require.Equal(t, 74, scalars, "every scalar key is covered")

	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, want, c, "the environment wins over the file for every key")
}

func TestLoadEnvNestedKeyAbsentFromFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("APPEALHUB_DELIVERY_BACKOFF_MAX", "5m")
	t.Setenv("APPEALHUB_BROKER_RECONNECT_MIN", "250ms")
	t.Setenv("APPEALHUB_DATABASE_URL", "postgres://x:y@127.0.0.1:5432/other")
	t.Setenv("APPEALHUB_HTTP_MAX_BODY_BYTES", "1024")

	c, err := Load(writeFile(t, "http:\n  addr: 127.0.0.1:9090\n"), nil)
	require.NoError(t, err)
	require.Equal(t, 5*time.Minute, c.Delivery.BackoffMax)
	require.Equal(t, 250*time.Millisecond, c.Broker.ReconnectMin)
	require.Equal(t, "postgres://x:y@127.0.0.1:5432/other", c.Database.URL)
	require.EqualValues(t, 1024, c.HTTP.MaxBodyBytes)
	require.Equal(t, "127.0.0.1:9090", c.HTTP.Addr)
}

func TestLoadEnvListsAsJSON(t *testing.T) {
	clearEnv(t)
	t.Setenv("APPEALHUB_CLIENTS", `[{"id":"ops","kind":"operator","token_sha256":"`+hashB+`"}]`)
	t.Setenv("APPEALHUB_AUTHORITIES", `[{"code":"42037682","name":"МОН","endpoint":"http://127.0.0.1:8091/","token":"t"}]`)

	path := writeFile(t, "clients:\n  - id: portal\n    kind: portal\n    token_sha256: "+hashA+"\n")
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, []Client{{ID: "ops", Kind: ClientOperator, TokenSHA256: hashB}}, c.Clients, "the environment replaces the file's list")
	require.Equal(t, []Authority{{Code: "42037682", Name: "МОН", Adapter: "json", Endpoint: "http://127.0.0.1:8091/", Token: "t", Status: "active", Mode: "push"}}, c.Authorities)

	t.Setenv("APPEALHUB_CLIENTS", `[{"id":"ops","kind":"operator","token":"plain"}]`)
	_, err = Load("", nil)
	require.ErrorContains(t, err, "token", "an unknown key inside a JSON list is refused")

	t.Setenv("APPEALHUB_CLIENTS", `[{"id":`)
	_, err = Load("", nil)
	require.ErrorContains(t, err, "parse JSON array")
}

func TestLoadFlagsOverrideEnvAndFile(t *testing.T) {
	clearEnv(t)
	t.Setenv("APPEALHUB_HTTP_ADDR", "127.0.0.1:7002")
	t.Setenv("APPEALHUB_LOG_LEVEL", "error")

	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	require.NoError(t, AddFlags(fs, "http.addr", "delivery.backoff_max", "delivery.max_attempts", "http.max_body_bytes", "delivery.backoff_jitter", "log.level"))
	fs.String("config", "", "not a configuration key: ignored by Load")
	require.NoError(t, fs.Parse([]string{
		"--http-addr", "127.0.0.1:7003",
		"--delivery-backoff-max=2h",
		"--delivery-max-attempts=4",
		"--http-max-body-bytes=2048",
		"--delivery-backoff-jitter=0.3",
		"--config=/dev/null",
	}))

	c, err := Load(writeFile(t, "http:\n  addr: 127.0.0.1:7001\ndelivery:\n  max_attempts: 2\n"), fs)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:7003", c.HTTP.Addr, "flag beats env and file")
	require.Equal(t, 2*time.Hour, c.Delivery.BackoffMax)
	require.Equal(t, 4, c.Delivery.MaxAttempts)
	require.EqualValues(t, 2048, c.HTTP.MaxBodyBytes)
	require.InDelta(t, 0.3, c.Delivery.BackoffJitter, 1e-12)
	require.Equal(t, "error", c.Log.Level, "a flag that was not set does not override (its default is not applied)")

	require.Equal(t, DefaultDeliveryBackoffMax.String(), fs.Lookup("delivery-backoff-max").DefValue, "flags show the default")
	require.Error(t, AddFlags(fs, "clients"), "lists have no flag")
	require.Error(t, AddFlags(fs, "http.nope"))
}

func TestLoadUnknownKeys(t *testing.T) {
	clearEnv(t)

	path := writeFile(t, `
http:
  adr: 127.0.0.1:9090
databse:
  url: postgres://x
delivery:
  max_attempts: 3
clients:
  - id: p
    kind: portal
    token: plain-text
`)
	_, err := Load(path, nil)
	require.Error(t, err)
	require.ErrorContains(t, err, "unknown keys: clients[0].token, databse, http.adr")
}

func TestLoadErrors(t *testing.T) {
	clearEnv(t)

	tests := []struct {
		name, yaml, want string
	}{
		{"DurationWithoutUnit", "broker:\n  heartbeat: 10\n", "a duration needs a unit"},
		{"BadDuration", "broker:\n  heartbeat: ten seconds\n", `parse duration "ten seconds"`},
		{"NotANumber", "relay:\n  batch_size: lots\n", "relay.batch_size"},
		{"SectionNotAMap", "http: 8080\n", "http"},
		{"BrokenYAML", "http:\n  addr: [\n", "parse config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tt.yaml), nil)
			require.ErrorContains(t, err, tt.want)
		})
	}

	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)

	t.Setenv("APPEALHUB_DELIVERY_BACKOFF_BASE", "soon")
	_, err = Load("", nil)
	require.ErrorContains(t, err, `parse duration "soon"`)
}

func TestYAMLRoundTrip(t *testing.T) {
	clearEnv(t)

	c := Default()
	c.HTTP.PublicURL = "https://hub.example/"
	c.Database.Schema = "rt"
	c.Delivery.BackoffJitter = 0.35
	c.Broker.ReconnectMin = 1500 * time.Millisecond
	c.Clients = []Client{
		{ID: "p", Kind: ClientPortal, TokenSHA256: hashA},
		{ID: "a", Kind: ClientAuthority, Authority: "00000431", TokenSHA256: hashB},
	}
	c.Authorities = []Authority{{Code: "00000431", Name: "КМУ", Adapter: "json", Endpoint: "http://127.0.0.1:8092/", Token: "tok", Status: AuthoritySuspended, Mode: AuthorityModePull}}

	for _, in := range []Config{Default(), c} {
		out, err := in.YAML()
		require.NoError(t, err)
		require.Contains(t, string(out), "backoff_max: 1h0m0s", "durations are written with units")
		back, err := Load(writeFile(t, string(out)), nil)
		require.NoError(t, err)
		require.Equal(t, in, back, "YAML:\n%s", out)
	}
}

func TestExampleFile(t *testing.T) {
	clearEnv(t)

	c, err := Load(filepath.Join("..", "configs", "appealhub.example.yaml"), nil)
	require.NoError(t, err)
	require.NoError(t, c.Validate())

	// The example sets every key to its default, except for the demo clients and authority and the
	// signature policy it recommends.
	want := Default()
	want.Signatures.TrustDir = "/etc/appealhub/trust"
	want.Signatures.Policy.Appeal = SignaturePolicyRequired
	want.Clients = []Client{
		{ID: "demo-portal", Kind: ClientPortal, TokenSHA256: "eb1e8e79a793c44e863a8b636df80f36f80fd4539587320cb36e1ba84032a354"},
		{ID: "demo-operator", Kind: ClientOperator, TokenSHA256: "61112491d046c3f6f8ab801f170d9b2d0c734a17ceff60dee92123fb507cfc3f"},
		{ID: "demo-authority-42037682", Kind: ClientAuthority, Authority: "42037682", TokenSHA256: "3cbfd69ac183ae481291991dce92a089b9d1c7436c761ff4b25d7c5f3dd7c47e"},
	}
	want.Authorities = []Authority{{
		Code: "42037682", Name: "Міністерство освіти і науки України", Adapter: "json",
		Endpoint: "http://127.0.0.1:8091/documents/42037682", Status: AuthorityActive, Mode: AuthorityModePush,
	}}
	require.Equal(t, want, c)

	// Every scalar key appears in the example, so it documents them all.
	raw, err := os.ReadFile(filepath.Join("..", "configs", "appealhub.example.yaml"))
	require.NoError(t, err)
	for _, k := range keys() {
		name := k.path[strings.LastIndex(k.path, ".")+1:]
		require.Contains(t, string(raw), "\n"+strings.Repeat("  ", strings.Count(k.path, "."))+name+":", "key %s", k.path)
	}
}

func TestEnvVarAndFlagName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "APPEALHUB_DELIVERY_MAX_ATTEMPTS", EnvVar("delivery.max_attempts"))
	require.Equal(t, "APPEALHUB_CLIENTS", EnvVar("clients"))
	require.Equal(t, "http-max-body-bytes", FlagName("http.max_body_bytes"))
}
