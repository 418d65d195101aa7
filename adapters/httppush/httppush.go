// Package httppush is the HTTP(S) push transport: it POSTs an encoded document to an authority's
// endpoint with the delivery id as Idempotency-Key, and classifies the outcome as success, a
// transient failure (retried) or a permanent one (dead letters).
//
// Classification:
//   - 2xx: success; the response is returned for Adapter.DecodeReply.
//   - 408, 429 and 5xx: *StatusError, transient.
//   - every other status (3xx — redirects are not followed — and the remaining 4xx):
//     adapters.Permanent(*StatusError).
//   - no answer (connection refused or reset, timeout, ctx done): a transient error wrapping the
//     cause, so errors.Is(err, context.DeadlineExceeded) and the like work.
//   - a request that cannot be built (bad endpoint, empty delivery id, invalid header):
//     permanent.
//
// A send is one request: net/http never resends it by itself. (A POST with an Idempotency-Key and
// a rewindable body counts as replayable to net/http, which then resends it on every reused
// keep-alive connection that closes without an answer, as many times as there are idle
// connections and without backoff; the request is made non-replayable so that the worker's
// attempts, counted and spaced by its backoff, are the only resends.)
package httppush

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"appealhub/adapters"
)

// Defaults for Config.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultConnectTimeout   = 5 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	// maxIdleConnsPerHost keeps enough warm connections for a busy authority.
	maxIdleConnsPerHost = 32
	// statusBodyLimit is how much of an error answer StatusError keeps.
	statusBodyLimit = 200
)

// ErrResponseTooLarge is wrapped by Send when a 2xx answer is longer than Config.MaxResponseBytes.
// It is transient: the push is retried under the same key.
var ErrResponseTooLarge = errors.New("response body too large")

// Config tunes the transport. The zero value is usable.
type Config struct {
	// Timeout bounds the whole request: connecting, sending, waiting for and reading the answer.
	// Defaults to 30s.
	Timeout time.Duration
	// ConnectTimeout bounds the TCP connect and the TLS handshake. Defaults to 5s.
	ConnectTimeout time.Duration
	// MaxResponseBytes is the most of an answer that is read. Defaults to 1 MiB.
	MaxResponseBytes int64
	// TLS is the client TLS configuration (trusted roots, client certificate for mTLS). It is
	// cloned. Defaults to the system roots, no client certificate.
	TLS *tls.Config
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	return c
}

// StatusError is an answer with a non-2xx status.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Body is the first 200 bytes of the answer, made valid UTF-8 without control characters, for
	// operators. It may echo what was sent: it is not part of Error() and must not be logged.
	Body string
	// RetryAfter is the delay the system asked for in a Retry-After header (seconds or HTTP date),
	// zero when absent.
	RetryAfter time.Duration
}

// Error describes the status only, never the body.
func (e *StatusError) Error() string {
	return fmt.Sprintf("authority system answered %d %s", e.Status, http.StatusText(e.Status))
}

// Transient reports whether the status is worth retrying (408, 429, 5xx).
func (e *StatusError) Transient() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Transport POSTs documents over one shared *http.Client. It is safe for concurrent use.
type Transport struct {
	cfg     Config
	client  *http.Client
	nowFunc func() time.Time
}

var _ adapters.Transport = (*Transport)(nil)

