package httpapi

import (
	"cmp"
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"appealhub/schemas"
)

// Principal kinds.
const (
	KindPortal    = "portal"
	KindAuthority = "authority"
	KindOperator  = "operator"
)

// Principal is an authenticated client.
type Principal struct {
	// ClientID is the client's stable id; it is logged and scopes what the client may see.
	ClientID string
	// Kind is KindPortal, KindAuthority or KindOperator.
	Kind string
	// Authority is the authority code of an authority client, empty otherwise.
	Authority string
}

// Authenticator resolves a bearer token to a principal. It is called concurrently. For a token
// that is simply unknown, return a *schemas.Error with code unauthorized: the request is answered
// 401 without a log line. Any other error is logged and answered 401 too, except one wrapping
// schemas.ErrUnavailable (the token store is down), which is answered 503 so that the client
// retries instead of doubting its credentials.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// SubmitRequest is one accepted-for-processing POST /v1/appeals.
type SubmitRequest struct {
	// ClientID is the authenticated portal client.
	ClientID string
	// IdempotencyKey is the Idempotency-Key header (1 to 200 printable ASCII characters).
	IdempotencyKey string
	// Body is the raw request body, at most Config.MaxBodyBytes, not yet decoded or validated.
	Body []byte
	// TraceParent is the W3C traceparent header when it was well-formed, else empty.
	TraceParent string
}

// Submitter validates and stores a submission (it calls schemas.DecodeSubmission) and returns the
// receipt. It is called concurrently; ctx is the request's. Refusals are *schemas.Error; an error
// wrapping schemas.ErrUnavailable is answered 503; anything else 500.
type Submitter interface {
	Submit(ctx context.Context, req SubmitRequest) (schemas.Receipt, error)
}

// CaseReader returns a case as its submitting client sees it. A case that does not exist or
// belongs to another client is a *schemas.Error with code not_found.
type CaseReader interface {
	Case(ctx context.Context, clientID, id string) (schemas.Case, error)
}

// Check is the outcome of one readiness check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Readiness reports the hub's readiness checks. It is called concurrently, on every /readyz, with
// a context bounded by readyTimeout; it must not block past ctx.
type Readiness interface {
	Ready(ctx context.Context) []Check
}

// Defaults of Config.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultMaxBodyBytes      = 25 << 20 // 25 MiB
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 2 * time.Minute
	DefaultWriteTimeout      = 3 * time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultTrackPerMinute    = 30
	DefaultTrackBurst        = 10
)

// Config is the HTTP edge's configuration. Zero fields take their defaults (see WithDefaults).
type Config struct {
	// Addr is the listen address; ":0" or "127.0.0.1:0" picks a free port. Defaults to
	// DefaultAddr (127.0.0.1:8080).
	Addr string
	// MaxBodyBytes bounds a request body. Defaults to DefaultMaxBodyBytes (25 MiB).
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds reading the request headers. Defaults to 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included. Defaults to 2 min.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the headers to the end of the response, so it
	// must exceed ReadTimeout. Defaults to 3 min.
	WriteTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection. Defaults to 2 min.
	IdleTimeout time.Duration
	// TrackPerMinute and TrackBurst limit GET /v1/track per client address (a token bucket:
	// TrackBurst requests at once, then TrackPerMinute a minute); over the limit it answers 429
	// rate_limited. Default to 30 and 10.
	TrackPerMinute int
	TrackBurst     int
	// TLS, when set, makes the server speak HTTPS (ServerTLS builds it from files). Defaults to
	// none: plain HTTP, behind a TLS-terminating proxy.
	TLS *tls.Config
	// ClientCertPins binds clients to TLS client certificates: for a client id present here, its
	// bearer token is accepted only on a connection that presented a certificate whose public key
	// hashes (SPKISHA256) to one of the values. Defaults to none.
	ClientCertPins map[string][]string
}

// WithDefaults returns a copy of c with every zero or negative field set to its default.
func (c Config) WithDefaults() Config {
	pos := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	c.ReadHeaderTimeout = pos(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.ReadTimeout = pos(c.ReadTimeout, DefaultReadTimeout)
	c.WriteTimeout = pos(c.WriteTimeout, DefaultWriteTimeout)
	c.IdleTimeout = pos(c.IdleTimeout, DefaultIdleTimeout)
	if c.TrackPerMinute <= 0 {
		c.TrackPerMinute = DefaultTrackPerMinute
	}
	if c.TrackBurst <= 0 {
		c.TrackBurst = DefaultTrackBurst
	}
	return c
}

// Deps are the ports the handler calls. Auth, Submitter and Cases are required; Ready is optional
// (no checks: always ready unless draining).
type Deps struct {
	Auth      Authenticator
	Submitter Submitter
	Cases     CaseReader
	Ready     Readiness
	// Authorities serves the authorities' document systems; nil leaves their routes out.
	Authorities AuthorityAPI
	Registry    Registry // the authority registry (operator API) and the public directory; nil leaves them out
	// Delivery shows operators the per-authority delivery limits and breakers; nil leaves its route out.
	Delivery DeliveryInspector
	// Receipts gives portals the hub-signed receipts of their cases; nil leaves their routes out.
	Receipts ReceiptReader
	// Notifications and Timelines serve the portal notifications, the timelines of cases and the
	// citizens' tracking; nil in either leaves all their routes out.
	Notifications NotificationAPI
	Timelines     TimelineReader
	// Overdue lists overdue deliveries for operators; nil leaves its route out.
	Overdue OverdueLister
	// Stats answers GET /v1/stats for operators; nil leaves its route out.
	Stats StatsReader
	// Mounts are further handlers served behind the same request ids, request log and panic
	// recovery (the operators' console, /metrics); each pattern is an http.ServeMux pattern.
	Mounts []Mount
	// Denials records an authenticated client's request for another authority's resources in the
	// audit chain; nil only refuses them (404 either way).
	Denials AccessAuditor
}

// AccessAuditor records that an authenticated client asked for what is not its own: clientID the
// client, action the route, object what the request named (an authority code). It must not block
// for long and reports its own failures (the answer is a 404 either way). It is called concurrently.
type AccessAuditor interface {
	AccessDenied(ctx context.Context, clientID, action, object string)
}

// Mount is a handler served at an http.ServeMux pattern beside the API's routes.
type Mount struct {
	Pattern string
	Handler http.Handler
}

// StatsReader computes the statistics of cases (GET /v1/stats). A query it cannot answer is a
// *schemas.Error with code schema_violation naming the parameter.
type StatsReader interface {
	Stats(ctx context.Context, q schemas.StatsQuery) (schemas.StatsResult, error)
}

// AuthorityAPI serves an authority's document system: its pull inbox and the messages it sends
// back. Every method takes the authenticated authority's code and must act only on its deliveries:
// another authority's delivery is not_found, exactly like one that does not exist.
type AuthorityAPI interface {
	// Inbox claims up to limit waiting deliveries, hiding them for a visibility timeout.
	Inbox(ctx context.Context, authority string, limit int) ([]schemas.InboxItem, error)
	// InboxDocument returns an inbox item encoded in the authority's format.
	InboxDocument(ctx context.Context, authority, id string) (mediaType string, body []byte, err error)
	// AckInbox takes an item off the inbox: the system has the document.
	AckInbox(ctx context.Context, authority, id string) error
	// ReceiveMessages decodes what the system sent, in its format, and applies it, all or nothing.
	ReceiveMessages(ctx context.Context, authority, mediaType string, body []byte) ([]schemas.MessageResult, error)
}
