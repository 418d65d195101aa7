// Package sandbox simulates an authority's document system, so the hub can be demonstrated and
// tested, and the conformance kit proved, without a real one. It speaks either wire format of the
// hub — the hub's JSON (adapters/jsondoc) or SEV OVV 1207 v1.5 XML (adapters/sev1207) — through
// the format's adapters.Peer, and receives documents in either mode:
//
//   - push (the default): the hub POSTs delivery documents; the sandbox records each distinct
//     delivery id once (the Idempotency-Key must equal the document's delivery id), answers with a
//     receipt (Peer.EncodeReply) and keeps a ledger of everything it received, duplicates counted
//     (GET /ledger).
//   - pull: the sandbox polls the hub's inbox (GET /v1/authorities/{code}/inbox), fetches each
//     document, records it and acknowledges it (POST …/inbox/{id}/ack).
//
// # Acting like an office
//
// With Options.Hub set, after recording a new document the sandbox reports on it to the hub as a
// real office does (POST {hub}/v1/authorities/{code}/messages, encoded with Peer.EncodeMessages,
// one message a body, each with a stable message id, retried with backoff until the hub takes it
// or the sandbox closes): "delivered" at once; after RegisterAfter "registered" with a
// registration number (<Name>-<n>) and date, or, with probability RefuseRate, "refused" with a
// ground from the closed list of resolution No. 55; after a further AnswerAfter "answered" with a
// small text document. Without Hub it sends nothing, and its receipt carries the registration
// number at once.
//
// # Faults
//
// It can be told to misbehave (Options, changeable at run time with SetOptions): refuse every
// request or a random fraction, answer slowly, hang until the client gives up, record a document
// and then drop the connection without answering (commit-then-drop), answer 2xx with a garbled
// body, refuse with no valid ground, or — for the conformance kit's own tests — ignore the
// idempotency key and take every repeat as a new document.
//
// # Routes
//
//	POST /documents              a delivery document (push; Idempotency-Key = its delivery id)
//	POST /documents/{authority}  the same, for one authority (must match the document's authority)
//	GET  /ledger                 the Ledger as JSON
//	GET  /healthz                200
//
// # Lifecycle
//
// New returns a Server that is an http.Handler; in pull mode it starts polling at once. Documents
// recorded with Hub set start one goroutine each that sends its messages. Close stops every
// background goroutine and waits for them; Serve and Run call it when they return. A sandbox
// without Hub in push mode starts no goroutine and needs no Close.
package sandbox

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"appealhub/schemas"
)

// Defaults for Options.
const (
	DefaultName          = "sandbox"
	DefaultErrorStatus   = http.StatusServiceUnavailable
	DefaultMaxBodyBytes  = 64 << 20
	DefaultPoll          = 500 * time.Millisecond
	DefaultRegisterAfter = time.Second
	DefaultAnswerAfter   = 3 * time.Second
	// shutdownGrace is how long Serve waits for in-flight requests after ctx is done.
	shutdownGrace = 5 * time.Second
	// hubRequestTimeout bounds one request to the hub (inbox, ack, a message).
	hubRequestTimeout = 30 * time.Second
	// pullLimit is how many inbox items one poll asks for.
	pullLimit = 50
)

