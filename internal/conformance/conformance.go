// Package conformance is the kit an authority's IT department runs against its own document
// system before going live (`appealhub conformance`). It plays the hub for one authority: it serves
// the hub's side of the authority API — POST /v1/authorities/{code}/messages, where the system
// under test must send its messages, and in pull mode the inbox (GET …/inbox, GET …/inbox/{id},
// POST …/inbox/{id}/ack) — delivers test documents built with the format's own adapter, and checks
// what comes back, case by case:
//
//  1. delivery: a test document with a fresh delivery id is taken (push: a 2xx whose reply, if
//     any, decodes; pull: fetched from the inbox and acknowledged).
//  2. acknowledgement: a "delivered" (or "accepted") message about it arrives.
//  3. registration: "registered" with a number and a date arrives, or "refused" with a ground
//     from the closed list of resolution No. 55; a refusal without a valid ground fails.
//  4. answer: "answered" arrives with an answer document (skippable: real answers take days).
//  5. redelivery: the same document under the same idempotency key is taken again and is no
//     second document (no second delivered, registered, refused or answered message about it).
//  6. large_attachment: a document with a ~5 MiB attachment is taken.
//  7. error_reply: a malformed document (the wrong format, a truncated one) gets a 4xx (pull:
//     is not taken as a document).
//  8. messages: every message the system sent decoded with the format's decoder, was about a
//     delivery the kit sent, came with the right credentials, and every repeated message id
//     carried the same message.
//
// Run runs them all in-process and returns a Report; it fails only when the kit itself cannot run
// (bad configuration, a port it cannot listen on). Its server is shut down when it returns.
package conformance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters/jsondoc"
	"appealhub/adapters/sev1207"
)

// Defaults of Config.
const (
	DefaultListen          = "127.0.0.1:0"
	DefaultCode            = "12345678"
	DefaultTimeout         = 30 * time.Second
	DefaultRequestTimeout  = 30 * time.Second
	DefaultQuiet           = 3 * time.Second
	DefaultLargeAttachment = 5 << 20
	DefaultInboxVisibility = time.Minute
	// DefaultHubCode and DefaultHubSystemID are the hub's default SEV 1207 identity.
	DefaultHubCode     = "00000000"
	DefaultHubSystemID = "APPEALHUB"
)

// Formats and modes.
const (
	FormatJSON    = jsondoc.Name
	FormatSEV1207 = sev1207.Name
	ModePush      = "push"
	ModePull      = "pull"
)

// Case ids, in the order the cases run. They are stable: scripts may match them.
const (
	CaseDelivery        = "delivery"
	CaseAcknowledgement = "acknowledgement"
	CaseRegistration    = "registration"
	CaseAnswer          = "answer"
	CaseRedelivery      = "redelivery"
	CaseLargeAttachment = "large_attachment"
	CaseErrorReply      = "error_reply"
	CaseMessages        = "messages"
)

// Cases returns the case ids in the order they run.
func Cases() []string {
	return []string{CaseDelivery, CaseAcknowledgement, CaseRegistration, CaseAnswer, CaseRedelivery,
		CaseLargeAttachment, CaseErrorReply, CaseMessages}
}

// Config configures a run. The zero value of every field but Endpoint (push) means its default.
type Config struct {
	// Endpoint is the URL of the system under test that receives documents (push). Required in
	// push mode; unused in pull mode.
	Endpoint string
	// EndpointToken, when set, is sent to Endpoint as a bearer token, as the hub would.
	EndpointToken string
	// Format is the wire format: "json" or "sev1207". Required.
	Format string
	// Mode is "push" (the kit POSTs documents to Endpoint) or "pull" (the system fetches them from
	// the kit's inbox). Defaults to "push".
	Mode string
	// Code is the authority's EDRPOU code (8 to 10 digits): documents are addressed to it and the
	// kit serves its paths. Defaults to DefaultCode.
	Code string
	// Token, when set, is the bearer token the system must present to the kit (messages, inbox),
	// as it will present its own to the hub. Defaults to none: any token is accepted.
	Token string
	// Listener, when set, is where the kit serves the hub's side; the kit closes it. Otherwise the
	// kit listens on Listen.
	Listener net.Listener
	// Listen is the address the kit listens on when Listener is nil. Defaults to 127.0.0.1:0.
	Listen string
	// PublicURL is the kit's base URL as the system reaches it. Defaults to http:// and the
	// listening address.
	PublicURL string
	// Timeout bounds each wait for the system: a message, a fetch from the inbox. Defaults to 30s.
	Timeout time.Duration
	// AnswerTimeout bounds the wait for the answer. Defaults to Timeout.
	AnswerTimeout time.Duration
	// RequestTimeout bounds one push of a document. Defaults to 30s.
	RequestTimeout time.Duration
	// Quiet is how long the kit watches for what must not happen (a second document after a
	// redelivery, a malformed document taken in pull mode) and lets late messages arrive before
	// the last case. Defaults to 3s.
	Quiet time.Duration
	// SkipAnswer skips the answer case (real answers take days).
	SkipAnswer bool
	// LargeAttachment is the size in bytes of the attachment of the large_attachment case.
	// Defaults to 5 MiB.
	LargeAttachment int
	// InboxVisibility is how long an inbox item the system listed stays hidden unless
	// acknowledged (pull). Defaults to 1m.
	InboxVisibility time.Duration
	// HubCode and HubSystemID are the hub's SEV 1207 identity the kit writes as the sender.
	// Default to DefaultHubCode and DefaultHubSystemID.
	HubCode     string
	HubSystemID string
	// Logger logs the kit's work (ids only). Defaults to none.
	Logger *zap.Logger
}

