package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters"
)

// deliveryIDPattern is what the sandbox accepts as an Idempotency-Key: safe as a file name and in
// logs.
var deliveryIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// fault is what the dice decided for one request.
type fault struct {
	refuse    int  // status to refuse with before recording, 0 for none
	drop      bool // drop the connection after recording
	malformed bool // answer 2xx with a garbled body after recording
}

func (s *Server) dice(opts Options) fault {
	f := fault{}
	switch {
	case opts.FailStatus != 0:
		f.refuse = opts.FailStatus
	case opts.ErrorRate > 0 && s.rnd.Float64() < opts.ErrorRate:
		f.refuse = opts.ErrorStatus
	}
	f.drop = opts.DropRate > 0 && s.rnd.Float64() < opts.DropRate
	f.malformed = !f.drop && opts.MalformedRate > 0 && s.rnd.Float64() < opts.MalformedRate
	return f
}

func (s *Server) handleDocument(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	opts := s.opts
	f := s.dice(opts)
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
	if opts.Hang {
		s.hang(w, r, log)
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
	ct := r.Header.Get("Content-Type")
	if !s.wire.accepts(ct) {
		s.refuse(w, r, log, opts, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be "+s.wire.mediaType)
		return
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
	pathAuthority := r.PathValue("authority")
	got, err := s.wire.peer(pathAuthority).DecodeDelivery(ct, body)
	if err != nil {
		s.refuse(w, r, log, opts, http.StatusBadRequest, "invalid_document", err.Error())
		return
	}
	if got.DeliveryID != key {
		s.refuse(w, r, log, opts, http.StatusBadRequest, "key_mismatch", "delivery_id differs from the Idempotency-Key")
		return
	}
	authority := got.Authority
	if pathAuthority != "" {
		if authority != "" && authority != pathAuthority {
			s.refuse(w, r, log, opts, http.StatusBadRequest, "authority_mismatch", "the document is addressed to another authority")
			return
		}
		authority = pathAuthority
	}

	rec, created, err := s.record(got, authority, body, opts)
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
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	switch {
	case f.drop:
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
		log.Info("connection dropped after recording")
		dropConnection(w)
	case f.malformed:
		s.mu.Lock()
		s.malformed++
		s.mu.Unlock()
		log.Info("garbled reply after recording")
		writeBody(w, status, s.wire.mediaType, garbage)
	default:
		reply := adapters.Reply{Delivered: true, Reference: s.wire.reference(rec.DeliveryID, rec.reference)}
		if s.hub == "" { // no messages will follow: the receipt registers at once
			at := rec.registeredAt
			reply.RegistrationNumber, reply.RegisteredAt = rec.RegistrationNumber, &at
		}
		mediaType, out := s.wire.peer(rec.Authority).EncodeReply(rec.DeliveryID, reply)
		writeBody(w, status, mediaType, out)
	}
}

// hang keeps the request open, answering nothing, until the client gives up or the sandbox
// closes; then it drops the connection.
func (s *Server) hang(w http.ResponseWriter, r *http.Request, log *zap.Logger) {
	s.mu.Lock()
	s.hung++
	s.mu.Unlock()
	log.Info("hanging on a request")
	// Read the body first: only then does net/http notice a client that gives up.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.options().MaxBodyBytes))
	select {
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	dropConnection(w)
}

// record keeps the document under got.DeliveryID, once (or once more under IgnoreIdempotency). It
// returns a snapshot of the record and whether this call created it; a repeated key only counts
// another receipt. A new record starts its office work (messages to the hub).
func (s *Server) record(got adapters.Received, authority string, body []byte, opts Options) (record, bool, error) {
	id := got.DeliveryID
	s.mu.Lock()
	if rec, ok := s.records[id]; ok && !opts.IgnoreIdempotency {
		rec.Received++
		snap := *rec
		s.mu.Unlock()
		return snap, false, nil
	}
	s.mu.Unlock()

	// Write the file outside the lock; only the rename that publishes it happens under it.
	var tmp string
	if opts.StoreDir != "" {
		var err error
		if tmp, err = writeTemp(opts.StoreDir, body); err != nil {
			return record{}, false, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	prev, seen := s.records[id]
	if seen && !opts.IgnoreIdempotency { // a concurrent request with the same key won
		if tmp != "" {
			_ = os.Remove(tmp)
		}
		prev.Received++
		return *prev, false, nil
	}
	copyNo := 1
	if seen {
		copyNo = prev.copy + 1
	}
	if tmp != "" {
		name := id + s.wire.ext
		if copyNo > 1 {
			name = id + "." + strconv.Itoa(copyNo) + s.wire.ext
		}
		if err := os.Rename(tmp, filepath.Join(opts.StoreDir, name)); err != nil {
			_ = os.Remove(tmp)
			return record{}, false, fmt.Errorf("publish stored document: %w", err)
		}
	}
	n := len(s.order) + 1
	now := time.Now()
	rec := &record{
		Entry: Entry{
			DeliveryID:         id,
			Authority:          authority,
			TrackingNumber:     got.TrackingNumber,
			Received:           1,
			FirstAt:            now,
			RegistrationNumber: fmt.Sprintf("%s-%d", s.name, n),
		},
		reference:    fmt.Sprintf("%s-doc-%d", s.name, n),
		registeredAt: now.UTC().Truncate(time.Second),
		copy:         copyNo,
	}
	s.records[id] = rec
	s.order = append(s.order, rec)
	s.startOffice(rec)
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
	writeBody(w, status, "application/json", body)
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