// Options configures a sandbox. The zero value is a healthy JSON push sandbox that needs no token
// and sends no messages.
type Options struct {
	// Format is the wire format: FormatJSON ("json") or FormatSEV1207 ("sev1207"). Defaults to
	// "json". Fixed by New.
	Format string
	// Mode is ModePush ("push": the hub POSTs documents) or ModePull ("pull": the sandbox polls the
	// hub's inbox; Hub and Code are then required). Defaults to "push". Fixed by New.
	Mode string
	// Hub is the hub's base URL (http or https). When set, the sandbox reports on every new
	// document with authority messages, and in pull mode polls the hub's inbox. Fixed by New.
	Hub string
	// Code is the authority's EDRPOU code: whose inbox is polled (pull) and on whose path messages
	// are sent. Defaults to each document's own authority (push). Fixed by New.
	Code string
	// HubToken is the bearer token sent to the hub (inbox and messages). Fixed by New.
	HubToken string
	// HubTokens, when set, gives the token per authority code, for a sandbox that plays the systems
	// of several authorities (each authority's client has its own token); a code it lacks uses
	// HubToken. Fixed by New.
	HubTokens map[string]string
	// HubCode and HubSystemID are the hub's SEV 1207 identity, to which 1207 messages are
	// addressed. Default to DefaultHubCode and DefaultHubSystemID. Fixed by New.
	HubCode     string
	HubSystemID string
	// Poll is the interval between inbox polls (pull). Defaults to 500ms. Fixed by New.
	Poll time.Duration
	// RegisterAfter is how long after "delivered" the document is registered (or refused).
	// Defaults to 1s.
	RegisterAfter time.Duration
	// AnswerAfter is how long after registration the answer is sent. Defaults to 3s.
	AnswerAfter time.Duration
	// RefuseRate is the fraction (0..1) of documents whose registration is refused, with a ground
	// from the closed list of resolution No. 55 (schemas.RefusalCodes), instead of registered.
	RefuseRate float64
	// RefuseWithoutReason makes every refusal state no valid ground (a broken system: no code of
	// the closed list, only a vague text).
	RefuseWithoutReason bool

	// Token, if set, must be carried by every POST as Authorization: Bearer Token (else 401).
	Token string
	// ErrorRate is the fraction (0..1) of POSTs answered ErrorStatus before anything is recorded.
	ErrorRate float64
	// ErrorStatus is the status of ErrorRate refusals. Defaults to 503.
	ErrorStatus int
	// FailStatus, if non-zero (300..599), refuses every POST with this status before anything is
	// recorded, e.g. 422 to prove that permanent refusals end as dead letters.
	FailStatus int
	// Latency is waited before every answer to a POST (after recording, for accepted documents:
	// a client that gives up earlier has still delivered).
	Latency time.Duration
	// Hang makes every POST (with a valid token) wait, recording nothing and answering nothing,
	// until the client gives up or the sandbox closes.
	Hang bool
	// DropRate is the fraction (0..1) of accepted POSTs whose document is recorded and whose
	// connection is then closed without an answer (commit-then-drop).
	DropRate float64
	// MalformedRate is the fraction (0..1) of accepted POSTs whose document is recorded and which
	// are then answered 2xx with a garbled body that is no reply of either format.
	MalformedRate float64
	// IgnoreIdempotency makes the sandbox a broken system that takes every accepted POST as a new
	// document, even under a repeated Idempotency-Key (a second registration number, a second set
	// of messages). It exists to prove that the conformance kit catches such a system.
	IgnoreIdempotency bool
	// Seed seeds the random faults and decisions; 0 means time-based. Fixed by New.
	Seed int64
	// StoreDir, if set, receives every newly recorded document as <delivery_id>.json or .xml (a
	// further copy under IgnoreIdempotency as <delivery_id>.<n>.json), byte for byte as received.
	// It is created if missing.
	StoreDir string
	// Name names the sandbox in logs, the ledger and registration numbers (<Name>-<n>). Defaults to
	// "sandbox". Fixed by New.
	Name string
	// MaxBodyBytes limits a POST body (413 beyond) and a fetched document. Defaults to 64 MiB.
	MaxBodyBytes int64
}

func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = FormatJSON
	}
	if o.Mode == "" {
		o.Mode = ModePush
	}
	if o.HubCode == "" {
		o.HubCode = DefaultHubCode
	}
	if o.HubSystemID == "" {
		o.HubSystemID = DefaultHubSystemID
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.RegisterAfter == 0 {
		o.RegisterAfter = DefaultRegisterAfter
	}
	if o.AnswerAfter == 0 {
		o.AnswerAfter = DefaultAnswerAfter
	}
	if o.ErrorStatus == 0 {
		o.ErrorStatus = DefaultErrorStatus
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	o.Hub = strings.TrimRight(o.Hub, "/")
	return o
}

// authorityCode is an EDRPOU code, or a longer SEV organisation id.
var authorityCode = regexp.MustCompile(`^[0-9]{8,10}$`)

// validate reports every invalid field at once.
func (o Options) validate() error {
	var errs []error
	rate := func(name string, v float64) {
		if math.IsNaN(v) || v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s: %v: must be between 0 and 1", name, v))
		}
	}
	rate("error_rate", o.ErrorRate)
	rate("drop_rate", o.DropRate)
	rate("malformed_rate", o.MalformedRate)
	rate("refuse_rate", o.RefuseRate)
	nonNegative := func(name string, d time.Duration) {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: %s: must not be negative", name, d))
		}
	}
	nonNegative("latency", o.Latency)
	nonNegative("poll", o.Poll)
	nonNegative("register_after", o.RegisterAfter)
	nonNegative("answer_after", o.AnswerAfter)
	if o.Format != FormatJSON && o.Format != FormatSEV1207 {
		errs = append(errs, fmt.Errorf("format: %q: must be %q or %q", o.Format, FormatJSON, FormatSEV1207))
	}
	if o.Mode != ModePush && o.Mode != ModePull {
		errs = append(errs, fmt.Errorf("mode: %q: must be %q or %q", o.Mode, ModePush, ModePull))
	}
	if o.Hub != "" {
		if u, err := url.Parse(o.Hub); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("hub: %q: must be an http or https URL", o.Hub))
		}
	}
	if o.Code != "" && !authorityCode.MatchString(o.Code) {
		errs = append(errs, fmt.Errorf("code: %q: must be 8 to 10 digits (EDRPOU)", o.Code))
	}
	if o.Mode == ModePull && (o.Hub == "" || o.Code == "") {
		errs = append(errs, errors.New("mode: pull needs hub and code"))
	}
	if o.ErrorStatus < 300 || o.ErrorStatus > 599 {
		errs = append(errs, fmt.Errorf("error_status: %d: must be between 300 and 599", o.ErrorStatus))
	}
	if o.FailStatus != 0 && (o.FailStatus < 300 || o.FailStatus > 599) {
		errs = append(errs, fmt.Errorf("fail_status: %d: must be 0 or between 300 and 599", o.FailStatus))
	}
	if o.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max_body_bytes: %d: must not be negative", o.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// Entry is one document the sandbox recorded: one distinct delivery id (or, under