// WithDefaults returns a copy of c with every unset field at its default.
func (c Config) WithDefaults() Config {
	c.Mode = cmp.Or(c.Mode, ModePush)
	c.Code = cmp.Or(c.Code, DefaultCode)
	c.Listen = cmp.Or(c.Listen, DefaultListen)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.AnswerTimeout = cmp.Or(c.AnswerTimeout, c.Timeout)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
	c.Quiet = cmp.Or(c.Quiet, DefaultQuiet)
	c.LargeAttachment = cmp.Or(c.LargeAttachment, DefaultLargeAttachment)
	c.InboxVisibility = cmp.Or(c.InboxVisibility, DefaultInboxVisibility)
	c.HubCode = cmp.Or(c.HubCode, DefaultHubCode)
	c.HubSystemID = cmp.Or(c.HubSystemID, DefaultHubSystemID)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

var codePattern = regexp.MustCompile(`^[0-9]{8,10}$`)

// Validate reports every problem of c (after WithDefaults), each with its flag name.
func (c Config) Validate() error {
	var errs []error
	if c.Format != FormatJSON && c.Format != FormatSEV1207 {
		errs = append(errs, fmt.Errorf("format: %q: must be %q or %q", c.Format, FormatJSON, FormatSEV1207))
	}
	switch c.Mode {
	case ModePush:
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint: %q: must be the system's http or https URL (push mode)", c.Endpoint))
		}
	case ModePull:
	default:
		errs = append(errs, fmt.Errorf("mode: %q: must be %q or %q", c.Mode, ModePush, ModePull))
	}
	if !codePattern.MatchString(c.Code) {
		errs = append(errs, fmt.Errorf("code: %q: must be 8 to 10 digits (EDRPOU)", c.Code))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public_url: %q: must be an http or https URL", c.PublicURL))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"answer_timeout", c.AnswerTimeout}, {"request_timeout", c.RequestTimeout},
		{"quiet", c.Quiet}, {"inbox_visibility", c.InboxVisibility}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s: must not be negative", d.name, d.v))
		}
	}
	if c.LargeAttachment < 0 {
		errs = append(errs, fmt.Errorf("large_attachment: %d: must not be negative", c.LargeAttachment))
	}
	return errors.Join(errs...)
}

// Status is the outcome of one case.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Skip Status = "SKIP"
)

// Result is the outcome of one case, with the reason in words.
type Result struct {
	Case    string        `json:"case"`
	Status  Status        `json:"status"`
	Reason  string        `json:"reason"`
	Elapsed time.Duration `json:"elapsed"`
}

// Report is the outcome of a run.
type Report struct {
	Format   string `json:"format"`
	Mode     string `json:"mode"`
	Endpoint string `json:"endpoint,omitempty"`
	// MessagesURL is where the system had to send its messages; InboxURL where it had to poll
	// (pull).
	MessagesURL string `json:"messages_url"`
	InboxURL    string `json:"inbox_url,omitempty"`
	// Results has one entry per case, in Cases() order.
	Results []Result `json:"results"`
}

// Passed reports whether no case failed (skipped cases do not fail a run).
func (r Report) Passed() bool { return len(r.Failed()) == 0 }

// Failed returns the failed cases.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res)
		}
	}
	return out
}

// Result returns the result of the case with the given id.
func (r Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.Case == id {
			return res, true
		}
	}
	return Result{}, false
}

// Run starts the kit's hub side, runs every case against the system and returns the report. An
// error means the kit could not run (invalid cfg, cannot listen) or ctx ended the run early; in
// the latter case the report holds the cases finished so far.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		if cfg.Listener != nil {
			_ = cfg.Listener.Close()
		}
		return Report{}, fmt.Errorf("conformance configuration: %w", err)
	}
	k, err := newKit(cfg)
	if err != nil {
		if cfg.Listener != nil {
			_ = cfg.Listener.Close()
		}
		return Report{}, err
	}
	defer k.close()

	ln := cfg.Listener
	if ln == nil {
		var lc net.ListenConfig
		if ln, err = lc.Listen(ctx, "tcp", cfg.Listen); err != nil {
			return Report{}, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	k.base = cmp.Or(cfg.PublicURL, "http://"+ln.Addr().String())
	hs := &http.Server{Handler: k.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	defer func() {
		// A short grace (the kit's handlers never block): a connection the system opened and never
		// used would hold a graceful shutdown for 5s, as net/http counts it active until then.
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 250*time.Millisecond)
		defer cancel()
		if hs.Shutdown(shutdownCtx) != nil {
			_ = hs.Close()
		}
		<-served
	}()

	rep := Report{Format: cfg.Format, Mode: cfg.Mode, MessagesURL: k.messagesURL()}
	if cfg.Mode == ModePush {
		rep.Endpoint = cfg.Endpoint
	} else {
		rep.InboxURL = k.inboxURL()
	}
	cfg.Logger.Info("conformance run", zap.String("format", cfg.Format), zap.String("mode", cfg.Mode),
		zap.String("messages_url", rep.MessagesURL))
	rep.Results = k.run(ctx)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("conformance run: %w", err)
	}
	return rep, nil
}
