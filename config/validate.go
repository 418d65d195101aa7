package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Problem is one invalid field of a configuration.
type Problem struct {
	// Path is the field's yaml path, such as "delivery.backoff_jitter" or "clients[2].token_sha256".
	Path string
	// Message says what is wrong, such as "must be between 0 and 1".
	Message string
}

// String returns "path: message".
func (p Problem) String() string {
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem [Config.Validate] found. Match it with errors.As.
type ValidationError struct {
	// Problems are in the order of the configuration's fields.
	Problems []Problem
}

// Error returns one "path: message" line per problem.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

var (
	edrpouRE     = regexp.MustCompile(`^[0-9]{8}$`)
	sha256HexRE  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	amqpNameRE   = regexp.MustCompile(`^[A-Za-z0-9._:-]{0,64}$`)
	adapterRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// maxPrefetch is the largest AMQP prefetch count (a 16-bit field).
const maxPrefetch = math.MaxUint16

// Validate checks c and reports every problem at once as a *ValidationError, each with its yaml path;
// it returns nil when c is valid. Call it on a configuration that has had [Config.WithDefaults] applied
// (as [Load] returns it): zero values are reported, not defaulted.
func (c Config) Validate() error {
	v := &validator{}

	// http
	v.hostPort("http.addr", c.HTTP.Addr)
	v.httpURL("http.public_url", c.HTTP.PublicURL)
	v.positive("http.max_body_bytes", c.HTTP.MaxBodyBytes)
	v.positiveDuration("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	v.positiveDuration("http.read_timeout", c.HTTP.ReadTimeout)
	v.positiveDuration("http.write_timeout", c.HTTP.WriteTimeout)
	v.positiveDuration("http.idle_timeout", c.HTTP.IdleTimeout)
	v.httpTLS(c.HTTP.TLS)
	if c.HTTP.ReadHeaderTimeout > c.HTTP.ReadTimeout && c.HTTP.ReadTimeout > 0 {
		v.add("http.read_header_timeout", "must not exceed http.read_timeout (%s)", c.HTTP.ReadTimeout)
	}

	// database
	v.serviceURL("database.url", c.Database.URL, "postgres", "postgresql")
	if c.Database.Schema != "" && !identifierRE.MatchString(c.Database.Schema) {
		v.add("database.schema", "must be a plain SQL identifier (letters, digits, _; at most 63)")
	}
	v.positive("database.max_open_conns", int64(c.Database.MaxOpenConns))
	switch {
	case c.Database.MaxIdleConns < 0:
		v.add("database.max_idle_conns", "must not be negative")
	case c.Database.MaxIdleConns > c.Database.MaxOpenConns && c.Database.MaxOpenConns > 0:
		v.add("database.max_idle_conns", "must not exceed database.max_open_conns (%d)", c.Database.MaxOpenConns)
	}
	if c.Database.ConnMaxLifetime < 0 {
		v.add("database.conn_max_lifetime", "must not be negative")
	}

	// broker
	v.serviceURL("broker.url", c.Broker.URL, "amqp", "amqps")
	for i, u := range c.Broker.FailoverURLs {
		v.serviceURL(fmt.Sprintf("broker.failover_urls[%d]", i), u, "amqp", "amqps")
	}
	if !amqpNameRE.MatchString(c.Broker.Prefix) {
		v.add("broker.prefix", "must be at most 64 letters, digits or . _ : -")
	}
	v.oneOf("broker.queue_type", c.Broker.QueueType, QueueTypeQuorum, QueueTypeClassic)
	v.positive("broker.delivery_limit", int64(c.Broker.DeliveryLimit))
	if c.Broker.Heartbeat < time.Second {
		v.add("broker.heartbeat", "must be at least 1s")
	}
	v.positiveDuration("broker.publish_timeout", c.Broker.PublishTimeout)
	v.positiveDuration("broker.reconnect_min", c.Broker.ReconnectMin)
	v.positiveDuration("broker.reconnect_max", c.Broker.ReconnectMax)
	if c.Broker.ChannelsPerConnection < 1 || c.Broker.ChannelsPerConnection > 65519 {
		v.add("broker.channels_per_connection", "must be between 1 and 65519")
	}
	if c.Broker.ReconnectMin > c.Broker.ReconnectMax && c.Broker.ReconnectMax > 0 {
		v.add("broker.reconnect_min", "must not exceed broker.reconnect_max (%s)", c.Broker.ReconnectMax)
	}

	// relay
	if c.Relay.BatchSize < 1 || c.Relay.BatchSize > 10000 {
		v.add("relay.batch_size", "must be between 1 and 10000")
	}
	v.positiveDuration("relay.poll_interval", c.Relay.PollInterval)
	v.positiveDuration("relay.publish_timeout", c.Relay.PublishTimeout)

	// delivery
	if c.Delivery.Concurrency < 1 || c.Delivery.Concurrency > maxPrefetch {
		v.add("delivery.concurrency", "must be between 1 and %d", maxPrefetch)
	}
	v.positiveDuration("delivery.request_timeout", c.Delivery.RequestTimeout)
	v.positiveDuration("delivery.connect_timeout", c.Delivery.ConnectTimeout)
	if c.Delivery.ConnectTimeout > c.Delivery.RequestTimeout && c.Delivery.RequestTimeout > 0 {
		v.add("delivery.connect_timeout", "must not exceed delivery.request_timeout (%s)", c.Delivery.RequestTimeout)
	}
	v.positive("delivery.max_attempts", int64(c.Delivery.MaxAttempts))
	v.positiveDuration("delivery.backoff_base", c.Delivery.BackoffBase)
	v.positiveDuration("delivery.backoff_max", c.Delivery.BackoffMax)
	if c.Delivery.BackoffBase > c.Delivery.BackoffMax && c.Delivery.BackoffMax > 0 {
		v.add("delivery.backoff_base", "must not exceed delivery.backoff_max (%s)", c.Delivery.BackoffMax)
	}
	if math.IsNaN(c.Delivery.BackoffJitter) || c.Delivery.BackoffJitter < 0 || c.Delivery.BackoffJitter > 1 {
		v.add("delivery.backoff_jitter", "must be between 0 and 1")
	}
	v.positiveDuration("delivery.inbox_visibility", c.Delivery.InboxVisibility)
	v.positive("delivery.breaker_failures", int64(c.Delivery.BreakerFailures))
	v.positiveDuration("delivery.breaker_cooldown", c.Delivery.BreakerCooldown)

	// audit
	v.positiveDuration("audit.seal_interval", c.Audit.SealInterval)
	v.positiveDuration("audit.checkpoint_interval", c.Audit.CheckpointInterval)
	if c.Audit.CheckpointInterval < c.Audit.SealInterval && c.Audit.SealInterval > 0 && c.Audit.CheckpointInterval > 0 {
		v.add("audit.checkpoint_interval", "must not be shorter than audit.seal_interval (%s)", c.Audit.SealInterval)
	}
	if c.Audit.BatchSize < 1 || c.Audit.BatchSize > 10000 {
		v.add("audit.batch_size", "must be between 1 and 10000")
	}

	// deadlines
	v.positiveDuration("deadlines.keep_interval", c.Deadlines.KeepInterval)
	v.positiveDuration("deadlines.sweep_interval", c.Deadlines.SweepInterval)
	if c.Deadlines.BatchSize < 1 || c.Deadlines.BatchSize > 10000 {
		v.add("deadlines.batch_size", "must be between 1 and 10000")
	}

	// reconcile
	v.positiveDuration("reconcile.interval", c.Reconcile.Interval)
	v.positiveDuration("reconcile.after", c.Reconcile.After)
	if c.Reconcile.BatchSize < 1 || c.Reconcile.BatchSize > 10000 {
		v.add("reconcile.batch_size", "must be between 1 and 10000")
	}
	if c.Reconcile.SinkResends < 1 || c.Reconcile.SinkResends > 20 {
		v.add("reconcile.sink_resends", "must be between 1 and 20")
	}

	// notifications and tracking
	v.positiveDuration("notifications.retention", c.Notifications.Retention)
	if c.HTTP.TrackPerMinute < 1 {
		v.add("http.track_per_minute", "must be at least 1")
	}
	if c.HTTP.TrackBurst < 1 {
		v.add("http.track_burst", "must be at least 1")
	}

	// shutdown
	v.positiveDuration("shutdown.grace", c.Shutdown.Grace)

	// console
	v.positiveDuration("console.session_ttl", c.Console.SessionTTL)
	if c.Console.AllowLoopbackHTTP && !IsLoopbackAddr(c.HTTP.Addr) {
		v.add("console.allow_loopback_http", "needs a loopback http.addr, not %q", c.HTTP.Addr)
	}

	// tracing
	v.oneOf("tracing.exporter", c.Tracing.Exporter, TracingExporterNone, TracingExporterStdout, TracingExporterOTLP)
	if c.Tracing.Endpoint != "" {
		v.serviceURL("tracing.endpoint", c.Tracing.Endpoint, "http", "https")
	}
	if math.IsNaN(c.Tracing.SampleRatio) || c.Tracing.SampleRatio <= 0 || c.Tracing.SampleRatio > 1 {
		v.add("tracing.sample_ratio", "must be greater than 0 and at most 1")
	}

	// tls clients
	tlsNames := map[string]bool{}
	for i, c := range c.TLSClients {
		p := fmt.Sprintf("tls_clients[%d]", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			v.add(p+".name", "is required")
		case tlsNames[c.Name]:
			v.add(p+".name", "duplicates another tls client %q", c.Name)
		}
		tlsNames[c.Name] = true
		if c.CertFile == "" {
			v.add(p+".cert_file", "is required")
		}
		if c.KeyFile == "" {
			v.add(p+".key_file", "is required")
		}
	}
	for i, a := range c.Authorities {
		if a.TLSClient != "" && !tlsNames[a.TLSClient] {
			v.add(fmt.Sprintf("authorities[%d].tls_client", i), "names no entry of tls_clients (%q)", a.TLSClient)
		}
	}

	// identity
	if !edrpouShape.MatchString(c.Identity.Code) {
		v.add("identity.code", "must be an EDRPOU code of 8 digits")
	}
	if strings.TrimSpace(c.Identity.SystemID) == "" {
		v.add("identity.system_id", "is required")
	}
	if (c.Identity.SigningKey == "") != (c.Identity.Certificate == "") {
		v.add("identity.certificate", "signing_key and certificate are set together, or neither")
	}

	// log
	v.oneOf("log.level", c.Log.Level, LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError)
	v.oneOf("log.format", c.Log.Format, LogFormatJSON, LogFormatConsole)

	v.clients(c.Clients, c.HTTP.TLS.ClientCAFile != "")
	v.authorities(c.Authorities)
	v.signatures(c)

	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct {
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(path string, n int64) {
	if n <= 0 {
		v.add(path, "must be greater than 0")
	}
}

func (v *validator) positiveDuration(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be a positive duration")
	}
}

func (v *validator) oneOf(path, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.add(path, "must be one of %s (got %q)", strings.Join(allowed, ", "), value)
}

func (v *validator) hostPort(path, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "must be host:port (got %q)", addr)
		return
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		v.add(path, "must have a numeric port 0-65535 (got %q)", port)
	}
}

func (v *validator) httpURL(path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(path, "must be an absolute http or https URL")
	}
}

// serviceURL checks a connection URL without quoting it: it may hold a password.
func (v *validator) serviceURL(path, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil {
		v.add(path, "must be a URL (it does not parse)")
		return
	}
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	switch {
	case !ok:
		v.add(path, "must be a URL with scheme %s", strings.Join(schemes, " or "))
	case u.Host == "":
		v.add(path, "must name a host")
	}
}

func (v *validator) clients(clients []Client, clientCerts bool) {
	ids := map[string]int{}
	hashes := map[string]int{}
	for i, cl := range clients {
		p := fmt.Sprintf("clients[%d]", i)
		switch {
		case strings.TrimSpace(cl.ID) == "":
			v.add(p+".id", "is required")
		case ids[cl.ID] > 0:
			v.add(p+".id", "duplicates clients[%d].id %q", ids[cl.ID]-1, cl.ID)
		default:
			ids[cl.ID] = i + 1
		}
		v.oneOf(p+".kind", string(cl.Kind), string(ClientPortal), string(ClientAuthority), string(ClientOperator))
		switch {
		case cl.Kind == ClientAuthority && cl.Authority == "":
			v.add(p+".authority", "is required for kind authority")
		case cl.Kind == ClientAuthority && !edrpouRE.MatchString(cl.Authority):
			v.add(p+".authority", "must be an EDRPOU code of 8 digits")
		case cl.Kind != ClientAuthority && cl.Authority != "":
			v.add(p+".authority", "must be empty unless kind is authority")
		}
		for j, pin := range cl.CertSPKISHA256 {
			if !sha256HexRE.MatchString(pin) {
				v.add(fmt.Sprintf("%s.cert_spki_sha256[%d]", p, j), "must be 64 hex characters (the SHA-256 of the certificate's public key)")
			}
		}
		if len(cl.CertSPKISHA256) > 0 && !clientCerts {
			v.add(p+".cert_spki_sha256", "needs http.tls.client_ca_file (client certificates are not asked for)")
		}
		hash := strings.ToLower(cl.TokenSHA256)
		switch {
		case !sha256HexRE.MatchString(cl.TokenSHA256):
			v.add(p+".token_sha256", "must be 64 hex characters (the SHA-256 of the token, not the token)")
		case hashes[hash] > 0:
			v.add(p+".token_sha256", "duplicates clients[%d].token_sha256", hashes[hash]-1)
		default:
			hashes[hash] = i + 1
		}
	}
}

// httpTLS checks that the API's TLS files come in the combinations that make sense.
func (v *validator) httpTLS(t HTTPTLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("http.tls.cert_file", "and http.tls.key_file are set together")
	}
	if t.ClientCAFile != "" && t.CertFile == "" {
		v.add("http.tls.client_ca_file", "needs http.tls.cert_file (client certificates need HTTPS)")
	}
	if t.ClientCRLFile != "" && t.ClientCAFile == "" {
		v.add("http.tls.client_crl_file", "needs http.tls.client_ca_file")
	}
}

