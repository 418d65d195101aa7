// Package intake accepts submissions from the portal: it validates the body strictly, verifies the
// citizen's signatures as the signature policy of the client and case kind asks, resolves the
// addressees, and stores the case, its verified signatures with their signers' facts, one delivery
// per addressee, the first events, the outbox rows and the hash of the citizen's access code
// atomically (internal/store writes them with one statement). The same idempotency key with the
// same body answers the same receipt (without the access code, shown once) and stores nothing new;
// with another body it is refused.
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
	CreateCase(ctx context.Context, nc schemas.NewCase, trackingPrefix string) (schemas.StoredCase, error)
}

// AccessCodeStore is a Store that also keeps the hash of the case's access code with the case, in
// the same transaction (internal/store has it). With such a store every new case gets an access
// code (schemas.NewAccessCode), shown once in its receipt, with which the citizen follows it (GET
// /v1/track/{tracking_number}); with another store cases get none.
type AccessCodeStore interface {
	CreateCaseWithAccessCode(ctx context.Context, nc schemas.NewCase, trackingPrefix string, accessCodeSHA256 []byte) (schemas.StoredCase, error)
}

// ReplayStore is a Store that finds the case a client already submitted with an idempotency key
// (ErrNotFound when none; internal/store has it). With such a store a replay is answered from the
// stored case whatever checking it again would say, so a case once accepted is never refused later
// (a certificate that expired since, a registry changed since, the verifier down): Submit looks the
// key up after any refusal. Its CreateCase must answer the stored
// case (Created false) for a key already used, as internal/store does.
type ReplayStore interface {
	CaseByIdempotencyKey(ctx context.Context, clientID, key string) (schemas.StoredCase, error)
}

// Recipients chooses the authorities of a submission, each with the rule that chose it
// (router/recipient.Resolver). Refusals are *schemas.Error; any other error is a failure to read.
type Recipients interface {
	Resolve(ctx context.Context, sub schemas.Submission) ([]schemas.Recipient, error)
}

// Config configures intake.
type Config struct {
	// PublicURL is the base of status_url in receipts, e.g. "https://hub.example". Required.
	PublicURL string
	// Clock tells the time of receipt. Defaults to the real clock.
	Clock clock.Clock
	// Signatures is the signature policy of each case kind and client. Defaults to off for all.
	Signatures SignaturePolicies
	// Verifier checks the signatures a policy other than off verifies. Defaults to none, which
	// only a configuration where every policy is off may leave unset.
	Verifier Verifier
	// AcceptedFunc, when set, is told of every submission answered with a receipt: created is
	// false for a replay of the same key and body (for metrics). Defaults to none.
	AcceptedFunc func(created bool)
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
	cfg        Config
	store      Store
	recipients Recipients
	logger     *zap.Logger
}

// New returns an Intake that stores through st and routes through rc.
func New(cfg Config, st Store, rc Recipients, logger *zap.Logger) *Intake {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Intake{cfg: cfg, store: st, recipients: rc, logger: logger.Named("intake")}
}

// kyiv is the time zone of tracking-number years and legal terms.
var kyiv = mustLoadKyiv()

