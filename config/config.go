package config

import (
	"cmp"
	"net"
	"slices"
	"time"
)

// Defaults of the http section.
const (
	DefaultHTTPAddr              = "127.0.0.1:8080"
	DefaultHTTPMaxBodyBytes      = 25 << 20 // 25 MiB
	DefaultHTTPReadHeaderTimeout = 5 * time.Second
	DefaultHTTPReadTimeout       = 60 * time.Second
	DefaultHTTPWriteTimeout      = 60 * time.Second
	DefaultHTTPIdleTimeout       = 120 * time.Second
	DefaultHTTPTrackPerMinute    = 30
	DefaultNotificationRetention = 30 * 24 * time.Hour
	DefaultHTTPTrackBurst        = 10
)

// Defaults of the database section.
const (
	DefaultDatabaseURL             = "postgres://appealhub:appealhub@127.0.0.1:5432/appealhub?sslmode=disable&connect_timeout=5"
	DefaultDatabaseMaxOpenConns    = 20
	DefaultDatabaseMaxIdleConns    = DefaultDatabaseMaxOpenConns
	DefaultDatabaseConnMaxLifetime = 30 * time.Minute
)

// Queue types of broker.queue_type.
const (
	QueueTypeQuorum  = "quorum"
	QueueTypeClassic = "classic"
)

// Defaults of the broker section.
const (
	DefaultBrokerURL            = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultBrokerQueueType      = QueueTypeQuorum
	DefaultBrokerDeliveryLimit  = 10
	DefaultBrokerHeartbeat      = 10 * time.Second
	DefaultBrokerPublishTimeout = 10 * time.Second
	DefaultBrokerReconnectMin   = 100 * time.Millisecond
	DefaultBrokerReconnectMax   = 10 * time.Second
	// DefaultBrokerChannelsPerConnection bounds the authority queues one consuming connection serves.
	DefaultBrokerChannelsPerConnection = 1000
)

// Defaults of the relay section.
const (
	DefaultRelayBatchSize      = 200
	DefaultRelayPollInterval   = time.Second
	DefaultRelayPublishTimeout = 10 * time.Second
)

// Defaults of the delivery section.
const (
	DefaultDeliveryConcurrency    = 8
	DefaultDeliveryRequestTimeout = 30 * time.Second
	DefaultDeliveryConnectTimeout = 5 * time.Second
	DefaultDeliveryMaxAttempts    = 8
	DefaultDeliveryBackoffBase    = 2 * time.Second
	DefaultDeliveryBackoffMax     = time.Hour
	DefaultDeliveryBackoffJitter  = 0.2
	// DefaultDeliveryInboxVisibility is how long a fetched pull-mode inbox item stays hidden.
	DefaultDeliveryInboxVisibility = 5 * time.Minute
	// DefaultDeliveryBreakerFailures is how many consecutive transient failures open an
	// authority's circuit breaker.
	DefaultDeliveryBreakerFailures = 5
	// DefaultDeliveryBreakerCooldown is how long an open breaker waits before it lets one probe through.
	DefaultDeliveryBreakerCooldown = 30 * time.Second
)

// Defaults of the audit section.
const (
	DefaultAuditSealInterval       = time.Second
	DefaultAuditCheckpointInterval = 10 * time.Minute
	DefaultAuditBatchSize          = 1000
)

// Defaults of the deadlines section.
const (
	DefaultDeadlinesKeepInterval  = time.Second
	DefaultDeadlinesSweepInterval = time.Minute
	DefaultDeadlinesBatchSize     = 500
)

// Defaults of the reconcile section.
const (
	DefaultReconcileInterval  = time.Minute
	DefaultReconcileAfter     = 15 * time.Minute
	DefaultReconcileBatchSize = 500
	DefaultSinkResends        = 8
)

// DefaultShutdownGrace is the default of shutdown.grace.
const DefaultShutdownGrace = 30 * time.Second

// DefaultConsoleSessionTTL is the default of console.session_ttl.
const DefaultConsoleSessionTTL = 8 * time.Hour

// Defaults of the tracing section, and its exporters.
const (
	TracingExporterNone   = "none"
	TracingExporterStdout = "stdout"
	TracingExporterOTLP   = "otlp"

	DefaultTracingExporter    = TracingExporterNone
	DefaultTracingSampleRatio = 1.0
)

// Signature policies of signatures.policy.* and clients[].signature_policy.*: what intake requires
// of a submission's signatures (docs/signatures.md).
const (
	// SignaturePolicyRequired: the text and every attachment must carry a valid cades-detached
	// signature; the signatures present are verified.
	SignaturePolicyRequired = "required"
	// SignaturePolicyOptional: the signatures present are verified (a bad one refuses the
	// submission); none is fine.
	SignaturePolicyOptional = "optional"
	// SignaturePolicyOff: signatures are not verified; they are kept and delivered as received.
	SignaturePolicyOff = "off"
)

// Defaults of the signatures section.
const (
	DefaultSignaturesMaxSignatureBytes = 1 << 20 // 1 MiB
	// DefaultSignaturesPolicyAppeal is the policy of appeals when signatures.trust_dir is set; without
	// a trust directory nothing can be verified, and it is SignaturePolicyOff.
	DefaultSignaturesPolicyAppeal      = SignaturePolicyOptional
	DefaultSignaturesPolicyInfoRequest = SignaturePolicyOff
	DefaultSignaturesExternalTimeout   = 10 * time.Second
	DefaultSignaturesReloadInterval    = 5 * time.Minute
)