func (v *validator) authorities(authorities []Authority) {
	codes := map[string]int{}
	for i, a := range authorities {
		p := fmt.Sprintf("authorities[%d]", i)
		switch {
		case !edrpouRE.MatchString(a.Code):
			v.add(p+".code", "must be an EDRPOU code of 8 digits")
		case codes[a.Code] > 0:
			v.add(p+".code", "duplicates authorities[%d].code %q", codes[a.Code]-1, a.Code)
		default:
			codes[a.Code] = i + 1
		}
		if strings.TrimSpace(a.Name) == "" {
			v.add(p+".name", "is required")
		}
		if !adapterRE.MatchString(a.Adapter) {
			v.add(p+".adapter", "must be an adapter name (lowercase letters, digits, _ or -)")
		}
		if a.Mode != AuthorityModePull || a.Endpoint != "" { // a pull-mode system needs no endpoint
			v.httpURL(p+".endpoint", a.Endpoint)
		}
		v.oneOf(p+".status", a.Status, AuthorityActive, AuthoritySuspended, AuthorityClosed)
		if a.MaxMessageBytes < 0 {
			v.add(p+".max_message_bytes", "must not be negative")
		}
		if a.Concurrency < 0 || a.Concurrency > maxPrefetch {
			v.add(p+".concurrency", "must be between 0 (delivery.concurrency) and %d", maxPrefetch)
		}
		if a.RequestTimeout < 0 {
			v.add(p+".request_timeout", "must not be negative (0 means delivery.request_timeout)")
		}
		if a.Mode != "" { // empty means the default, push
			v.oneOf(p+".mode", a.Mode, AuthorityModePush, AuthorityModePull)
		}
	}
}

var edrpouShape = regexp.MustCompile(`^[0-9]{8}$`)
