package conformance

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/adapters/httppush"
	"appealhub/adapters/jsondoc"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

// maxMessageBody bounds a message body the kit reads (the hub's default body limit).
const maxMessageBody = 25 << 20

// kit is one run: the hub's side of the authority API and what the system sent to it.
type kit struct {
	cfg       Config
	log       *zap.Logger
	adapter   adapters.Adapter
	decoder   adapters.MessageDecoder
	other     adapters.Adapter // the other format, for the malformed document
	transport *httppush.Transport
	base      string // the kit's base URL, set once it listens

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever anything below changes
	seq     int
	sent    map[string]bool                     // delivery ids the kit sent or offered
	byID    map[string]schemas.AuthorityMessage // by message id: the first of each
	order   []schemas.AuthorityMessage          // distinct messages, in arrival order
	bodies  int                                 // message bodies that decoded
	repeats int                                 // messages whose id came before
	// problems with what the system sent
	undecodable  []string
	unknown      []string
	conflicts    []string
	unauthorized []string
	inbox        map[string]*inboxItem
	inboxOrder   []string
}

// inboxItem is a document offered to a pull-mode system.
type inboxItem struct {
	id, tracking, mediaType string
	body                    []byte
	hiddenUntil             time.Time
	listed                  int // times the system listed it
	fetched                 int // times the system fetched the document
	acked                   bool
}

func newKit(cfg Config) (*kit, error) {
	sevCfg := sev1207.Config{HubCode: cfg.HubCode, HubSystemID: cfg.HubSystemID}
	sev := sev1207.New(sevCfg)
	if err := sev.Config().Validate(); err != nil {
		return nil, fmt.Errorf("conformance configuration: hub identity: %w", err)
	}
	k := &kit{
		cfg:       cfg,
		log:       cfg.Logger.Named("conformance"),
		transport: httppush.New(httppush.Config{Timeout: cfg.RequestTimeout, MaxResponseBytes: maxMessageBody}),
		changed:   make(chan struct{}),
		sent:      map[string]bool{},
		byID:      map[string]schemas.AuthorityMessage{},
		inbox:     map[string]*inboxItem{},
	}
	switch cfg.Format {
	case FormatSEV1207:
		k.adapter, k.decoder, k.other = sev, sev, jsondoc.New()
	default:
		k.adapter, k.decoder, k.other = jsondoc.New(), jsondoc.New(), sev
	}
	return k, nil
}

func (k *kit) close() {
	_ = k.transport.Close()
}

func (k *kit) authorityURL() string {
	return k.base + "/v1/authorities/" + url.PathEscape(k.cfg.Code)
}
func (k *kit) messagesURL() string { return k.authorityURL() + "/messages" }
func (k *kit) inboxURL() string    { return k.authorityURL() + "/inbox" }

// notify wakes every waiter; k.mu must be held.
func (k *kit) notify() {
	close(k.changed)
	k.changed = make(chan struct{})
}

// waitFor waits until cond (called with k.mu held) holds, d passes or ctx is done, and reports
// whether cond held.
func (k *kit) waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		k.mu.Lock()
		ok := cond()
		ch := k.changed
		k.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			k.mu.Lock()
			defer k.mu.Unlock()
			return cond()
		case <-ctx.Done():
			return false
		}
	}
}

func (k *kit) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/authorities/{code}/messages", k.handleMessages)
	mux.HandleFunc("GET /v1/authorities/{code}/inbox", k.handleInbox)
	mux.HandleFunc("GET /v1/authorities/{code}/inbox/{id}", k.handleInboxDocument)
	mux.HandleFunc("POST /v1/authorities/{code}/inbox/{id}/ack", k.handleInboxAck)
	return mux
}