// IgnoreIdempotency, one copy of it).
type Entry struct {
	DeliveryID     string `json:"delivery_id"`
	Authority      string `json:"authority"`
	TrackingNumber string `json:"tracking_number"`
	// Received counts the accepted requests (or fetches) that carried this key (1 for a single
	// delivery; more when the hub retried under the same key).
	Received           int       `json:"received"`
	FirstAt            time.Time `json:"first_at"`
	RegistrationNumber string    `json:"registration_number"`
	// Status is the type of the last message about this document the hub took ("" before any).
	Status schemas.AuthorityMessageType `json:"status,omitempty"`
	// Messages counts the messages about this document the hub took.
	Messages int `json:"messages,omitempty"`
}

// Ledger is what a sandbox received and sent.
type Ledger struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	Mode   string `json:"mode"`
	// Documents counts the documents recorded: distinct delivery ids, unless IgnoreIdempotency.
	Documents int `json:"documents"`
	// Requests counts every POST (push) or fetched document (pull), whatever became of it.
	Requests int `json:"requests"`
	// Refused counts POSTs answered with an error status (faults, bad requests, bad tokens) and
	// fetched documents that could not be read.
	Refused int `json:"refused"`
	// Dropped counts POSTs recorded and then dropped without an answer (DropRate).
	Dropped int `json:"dropped"`
	// Malformed counts POSTs recorded and then answered with a garbled body (MalformedRate).
	Malformed int `json:"malformed"`
	// Hung counts POSTs left without an answer until the client gave up (Hang).
	Hung int `json:"hung"`
	// MessagesSent counts the messages the hub took; MessagesFailed those it refused for good.
	MessagesSent   int `json:"messages_sent"`
	MessagesFailed int `json:"messages_failed"`
	// Entries are sorted by FirstAt.
	Entries []Entry `json:"entries"`
}

// record is an Entry plus what the sandbox answers for it. Everything but the Entry's Received,
// Status and Messages is fixed once the record is published.
type record struct {
	Entry
	reference    string
	registeredAt time.Time
	copy         int // 1, or the n-th document under one key (IgnoreIdempotency)
}

// Server is a sandbox document system; it is an http.Handler safe for concurrent use.
type Server struct {
	logger *zap.Logger
	name   string
	mux    *http.ServeMux
	wire   wire
	// fixed by New
	mode, hub, code, hubToken string
	hubTokens                 map[string]string
	poll                      time.Duration

	client *http.Client
	ctx    context.Context // done when Close begins
	cancel context.CancelFunc
	wg     sync.WaitGroup // the pull loop and every office goroutine

	mu             sync.Mutex
	closed         bool
	opts           Options
	rnd            *rand.Rand
	records        map[string]*record // by delivery id: the latest copy
	order          []*record
	requests       int
	refused        int
	dropped        int
	malformed      int
	hung           int
	messagesSent   int
	messagesFailed int
}

var _ http.Handler = (*Server)(nil)