// Log levels of log.level.
const (
	LogLevelDebug = "debug"
	LogLevelInfo  = "info"
	LogLevelWarn  = "warn"
	LogLevelError = "error"
)

// Log formats of log.format.
const (
	LogFormatJSON    = "json"
	LogFormatConsole = "console"
)

// Defaults of the log section.
// Defaults of the hub's identity.
const (
	DefaultIdentityCode     = "00000000"
	DefaultIdentityName     = "Appeal Hub"
	DefaultIdentitySystemID = "APPEALHUB"
)

const (
	DefaultLogLevel  = LogLevelInfo
	DefaultLogFormat = LogFormatJSON
)

// ClientKind is what an API client is allowed to do. The values are configured and stored: never rename
// one.
type ClientKind string

// Client kinds.
const (
	// ClientPortal submits appeals and reads its own.
	ClientPortal ClientKind = "portal"
	// ClientAuthority is an authority's document system reporting on deliveries addressed to it.
	ClientAuthority ClientKind = "authority"
	// ClientOperator is the hub's operator (console, dead letters, statistics).
	ClientOperator ClientKind = "operator"
)

// Authority statuses of authorities[].status.
// How an authority receives its deliveries.
const (
	AuthorityModePush = "push"
	AuthorityModePull = "pull"
)

const (
	AuthorityActive    = "active"
	AuthoritySuspended = "suspended"
	AuthorityClosed    = "closed"
)

// Defaults of each authorities[] entry.
const (
	DefaultAuthorityAdapter = "json"
	DefaultAuthorityStatus  = AuthorityActive
	// DefaultAuthorityMode is how a configured authority receives when its mode is not set.
	DefaultAuthorityMode = AuthorityModePush
)

// Config is the whole configuration of one hub process. Load builds it; components receive their own
// section.
type Config struct {
	// HTTP is the API server.
	HTTP HTTP `yaml:"http" mapstructure:"http"`
	// Database is the PostgreSQL connection.
	Database Database `yaml:"database" mapstructure:"database"`
	// Broker is the RabbitMQ connection and topology.
	Broker Broker `yaml:"broker" mapstructure:"broker"`
	// Relay moves outbox rows to the broker.
	Relay Relay `yaml:"relay" mapstructure:"relay"`
	// Delivery consumes authority queues and sends deliveries to authorities' systems.
	Delivery Delivery `yaml:"delivery" mapstructure:"delivery"`
	// Audit seals the case timeline into the tamper-evident event chain.
	Audit Audit `yaml:"audit" mapstructure:"audit"`
	// Deadlines keeps the due dates of deliveries and reports what is overdue (docs/deadlines.md).
	Deadlines Deadlines `yaml:"deadlines" mapstructure:"deadlines"`
	// Reconcile sends again what was accepted but not delivered in time (docs/adr/0007-reconciler.md).
	Reconcile Reconcile `yaml:"reconcile" mapstructure:"reconcile"`
	// Notifications tells portals what becomes of their cases (docs/notifications.md).
	Notifications Notifications `yaml:"notifications" mapstructure:"notifications"`
	// Shutdown is the graceful stop.
	Shutdown Shutdown `yaml:"shutdown" mapstructure:"shutdown"`
	// Console is the operators' web console (docs/console.md).
	Console Console `yaml:"console" mapstructure:"console"`
	// Tracing is the OpenTelemetry tracing of cases (docs/observability.md).
	Tracing Tracing `yaml:"tracing" mapstructure:"tracing"`
	// Log is the process log.
	Log Log `yaml:"log" mapstructure:"log"`
	// Identity is who the hub is on the wire (SEV 1207 sender).
	Identity Identity `yaml:"identity" mapstructure:"identity"`
	// Signatures is the verification of citizens' signatures at intake.
	Signatures Signatures `yaml:"signatures" mapstructure:"signatures"`
	// Clients are the API clients allowed to call the hub, each known by the SHA-256 of its bearer token.
	// Defaults to none.
	Clients []Client `yaml:"clients,omitempty" mapstructure:"clients"`
	// Authorities seed the authority address space for demos and tests until the registry exists.
	// Defaults to none.
	Authorities []Authority `yaml:"authorities,omitempty" mapstructure:"authorities"`
	// TLSClients are client certificates the hub presents to authorities' systems that require
	// mTLS; an authority names one with tls_client. Default: none.
	TLSClients []TLSClient `yaml:"tls_clients,omitempty" mapstructure:"tls_clients"`
}

