// Package tracker applies what authorities send back — delivery notices, registration, refusal,
// answers, forwarding — to the delivery's monotonic state machine (docs/state_machine.md). A
// message never moves a delivery backwards: a late or repeated one changes nothing and is still
// answered as success. Every message is kept and each one becomes an event, in one transaction,
// idempotent by message id. A forwarded message also creates the delivery to the competent
// authority in that transaction, or refuses the whole request when the hub cannot send it there.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/internal/clock"
	"appealhub/schemas"
)

// Store is the tracker's view of the database. ApplyAuthorityMessages applies msgs all or none;
// next is Next. It refuses a forward it cannot carry out with a *schemas.Error.
type Store interface {
	ApplyAuthorityMessages(ctx context.Context, authority string, msgs []schemas.AuthorityMessage, now time.Time,
		next func(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (schemas.DeliveryStatus, bool)) ([]schemas.MessageResult, error)
}

// Tracker applies authority messages. It is safe for concurrent use.
type Tracker struct {
	store  Store
	clock  clock.Clock
	logger *zap.Logger
}

// New returns a Tracker.
func New(st Store, c clock.Clock, logger *zap.Logger) *Tracker {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Tracker{store: st, clock: clock.OrReal(c), logger: logger.Named("tracker")}
}

// Apply records the messages an authority sent, all or none. A message about a delivery that is not
// that authority's (or does not exist) refuses the whole request with not_found, so an authority
// cannot learn which ids exist. A message that lacks what its type needs (Validate) is
// schema_violation, a forward the hub cannot carry out one of the forward_target_* codes; either
// way nothing is stored.
func (t *Tracker) Apply(ctx context.Context, authority string, msgs []schemas.AuthorityMessage) ([]schemas.MessageResult, error) {
	for _, m := range msgs {
		if _, err := uuid.Parse(m.Of); err != nil {
			return nil, schemas.Errorf(schemas.CodeNotFound, "no delivery %q to this authority", m.Of)
		}
		if m.MessageID == "" {
			return nil, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "every message needs a message id",
				Fields: []schemas.FieldProblem{{Pointer: "/message_id", Message: "required"}}}
		}
		if err := Validate(m); err != nil {
			return nil, err
		}
	}
	results, err := t.store.ApplyAuthorityMessages(ctx, authority, msgs, t.clock.Now().UTC(), Next)
	if err != nil {
		if perr, ok := errors.AsType[*schemas.Error](err); ok {
			t.logger.Info("authority messages refused", zap.String("authority", authority), zap.String("code", string(perr.Code)))
			return nil, perr
		}
		if isNotFound(err) {
			return nil, schemas.Errorf(schemas.CodeNotFound, "a message refers to a delivery that is not this authority's")
		}
		if isConflict(err) {
			return nil, schemas.Errorf(schemas.CodeIdempotencyKeyReused, "a message id was used before for another message")
		}
		return nil, fmt.Errorf("apply messages: %w: %w", schemas.ErrUnavailable, err)
	}
	for i, r := range results {
		fields := []zap.Field{zap.String("authority", authority), zap.String("delivery_id", r.Of),
			zap.String("message_id", r.MessageID), zap.String("type", string(msgs[i].Type)), zap.Bool("applied", r.Applied),
			zap.Bool("duplicate", r.Duplicate), zap.String("status", string(r.Status))}
		if msgs[i].Type == schemas.MsgForwarded && r.Applied {
			fields = append(fields, zap.String("forwarded_to", msgs[i].ForwardedTo))
		}
		t.logger.Info("authority message", fields...)
	}
	return results, nil
}

var authorityCode = regexp.MustCompile(`^[0-9]{8}$`)

