package router

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/clock"
	"appealhub/internal/httpapi"
	"appealhub/internal/store"
	"appealhub/router/notify"
	"appealhub/schemas"
)

// Compile-time checks of the HTTP ports of the portal notifications and timelines.
var (
	_ httpapi.NotificationAPI = (*Hub)(nil)
	_ httpapi.TimelineReader  = (*Hub)(nil)
)

// maxWebhookURL is the longest webhook URL a portal may register.
const maxWebhookURL = 2048

// Registrar registers how portal clients take their notifications, for PUT /v1/notifications and
// `appealhub client notify`: it checks the request, issues a webhook secret when one is due, seals
// it (notifications.secret_key_file) and stores the subscription. It is safe for concurrent use.
type Registrar struct {
	cfg      config.Config
	store    *store.Store
	secrets  *notify.SecretBox
	names    broker.Names
	clock    clock.Clock
	logger   *zap.Logger
	warnOnce sync.Once
}

// NewRegistrar returns a Registrar over st for cfg (its notifications section and broker prefix).
// It fails when the notification key file cannot be read.
func NewRegistrar(cfg config.Config, st *store.Store, c clock.Clock, logger *zap.Logger) (*Registrar, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	box, err := notify.LoadSecretBox(cfg.Notifications.SecretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("notifications.secret_key_file: %w", err)
	}
	return &Registrar{cfg: cfg, store: st, secrets: box, names: broker.Names{Prefix: cfg.Broker.Prefix}, clock: clock.OrReal(c),
		logger: logger.Named("portal")}, nil
}

// View returns a stored subscription as its client sees it (never its secret).
func (r *Registrar) View(rec schemas.SubscriptionRecord) schemas.Subscription {
	s := schemas.Subscription{Client: rec.Client, Mode: rec.Mode, URL: rec.URL, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
	if rec.Mode == schemas.NotifyAMQP {
		s.Exchange, s.Queue = r.names.Portal(), r.names.PortalQueue(rec.Client)
	}
	return s
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, schemas.ErrUnavailable, err)
}

// Subscription returns how client takes its notifications; none registered is not_found.
func (h *Hub) Subscription(ctx context.Context, client string) (schemas.Subscription, error) {
	r, err := h.store.Subscription(ctx, client)
	if errors.Is(err, schemas.ErrNotFound) {
		return schemas.Subscription{}, schemas.Errorf(schemas.CodeNotFound, "no notification subscription: register one with PUT /v1/notifications")
	}
	if err != nil {
		return schemas.Subscription{}, unavailable("read subscription", err)
	}
	return h.portal.reg.View(r), nil
}

// Subscribe registers how client takes its notifications (see Registrar.Register), declares its
// queue (amqp) and makes this process consume or stop consuming its queue at once.
func (h *Hub) Subscribe(ctx context.Context, client string, req schemas.SubscriptionRequest) (schemas.Subscription, error) {
	s, err := h.portal.reg.Register(ctx, client, req)
	if err != nil {
		return s, err
	}
	p := h.portal
	if req.Mode == schemas.NotifyAMQP {
		// Declare the queue now, so that the client can consume at once; the sync declares it
		// again anyway.
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := p.publisher.EnsureAuthority(dctx, client); err != nil {
			p.logger.Warn("cannot declare a portal queue yet; the sync will", zap.String("client_id", client), zap.Error(err))
		}
		cancel()
	}
	select {
	case p.syncNow <- struct{}{}:
	default:
	}
	return s, nil
}

// Register checks req and stores it as client's subscription. A webhook gets a new secret when it
// is new (or the client came from amqp) or when req asks to rotate it; the answer carries it, the
// only time it is shown. Refusals are *schemas.Error (schema_violation by field; forbidden for a
// client that is not an enabled portal client); a database failure wraps schemas.ErrUnavailable.
func (r *Registrar) Register(ctx context.Context, client string, req schemas.SubscriptionRequest) (schemas.Subscription, error) {
	if err := r.check(req); err != nil {
		return schemas.Subscription{}, err
	}
	rec := schemas.SubscriptionRecord{Client: client, Mode: req.Mode, URL: req.URL}
	var secret string
	if req.Mode == schemas.NotifyWebhook {
		cur, err := r.store.Subscription(ctx, client)
		switch {
		case err == nil && cur.Mode == schemas.NotifyWebhook && !req.RotateSecret:
			rec.SealedSecret = cur.SealedSecret
		case err == nil || errors.Is(err, schemas.ErrNotFound):
			secret = notify.NewSecret()
			if rec.SealedSecret, err = r.secrets.Seal(client, []byte(secret)); err != nil {
				return schemas.Subscription{}, fmt.Errorf("seal webhook secret: %w", err)
			}
			if !r.secrets.Sealing() {
				r.warnOnce.Do(func() {
					r.logger.Warn("notifications.secret_key_file is not set: webhook secrets are stored unsealed in the database")
				})
			}
		default:
			return schemas.Subscription{}, unavailable("read subscription", err)
		}
	}
	stored, err := r.store.PutSubscription(ctx, rec, r.clock.Now().UTC())
	if errors.Is(err, store.ErrNotPortal) {
		return schemas.Subscription{}, schemas.Errorf(schemas.CodeForbidden, "only enabled portal clients may subscribe")
	}
	if err != nil {
		return schemas.Subscription{}, unavailable("store subscription", err)
	}
	r.logger.Info("portal subscription", zap.String("client_id", client), zap.String("mode", string(req.Mode)),
		zap.Bool("secret_issued", secret != ""))
	s := r.View(stored)
	s.Secret = secret
	return s, nil
}

