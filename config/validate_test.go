package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	hashA = "eb1e8e79a793c44e863a8b636df80f36f80fd4539587320cb36e1ba84032a354"
	hashB = "61112491d046c3f6f8ab801f170d9b2d0c734a17ceff60dee92123fb507cfc3f"
)

// problems validates c and returns its problems as "path: message" strings (nil when valid).
func problems(t *testing.T, c Config) []string {
	t.Helper()
	err := c.Validate()
	if err == nil {
		return nil
	}
	verr, ok := errors.AsType[*ValidationError](err)
	require.True(t, ok, "Validate returns a *ValidationError, got %T", err)
	out := make([]string, len(verr.Problems))
	for i, p := range verr.Problems {
		out[i] = p.String()
	}
	require.Equal(t, strings.Join(out, "\n"), err.Error())
	return out
}

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	t.Parallel()

	c := Default()
	c.HTTP.Addr = "nonsense"
	c.Delivery.BackoffJitter = 1.5
	c.Delivery.BackoffBase = 2 * time.Hour // above backoff_max (1h)
	c.Log.Level = "verbose"
	c.Clients = []Client{
		{ID: "portal", Kind: ClientPortal, TokenSHA256: hashA},
		{ID: "portal", Kind: ClientAuthority, TokenSHA256: hashB},
		{ID: "ops", Kind: ClientOperator, TokenSHA256: "secret-token"},
	}

	got := problems(t, c)
	require.Equal(t, []string{
		`http.addr: must be host:port (got "nonsense")`,
		"delivery.backoff_base: must not exceed delivery.backoff_max (1h0m0s)",
		"delivery.backoff_jitter: must be between 0 and 1",
		`log.level: must be one of debug, info, warn, error (got "verbose")`,
		`clients[1].id: duplicates clients[0].id "portal"`,
		"clients[1].authority: is required for kind authority",
		"clients[2].token_sha256: must be 64 hex characters (the SHA-256 of the token, not the token)",
	}, got)
}

