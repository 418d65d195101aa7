package receipt

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/lifecycle"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// Ledger is the notary's view of the store.
type Ledger interface {
	IssueReceipts(ctx context.Context, limit int, types []schemas.EventType, issue store.IssueFunc) (store.ReceiptIssue, error)
}

// Defaults.
const (
	DefaultInterval  = time.Second
	DefaultBatchSize = 500
)

// ErrNoIdentity is returned by Issue when the notary has no identity to sign with.
var ErrNoIdentity = errors.New("receipts: no hub identity configured (identity.signing_key, identity.certificate)")

// Config configures a Notary.
type Config struct {
	// Hub is the hub identity every receipt names.
	Hub Hub
	// Interval is how often the notary looks for newly sealed events. Defaults to 1s.
	Interval time.Duration
	// BatchSize is the most chain links one transaction passes over. Defaults to 500.
	BatchSize int
	// Clock dates receipts. Defaults to the real clock.
	Clock clock.Clock
}

// evidenceEvents are the event types a receipt may attest.
var evidenceEvents = []schemas.EventType{
	schemas.EventSubmissionAccepted,
	schemas.EventDeliveryDelivered,
	schemas.AuthorityEvent(schemas.MsgRegistered),
}

// Notary issues the hub's signed receipts from the sealed event chain: between Start and Stop it
// walks the chain after its cursor and signs one receipt per evidence event, in the transaction
// that moves the cursor (exactly once per event). Several hub processes may each run one: one at
// a time issues (the others find the lock taken and skip the step). Issue may also be called
// directly; a Notary is safe for concurrent use.
//
// The notary never skips an evidence event: when it cannot issue a receipt (the event no longer
// matches its link in the chain, the stored submission does not decode) it logs the error and
// tries again at the next step, issuing nothing after it until the cause is removed.
type Notary struct {
	cfg      Config
	ledger   Ledger
	identity *Identity
	logger   *zap.Logger
	loop     lifecycle.Loop
}

// NewNotary returns a notary that signs with id. With a nil id it issues nothing: Start logs that
// once as a warning and Issue returns ErrNoIdentity.
func NewNotary(ledger Ledger, id *Identity, cfg Config, logger *zap.Logger) *Notary {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	return &Notary{cfg: cfg, ledger: ledger, identity: id, logger: logger.Named("receipts")}
}

// Issue issues the receipts of every evidence event sealed so far, in steps of BatchSize links,
// and returns how many it issued. It returns 0 without error when another process is issuing.
func (n *Notary) Issue(ctx context.Context) (int, error) {
	if n.identity == nil {
		return 0, ErrNoIdentity
	}
	total := 0
	for {
		res, err := n.ledger.IssueReceipts(ctx, n.cfg.BatchSize, evidenceEvents, n.receiptFor)
		if err != nil {
			return total, err
		}
		total += res.Issued
		if res.Busy || res.Passed < int64(n.cfg.BatchSize) {
			return total, nil
		}
	}
}

// Start starts issuing in the background and returns. Without an identity it logs a warning and
// starts nothing.
func (n *Notary) Start(ctx context.Context) error {
	if n.identity == nil {
		n.logger.Warn("no hub identity configured (identity.signing_key, identity.certificate): signed receipts are not issued")
		return nil
	}
	n.logger.Info("issuing signed receipts", zap.String("certificate_sha256", n.identity.CertificateSHA256()))
	n.loop.Start(ctx, n.run)
	return nil
}

// Stop stops the background issuing after the step in flight and waits for it. Safe before Start
// and repeated.
func (n *Notary) Stop(ctx context.Context) error { return n.loop.Stop(ctx) }

// Stopped is closed when the background issuing has stopped; nil before Start.
func (n *Notary) Stopped() <-chan struct{} { return n.loop.Stopped() }

func (n *Notary) run(ctx context.Context) {
	audit.Follow(ctx, n.cfg.Interval, n.cfg.Clock, n.logger, "issuing receipts", n.Issue)
}

// receiptFor is the store.IssueFunc: the signed receipt of one event, or none.
func (n *Notary) receiptFor(e store.ReceiptEvent) (store.Receipt, bool, error) {
	if !bytes.Equal(audit.LinkHash(e.Link.PrevHash, e.Event), e.Link.Hash) {
		return store.Receipt{}, false, fmt.Errorf("event %d does not match its link at chain position %d (run `appealhub audit verify`)",
			e.Event.Seq, e.Link.Pos)
	}
	now := n.cfg.Clock.Now().UTC().Truncate(time.Microsecond)
	c := Content{
		Format: Format, ID: uuid.Must(uuid.NewV7()).String(), Hub: n.cfg.Hub,
		IssuedAt: formatTime(now), EventTime: formatTime(e.Event.CreatedAt),
		AppealID: e.Event.AppealID, TrackingNumber: e.TrackingNumber,
		Chain: ChainRef{Pos: e.Link.Pos, Seq: e.Link.Seq, Hash: hex.EncodeToString(e.Link.Hash), PrevHash: hex.EncodeToString(e.Link.PrevHash)},
	}
	switch {
	case e.Event.Type == string(schemas.EventSubmissionAccepted):
		docs, err := documentsOf(e.Body)
		if err != nil {
			return store.Receipt{}, false, fmt.Errorf("appeal %s: %w", e.Event.AppealID, err)
		}
		c.Evidence, c.SubmissionSHA256, c.Documents = schemas.EvidenceSubmissionAcceptance, sha256Hex(e.Body), docs
	case e.Repeat:
		return store.Receipt{}, false, nil // a second notice of what a receipt already attests
	case e.Event.Type == string(schemas.EventDeliveryDelivered) && e.Event.DeliveryID != "":
		c.Evidence, c.DeliveryID, c.Authority = schemas.EvidenceDelivery, e.Event.DeliveryID, e.Authority
	case e.Event.Type == string(schemas.AuthorityEvent(schemas.MsgRegistered)) && e.Event.Status == string(schemas.StatusRegistered):
		reg, err := registrationOf(e.Message)
		if err != nil {
			return store.Receipt{}, false, fmt.Errorf("delivery %s: %w", e.Event.DeliveryID, err)
		}
		c.Evidence, c.DeliveryID, c.Authority, c.Registration = schemas.EvidenceRegistration, e.Event.DeliveryID, e.Authority, reg
	default:
		return store.Receipt{}, false, nil // a registration message that changed nothing, say
	}
	content, err := Canonical(c)
	if err != nil {
		return store.Receipt{}, false, err
	}
	cms, err := n.identity.Sign(content, now, false)
	if err != nil {
		return store.Receipt{}, false, err
	}
	return store.Receipt{ID: c.ID, AppealID: c.AppealID, DeliveryID: c.DeliveryID, Type: c.Evidence,
		Content: content, CMS: cms, ChainPos: e.Link.Pos, CreatedAt: now}, true, nil
}

// registrationOf reads the registration from the authority message a registration event records.
func registrationOf(message []byte) (*Registration, error) {
	if message == nil {
		return nil, errors.New("the registration message the event records is missing")
	}
	var m schemas.AuthorityMessage
	if err := json.Unmarshal(message, &m); err != nil {
		return nil, fmt.Errorf("decode the registration message: %w", err)
	}
	reg := &Registration{Number: m.RegistrationNumber, MessageID: m.MessageID}
	if m.RegistrationDate != nil {
		reg.Date = m.RegistrationDate.Format(time.RFC3339Nano) // as the authority stated it, with its offset
	}
	return reg, nil
}