// check refuses a subscription that is not complete and well-formed, field by field.
func (r *Registrar) check(req schemas.SubscriptionRequest) error {
	var fields []schemas.FieldProblem
	switch req.Mode {
	case schemas.NotifyWebhook:
		if msg := r.checkWebhookURL(req.URL); msg != "" {
			fields = append(fields, schemas.FieldProblem{Pointer: "/url", Message: msg})
		}
	case schemas.NotifyAMQP:
		if req.URL != "" {
			fields = append(fields, schemas.FieldProblem{Pointer: "/url", Message: "is for mode webhook only"})
		}
		if req.RotateSecret {
			fields = append(fields, schemas.FieldProblem{Pointer: "/rotate_secret", Message: "is for mode webhook only"})
		}
	default:
		fields = append(fields, schemas.FieldProblem{Pointer: "/mode", Message: `must be "webhook" or "amqp"`})
	}
	if fields != nil {
		return &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "the subscription is not acceptable", Fields: fields}
	}
	return nil
}

// checkWebhookURL returns why u is no acceptable webhook URL, or "".
func (r *Registrar) checkWebhookURL(u string) string {
	if u == "" {
		return "is required for mode webhook"
	}
	if len(u) > maxWebhookURL {
		return fmt.Sprintf("must be at most %d characters", maxWebhookURL)
	}
	parsed, err := url.Parse(u)
	switch {
	case err != nil || !parsed.IsAbs() || parsed.Host == "" || parsed.Opaque != "":
		return "must be an absolute https URL"
	case parsed.User != nil:
		return "must not carry credentials"
	case parsed.Fragment != "" || parsed.RawFragment != "":
		return "must not have a fragment"
	case parsed.Scheme == "https":
		return ""
	case parsed.Scheme == "http" && r.cfg.Notifications.AllowLoopbackHTTP && loopback(parsed.Hostname()):
		return ""
	case parsed.Scheme == "http" && r.cfg.Notifications.AllowLoopbackHTTP:
		return "may be http only for a loopback host; use https"
	default:
		return "must be an https URL"
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DeadNotifications lists the dead notifications of client ("" for every client).
func (h *Hub) DeadNotifications(ctx context.Context, client string, limit int) ([]schemas.NotificationRecord, error) {
	list, err := h.store.DeadNotifications(ctx, client, limit)
	if err != nil {
		return nil, unavailable("list dead notifications", err)
	}
	return list, nil
}

// RedriveNotification makes a dead notification of client ("" for any client) pending again.
func (h *Hub) RedriveNotification(ctx context.Context, client string, id int64) (schemas.NotificationRecord, error) {
	r, err := h.store.RedriveNotification(ctx, client, id, h.clock.Now().UTC())
	if errors.Is(err, schemas.ErrNotFound) {
		return r, schemas.Errorf(schemas.CodeNotFound, "no such dead notification")
	}
	if err != nil {
		return r, unavailable("redrive notification", err)
	}
	h.portal.relay.Wake()
	h.logger.Info("notification redriven", zap.Int64("notification_id", id), zap.String("client_id", r.Client))
	return r, nil
}

// CaseTimeline returns the timeline of a case clientID submitted; any other id is not_found.
func (h *Hub) CaseTimeline(ctx context.Context, clientID, caseID string) ([]schemas.PortalEvent, error) {
	if _, err := uuid.Parse(caseID); err != nil {
		return nil, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	events, err := h.store.CaseEvents(ctx, clientID, caseID)
	if errors.Is(err, schemas.ErrNotFound) {
		return nil, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	if err != nil {
		return nil, unavailable("read case events", err)
	}
	return schemas.Timeline(events), nil
}

// trackingNumber is the shape of a tracking number (ZV-2026-00000001); anything else is not
// looked up.
var trackingNumber = regexp.MustCompile(`^[A-Z]{2}-[0-9]{4}-[0-9]{8,12}$`)

// noCase is hashed against when a tracking number is unknown, so that an unknown number and a
// wrong code take the same work.
var noCase = uuid.Nil.String()

// Track returns what a citizen sees of a case with its tracking number and access code. An unknown
// number, a case without a code and a wrong code are the same not_found, after the same work: a
// hash and a constant-time comparison.
func (h *Hub) Track(ctx context.Context, number, code string) (schemas.Tracking, error) {
	notFound := schemas.Errorf(schemas.CodeNotFound, "no case with this tracking number and access code")
	c := store.TrackedCase{ID: noCase, AccessCodeSHA256: make([]byte, 32)}
	if trackingNumber.MatchString(number) && len(code) <= 64 {
		found, err := h.store.TrackedCase(ctx, number)
		switch {
		case err == nil && found.AccessCodeSHA256 != nil:
			c = found
		case err != nil && !errors.Is(err, schemas.ErrNotFound):
			return schemas.Tracking{}, unavailable("find tracked case", err)
		}
	}
	match := subtle.ConstantTimeCompare(schemas.AccessCodeHash(c.ID, code), c.AccessCodeSHA256) == 1
	if !match || c.ID == noCase || code == "" {
		return schemas.Tracking{}, notFound
	}
	events, err := h.store.TrackedEvents(ctx, c.ID)
	if err != nil {
		return schemas.Tracking{}, unavailable("read tracked events", err)
	}
	out := schemas.Tracking{TrackingNumber: c.TrackingNumber, CaseKind: c.CaseKind, ReceivedAt: c.ReceivedAt.UTC(),
		Events: schemas.Timeline(events)}
	for i := range out.Events {
		out.Events[i].CaseID = "" // the citizen's view names the case by its tracking number only
	}
	return out, nil
}
