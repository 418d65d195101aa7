package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"appealhub/schemas"
)

// readyTimeout bounds one run of the readiness checks.
const readyTimeout = 5 * time.Second

// maxTokenLen bounds a bearer token before it reaches the Authenticator.
const maxTokenLen = 4096

// handler is the http.Handler NewHandler returns.
type handler struct {
	cfg    Config
	deps   Deps
	logger *zap.Logger
	mux    *http.ServeMux
}

// NewHandler returns the hub's HTTP handler: the routes of the package comment behind request
// ids, one log line per request and panic recovery. cfg takes its defaults (Config.WithDefaults).
// A nil logger logs nothing. It panics if deps lacks Auth, Submitter or Cases (a wiring error).
// The handler is safe for concurrent use.
func NewHandler(cfg Config, deps Deps, logger *zap.Logger) http.Handler {
	if deps.Auth == nil || deps.Submitter == nil || deps.Cases == nil {
		panic("httpapi: NewHandler needs Deps.Auth, Deps.Submitter and Deps.Cases")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	h := &handler{cfg: cfg.WithDefaults(), deps: deps, logger: logger.Named("httpapi"), mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/appeals", h.submit)
	h.mux.HandleFunc("GET /v1/appeals/{id}", h.getCase)
	if h.deps.Authorities != nil {
		h.mux.HandleFunc("GET /v1/authorities/{code}/inbox", h.inbox)
		h.mux.HandleFunc("GET /v1/authorities/{code}/inbox/{id}", h.inboxDocument)
		h.mux.HandleFunc("POST /v1/authorities/{code}/inbox/{id}/ack", h.ackInbox)
		h.mux.HandleFunc("POST /v1/authorities/{code}/messages", h.receiveMessages)
	}
	if h.deps.Registry != nil {
		h.registerRegistry()
	}
	if h.deps.Delivery != nil {
		h.mux.HandleFunc("GET /v1/authorities/{code}/delivery", h.authorityDelivery)
	}
	if h.deps.Receipts != nil {
		h.registerReceipts()
	}
	if h.deps.Notifications != nil && h.deps.Timelines != nil {
		h.registerNotifications()
	}
	if h.deps.Overdue != nil {
		h.mux.HandleFunc("GET /v1/overdue", h.overdue)
	}
	if h.deps.Stats != nil {
		h.mux.HandleFunc("GET /v1/stats", h.stats)
	}
	for _, m := range deps.Mounts {
		h.mux.Handle(m.Pattern, m.Handler)
	}
	h.mux.HandleFunc("GET /livez", h.livez)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	return h
}

// requestInfo travels in the request context; handlers fill it for the request's log line.
type requestInfo struct {
	id       string
	clientID string
	route    string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// RequestID returns the request id of a request handled by this package's handler ("" elsewhere).
func RequestID(ctx context.Context) string {
	return infoFrom(ctx).id
}

// drainingKey carries the Server's draining flag into request contexts (http.Server.BaseContext).
type drainingKey struct{}

func draining(ctx context.Context) bool {
	flag, ok := ctx.Value(drainingKey{}).(*atomic.Bool)
	return ok && flag.Load()
}

// ServeHTTP assigns the request id, dispatches, recovers panics and logs the request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := &requestInfo{id: requestIDOf(r)}
	w.Header().Set("X-Request-Id", info.id)
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	sw := &statusWriter{ResponseWriter: w}
	defer h.logRequest(sw, r, info, start)
	defer h.recoverPanic(sw, r)
	h.dispatch(sw, r, info)
}

// dispatch routes r, answering unmatched requests with 404 or 405 problems.
func (h *handler) dispatch(w http.ResponseWriter, r *http.Request, info *requestInfo) {
	fallback, pattern := h.mux.Handler(r)
	if pattern == "" {
		// No route: let the mux say whether it is 404 or 405 (and which methods), then answer
		// with a problem instead of its plain text.
		c := &captureWriter{header: make(http.Header)}
		fallback.ServeHTTP(c, r)
		if c.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", c.header.Get("Allow"))
			writeProblem(w, r, schemas.CodeMethodNotAllowed, fmt.Sprintf("%s is not allowed here", r.Method), nil)
			return
		}
		writeProblem(w, r, schemas.CodeNotFound, "no such resource", nil)
		return
	}
	info.route = pattern
	// PostgreSQL text holds neither NUL nor invalid UTF-8, so such a path or query value can name
	// nothing: refuse it here rather than as a database error.
	if !cleanText(r.URL.Path) {
		writeProblem(w, r, schemas.CodeNotFound, "no such resource", nil)
		return
	}
	for name, vals := range r.URL.Query() {
		for _, v := range vals {
			if !cleanText(name) || !cleanText(v) {
				pointer := ""
				if cleanText(name) {
					pointer = "/" + name
				}
				writeProblem(w, r, schemas.CodeSchemaViolation, "a query parameter is not UTF-8 text without NUL characters",
					[]schemas.FieldProblem{{Pointer: pointer, Message: "must be UTF-8 text without NUL characters"}})
				return
			}
		}
	}
	h.mux.ServeHTTP(w, r)
}

// cleanText reports whether s is valid UTF-8 without NUL characters.
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

func (h *handler) recoverPanic(w *statusWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	h.logger.Error("panic in handler",
		zap.String("request_id", infoFrom(r.Context()).id),
		zap.String("panic", fmt.Sprint(v)),
		zap.ByteString("stack", debug.Stack()))
	if !w.wroteHeader {
		writeProblem(w, r, schemas.CodeInternal, detailInternal, nil)
	}
}

func (h *handler) logRequest(w *statusWriter, r *http.Request, info *requestInfo, start time.Time) {
	status := w.status
	if !w.wroteHeader {
		status = http.StatusOK
	}
	level := zapcore.InfoLevel
	switch {
	case status == http.StatusInternalServerError:
		level = zapcore.ErrorLevel
	case status >= 500:
		level = zapcore.WarnLevel
	}
	route := info.route
	if route == "" {
		route = "unmatched"
	}
	h.logger.Log(level, "request",
		zap.String("method", r.Method),
		zap.String("route", route),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
		zap.String("request_id", info.id),
		zap.String("client_id", info.clientID),
		zap.Int64("bytes_out", w.written))
}

// requestIDOf returns the request's X-Request-Id when it is sane, else a new random id.
func requestIDOf(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); saneRequestID(id) {
		return id
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// authenticatePortal answers 401, 403 or 503 itself and returns false, or returns the portal principal.
func (h *handler) authenticatePortal(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	p, ok := h.authenticate(w, r)
	if ok && p.Kind != KindPortal {
		writeProblem(w, r, schemas.CodeForbidden, "only portal clients may use this endpoint", nil)
		return Principal{}, false
	}
	return p, ok
}

// authenticate answers 401 or 503 itself and returns false, or returns the principal of the bearer token.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (Principal, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		writeProblem(w, r, schemas.CodeUnauthorized, "a bearer token is required", nil)
		return Principal{}, false
	}
	scheme, token, _ := strings.Cut(vals[0], " ")
	token = strings.TrimLeft(token, " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > maxTokenLen || strings.ContainsAny(token, " \t") {
		writeProblem(w, r, schemas.CodeUnauthorized, "a bearer token is required", nil)
		return Principal{}, false
	}
	p, err := h.deps.Auth.Authenticate(r.Context(), token)
	if err == nil && p.ClientID == "" {
		err = errors.New("authenticator returned a principal without client id")
	}
	if err != nil {
		if errors.Is(err, schemas.ErrUnavailable) {
			h.writeError(w, r, "authenticate", err)
			return Principal{}, false
		}
		if perr, ok := errors.AsType[*schemas.Error](err); !ok || perr.Code != schemas.CodeUnauthorized {
			h.logger.Warn("authentication failed",
				zap.String("request_id", infoFrom(r.Context()).id), zap.Error(err))
		}
		writeProblem(w, r, schemas.CodeUnauthorized, "the bearer token is not valid", nil)
		return Principal{}, false
	}
	if pins := h.cfg.ClientCertPins[p.ClientID]; len(pins) > 0 && !certificateMatches(r, pins) {
		h.logger.Warn("token presented without its client certificate",
			zap.String("request_id", infoFrom(r.Context()).id), zap.String("client_id", p.ClientID))
		writeProblem(w, r, schemas.CodeUnauthorized, "this client's token is valid only with its client certificate", nil)
		return Principal{}, false
	}
	infoFrom(r.Context()).clientID = p.ClientID
	return p, true
}