// HTTP configures the API server.
type HTTP struct {
	// Addr is the host:port the API listens on. Defaults to "127.0.0.1:8080".
	Addr string `yaml:"addr" mapstructure:"addr"`
	// PublicURL is the base URL clients reach the API at; status_url in receipts is built on it.
	// Defaults to "http://" + addr (127.0.0.1 when addr has no host).
	PublicURL string `yaml:"public_url" mapstructure:"public_url"`
	// MaxBodyBytes is the largest request body accepted; larger ones are refused with 413.
	// Defaults to 26214400 (25 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes" mapstructure:"max_body_bytes"`
	// ReadHeaderTimeout bounds reading a request's headers. Defaults to 5s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" mapstructure:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Defaults to 60s.
	ReadTimeout time.Duration `yaml:"read_timeout" mapstructure:"read_timeout"`
	// WriteTimeout bounds handling a request and writing its response. Defaults to 60s.
	WriteTimeout time.Duration `yaml:"write_timeout" mapstructure:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Defaults to 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout" mapstructure:"idle_timeout"`
	// TrackPerMinute limits a citizen's tracking (GET /v1/track) per client address, after a
	// burst of TrackBurst requests; past it the hub answers 429 rate_limited. Defaults to 30.
	TrackPerMinute int `yaml:"track_per_minute" mapstructure:"track_per_minute"`
	// TrackBurst is how many tracking requests one client address may send at once. Defaults to 10.
	TrackBurst int `yaml:"track_burst" mapstructure:"track_burst"`
	// TLS makes the API serve HTTPS itself (TLS 1.2 or later) instead of behind a TLS-terminating
	// proxy, and optionally require client certificates. Defaults to none (plain HTTP).
	TLS HTTPTLS `yaml:"tls" mapstructure:"tls"`
}

// HTTPTLS is the API's own HTTPS. The files are read when the hub starts; the CRL is read again
// whenever its file changes.
type HTTPTLS struct {
	// CertFile is the PEM certificate (chain) the API presents. Set together with key_file.
	// Defaults to "" (plain HTTP).
	CertFile string `yaml:"cert_file" mapstructure:"cert_file"`
	// KeyFile is the PEM private key of cert_file (secret: keep the file readable by the hub only).
	// Defaults to "".
	KeyFile string `yaml:"key_file" mapstructure:"key_file"`
	// ClientCAFile, when set, is the PEM bundle of CAs that issue clients' certificates: every
	// connection must then present a valid certificate chained to one of them, or the handshake
	// fails. Needs cert_file. Defaults to "" (no client certificate asked for).
	ClientCAFile string `yaml:"client_ca_file" mapstructure:"client_ca_file"`
	// ClientCRLFile, when set, is a PEM or DER certificate revocation list signed by a CA of
	// client_ca_file; a revoked client certificate fails the handshake. Needs client_ca_file.
	// Defaults to "".
	ClientCRLFile string `yaml:"client_crl_file" mapstructure:"client_crl_file"`
}

// Database configures the PostgreSQL connection.
type Database struct {
	// URL is the PostgreSQL connection URL (secret: its password is redacted when printed).
	// Defaults to "postgres://appealhub:appealhub@127.0.0.1:5432/appealhub?sslmode=disable&connect_timeout=5".
	URL string `yaml:"url" mapstructure:"url"`
	// Schema is the PostgreSQL schema the hub's tables live in; tests and demos use their own.
	// Defaults to "" (the public schema).
	Schema string `yaml:"schema" mapstructure:"schema"`
	// MaxOpenConns is the most connections the pool opens. Defaults to 20.
	MaxOpenConns int `yaml:"max_open_conns" mapstructure:"max_open_conns"`
	// MaxIdleConns is the most idle connections the pool keeps: a connection closed while idle
	// costs a new server process, and its statements are prepared and planned again, when it is
	// opened again. Defaults to 20 (max_open_conns when that is set).
	MaxIdleConns int `yaml:"max_idle_conns" mapstructure:"max_idle_conns"`
	// ConnMaxLifetime closes connections older than this. Defaults to 30m.
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime" mapstructure:"conn_max_lifetime"`
}

// Broker configures the RabbitMQ connection and topology.
type Broker struct {
	// URL is the AMQP 0-9-1 URL (secret: its password is redacted when printed).
	// Defaults to "amqp://guest:guest@127.0.0.1:5672/".
	URL string `yaml:"url" mapstructure:"url"`
	// FailoverURLs are the AMQP URLs of the other nodes of the same RabbitMQ cluster (secret like url).
	// Every connection is opened to url first; after a failed dial or a lost connection the next
	// attempt goes to the next URL in turn (url, then these, then url again), so a dead node costs
	// one reconnect attempt. Defaults to none (url only).
	FailoverURLs []string `yaml:"failover_urls,omitempty" mapstructure:"failover_urls"`
	// Prefix is prepended to every exchange and queue name, so several hubs or tests share one broker.
	// Defaults to "" (no prefix).
	Prefix string `yaml:"prefix" mapstructure:"prefix"`
	// QueueType is the type of the authority and dead-letter queues: "quorum" or "classic".
	// Defaults to "quorum".
	QueueType string `yaml:"queue_type" mapstructure:"queue_type"`
	// DeliveryLimit is the broker-side redelivery limit of a message (quorum queues' x-delivery-limit)
	// before it is dead-lettered. Defaults to 10.
	DeliveryLimit int `yaml:"delivery_limit" mapstructure:"delivery_limit"`
	// Heartbeat is the AMQP heartbeat interval, at least 1s. Defaults to 10s.
	Heartbeat time.Duration `yaml:"heartbeat" mapstructure:"heartbeat"`
	// PublishTimeout bounds waiting for a publisher confirm. Defaults to 10s.
	PublishTimeout time.Duration `yaml:"publish_timeout" mapstructure:"publish_timeout"`
	// ReconnectMin is the first delay before reconnecting after a lost connection. Defaults to 100ms.
	ReconnectMin time.Duration `yaml:"reconnect_min" mapstructure:"reconnect_min"`
	// ReconnectMax caps the exponentially growing reconnect delay. Defaults to 10s.
	ReconnectMax time.Duration `yaml:"reconnect_max" mapstructure:"reconnect_max"`
	// ChannelsPerConnection is the most authority queues one consuming connection serves (each on a
	// channel of its own); more authorities open more connections. RabbitMQ allows 2047 channels
	// per connection by default. Defaults to 1000.
	ChannelsPerConnection int `yaml:"channels_per_connection" mapstructure:"channels_per_connection"`
}

