// Package sandbox simulates an authority's document system, so the hub can be demonstrated and
// tested without a real one. For now it speaks the hub's JSON format (adapters/jsondoc) in push mode:
// the hub POSTs delivery documents, the sandbox records each distinct delivery id once, answers with
// a receipt and a registration number, and keeps a ledger of everything it received, duplicates
// counted (GET /ledger).
//
// It can be told to misbehave (Options): refuse every request, refuse a random fraction, answer
// slowly, or record a document and then drop the connection without answering (commit-then-drop),
// which is how a receiver's idempotency handling is proved.
//
// Routes:
//
//	POST /documents              a delivery document (Idempotency-Key = its delivery_id)
//	POST /documents/{authority}  the same, for one authority (must match the document's authority)
//	GET  /ledger                 the Ledger as JSON
//	GET  /healthz                200
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
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
)

// Defaults for Options.
const (
	DefaultName         = "sandbox"
	DefaultErrorStatus  = http.StatusServiceUnavailable
	DefaultMaxBodyBytes = 64 << 20
	// shutdownGrace is how long Serve waits for in-flight requests after ctx is done.
	shutdownGrace = 5 * time.Second
)

// Options configures a sandbox. The zero value is a healthy sandbox that needs no token.
type Options struct {
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
	// DropRate is the fraction (0..1) of accepted POSTs whose document is recorded and whose
	// connection is then closed without an answer (commit-then-drop).
	DropRate float64
	// Seed seeds the random faults; 0 means time-based. Fixed by New: SetOptions ignores it.
	Seed int64
	// StoreDir, if set, receives every newly recorded document as <delivery_id>.json, byte for
	// byte as received. It is created if missing.
	StoreDir string
	// Name names the sandbox in logs, the ledger and registration numbers (<Name>-<n>). Defaults to
	// "sandbox". Fixed by New: SetOptions ignores it.
	Name string
	// MaxBodyBytes limits a POST body (413 beyond). Defaults to 64 MiB.
	MaxBodyBytes int64
}

func (o Options) withDefaults() Options {
	if o.ErrorStatus == 0 {
		o.ErrorStatus = DefaultErrorStatus
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return o
}

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
	if o.ErrorStatus < 300 || o.ErrorStatus > 599 {
		errs = append(errs, fmt.Errorf("error_status: %d: must be between 300 and 599", o.ErrorStatus))
	}
	if o.FailStatus != 0 && (o.FailStatus < 300 || o.FailStatus > 599) {
		errs = append(errs, fmt.Errorf("fail_status: %d: must be 0 or between 300 and 599", o.FailStatus))
	}
	if o.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency: %s: must not be negative", o.Latency))
	}
	if o.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("max_body_bytes: %d: must not be negative", o.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// Entry is one distinct delivery id the sandbox recorded.
type Entry struct {
	DeliveryID     string `json:"delivery_id"`
	Authority      string `json:"authority"`
	TrackingNumber string `json:"tracking_number"`
	// Received counts the accepted requests that carried this key (1 for a single delivery).
	Received           int       `json:"received"`
	FirstAt            time.Time `json:"first_at"`
	RegistrationNumber string    `json:"registration_number"`
}

// Ledger is what a sandbox received.
type Ledger struct {
	Name string `json:"name"`
	// Documents counts distinct delivery ids recorded.
	Documents int `json:"documents"`
	// Requests counts every POST, whatever became of it.
	Requests int `json:"requests"`
	// Refused counts POSTs answered with an error status (faults, bad requests, bad tokens).
	Refused int `json:"refused"`
	// Dropped counts POSTs recorded and then dropped without an answer (DropRate).
	Dropped int `json:"dropped"`
	// Entries are sorted by FirstAt.
	Entries []Entry `json:"entries"`
}

// record is an Entry plus what the sandbox answers for it.
type record struct {
	Entry
	reference string
}

// Server is a sandbox document system; it is an http.Handler safe for concurrent use.
type Server struct {
	logger *zap.Logger
	name   string
	mux    *http.ServeMux

	mu       sync.Mutex
	opts     Options
	rnd      *rand.Rand
	records  map[string]*record
	order    []*record
	requests int
	refused  int
	dropped  int
}

var _ http.Handler = (*Server)(nil)

// New returns a sandbox configured by opts. It fails on invalid options, reporting every problem, or
// when StoreDir cannot be created. A nil logger logs nothing.
func New(opts Options, logger *zap.Logger) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
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
	s := &Server{
		logger:  logger.Named("sandbox").With(zap.String("sandbox", opts.Name)),
		name:    opts.Name,
		mux:     http.NewServeMux(),
		opts:    opts,
		rnd:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		records: make(map[string]*record),
	}
	s.mux.HandleFunc("POST /documents", s.handleDocument)
	s.mux.HandleFunc("POST /documents/{authority}", s.handleDocument)
	s.mux.HandleFunc("GET /ledger", s.handleLedger)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
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

// SetOptions changes the token, fault modes, StoreDir and body limit at run time; requests already
// past a check keep the options they started with. Name and Seed stay as New set them. Invalid
// options are refused and change nothing.
func (s *Server) SetOptions(opts Options) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return fmt.Errorf("sandbox options: %w", err)
	}
	if err := makeStoreDir(opts.StoreDir); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	opts.Name, opts.Seed = s.opts.Name, s.opts.Seed
	s.opts = opts
	return nil
}

