// Package tracker applies what authorities send back — delivery notices, registration, refusal,
// answers, forwarding — to the delivery's monotonic state machine. A message never moves a delivery
// backwards: a late or repeated one changes nothing and is still answered as success. Every message
// is kept and each one becomes an event, in one transaction, idempotent by message id.
package tracker

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/internal/clock"
	"appealhub/schemas"
)

// Store is the tracker's view of the database.
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
// cannot learn which ids exist.
func (t *Tracker) Apply(ctx context.Context, authority string, msgs []schemas.AuthorityMessage) ([]schemas.MessageResult, error) {
	for _, m := range msgs {
		if _, err := uuid.Parse(m.Of); err != nil {
			return nil, schemas.Errorf(schemas.CodeNotFound, "no delivery %q to this authority", m.Of)
		}
		if m.MessageID == "" {
			return nil, &schemas.Error{Code: schemas.CodeSchemaViolation, Detail: "every message needs a message id",
				Fields: []schemas.FieldProblem{{Pointer: "/message_id", Message: "required"}}}
		}
	}
	results, err := t.store.ApplyAuthorityMessages(ctx, authority, msgs, t.clock.Now().UTC(), Next)
	if err != nil {
		if isNotFound(err) {
			return nil, schemas.Errorf(schemas.CodeNotFound, "a message refers to a delivery that is not this authority's")
		}
		if isConflict(err) {
			return nil, schemas.Errorf(schemas.CodeIdempotencyKeyReused, "a message id was used before for another message")
		}
		return nil, fmt.Errorf("apply messages: %w: %w", schemas.ErrUnavailable, err)
	}
	for _, r := range results {
		t.logger.Info("authority message", zap.String("authority", authority), zap.String("delivery_id", r.Of),
			zap.String("message_id", r.MessageID), zap.Bool("applied", r.Applied), zap.Bool("duplicate", r.Duplicate),
			zap.String("status", string(r.Status)))
	}
	return results, nil
}

// rank orders the states a delivery passes through; a message only ever moves it to a higher rank.
var rank = map[schemas.DeliveryStatus]int{
	schemas.StatusAccepted:   0,
	schemas.StatusQueued:     1,
	schemas.StatusSent:       2,
	schemas.StatusDead:       2, // retries exhausted, but the system may still report that it has the document
	schemas.StatusDelivered:  3,
	schemas.StatusRegistered: 4,
}

// final states absorb every later message.
func final(s schemas.DeliveryStatus) bool {
	_, ok := rank[s]
	return !ok
}

// Next is the state machine: the status a delivery moves to when a message of type m.Type arrives
// in status current, and whether it moves at all.
func Next(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
	if final(current) {
		return current, false
	}
	var target schemas.DeliveryStatus
	switch m.Type {
	case schemas.MsgDelivered, schemas.MsgAccepted:
		target = schemas.StatusDelivered
	case schemas.MsgRegistered:
		target = schemas.StatusRegistered
	case schemas.MsgRefused:
		if rank[current] >= rank[schemas.StatusRegistered] {
			return current, false // a registered appeal is no longer refused registration
		}
		return schemas.StatusRefused, true
	case schemas.MsgAnswered:
		return schemas.StatusAnswered, true
	case schemas.MsgForwarded:
		return schemas.StatusForwarded, true
	case schemas.MsgReturned:
		return schemas.StatusReturned, true
	case schemas.MsgNotConsidered:
		return schemas.StatusNotConsidered, true
	default: // status, extended: recorded, no change of state
		return current, false
	}
	if rank[target] <= rank[current] {
		return current, false
	}
	return target, true
}