// Relay configures the outbox relay.
type Relay struct {
	// BatchSize is the most outbox rows claimed and published at once. Defaults to 200.
	BatchSize int `yaml:"batch_size" mapstructure:"batch_size"`
	// PollInterval is how often the outbox is polled when no notification arrives. Defaults to 1s.
	PollInterval time.Duration `yaml:"poll_interval" mapstructure:"poll_interval"`
	// PublishTimeout bounds publishing one batch and waiting for its confirms. Defaults to 10s.
	PublishTimeout time.Duration `yaml:"publish_timeout" mapstructure:"publish_timeout"`
}

// Delivery configures the delivery workers.
type Delivery struct {
	// Concurrency is, per authority, the consumer prefetch and the number of parallel sends.
	// Defaults to 8.
	Concurrency int `yaml:"concurrency" mapstructure:"concurrency"`
	// RequestTimeout bounds one send to an authority's system. Defaults to 30s.
	RequestTimeout time.Duration `yaml:"request_timeout" mapstructure:"request_timeout"`
	// ConnectTimeout bounds connecting to an authority's system. Defaults to 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout" mapstructure:"connect_timeout"`
	// MaxAttempts is how many sends a delivery gets before it is dead. Defaults to 8.
	MaxAttempts int `yaml:"max_attempts" mapstructure:"max_attempts"`
	// BackoffBase is the delay before the second attempt; each next one doubles it. Defaults to 2s.
	BackoffBase time.Duration `yaml:"backoff_base" mapstructure:"backoff_base"`
	// BackoffMax caps the delay between attempts. Defaults to 1h.
	BackoffMax time.Duration `yaml:"backoff_max" mapstructure:"backoff_max"`
	// BackoffJitter is the random fraction (0..1) added to or taken from each delay. Defaults to 0.2.
	BackoffJitter float64 `yaml:"backoff_jitter" mapstructure:"backoff_jitter"`
	// InboxVisibility is how long an item a pull-mode system fetched from its inbox stays hidden;
	// unless the system acknowledges it by then, it is offered again. Defaults to 5m.
	InboxVisibility time.Duration `yaml:"inbox_visibility" mapstructure:"inbox_visibility"`
	// BreakerFailures is how many consecutive transient failures (timeouts, connection errors,
	// 408, 429, 5xx) open an authority's circuit breaker: while it is open the hub does not call
	// that authority's system. Defaults to 5.
	BreakerFailures int `yaml:"breaker_failures" mapstructure:"breaker_failures"`
	// BreakerCooldown is how long an open breaker waits before it lets one probe send through
	// (half-open); the probe's success closes it, its failure opens it again. Defaults to 30s.
	BreakerCooldown time.Duration `yaml:"breaker_cooldown" mapstructure:"breaker_cooldown"`
}

// Audit configures the sealing of the event chain (docs/adr/0004-event-hash-chain.md).
type Audit struct {
	// SealInterval is how often the hub seals new events into the event chain. Defaults to 1s.
	SealInterval time.Duration `yaml:"seal_interval" mapstructure:"seal_interval"`
	// CheckpointInterval is the least time between two checkpoints of the chain head; a checkpoint
	// is written once it has passed and the chain has grown. A tail cut from the chain is detected
	// up to the last checkpoint. Defaults to 10m.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval" mapstructure:"checkpoint_interval"`
	// BatchSize is the most events sealed in one transaction. Defaults to 1000.
	BatchSize int `yaml:"batch_size" mapstructure:"batch_size"`
}

// Deadlines configures the deadline keeper and the overdue sweep (docs/deadlines.md).
type Deadlines struct {
	// KeepInterval is how often the hub looks for newly sealed events to derive due dates from.
	// Defaults to 1s.
	KeepInterval time.Duration `yaml:"keep_interval" mapstructure:"keep_interval"`
	// SweepInterval is how often the hub looks for overdue answers and missing delivery notices
	// and reports each once. Defaults to 1m.
	SweepInterval time.Duration `yaml:"sweep_interval" mapstructure:"sweep_interval"`
	// BatchSize is the most chain links, or overdue due dates, handled in one transaction.
	// Defaults to 500.
	BatchSize int `yaml:"batch_size" mapstructure:"batch_size"`
}

// Reconcile configures the reconciler, which sends a push delivery in transit (accepted or queued)
// again, for the same attempt, when nothing has come of it for longer than After: its message was
// lost after the broker took it, or its outbox row never left (docs/adr/0007-reconciler.md).
type Reconcile struct {
	// Interval is how often the hub looks for deliveries stuck in transit. Defaults to 1m.
	Interval time.Duration `yaml:"interval" mapstructure:"interval"`
	// After is how long a delivery in transit may show no progress (no outcome, no outbox row
	// pending or published) before it is sent again. A delivery is never sent again sooner than
	// broker.publish_timeout plus its authority's request timeout after its last progress,
	// whatever After says. Defaults to 15m.
	After time.Duration `yaml:"after" mapstructure:"after"`
	// BatchSize is the most deliveries sent again in one transaction. Defaults to 500.
	BatchSize int `yaml:"batch_size" mapstructure:"batch_size"`
	// SinkResends is how often one attempt of a delivery is sent again because its message was
	// found in hub.dead or hub.unroutable (docs/adr/0008-sink-queues.md), the n-th time after
	// 2^(n-1)-1 seconds (at once, 1 s, 3 s, 7 s …); the next time the delivery is recorded dead.
	// Defaults to 8 (the last one about two minutes after the first).
	SinkResends int `yaml:"sink_resends" mapstructure:"sink_resends"`
}