// Validate checks that m carries what its type needs, whatever format it came in (the JSON format's
// schema asks for more; SEV 1207 notices carry less): a known type; a registration number and date
// (registered); a ground of the closed list or a text (refused: a 1207 notice may state its ground
// in words the hub does not recognise); a new due date (extended); the 8-digit code of the
// competent authority (forwarded); a legal basis and an appeal procedure when an answer's outcome is
// refused. A refusal code or an outcome, wherever given, must be a known one. The problem is
// schema_violation, naming the message; the submitted values are never repeated.
func Validate(m schemas.AuthorityMessage) error {
	var missing []string
	need := func(ok bool, field string) {
		if !ok {
			missing = append(missing, field)
		}
	}
	blank := func(s string) bool { return strings.TrimSpace(s) == "" }
	switch m.Type {
	case schemas.MsgRegistered:
		need(!blank(m.RegistrationNumber), "registration_number")
		need(m.RegistrationDate != nil, "registration_date")
	case schemas.MsgRefused:
		need(!blank(m.RefusalCode) || !blank(m.RefusalText), "refusal_code or refusal_text")
	case schemas.MsgExtended:
		need(m.NewDueDate != nil, "new_due_date")
	case schemas.MsgForwarded:
		need(authorityCode.MatchString(m.ForwardedTo), "forwarded_to (an 8-digit authority code)")
	case schemas.MsgAnswered:
		if m.Outcome == schemas.OutcomeRefused {
			need(!blank(m.LegalBasis), "legal_basis")
			need(!blank(m.AppealProcedure), "appeal_procedure")
		}
	}
	var problems []string
	if !slices.Contains(schemas.AuthorityMessageTypes(), m.Type) {
		problems = append(problems, "an unknown type")
	}
	if m.RefusalCode != "" && !slices.Contains(schemas.RefusalCodes(), m.RefusalCode) {
		problems = append(problems, "a refusal_code that is not a ground of resolution No. 55")
	}
	if m.Outcome != "" && !slices.Contains(schemas.AnswerOutcomes(), m.Outcome) {
		problems = append(problems, "an unknown outcome")
	}
	if len(missing) > 0 {
		problems = append(problems, "no "+strings.Join(missing, ", no "))
	}
	if len(problems) == 0 {
		return nil
	}
	return schemas.Errorf(schemas.CodeSchemaViolation, "message %q (%s) has %s", m.MessageID, clip(string(m.Type)), strings.Join(problems, "; "))
}

// clip bounds a value echoed in a problem detail.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// rank orders the open states: those in which a delivery still takes messages. A message only ever
// moves a delivery to a higher rank or to a final state; every state not here is final.
var rank = map[schemas.DeliveryStatus]int{
	schemas.StatusAccepted:   0,
	schemas.StatusQueued:     1,
	schemas.StatusSent:       2,
	schemas.StatusDead:       2, // retries exhausted, but the system may still report that it has the document
	schemas.StatusDelivered:  3,
	schemas.StatusRegistered: 4,
}

// exits are the final states a message of each type leads to from any open state.
var exits = map[schemas.AuthorityMessageType]schemas.DeliveryStatus{
	schemas.MsgForwarded:     schemas.StatusForwarded,
	schemas.MsgReturned:      schemas.StatusReturned,
	schemas.MsgNotConsidered: schemas.StatusNotConsidered,
	schemas.MsgAnswered:      schemas.StatusAnswered,
}

// Next is the state machine of docs/state_machine.md: what a message of type m.Type does to a
// delivery in status current. It returns the new status and whether the message applies at all.
// Applied with the same status records an informative message (status, extended) that takes
// effect without a move. Not applied means the message changes nothing: it is stale (a delivery
// notice after registration), repeated, or cannot apply (a refusal of registration after
// registration; anything after a final state).
//
// Any message from the authority's system proves that it holds the document, so in the states
// before delivered (accepted, queued, sent, dead) every message applies, and an informative one
// moves the delivery to delivered. An answer, forward, return or decision not to consider may come
// without a registration notice before it (the system's notices may be lost or come late); a
// registration notice after one of them changes nothing.
func Next(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
	r, open := rank[current]
	if !open {
		return current, false
	}
	if exit, ok := exits[m.Type]; ok {
		return exit, true
	}
	var target schemas.DeliveryStatus
	switch m.Type {
	case schemas.MsgDelivered, schemas.MsgAccepted:
		target = schemas.StatusDelivered
	case schemas.MsgRegistered:
		target = schemas.StatusRegistered
	case schemas.MsgRefused:
		if r >= rank[schemas.StatusRegistered] {
			return current, false // a registered appeal is no longer refused registration
		}
		return schemas.StatusRefused, true
	case schemas.MsgStatus, schemas.MsgExtended:
		if r < rank[schemas.StatusDelivered] {
			return schemas.StatusDelivered, true
		}
		return current, true
	default:
		return current, false
	}
	if rank[target] <= r {
		return current, false
	}
	return target, true
}