// problem answers an error as the hub does (problem+json with a stable code).
func problem(w http.ResponseWriter, status int, code, detail string) {
	body, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status,
		"code": code, "detail": detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// authorize checks the token and that the path names the authority under test, as the hub does
// (any other authority is 404). Failures are recorded: the messages case reports them.
func (k *kit) authorize(w http.ResponseWriter, r *http.Request) bool {
	if k.cfg.Token != "" {
		h := r.Header.Get("Authorization")
		const prefix = "Bearer "
		if len(h) <= len(prefix) || h[:len(prefix)] != prefix ||
			subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(k.cfg.Token)) != 1 {
			k.noteUnauthorized(fmt.Sprintf("%s %s without the right bearer token", r.Method, r.URL.Path))
			w.Header().Set("WWW-Authenticate", `Bearer realm="appealhub"`)
			problem(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
			return false
		}
	}
	if r.PathValue("code") != k.cfg.Code {
		k.noteUnauthorized(fmt.Sprintf("%s %s: the path names authority %q, not %s", r.Method, r.URL.Path,
			clip(r.PathValue("code")), k.cfg.Code))
		problem(w, http.StatusNotFound, "not_found", "no such authority for this client")
		return false
	}
	return true
}

func (k *kit) noteUnauthorized(what string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.unauthorized = append(k.unauthorized, what)
	k.notify()
}

// handleMessages is POST /v1/authorities/{code}/messages: the system's messages, decoded with the
// format's decoder and checked as the hub checks them.
func (k *kit) handleMessages(w http.ResponseWriter, r *http.Request) {
	if !k.authorize(w, r) {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMessageBody+1))
	if err != nil {
		problem(w, http.StatusBadRequest, "malformed_message", "the body could not be read")
		return
	}
	if len(body) > maxMessageBody {
		k.note(&k.undecodable, fmt.Sprintf("a body over %d bytes", maxMessageBody))
		problem(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body must be at most %d bytes", maxMessageBody))
		return
	}
	msgs, err := k.decoder.DecodeMessages(r.Header.Get("Content-Type"), body)
	if err == nil && len(msgs) == 0 {
		err = errors.New("the body carries no message")
	}
	if err != nil {
		k.note(&k.undecodable, err.Error())
		k.log.Info("message refused: does not decode", zap.Error(err))
		problem(w, http.StatusBadRequest, "malformed_message", err.Error())
		return
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	for _, m := range msgs {
		if !k.sent[m.Of] {
			k.unknown = append(k.unknown, fmt.Sprintf("message %q is about %q", clip(m.MessageID), clip(m.Of)))
			k.notify()
			problem(w, http.StatusNotFound, "not_found", fmt.Sprintf("message %q: no such delivery for this authority", m.MessageID))
			return
		}
	}
	k.bodies++
	results := make([]schemas.MessageResult, 0, len(msgs))
	for _, m := range msgs {
		res := schemas.MessageResult{MessageID: m.MessageID, Of: m.Of}
		if prev, ok := k.byID[m.MessageID]; ok {
			k.repeats++
			res.Duplicate = true
			if !sameMessage(prev, m) {
				k.conflicts = append(k.conflicts, m.MessageID)
			}
		} else {
			k.byID[m.MessageID] = m
			k.order = append(k.order, m)
			res.Applied = true
			k.log.Info("message received", zap.String("message_id", m.MessageID), zap.String("delivery_id", m.Of),
				zap.String("type", string(m.Type)))
		}
		results = append(results, res)
	}
	k.notify()
	body, _ = json.Marshal(map[string]any{"results": results})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (k *kit) note(list *[]string, what string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	*list = append(*list, what)
	k.notify()
}

// sameMessage reports whether two decoded messages say the same (times compared as instants with
// their offsets, through their JSON form).
func sameMessage(a, b schemas.AuthorityMessage) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}

// offer puts a document in the inbox, or puts it back as new (a redelivery).
func (k *kit) offer(id, tracking string, body []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent[id] = true
	it, ok := k.inbox[id]
	if !ok {
		it = &inboxItem{id: id}
		k.inbox[id] = it
		k.inboxOrder = append(k.inboxOrder, id)
	}
	it.tracking, it.mediaType, it.body = tracking, k.adapter.MediaType(), body
	it.hiddenUntil, it.acked = time.Time{}, false
	k.notify()
}

// handleInbox is GET /v1/authorities/{code}/inbox?limit=N: the items waiting, each then hidden
// for InboxVisibility unless acknowledged (as the hub does).
func (k *kit) handleInbox(w http.ResponseWriter, r *http.Request) {
	if !k.authorize(w, r) {
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			problem(w, http.StatusBadRequest, "schema_violation", "limit must be an integer from 1 to 500")
			return
		}
		limit = n
	}
	type item struct {
		ID             string    `json:"id"`
		TrackingNumber string    `json:"tracking_number"`
		FetchCount     int       `json:"fetch_count"`
		VisibleUntil   time.Time `json:"visible_until"`
	}
	items := []item{}
	now := time.Now()
	k.mu.Lock()
	for _, id := range k.inboxOrder {
		it := k.inbox[id]
		if len(items) == limit {
			break
		}
		if it.acked || now.Before(it.hiddenUntil) {
			continue
		}
		it.hiddenUntil = now.Add(k.cfg.InboxVisibility)
		it.listed++
		items = append(items, item{ID: id, TrackingNumber: it.tracking, FetchCount: it.listed, VisibleUntil: it.hiddenUntil.UTC()})
	}
	if len(items) > 0 {
		k.notify()
	}
	k.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"items": items})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// handleInboxDocument is GET /v1/authorities/{code}/inbox/{id}: the document in the format.
func (k *kit) handleInboxDocument(w http.ResponseWriter, r *http.Request) {
	if !k.authorize(w, r) {
		return
	}
	k.mu.Lock()
	it, ok := k.inbox[r.PathValue("id")]
	var mediaType string
	var body []byte
	if ok {
		it.fetched++
		mediaType, body = it.mediaType, it.body
		k.notify()
	}
	k.mu.Unlock()
	if !ok {
		problem(w, http.StatusNotFound, "not_found", "no such inbox item")
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Idempotency-Key", r.PathValue("id"))
	_, _ = w.Write(body)
}

// handleInboxAck is POST /v1/authorities/{code}/inbox/{id}/ack.
func (k *kit) handleInboxAck(w http.ResponseWriter, r *http.Request) {
	if !k.authorize(w, r) {
		return
	}
	k.mu.Lock()
	it, ok := k.inbox[r.PathValue("id")]
	if ok {
		it.acked = true
		k.notify()
	}
	k.mu.Unlock()
	if !ok {
		problem(w, http.StatusNotFound, "not_found", "no such inbox item")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// clip shortens what a system sent (an id, a text) for a reason line.
func clip(s string) string { return clipTo(s, 80) }

// clipLong shortens an error for a reason line.
func clipLong(s string) string { return clipTo(s, 300) }

func clipTo(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