// Notifications configures the portal notifications (docs/notifications.md). Their webhooks are
// retried with the policy of the delivery section (max_attempts, backoff_*, breaker_*,
// request_timeout).
type Notifications struct {
	// SecretKeyFile is a file holding the key, 64 hexadecimal characters (`openssl rand -hex 32`),
	// that seals the portals' webhook secrets in the database (AES-256-GCM). Without one the
	// secrets are stored as they are, and the hub warns when it starts. Defaults to "" (none).
	SecretKeyFile string `yaml:"secret_key_file" mapstructure:"secret_key_file"`
	// AllowLoopbackHTTP lets a webhook URL be plain http:// when its host is a loopback address
	// (127.0.0.0/8, ::1, localhost), for development and tests; otherwise webhooks must be
	// https://. Defaults to false.
	AllowLoopbackHTTP bool `yaml:"allow_loopback_http" mapstructure:"allow_loopback_http"`
	// Retention is how long a delivered notification is kept before it is deleted (the events
	// it was made of stay in the case's timeline; dead ones stay until redriven).
	// Defaults to 720h (30 days).
	Retention time.Duration `yaml:"retention" mapstructure:"retention"`
}

// Console configures the operators' web console, served under /console/ by the HTTP server
// (docs/console.md). Operators are created with `appealhub operator add`.
type Console struct {
	// SessionTTL is how long a console session lasts after signing in. Defaults to 8h.
	SessionTTL time.Duration `yaml:"session_ttl" mapstructure:"session_ttl"`
	// AllowLoopbackHTTP sends the session cookie without the Secure attribute, so that the console
	// works over plain HTTP; allowed only when http.addr is a loopback address (development and
	// tests). Otherwise the console must be reached over HTTPS (a TLS-terminating proxy).
	// Defaults to false.
	AllowLoopbackHTTP bool `yaml:"allow_loopback_http" mapstructure:"allow_loopback_http"`
}

// Shutdown configures the graceful stop.
type Shutdown struct {
	// Grace is how long the soft stop lets in-flight work finish before cancelling it. Defaults to 30s.
	Grace time.Duration `yaml:"grace" mapstructure:"grace"`
}

// Tracing configures OpenTelemetry tracing. The W3C trace context of a case is carried and logged
// whatever the exporter; the exporter only decides where finished spans go.
type Tracing struct {
	// Exporter is where finished spans go: none, stdout (one JSON document per span on standard
	// output) or otlp (OTLP over HTTP). Defaults to "none".
	Exporter string `yaml:"exporter" mapstructure:"exporter"`
	// Endpoint is the OTLP/HTTP URL of the otlp exporter, e.g. http://127.0.0.1:4318/v1/traces.
	// Defaults to "" (the exporter's own: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4318).
	Endpoint string `yaml:"endpoint" mapstructure:"endpoint"`
	// SampleRatio is the fraction (0 < r <= 1) of the traces begun at the hub that are sampled; a
	// trace the portal began follows the portal's sampled flag. Defaults to 1 (0 stands for it).
	SampleRatio float64 `yaml:"sample_ratio" mapstructure:"sample_ratio"`
}

// TLSClient is a client certificate for mTLS to authorities' systems. The files are read when the
// hub starts; the private key never leaves them.
type TLSClient struct {
	// Name is how authorities refer to it (tls_client). Required. Defaults to none.
	Name string `yaml:"name" mapstructure:"name"`
	// CertFile is the PEM certificate (chain) the hub presents. Required. Defaults to none.
	CertFile string `yaml:"cert_file" mapstructure:"cert_file"`
	// KeyFile is the PEM private key of CertFile (secret: keep the file readable by the hub only).
	// Required. Defaults to none.
	KeyFile string `yaml:"key_file" mapstructure:"key_file"`
	// CAFile, when set, is the PEM bundle of CAs trusted for the system's server certificate
	// instead of the system roots. Defaults to the system roots.
	CAFile string `yaml:"ca_file,omitempty" mapstructure:"ca_file"`
}

// Identity names the hub to authorities' systems: the sender of every SEV 1207 message.
type Identity struct {
	// Code is the EDRPOU code of the hub's operator (SEV from_org_id). Defaults to "00000000".
	Code string `yaml:"code" mapstructure:"code"`
	// Name is the operator's name (SEV from_organization). Defaults to "Appeal Hub".
	Name string `yaml:"name" mapstructure:"name"`
	// SystemID is the hub's SEV system id (SEV from_sys_id). Defaults to "APPEALHUB".
	SystemID string `yaml:"system_id" mapstructure:"system_id"`
	// SigningKey is the PEM private key (ECDSA P-256 or P-384, or RSA of 2048 bits or more) the hub
	// signs its receipts and chain checkpoints with (secret: keep the file readable by the hub
	// only). Without it no receipts are issued. Set together with certificate. Defaults to "" (none).
	SigningKey string `yaml:"signing_key" mapstructure:"signing_key"`
	// Certificate is the PEM file of signing_key's certificate (keyUsage nonRepudiation) followed by
	// its chain (docs/receipts.md). Set together with signing_key. Defaults to "" (none).
	Certificate string `yaml:"certificate" mapstructure:"certificate"`
}