// submit is POST /v1/appeals.
func (h *handler) submit(w http.ResponseWriter, r *http.Request) {
	if draining(r.Context()) {
		writeProblem(w, r, schemas.CodeShuttingDown, "this hub process is shutting down; retry", nil)
		return
	}
	p, ok := h.authenticatePortal(w, r)
	if !ok {
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeProblem(w, r, schemas.CodeUnsupportedMediaType, "Content-Type must be application/json", nil)
		return
	}
	key, ok := idempotencyKey(r)
	if !ok {
		writeProblem(w, r, schemas.CodeIdempotencyKeyMissing, "exactly one Idempotency-Key header of 1 to 200 printable ASCII characters is required", nil)
		return
	}
	body, ok := h.readLimitedBody(w, r)
	if !ok {
		return
	}
	receipt, err := h.deps.Submitter.Submit(r.Context(), SubmitRequest{
		ClientID:       p.ClientID,
		IdempotencyKey: key,
		Body:           body,
		TraceParent:    traceParent(r),
	})
	if err != nil {
		h.writeError(w, r, "submit", err)
		return
	}
	if receipt.StatusURL != "" {
		w.Header().Set("Location", receipt.StatusURL)
	}
	writeJSON(w, http.StatusAccepted, "application/json", receipt)
}

