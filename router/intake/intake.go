// Package intake accepts submissions from the portal: it validates the body strictly, resolves the
// addressees, and stores the case, one delivery per addressee, the first events and the outbox rows
// in one transaction. The same idempotency key with the same body answers the same receipt and
// stores nothing new; with another body it is refused.
package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/internal/clock"
	"appealhub/schemas"
)

// Store is what intake needs from the database.
type Store interface {
	Authorities(ctx context.Context, codes []string) (map[string]schemas.AuthorityRoute, error)
	CreateCase(ctx context.Context, nc schemas.NewCase, trackingPrefix string) (schemas.StoredCase, error)
}

// Config configures intake.
type Config struct {
	// PublicURL is the base of status_url in receipts, e.g. "https://hub.example". Required.
	PublicURL string
	// Clock tells the time of receipt. Defaults to the real clock.
	Clock clock.Clock
}

// Request is one submission as the HTTP edge received it.
type Request struct {
	ClientID       string
	IdempotencyKey string
	Body           []byte
	TraceParent    string
}

// Intake accepts submissions. It is safe for concurrent use.
type Intake struct {
	cfg    Config
	store  Store
	logger *zap.Logger
}

// New returns an Intake.
func New(cfg Config, st Store, logger *zap.Logger) *Intake {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Intake{cfg: cfg, store: st, logger: logger.Named("intake")}
}

// kyiv is the time zone of tracking-number years and legal terms.
var kyiv = mustLoadKyiv()

// Submit validates and stores one submission and returns its receipt. Refusals are *schemas.Error;
// a database failure wraps schemas.ErrUnavailable (the portal retries with the same key).
func (in *Intake) Submit(ctx context.Context, req Request) (schemas.Receipt, error) {
	sum := sha256.Sum256(req.Body)
	sub, err := schemas.DecodeSubmission(req.Body)
	if err != nil {
		return schemas.Receipt{}, err
	}
	codes, err := addressees(sub)
	if err != nil {
		return schemas.Receipt{}, err
	}
	routes, err := in.store.Authorities(ctx, codes)
	if err != nil {
		return schemas.Receipt{}, fmt.Errorf("resolve addressees: %w: %w", schemas.ErrUnavailable, err)
	}
	if err := checkAddressees(codes, routes); err != nil {
		return schemas.Receipt{}, err
	}

	now := in.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	nc := schemas.NewCase{
		ID:             newID(),
		ClientID:       req.ClientID,
		IdempotencyKey: req.IdempotencyKey,
		RequestSHA256:  sum[:],
		CaseKind:       sub.CaseKind,
		AppealKind:     sub.AppealKind,
		Body:           req.Body,
		TraceParent:    req.TraceParent,
		ReceivedAt:     now,
	}
	for _, code := range codes {
		nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: newID(), Authority: code})
	}
	stored, err := in.store.CreateCase(ctx, nc, trackingPrefix(sub.CaseKind, now))
	if err != nil {
		return schemas.Receipt{}, fmt.Errorf("store case: %w: %w", schemas.ErrUnavailable, err)
	}
	if !stored.Created && !bytes.Equal(stored.RequestSHA256, sum[:]) {
		return schemas.Receipt{}, schemas.Errorf(schemas.CodeIdempotencyKeyReused,
			"this Idempotency-Key was used for case %s with another body", stored.TrackingNumber)
	}
	if stored.Created {
		in.logger.Info("submission accepted", zap.String("appeal_id", stored.ID),
			zap.String("tracking_number", stored.TrackingNumber), zap.String("client_id", req.ClientID),
			zap.Strings("authorities", codes))
	}
	return schemas.Receipt{
		ID:             stored.ID,
		TrackingNumber: stored.TrackingNumber,
		StatusURL:      in.cfg.PublicURL + "/v1/appeals/" + stored.ID,
		ReceivedAt:     stored.ReceivedAt,
	}, nil
}

// addressees returns the explicit addressees, deduplicated in order.
func addressees(sub schemas.Submission) ([]string, error) {
	if len(sub.Addressees) == 0 {
		return nil, &schemas.Error{Code: schemas.CodeRoutingUnavailable,
			Detail: "routing by topic and territory is not available yet: name the addressees",
			Fields: []schemas.FieldProblem{{Pointer: "/addressees", Message: "required"}}}
	}
	seen := make(map[string]bool, len(sub.Addressees))
	var out []string
	for _, c := range sub.Addressees {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

func checkAddressees(codes []string, routes map[string]schemas.AuthorityRoute) error {
	var unknown, inactive []schemas.FieldProblem
	for i, code := range codes {
		r, ok := routes[code]
		switch {
		case !ok:
			unknown = append(unknown, schemas.FieldProblem{Pointer: fmt.Sprintf("/addressees/%d", i),
				Message: fmt.Sprintf("authority %s is not in the registry", code)})
		case r.Status != "active":
			inactive = append(inactive, schemas.FieldProblem{Pointer: fmt.Sprintf("/addressees/%d", i),
				Message: fmt.Sprintf("authority %s is %s", code, r.Status)})
		}
	}
	if len(unknown) > 0 {
		return &schemas.Error{Code: schemas.CodeUnknownAddressee, Detail: "unknown addressee", Fields: unknown}
	}
	if len(inactive) > 0 {
		return &schemas.Error{Code: schemas.CodeAddresseeInactive, Detail: "addressee does not accept submissions now", Fields: inactive}
	}
	return nil
}

// trackingPrefix gives the human prefix of a tracking number: ZV for appeals, ZI for information
// requests, then the year in Kyiv.
func trackingPrefix(kind schemas.CaseKind, now time.Time) string {
	p := "ZV"
	if kind == schemas.CaseInfoRequest {
		p = "ZI"
	}
	return fmt.Sprintf("%s-%d-", p, now.In(kyiv).Year())
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does.
		panic(errors.Join(errors.New("generate id"), err))
	}
	return id.String()
}