// Signatures configures the verification of citizens' detached CAdES signatures at intake
// (docs/signatures.md).
type Signatures struct {
	// TrustDir is the directory of the trusted CA certificates and their CRLs, read when the hub
	// starts and again every reload_interval; required when a policy (here or a client's) is not
	// "off". Defaults to "" (none).
	TrustDir string `yaml:"trust_dir" mapstructure:"trust_dir"`
	// ReloadInterval is how often the hub reads trust_dir again, so that renewed CRLs and changed
	// anchors take effect without a restart (a directory that fails to load keeps the previous one).
	// Defaults to 5m.
	ReloadInterval time.Duration `yaml:"reload_interval" mapstructure:"reload_interval"`
	// MaxSignatureBytes is the largest signature verified; a bigger one is refused with
	// signature_too_large. Defaults to 1048576 (1 MiB).
	MaxSignatureBytes int `yaml:"max_signature_bytes" mapstructure:"max_signature_bytes"`
	// RequireCRL refuses a signature whose chain has a certificate without a current CRL of its
	// issuer in trust_dir (revocation_unknown, 503); when false such a signature is accepted and its
	// facts say revocation "unchecked". Defaults to false.
	RequireCRL bool `yaml:"require_crl" mapstructure:"require_crl"`
	// Policy is what intake requires of the signatures of each case kind. Defaults to the defaults of
	// its keys.
	Policy SignaturePolicy `yaml:"policy" mapstructure:"policy"`
	// External is the verifier of DSTU 4145 signatures, which the hub cannot verify itself.
	// Defaults to none.
	External ExternalVerifier `yaml:"external" mapstructure:"external"`
}

// SignaturePolicy is the signature policy of each case kind: "required", "optional" or "off".
type SignaturePolicy struct {
	// Appeal is the policy of appeals. Defaults to "off" without trust_dir, "optional" with one.
	Appeal string `yaml:"appeal" mapstructure:"appeal"`
	// InfoRequest is the policy of requests for public information. Defaults to "off".
	InfoRequest string `yaml:"info_request" mapstructure:"info_request"`
}

// ClientSignaturePolicy overrides signatures.policy for one client; an empty field keeps it.
type ClientSignaturePolicy struct {
	// Appeal is this client's policy of appeals. Defaults to "" (signatures.policy.appeal).
	Appeal string `yaml:"appeal,omitempty" mapstructure:"appeal"`
	// InfoRequest is this client's policy of requests for public information. Defaults to ""
	// (signatures.policy.info_request).
	InfoRequest string `yaml:"info_request,omitempty" mapstructure:"info_request"`
}

// ExternalVerifier is the HTTP service that verifies DSTU 4145 signatures (docs/signatures.md,
// "External verifier").
type ExternalVerifier struct {
	// URL is the verifier's endpoint (http or https); without one, DSTU 4145 signatures are refused
	// with unsupported_algorithm. Defaults to "" (none).
	URL string `yaml:"url" mapstructure:"url"`
	// Timeout bounds one call to the verifier; past it the submission is answered 503.
	// Defaults to 10s.
	Timeout time.Duration `yaml:"timeout" mapstructure:"timeout"`
}

// Log configures the process log.
type Log struct {
	// Level is the least severe level logged: "debug", "info", "warn" or "error". Defaults to "info".
	Level string `yaml:"level" mapstructure:"level"`
	// Format is "json" (one object a line) or "console" (for people). Defaults to "json".
	Format string `yaml:"format" mapstructure:"format"`
}

// Client is an API client allowed to call the hub.
type Client struct {
	// ID names the client in logs and records; unique. Required.
	ID string `yaml:"id" mapstructure:"id"`
	// Kind is "portal", "authority" or "operator". Required.
	Kind ClientKind `yaml:"kind" mapstructure:"kind"`
	// Authority is the EDRPOU code (8 digits) of the authority the client speaks for; only and always
	// for kind "authority".
	Authority string `yaml:"authority,omitempty" mapstructure:"authority"`
	// TokenSHA256 is the hex SHA-256 (64 characters) of the client's bearer token; the token itself is
	// never configured. Required.
	TokenSHA256 string `yaml:"token_sha256" mapstructure:"token_sha256"`
	// SignaturePolicy overrides signatures.policy for this client's submissions. Defaults to none.
	SignaturePolicy ClientSignaturePolicy `yaml:"signature_policy,omitempty" mapstructure:"signature_policy"`
	// CertSPKISHA256 binds the client to TLS client certificates: the hex SHA-256 of each allowed
	// certificate's public key (SubjectPublicKeyInfo; several while a key is rotated). When set, the
	// client's token is accepted only on a connection that presented one of them (needs
	// http.tls.client_ca_file). Defaults to none (the token alone identifies the client).
	CertSPKISHA256 []string `yaml:"cert_spki_sha256,omitempty" mapstructure:"cert_spki_sha256"`
}