// New returns a sandbox configured by opts. It fails on invalid options, reporting every problem, or
// when StoreDir cannot be created. A nil logger logs nothing. In pull mode it starts polling the
// hub's inbox at once; call Close to stop.
func New(opts Options, logger *zap.Logger) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("sandbox options: %w", err)
	}
	w, err := newWire(opts)
	if err != nil {
		return nil, fmt.Errorf("sandbox options: %w", err)
	}
	if err := makeStoreDir(opts.StoreDir); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	seed := uint64(opts.Seed)
	if opts.Seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		logger:    logger.Named("sandbox").With(zap.String("sandbox", opts.Name)),
		name:      opts.Name,
		mux:       http.NewServeMux(),
		wire:      w,
		mode:      opts.Mode,
		hub:       opts.Hub,
		code:      opts.Code,
		hubToken:  opts.HubToken,
		hubTokens: opts.HubTokens,
		poll:      opts.Poll,
		client:    &http.Client{Timeout: hubRequestTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		ctx:       ctx,
		cancel:    cancel,
		opts:      opts,
		rnd:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		records:   make(map[string]*record),
	}
	s.mux.HandleFunc("POST /documents", s.handleDocument)
	s.mux.HandleFunc("POST /documents/{authority}", s.handleDocument)
	s.mux.HandleFunc("GET /ledger", s.handleLedger)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	if s.mode == ModePull {
		s.wg.Add(1)
		go s.pullLoop()
	}
	return s, nil
}

func makeStoreDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create sandbox store dir: %w", err)
	}
	return nil
}

// SetOptions changes the token, fault modes, office timing, StoreDir and body limit at run time;
// requests already past a check keep the options they started with. The fields documented as
// fixed by New stay as New set them. Invalid options are refused and change nothing.
func (s *Server) SetOptions(opts Options) error {
	s.mu.Lock()
	fixed := s.opts
	s.mu.Unlock()
	opts.Name, opts.Seed, opts.Format, opts.Mode = fixed.Name, fixed.Seed, fixed.Format, fixed.Mode
	opts.Hub, opts.Code, opts.HubToken, opts.Poll = fixed.Hub, fixed.Code, fixed.HubToken, fixed.Poll
	opts.HubTokens = fixed.HubTokens
	opts.HubCode, opts.HubSystemID = fixed.HubCode, fixed.HubSystemID
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return fmt.Errorf("sandbox options: %w", err)
	}
	if err := makeStoreDir(opts.StoreDir); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts = opts
	return nil
}

func (s *Server) options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Ledger returns a snapshot of what the sandbox received and sent.
func (s *Server) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := Ledger{
		Name:           s.name,
		Format:         s.wire.name,
		Mode:           s.mode,
		Documents:      len(s.order),
		Requests:       s.requests,
		Refused:        s.refused,
		Dropped:        s.dropped,
		Malformed:      s.malformed,
		Hung:           s.hung,
		MessagesSent:   s.messagesSent,
		MessagesFailed: s.messagesFailed,
		Entries:        make([]Entry, len(s.order)),
	}
	for i, r := range s.order { // creation order is FirstAt order (monotonic clock, under the lock)
		l.Entries[i] = r.Entry
	}
	return l
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops polling and sending messages, releases hanging requests, and waits for every
// background goroutine to return. Messages not yet taken by the hub are not sent. It is
// idempotent; the handler keeps answering afterwards but starts no more background work.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.client.CloseIdleConnections()
	return nil
}

// Serve answers requests on ln until ctx is done, then shuts down gracefully (in-flight requests get
// a few seconds), stops the background work (Close) and returns nil. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(s.logger),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.logger.Info("sandbox listening", zap.String("addr", ln.Addr().String()),
		zap.String("format", s.wire.name), zap.String("mode", s.mode))

	select {
	case err := <-errc:
		_ = s.Close()
		return fmt.Errorf("serve sandbox: %w", err)
	case <-ctx.Done():
	}
	s.cancel() // release hanging requests before waiting for them
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	if err != nil {
		_ = hs.Close()
	}
	<-errc // http.ErrServerClosed
	_ = s.Close()
	l := s.Ledger()
	s.logger.Info("sandbox stopped", zap.Int("documents", l.Documents), zap.Int("requests", l.Requests),
		zap.Int("messages_sent", l.MessagesSent))
	if err != nil {
		return fmt.Errorf("shut down sandbox: %w", err)
	}
	return nil
}

// Run serves a new sandbox on listen (host:port; port 0 picks one, logged) until ctx is done, then
// shuts down gracefully.
func Run(ctx context.Context, listen string, opts Options, logger *zap.Logger) error {
	s, err := New(opts, logger)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	return s.Serve(ctx, ln)
}

func (s *Server) handleLedger(w http.ResponseWriter, _ *http.Request) {
	body, err := json.Marshal(s.Ledger())
	if err != nil {
		http.Error(w, "ledger unavailable", http.StatusInternalServerError)
		return
	}
	writeBody(w, http.StatusOK, "application/json", body)
}

func writeBody(w http.ResponseWriter, status int, mediaType string, body []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func bearerMatches(header, token string) bool {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || header[:len(prefix)] != prefix {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(header[len(prefix):]), []byte(token)) == 1
}

// sleepCtx waits d, or less if ctx is done first; it reports whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