func TestValidateRules(t *testing.T) {
	t.Parallel()

	authority := Authority{Code: "42037682", Name: "МОН", Adapter: "json", Endpoint: "http://127.0.0.1:8091/", Status: AuthorityActive}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   []string // nil: valid
	}{
		{"Default", func(*Config) {}, nil},
		{"PortOutOfRange", func(c *Config) { c.HTTP.Addr = "127.0.0.1:70000" }, []string{`http.addr: must have a numeric port 0-65535 (got "70000")`}},
		{"PublicURLRelative", func(c *Config) { c.HTTP.PublicURL = "/v1" }, []string{"http.public_url: must be an absolute http or https URL"}},
		{"MaxBodyNegative", func(c *Config) { c.HTTP.MaxBodyBytes = -1 }, []string{"http.max_body_bytes: must be greater than 0"}},
		{"ReadHeaderAboveRead", func(c *Config) { c.HTTP.ReadHeaderTimeout = 2 * time.Minute }, []string{"http.read_header_timeout: must not exceed http.read_timeout (1m0s)"}},
		{"NegativeTimeout", func(c *Config) { c.HTTP.IdleTimeout = -time.Second }, []string{"http.idle_timeout: must be a positive duration"}},
		{"ReconcileBatchTooLarge", func(c *Config) { c.Reconcile.BatchSize = 20000 }, []string{"reconcile.batch_size: must be between 1 and 10000"}},
		{"SinkResendsTooMany", func(c *Config) { c.Reconcile.SinkResends = 21 }, []string{"reconcile.sink_resends: must be between 1 and 20"}},
		{"ReconcileAfterNegative", func(c *Config) { c.Reconcile.After = -time.Minute }, []string{"reconcile.after: must be a positive duration"}},
		{"TrackBurstNegative", func(c *Config) { c.HTTP.TrackBurst = -1 }, []string{"http.track_burst: must be at least 1"}},
		{"DatabaseScheme", func(c *Config) { c.Database.URL = "mysql://u:p@h/db" }, []string{"database.url: must be a URL with scheme postgres or postgresql"}},
		{"DatabaseURLUnparsable", func(c *Config) { c.Database.URL = "postgres://u:p@h:badport/db" }, []string{"database.url: must be a URL (it does not parse)"}},
		{"DatabaseSchemaInjection", func(c *Config) { c.Database.Schema = `x"; drop table y` }, []string{"database.schema: must be a plain SQL identifier (letters, digits, _; at most 63)"}},
		{"DatabaseSchemaOK", func(c *Config) { c.Database.Schema = "test_ab12" }, nil},
		{"IdleAboveOpen", func(c *Config) { c.Database.MaxIdleConns = 50 }, []string{"database.max_idle_conns: must not exceed database.max_open_conns (20)"}},
		{"BrokerScheme", func(c *Config) { c.Broker.URL = "http://127.0.0.1:5672/" }, []string{"broker.url: must be a URL with scheme amqp or amqps"}},
		{"BrokerNoHost", func(c *Config) { c.Broker.URL = "amqp:///" }, []string{"broker.url: must name a host"}},
		{"BrokerPrefix", func(c *Config) { c.Broker.Prefix = "test/x y" }, []string{"broker.prefix: must be at most 64 letters, digits or . _ : -"}},
		{"QueueType", func(c *Config) { c.Broker.QueueType = "stream" }, []string{`broker.queue_type: must be one of quorum, classic (got "stream")`}},
		{"Heartbeat", func(c *Config) { c.Broker.Heartbeat = 500 * time.Millisecond }, []string{"broker.heartbeat: must be at least 1s"}},
		{"ReconnectOrder", func(c *Config) { c.Broker.ReconnectMin = time.Minute }, []string{"broker.reconnect_min: must not exceed broker.reconnect_max (10s)"}},
		{"BatchSize", func(c *Config) { c.Relay.BatchSize = 10001 }, []string{"relay.batch_size: must be between 1 and 10000"}},
		{"Concurrency", func(c *Config) { c.Delivery.Concurrency = 70000 }, []string{"delivery.concurrency: must be between 1 and 65535"}},
		{"ConnectAboveRequest", func(c *Config) { c.Delivery.ConnectTimeout = time.Minute }, []string{"delivery.connect_timeout: must not exceed delivery.request_timeout (30s)"}},
		{"JitterNaN", func(c *Config) { c.Delivery.BackoffJitter = math.NaN() }, []string{"delivery.backoff_jitter: must be between 0 and 1"}},
		{"JitterNegative", func(c *Config) { c.Delivery.BackoffJitter = -0.1 }, []string{"delivery.backoff_jitter: must be between 0 and 1"}},
		{"BreakerFailuresNegative", func(c *Config) { c.Delivery.BreakerFailures = -1 }, []string{"delivery.breaker_failures: must be greater than 0"}},
		{"BreakerCooldownNegative", func(c *Config) { c.Delivery.BreakerCooldown = -time.Second }, []string{"delivery.breaker_cooldown: must be a positive duration"}},
		{"AuditBatchSize", func(c *Config) { c.Audit.BatchSize = -1 }, []string{"audit.batch_size: must be between 1 and 10000"}},
		{"AuditCheckpointBeforeSeal", func(c *Config) { c.Audit.CheckpointInterval = 500 * time.Millisecond },
			[]string{"audit.checkpoint_interval: must not be shorter than audit.seal_interval (1s)"}},
		{"AuditNegativeSealInterval", func(c *Config) { c.Audit.SealInterval = -time.Second }, []string{"audit.seal_interval: must be a positive duration"}},
		{"AuthorityLimits", func(c *Config) {
			a := authority
			a.Concurrency, a.RequestTimeout = 70000, -time.Second
			c.Authorities = []Authority{a}
		}, []string{
			"authorities[0].concurrency: must be between 0 (delivery.concurrency) and 65535",
			"authorities[0].request_timeout: must not be negative (0 means delivery.request_timeout)",
		}},
		{"AuthorityLimitsOK", func(c *Config) {
			a := authority
			a.Concurrency, a.RequestTimeout = 2, time.Second
			c.Authorities = []Authority{a}
		}, nil},
		{"MaxAttemptsZero", func(c *Config) { c.Delivery.MaxAttempts = 0 }, []string{"delivery.max_attempts: must be greater than 0"}},
		{"IdentityKeyWithoutCertificate", func(c *Config) { c.Identity.SigningKey = "/etc/appealhub/hub-key.pem" },
			[]string{"identity.certificate: signing_key and certificate are set together, or neither"}},
		{"IdentityKeyAndCertificate", func(c *Config) { c.Identity.SigningKey, c.Identity.Certificate = "k.pem", "c.pem" }, nil},
		{"Grace", func(c *Config) { c.Shutdown.Grace = 0 }, []string{"shutdown.grace: must be a positive duration"}},
		{"LogFormat", func(c *Config) { c.Log.Format = "text" }, []string{`log.format: must be one of json, console (got "text")`}},
		{"ClientsValid", func(c *Config) {
			c.Clients = []Client{
				{ID: "p", Kind: ClientPortal, TokenSHA256: hashA},
				{ID: "a", Kind: ClientAuthority, Authority: "42037682", TokenSHA256: strings.ToUpper(hashB)},
			}
		}, nil},
		{"ClientProblems", func(c *Config) {
			c.Clients = []Client{
				{ID: "", Kind: "robot", Authority: "42037682", TokenSHA256: hashA},
				{ID: "a", Kind: ClientAuthority, Authority: "4203768", TokenSHA256: strings.ToUpper(hashA)},
			}
		}, []string{
			"clients[0].id: is required",
			`clients[0].kind: must be one of portal, authority, operator (got "robot")`,
			"clients[0].authority: must be empty unless kind is authority",
			"clients[1].authority: must be an EDRPOU code of 8 digits",
			"clients[1].token_sha256: duplicates clients[0].token_sha256",
		}},
		{"TLSValid", func(c *Config) {
			c.HTTP.TLS = HTTPTLS{CertFile: "c.pem", KeyFile: "c.key", ClientCAFile: "ca.pem", ClientCRLFile: "ca.crl"}
			c.Clients = []Client{{ID: "p", Kind: ClientPortal, TokenSHA256: hashA, CertSPKISHA256: []string{strings.ToUpper(hashA)}}}
		}, nil},
		{"TLSProblems", func(c *Config) {
			c.HTTP.TLS = HTTPTLS{KeyFile: "c.key", ClientCAFile: "ca.pem", ClientCRLFile: "ca.crl"}
			c.Clients = []Client{{ID: "p", Kind: ClientPortal, TokenSHA256: hashA, CertSPKISHA256: []string{"abc"}}}
		}, []string{
			"http.tls.cert_file: and http.tls.key_file are set together",
			"http.tls.client_ca_file: needs http.tls.cert_file (client certificates need HTTPS)",
			"clients[0].cert_spki_sha256[0]: must be 64 hex characters (the SHA-256 of the certificate's public key)",
		}},
		{"TLSPinsWithoutClientCertificates", func(c *Config) {
			c.HTTP.TLS = HTTPTLS{CertFile: "c.pem", KeyFile: "c.key", ClientCRLFile: "ca.crl"}
			c.Clients = []Client{{ID: "p", Kind: ClientPortal, TokenSHA256: hashA, CertSPKISHA256: []string{hashA}}}
		}, []string{
			"http.tls.client_crl_file: needs http.tls.client_ca_file",
			"clients[0].cert_spki_sha256: needs http.tls.client_ca_file (client certificates are not asked for)",
		}},
		{"AuthoritiesValid", func(c *Config) { c.Authorities = []Authority{authority} }, nil},
		{"AuthorityProblems", func(c *Config) {
			bad := Authority{Code: "42037682", Name: " ", Adapter: "JSON!", Endpoint: "127.0.0.1:8091", Status: "open"}
			c.Authorities = []Authority{authority, bad, {Code: "431", Name: "x", Adapter: "json", Endpoint: "https://x.example/", Status: AuthorityClosed}}
		}, []string{
			`authorities[1].code: duplicates authorities[0].code "42037682"`,
			"authorities[1].name: is required",
			"authorities[1].adapter: must be an adapter name (lowercase letters, digits, _ or -)",
			"authorities[1].endpoint: must be an absolute http or https URL",
			`authorities[1].status: must be one of active, suspended, closed (got "open")`,
			"authorities[2].code: must be an EDRPOU code of 8 digits",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.mutate(&c)
			require.Equal(t, tt.want, problems(t, c))
		})
	}
}

func TestValidateZeroConfigReportsZeroFields(t *testing.T) {
	t.Parallel()

	got := problems(t, Config{})
	require.Contains(t, got, "relay.batch_size: must be between 1 and 10000")
	require.Contains(t, got, "shutdown.grace: must be a positive duration")
	require.Contains(t, got, `log.level: must be one of debug, info, warn, error (got "")`)
	require.Greater(t, len(got), 20)
}

func TestValidateNeverQuotesSecrets(t *testing.T) {
	t.Parallel()

	c := Default()
	c.Database.URL = "mysql://u:hunter2@h/db"
	c.Broker.URL = "http://guest:hunter2@h/"
	c.Authorities = []Authority{{Code: "42037682", Name: "x", Adapter: "json", Endpoint: "ftp://u:hunter2@h/", Token: "hunter2", Status: AuthorityActive}}
	err := c.Validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}