// Authority is a seed entry of the authority address space.
type Authority struct {
	// Code is the authority's EDRPOU code (8 digits); unique. Required.
	Code string `yaml:"code" mapstructure:"code"`
	// Name is the authority's full name. Required.
	Name string `yaml:"name" mapstructure:"name"`
	// Adapter names the wire format the authority's system speaks. Defaults to "json".
	Adapter string `yaml:"adapter" mapstructure:"adapter"`
	// Endpoint is the URL deliveries are sent to. Required.
	Endpoint string `yaml:"endpoint" mapstructure:"endpoint"`
	// Token is the bearer token the hub sends to the authority's system (secret: redacted when
	// printed). Defaults to "" (none sent).
	Token string `yaml:"token,omitempty" mapstructure:"token"`
	// Status is "active", "suspended" or "closed"; only active authorities receive deliveries.
	// Defaults to "active".
	Status string `yaml:"status" mapstructure:"status"`
	// Mode is "push" (the hub sends each delivery to Endpoint) or "pull" (the system fetches its
	// inbox from the hub). Defaults to "push".
	Mode string `yaml:"mode,omitempty" mapstructure:"mode"`
	// TLSClient names the entry of tls_clients whose certificate the hub presents to this
	// authority's system (mTLS). Defaults to none.
	TLSClient string `yaml:"tls_client,omitempty" mapstructure:"tls_client"`
	// MaxMessageBytes is the largest document this authority's system takes, and the largest
	// message it may send; 0 means no limit beyond http.max_body_bytes. Defaults to 0.
	MaxMessageBytes int64 `yaml:"max_message_bytes,omitempty" mapstructure:"max_message_bytes"`
	// Concurrency is this authority's own consumer prefetch and number of parallel sends; 0 means
	// delivery.concurrency. Defaults to 0.
	Concurrency int `yaml:"concurrency,omitempty" mapstructure:"concurrency"`
	// RequestTimeout bounds one send to this authority's system; 0 means delivery.request_timeout.
	// Defaults to 0.
	RequestTimeout time.Duration `yaml:"request_timeout,omitempty" mapstructure:"request_timeout"`
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{}.WithDefaults()
}