// Ledger returns a snapshot of what the sandbox received.
func (s *Server) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := Ledger{
		Name:      s.name,
		Documents: len(s.order),
		Requests:  s.requests,
		Refused:   s.refused,
		Dropped:   s.dropped,
		Entries:   make([]Entry, len(s.order)),
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

// Serve answers requests on ln until ctx is done, then shuts down gracefully (in-flight requests get
// a few seconds) and returns nil. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(s.logger),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.logger.Info("sandbox listening", zap.String("addr", ln.Addr().String()))

	select {
	case err := <-errc:
		return fmt.Errorf("serve sandbox: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := hs.Shutdown(shutdownCtx)
	if err != nil {
		_ = hs.Close()
	}
	<-errc // http.ErrServerClosed
	l := s.Ledger()
	s.logger.Info("sandbox stopped", zap.Int("documents", l.Documents), zap.Int("requests", l.Requests))
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
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	return s.Serve(ctx, ln)
}

// deliveryIDPattern is what the sandbox accepts as an Idempotency-Key: safe as a file name and in
// logs.
var deliveryIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// fault is what the dice decided for one request.
type fault struct {
	refuse int  // status to refuse with before recording, 0 for none
	drop   bool // drop the connection after recording
}

func (s *Server) handleDocument(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	opts := s.opts
	f := fault{}
	switch {
	case opts.FailStatus != 0:
		f.refuse = opts.FailStatus
	case opts.ErrorRate > 0 && s.rnd.Float64() < opts.ErrorRate:
		f.refuse = opts.ErrorStatus
	}
	f.drop = opts.DropRate > 0 && s.rnd.Float64() < opts.DropRate
	s.mu.Unlock()

	key := r.Header.Get("Idempotency-Key")
	log := s.logger
	if deliveryIDPattern.MatchString(key) {
		log = log.With(zap.String("delivery_id", key))
	}

	if opts.Token != "" && !bearerMatches(r.Header.Get("Authorization"), opts.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox"`)
		s.refuse(w, r, log, opts, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
		return
	}
	if f.refuse != 0 {
		s.refuse(w, r, log, opts, f.refuse, "injected_fault", "the sandbox was told to refuse this request")
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, opts.MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.refuse(w, r, log, opts, http.StatusRequestEntityTooLarge, "too_large",
				fmt.Sprintf("the body exceeds %d bytes", opts.MaxBodyBytes))
			return
		}
		s.refuse(w, r, log, opts, http.StatusBadRequest, "unreadable_body", "the body could not be read")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != jsondoc.MediaType {
			s.refuse(w, r, log, opts, http.StatusUnsupportedMediaType, "unsupported_media_type",
				"the body must be "+jsondoc.MediaType)
			return
		}
	}
	if key == "" {
		s.refuse(w, r, log, opts, http.StatusBadRequest, "missing_idempotency_key", "the Idempotency-Key header is required")
		return
	}
	if !deliveryIDPattern.MatchString(key) {
		s.refuse(w, r, log, opts, http.StatusBadRequest, "invalid_idempotency_key",
			"the Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit")
		return
	}
	env, err := jsondoc.DecodeDocument(body)
	if err != nil {
		s.refuse(w, r, log, opts, http.StatusBadRequest, "invalid_document", err.Error())
		return
	}
	if env.DeliveryID != key {
		s.refuse(w, r, log, opts, http.StatusBadRequest, "key_mismatch", "delivery_id differs from the Idempotency-Key")
		return
	}
	authority := env.Authority
	if pa := r.PathValue("authority"); pa != "" {
		if authority != "" && authority != pa {
			s.refuse(w, r, log, opts, http.StatusBadRequest, "authority_mismatch", "the document is addressed to another authority")
			return
		}
		authority = pa
	}

	rec, created, err := s.record(env, authority, body, opts.StoreDir)
	if err != nil {
		log.Error("store document", zap.Error(err))
		s.refuse(w, r, log, opts, http.StatusInternalServerError, "store_failed", "the document could not be stored")
		return
	}
	log = log.With(zap.String("authority", rec.Authority), zap.String("registration_number", rec.RegistrationNumber))
	if created {
		log.Info("document recorded")
	} else {
		log.Info("duplicate delivery", zap.Int("received", rec.Received))
	}

	if !sleepCtx(r.Context(), opts.Latency) {
		return // the client gave up; the document stays recorded
	}
	if f.drop {
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
		log.Info("connection dropped after recording")
		dropConnection(w)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeBody(w, status, jsondoc.EncodeReply(adapters.Reply{
		Delivered:          true,
		RegistrationNumber: rec.RegistrationNumber,
		Reference:          rec.reference,
	}))
}

// record stores the document under env.DeliveryID, once. It returns a snapshot of the record and
// whether this request created it; a repeated key only counts another receipt.
func (s *Server) record(env jsondoc.Envelope, authority string, body []byte, storeDir string) (record, bool, error) {
	id := env.DeliveryID
	s.mu.Lock()
	if rec, ok := s.records[id]; ok {
		rec.Received++
		snap := *rec
		s.mu.Unlock()
		return snap, false, nil
	}
	s.mu.Unlock()

	// Write the file outside the lock; only the rename that publishes it happens under it.
	var tmp string
	if storeDir != "" {
		var err error
		if tmp, err = writeTemp(storeDir, body); err != nil {
			return record{}, false, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.records[id]; ok { // a concurrent request with the same key won
		if tmp != "" {
			_ = os.Remove(tmp)
		}
		rec.Received++
		return *rec, false, nil
	}
	if tmp != "" {
		if err := os.Rename(tmp, filepath.Join(storeDir, id+".json")); err != nil {
			_ = os.Remove(tmp)
			return record{}, false, fmt.Errorf("publish stored document: %w", err)
		}
	}
	n := len(s.order) + 1
	rec := &record{
		Entry: Entry{
			DeliveryID:         id,
			Authority:          authority,
			TrackingNumber:     env.TrackingNumber,
			Received:           1,
			FirstAt:            time.Now(),
			RegistrationNumber: fmt.Sprintf("%s-%d", s.name, n),
		},
		reference: fmt.Sprintf("%s-doc-%d", s.name, n),
	}
	s.records[id] = rec
	s.order = append(s.order, rec)
	return *rec, true, nil
}

func writeTemp(dir string, body []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".incoming-*.tmp")
	if err != nil {
		return "", fmt.Errorf("store document: %w", err)
	}
	_, werr := f.Write(body)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("store document: %w", err)
	}
	return f.Name(), nil
}

func (s *Server) handleLedger(w http.ResponseWriter, _ *http.Request) {
	body, err := json.Marshal(s.Ledger())
	if err != nil {
		http.Error(w, "ledger unavailable", http.StatusInternalServerError)
		return
	}
	writeBody(w, http.StatusOK, body)
}

// refuse counts and answers an error, after the configured latency.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, log *zap.Logger, opts Options, status int, code, message string) {
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
	log.Info("request refused", zap.Int("status", status), zap.String("code", code))
	if !sleepCtx(r.Context(), opts.Latency) {
		return
	}
	body, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{Error: code, Message: message})
	writeBody(w, status, body)
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", jsondoc.MediaType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// dropConnection closes the connection without an answer. Where the connection cannot be hijacked
// (HTTP/2), the handler aborts, which resets the stream.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
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