// New returns a transport configured by cfg (zero fields take their defaults). Call Close when done
// to release idle connections.
func New(cfg Config) *Transport {
	cfg = cfg.WithDefaults()
	var tlsConfig *tls.Config
	if cfg.TLS != nil {
		tlsConfig = cfg.TLS.Clone()
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	rt := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Transport{
		cfg: cfg,
		client: &http.Client{
			Transport: rt,
			// A redirected POST would become a GET: never follow, classify the 3xx instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		nowFunc: time.Now,
	}
}

// Close releases idle connections. In-flight requests are not interrupted; cancel their ctx for
// that. The transport remains usable after Close.
func (t *Transport) Close() error {
	t.client.CloseIdleConnections()
	return nil
}

// Send POSTs req.Body to req.Endpoint with Content-Type: req.MediaType, Idempotency-Key:
// req.DeliveryID, Authorization: Bearer req.Token when a token is set, and every req.Headers entry
// (which cannot replace those three). It blocks until the answer is read, Config.Timeout passes or
// ctx is done, and classifies the outcome as the package documentation says. It is safe for
// concurrent use.
func (t *Transport) Send(ctx context.Context, req adapters.Request) (adapters.Response, error) {
	httpReq, err := t.newRequest(ctx, req)
	if err != nil {
		return adapters.Response{}, adapters.Permanent(fmt.Errorf("post delivery %s: %w", req.DeliveryID, err))
	}
	reqCtx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	httpReq = httpReq.WithContext(reqCtx)

	resp, err := t.client.Do(httpReq)
	if err != nil {
		return adapters.Response{}, t.noAnswer(ctx, reqCtx, req.DeliveryID, err)
	}
	defer func() { _ = resp.Body.Close() }()

	out := adapters.Response{Status: resp.StatusCode, MediaType: resp.Header.Get("Content-Type")}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, t.cfg.MaxResponseBytes+1))
		if err != nil {
			return adapters.Response{}, t.noAnswer(ctx, reqCtx, req.DeliveryID, fmt.Errorf("read answer: %w", err))
		}
		if int64(len(body)) > t.cfg.MaxResponseBytes {
			return adapters.Response{}, fmt.Errorf("post delivery %s: answer %d: %w (limit %d bytes)",
				req.DeliveryID, resp.StatusCode, ErrResponseTooLarge, t.cfg.MaxResponseBytes)
		}
		out.Body = body
		return out, nil
	}

	// An error answer: keep the start of it for operators; a failed read does not change the class.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, min(t.cfg.MaxResponseBytes, 4096)))
	serr := &StatusError{
		Status:     resp.StatusCode,
		Body:       operatorText(body, statusBodyLimit),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), t.nowFunc()),
	}
	err = fmt.Errorf("post delivery %s: %w", req.DeliveryID, serr)
	if serr.Transient() {
		return out, err
	}
	return out, adapters.Permanent(err)
}

func (t *Transport) newRequest(ctx context.Context, req adapters.Request) (*http.Request, error) {
	if req.DeliveryID == "" {
		return nil, errors.New("empty delivery id")
	}
	u, err := url.Parse(req.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: want an absolute http or https URL", u.Redacted())
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	// Not replayable: net/http must not resend the document itself (see the package documentation).
	httpReq.GetBody = nil
	for name, value := range req.Headers {
		if !validHeaderName(name) || !validHeaderValue(value) {
			return nil, fmt.Errorf("header %q: invalid name or value", name)
		}
		httpReq.Header.Set(name, value)
	}
	// The transport's own headers come last so that Headers cannot replace them.
	own := map[string]string{"Idempotency-Key": req.DeliveryID, "Content-Type": req.MediaType}
	if req.Token != "" {
		own["Authorization"] = "Bearer " + req.Token
	} else {
		httpReq.Header.Del("Authorization")
	}
	for name, value := range own {
		if !validHeaderValue(value) {
			return nil, fmt.Errorf("header %q: invalid value", name)
		}
		if value != "" {
			httpReq.Header.Set(name, value)
		}
	}
	return httpReq, nil
}

// noAnswer wraps a failure to get an answer, naming a timeout of our own apart from the caller's
// cancellation. Such failures are transient.
func (t *Transport) noAnswer(ctx, reqCtx context.Context, deliveryID string, err error) error {
	if ctx.Err() == nil && reqCtx.Err() != nil {
		return fmt.Errorf("post delivery %s: no answer within %s: %w", deliveryID, t.cfg.Timeout, err)
	}
	return fmt.Errorf("post delivery %s: %w", deliveryID, err)
}

// operatorText makes b safe to store and show: valid UTF-8, no control characters except tab and
// newline, at most limit bytes, cut on a rune boundary.
func operatorText(b []byte, limit int) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == utf8.RuneError && size <= 1:
			r = '\uFFFD'
		case r < 0x20 && r != '\t' && r != '\n', r == 0x7f:
			r = ' '
		}
		if sb.Len()+utf8.RuneLen(r) > limit {
			break
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date. Zero when absent or bad.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 24*3600)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return min(at.Sub(now), 24*time.Hour)
	}
	return 0
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := range len(v) {
		c := v[i]
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