// WithDefaults returns a copy of c with every zero field set to its default. It does not modify c.
func (c Config) WithDefaults() Config {
	c.HTTP.Addr = cmp.Or(c.HTTP.Addr, DefaultHTTPAddr)
	c.HTTP.PublicURL = cmp.Or(c.HTTP.PublicURL, publicURLFor(c.HTTP.Addr, c.HTTP.TLS.CertFile != ""))
	c.HTTP.MaxBodyBytes = cmp.Or(c.HTTP.MaxBodyBytes, DefaultHTTPMaxBodyBytes)
	c.HTTP.ReadHeaderTimeout = cmp.Or(c.HTTP.ReadHeaderTimeout, DefaultHTTPReadHeaderTimeout)
	c.HTTP.ReadTimeout = cmp.Or(c.HTTP.ReadTimeout, DefaultHTTPReadTimeout)
	c.HTTP.WriteTimeout = cmp.Or(c.HTTP.WriteTimeout, DefaultHTTPWriteTimeout)
	c.HTTP.IdleTimeout = cmp.Or(c.HTTP.IdleTimeout, DefaultHTTPIdleTimeout)
	c.HTTP.TrackPerMinute = cmp.Or(c.HTTP.TrackPerMinute, DefaultHTTPTrackPerMinute)
	c.HTTP.TrackBurst = cmp.Or(c.HTTP.TrackBurst, DefaultHTTPTrackBurst)

	c.Database.URL = cmp.Or(c.Database.URL, DefaultDatabaseURL)
	c.Database.MaxOpenConns = cmp.Or(c.Database.MaxOpenConns, DefaultDatabaseMaxOpenConns)
	c.Database.MaxIdleConns = cmp.Or(c.Database.MaxIdleConns, c.Database.MaxOpenConns)
	c.Database.ConnMaxLifetime = cmp.Or(c.Database.ConnMaxLifetime, DefaultDatabaseConnMaxLifetime)

	c.Broker.URL = cmp.Or(c.Broker.URL, DefaultBrokerURL)
	c.Broker.QueueType = cmp.Or(c.Broker.QueueType, DefaultBrokerQueueType)
	c.Broker.DeliveryLimit = cmp.Or(c.Broker.DeliveryLimit, DefaultBrokerDeliveryLimit)
	c.Broker.Heartbeat = cmp.Or(c.Broker.Heartbeat, DefaultBrokerHeartbeat)
	c.Broker.PublishTimeout = cmp.Or(c.Broker.PublishTimeout, DefaultBrokerPublishTimeout)
	c.Broker.ReconnectMin = cmp.Or(c.Broker.ReconnectMin, DefaultBrokerReconnectMin)
	c.Broker.ReconnectMax = cmp.Or(c.Broker.ReconnectMax, DefaultBrokerReconnectMax)
	c.Broker.ChannelsPerConnection = cmp.Or(c.Broker.ChannelsPerConnection, DefaultBrokerChannelsPerConnection)

	c.Relay.BatchSize = cmp.Or(c.Relay.BatchSize, DefaultRelayBatchSize)
	c.Relay.PollInterval = cmp.Or(c.Relay.PollInterval, DefaultRelayPollInterval)
	c.Relay.PublishTimeout = cmp.Or(c.Relay.PublishTimeout, DefaultRelayPublishTimeout)

	c.Delivery.Concurrency = cmp.Or(c.Delivery.Concurrency, DefaultDeliveryConcurrency)
	c.Delivery.RequestTimeout = cmp.Or(c.Delivery.RequestTimeout, DefaultDeliveryRequestTimeout)
	c.Delivery.ConnectTimeout = cmp.Or(c.Delivery.ConnectTimeout, DefaultDeliveryConnectTimeout)
	c.Delivery.MaxAttempts = cmp.Or(c.Delivery.MaxAttempts, DefaultDeliveryMaxAttempts)
	c.Delivery.BackoffBase = cmp.Or(c.Delivery.BackoffBase, DefaultDeliveryBackoffBase)
	c.Delivery.BackoffMax = cmp.Or(c.Delivery.BackoffMax, DefaultDeliveryBackoffMax)
	c.Delivery.BackoffJitter = cmp.Or(c.Delivery.BackoffJitter, DefaultDeliveryBackoffJitter)
	c.Delivery.InboxVisibility = cmp.Or(c.Delivery.InboxVisibility, DefaultDeliveryInboxVisibility)
	c.Delivery.BreakerFailures = cmp.Or(c.Delivery.BreakerFailures, DefaultDeliveryBreakerFailures)
	c.Delivery.BreakerCooldown = cmp.Or(c.Delivery.BreakerCooldown, DefaultDeliveryBreakerCooldown)

	c.Audit.SealInterval = cmp.Or(c.Audit.SealInterval, DefaultAuditSealInterval)
	c.Audit.CheckpointInterval = cmp.Or(c.Audit.CheckpointInterval, DefaultAuditCheckpointInterval)
	c.Audit.BatchSize = cmp.Or(c.Audit.BatchSize, DefaultAuditBatchSize)

	c.Deadlines.KeepInterval = cmp.Or(c.Deadlines.KeepInterval, DefaultDeadlinesKeepInterval)
	c.Deadlines.SweepInterval = cmp.Or(c.Deadlines.SweepInterval, DefaultDeadlinesSweepInterval)
	c.Deadlines.BatchSize = cmp.Or(c.Deadlines.BatchSize, DefaultDeadlinesBatchSize)

	c.Reconcile.Interval = cmp.Or(c.Reconcile.Interval, DefaultReconcileInterval)
	c.Reconcile.After = cmp.Or(c.Reconcile.After, DefaultReconcileAfter)
	c.Reconcile.BatchSize = cmp.Or(c.Reconcile.BatchSize, DefaultReconcileBatchSize)
	c.Reconcile.SinkResends = cmp.Or(c.Reconcile.SinkResends, DefaultSinkResends)

	c.Shutdown.Grace = cmp.Or(c.Shutdown.Grace, DefaultShutdownGrace)
	c.Console.SessionTTL = cmp.Or(c.Console.SessionTTL, DefaultConsoleSessionTTL)
	c.Tracing.Exporter = cmp.Or(c.Tracing.Exporter, DefaultTracingExporter)
	c.Tracing.SampleRatio = cmp.Or(c.Tracing.SampleRatio, DefaultTracingSampleRatio)

	c.Log.Level = cmp.Or(c.Log.Level, DefaultLogLevel)
	c.Log.Format = cmp.Or(c.Log.Format, DefaultLogFormat)
	c.Identity.Code = cmp.Or(c.Identity.Code, DefaultIdentityCode)
	c.Identity.Name = cmp.Or(c.Identity.Name, DefaultIdentityName)
	c.Identity.SystemID = cmp.Or(c.Identity.SystemID, DefaultIdentitySystemID)

	c.Signatures.MaxSignatureBytes = cmp.Or(c.Signatures.MaxSignatureBytes, DefaultSignaturesMaxSignatureBytes)
	if c.Signatures.Policy.Appeal == "" {
		c.Signatures.Policy.Appeal = SignaturePolicyOff
		if c.Signatures.TrustDir != "" {
			c.Signatures.Policy.Appeal = DefaultSignaturesPolicyAppeal
		}
	}
	c.Signatures.Policy.InfoRequest = cmp.Or(c.Signatures.Policy.InfoRequest, DefaultSignaturesPolicyInfoRequest)
	c.Signatures.External.Timeout = cmp.Or(c.Signatures.External.Timeout, DefaultSignaturesExternalTimeout)
	c.Signatures.ReloadInterval = cmp.Or(c.Signatures.ReloadInterval, DefaultSignaturesReloadInterval)

	c.Broker.FailoverURLs = cloneOrNil(c.Broker.FailoverURLs)
	c.Clients = cloneOrNil(c.Clients)
	for i := range c.Clients {
		c.Clients[i].CertSPKISHA256 = cloneOrNil(c.Clients[i].CertSPKISHA256)
	}
	c.Authorities = cloneOrNil(c.Authorities)
	c.TLSClients = cloneOrNil(c.TLSClients)
	for i := range c.Authorities {
		a := &c.Authorities[i]
		a.Adapter = cmp.Or(a.Adapter, DefaultAuthorityAdapter)
		a.Status = cmp.Or(a.Status, DefaultAuthorityStatus)
		a.Mode = cmp.Or(a.Mode, DefaultAuthorityMode)
	}
	c.Notifications.Retention = cmp.Or(c.Notifications.Retention, DefaultNotificationRetention)
	return c
}

// publicURLFor is the default public URL for a listen address: "http://" + addr ("https://" when the
// API serves TLS itself), with 127.0.0.1 standing in for a missing or unspecified host.
func publicURLFor(addr string, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// cloneOrNil copies s so a filled copy never shares its backing array with the original; an empty
// slice becomes nil, so a configuration compares equal however its empty lists were written.
func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}