// Submit validates and stores one submission and returns its receipt. Refusals are *schemas.Error;
// a database failure wraps schemas.ErrUnavailable (the portal retries with the same key).
//
// A replay (the key used before) is answered from the stored case, never refused because of what
// changed since. The submission is checked (its signatures verified again) and inserted, and the
// insert itself answers the stored case when the key was used (the store refuses a reused key), so
// that a new submission costs no lookup. A submission refused (or not checked, the verifier or
// registry unavailable) is looked up then (with a ReplayStore): if its key was used, the stored
// case answers it as it did before anything was checked again.
func (in *Intake) Submit(ctx context.Context, req Request) (schemas.Receipt, error) {
	sum := sha256.Sum256(req.Body)
	replays, _ := in.store.(ReplayStore)
	sub, err := schemas.DecodeSubmission(req.Body)
	if err != nil {
		return in.replayOr(ctx, replays, req, sum[:], err)
	}
	// The time of receipt: legal terms run from it, and signatures are verified at it.
	now := in.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	signatures, err := in.checkSignatures(ctx, req.ClientID, sub, now)
	if err != nil {
		return in.replayOr(ctx, replays, req, sum[:], err)
	}
	recipients, err := in.recipients.Resolve(ctx, sub)
	if _, refused := errors.AsType[*schemas.Error](err); !refused && err != nil {
		err = fmt.Errorf("resolve addressees: %w: %w", schemas.ErrUnavailable, err)
	}
	if err == nil && len(recipients) == 0 {
		err = schemas.Errorf(schemas.CodeRoutingUnavailable, "no authority was found for this submission")
	}
	if err != nil {
		return in.replayOr(ctx, replays, req, sum[:], err)
	}

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
		Signatures:     signatures,
	}
	codes := make([]string, 0, len(recipients))
	for _, r := range recipients {
		codes = append(codes, r.Authority)
		nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: newID(), Authority: r.Authority,
			RoutingRule: r.Rule, RoutingReason: r.Reason})
	}
	var stored schemas.StoredCase
	var code string
	if codes, ok := in.store.(AccessCodeStore); ok {
		code = schemas.NewAccessCode()
		stored, err = codes.CreateCaseWithAccessCode(ctx, nc, trackingPrefix(sub.CaseKind, now), schemas.AccessCodeHash(nc.ID, code))
	} else {
		stored, err = in.store.CreateCase(ctx, nc, trackingPrefix(sub.CaseKind, now))
	}
	if err != nil {
		return schemas.Receipt{}, fmt.Errorf("store case: %w: %w", schemas.ErrUnavailable, err)
	}
	if stored.Created {
		in.logger.Info("submission accepted", zap.String("appeal_id", stored.ID),
			zap.String("tracking_number", stored.TrackingNumber), zap.String("client_id", req.ClientID),
			zap.Strings("authorities", codes), zap.Int("signatures_verified", len(signatures)),
			zap.String("trace_id", traceID(req.TraceParent)))
	}
	return in.receipt(stored, sum[:], code)
}

// replayOr answers a submission that failed with failure: from the stored case when its key was
// used before (replays, when not nil, finds it), with failure otherwise. When the lookup fails, a
// refusal becomes unavailable, as the key may be a replay's.
func (in *Intake) replayOr(ctx context.Context, replays ReplayStore, req Request, sum []byte, failure error) (schemas.Receipt, error) {
	if replays == nil {
		return schemas.Receipt{}, failure
	}
	stored, found, err := findReplay(ctx, replays, req)
	switch {
	case found:
		return in.receipt(stored, sum, "")
	case err == nil:
		return schemas.Receipt{}, failure
	case errors.Is(failure, schemas.ErrUnavailable):
		return schemas.Receipt{}, failure
	}
	return schemas.Receipt{}, err
}

// findReplay returns the case req's client already submitted with req's key, if any. A failure to
// read wraps schemas.ErrUnavailable.
func findReplay(ctx context.Context, replays ReplayStore, req Request) (schemas.StoredCase, bool, error) {
	stored, err := replays.CaseByIdempotencyKey(ctx, req.ClientID, req.IdempotencyKey)
	switch {
	case err == nil:
		return stored, true, nil
	case errors.Is(err, schemas.ErrNotFound):
		return stored, false, nil
	}
	return stored, false, fmt.Errorf("find replayed case: %w: %w", schemas.ErrUnavailable, err)
}

// receipt answers a submission whose body hashes to sum with the stored case: a replay with
// another body is idempotency_key_reused; the access code is shown only when the case was just
// created (a replay shows none: only its hash was kept).
func (in *Intake) receipt(stored schemas.StoredCase, sum []byte, code string) (schemas.Receipt, error) {
	if !stored.Created && !bytes.Equal(stored.RequestSHA256, sum) {
		return schemas.Receipt{}, schemas.Errorf(schemas.CodeIdempotencyKeyReused,
			"this Idempotency-Key was used for case %s with another body", stored.TrackingNumber)
	}
	if in.cfg.AcceptedFunc != nil {
		in.cfg.AcceptedFunc(stored.Created)
	}
	r := schemas.Receipt{
		ID:             stored.ID,
		TrackingNumber: stored.TrackingNumber,
		StatusURL:      in.cfg.PublicURL + "/v1/appeals/" + stored.ID,
		ReceivedAt:     stored.ReceivedAt,
	}
	if stored.Created {
		r.AccessCode = code
	}
	return r, nil
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

// traceID returns the trace id of a W3C traceparent ("00-<trace id>-<parent id>-<flags>"), or "".
func traceID(traceParent string) string {
	if len(traceParent) < 55 || traceParent[2] != '-' || traceParent[35] != '-' {
		return ""
	}
	return traceParent[3:35]
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the system's random source does.
		panic(errors.Join(errors.New("generate id"), err))
	}
	return id.String()
}