// readLimitedBody reads the request body up to the configured limit, or answers 413 (or 400 when
// the body cannot be read) itself and returns false.
func (h *handler) readLimitedBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := h.cfg.MaxBodyBytes
	if r.ContentLength > limit {
		writeProblem(w, r, schemas.CodeBodyTooLarge, fmt.Sprintf("the body must be at most %d bytes", limit), nil)
		return nil, false
	}
	body, err := readBody(http.MaxBytesReader(innermost(w), r.Body, limit), r.ContentLength)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeProblem(w, r, schemas.CodeBodyTooLarge, fmt.Sprintf("the body must be at most %d bytes", limit), nil)
			return nil, false
		}
		writeProblem(w, r, schemas.CodeMalformedJSON, "the body could not be read", nil)
		return nil, false
	}
	return body, true
}

// getCase is GET /v1/appeals/{id}.
func (h *handler) getCase(w http.ResponseWriter, r *http.Request) {
	p, ok := h.authenticatePortal(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !saneCaseID(id) {
		writeProblem(w, r, schemas.CodeNotFound, "no such case", nil)
		return
	}
	c, err := h.deps.Cases.Case(r.Context(), p.ClientID, id)
	if err != nil {
		h.writeError(w, r, "read case", err)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", c)
}

func saneCaseID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// livez is GET /livez: the process is up.
func (h *handler) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, "application/json", map[string]string{"status": "ok"})
}

// readyz is GET /readyz: 200 when every check passes and the server is not draining, else 503;
// ?verbose answers a plain-text list.
func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	var checks []Check
	if h.deps.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		checks = h.deps.Ready.Ready(ctx)
		cancel()
	}
	if draining(r.Context()) {
		checks = append(checks, Check{Name: "draining", OK: false, Detail: "shutting down"})
	}
	ready := true
	for _, c := range checks {
		ready = ready && c.OK
	}
	status, word := http.StatusOK, "ok"
	if !ready {
		status, word = http.StatusServiceUnavailable, "unavailable"
	}
	if checks == nil {
		checks = []Check{}
	}
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		var b strings.Builder
		for _, c := range checks {
			mark, state := "+", "ok"
			if !c.OK {
				mark, state = "-", "failed"
			}
			fmt.Fprintf(&b, "[%s]%s %s", mark, c.Name, state)
			if c.Detail != "" {
				fmt.Fprintf(&b, ": %s", c.Detail)
			}
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "readyz check %s\n", map[bool]string{true: "passed", false: "failed"}[ready])
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, b.String())
		return
	}
	writeJSON(w, status, "application/json", struct {
		Status string  `json:"status"`
		Checks []Check `json:"checks"`
	}{word, checks})
}

// isJSON reports whether a Content-Type is application/json, in UTF-8 if a charset is given.
func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// idempotencyKey returns the one Idempotency-Key header when it is 1 to 200 printable ASCII.
func idempotencyKey(r *http.Request) (string, bool) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) != 1 {
		return "", false
	}
	k := vals[0]
	if len(k) == 0 || len(k) > 200 {
		return "", false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", false
		}
	}
	return k, true
}

// traceParent returns the W3C traceparent header if it is well-formed (version-traceid-parentid-
// flags in lower-case hex), else "" (the spec says to ignore a malformed one).
func traceParent(r *http.Request) string {
	tp := r.Header.Get("traceparent")
	if len(tp) < 55 || len(tp) > 512 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return ""
	}
	if len(tp) > 55 && tp[55] != '-' {
		return ""
	}
	for i := 0; i < 55; i++ {
		c := tp[i]
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	for i := 55; i < len(tp); i++ {
		if tp[i] < 0x21 || tp[i] > 0x7e {
			return ""
		}
	}
	if tp[:2] == "ff" || tp[3:35] == strings.Repeat("0", 32) || tp[36:52] == strings.Repeat("0", 16) {
		return ""
	}
	return tp
}

// readBody reads r to the end, sizing the buffer from the announced length.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := int64(64 << 10)
	if contentLength >= 0 {
		size = contentLength + 1
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// innermost unwraps response writers down to the server's own, so that http.MaxBytesReader can
// tell the server to close the connection after an oversized body.
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	written     int64
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// captureWriter records what the mux's fallback handler would answer.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return len(b), nil
}
