package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"appealhub/schemas"
)

// TransitionFunc decides what an authority message does to a delivery in status current: applied
// false means it changes nothing (stale, repeated or not applicable in that status); applied true
// moves the delivery to next, or, when next is current, records an informative message (status,
// extended) that takes effect without a move.
type TransitionFunc = func(current schemas.DeliveryStatus, m schemas.AuthorityMessage) (next schemas.DeliveryStatus, applied bool)

// ApplyAuthorityMessages records what an authority's system sent, all in one transaction: every
// message must be about a delivery to that authority (ErrNotFound otherwise, and nothing is
// stored). A message id seen before from that authority changes nothing (Duplicate); the same id
// with another content is ErrConflict. Otherwise the message is kept (authority_messages, answers
// and their documents included), next decides what it does, the delivery takes the facts of an
// applied message (registration, refusal, reason), and an event is written either way.
//
// An applied forwarded message also creates, in the same transaction, a delivery of the case to
// ForwardedTo with its outbox row (routing rule schemas.RoutingForwarded, linked by forwarded_from)
// and an event on each delivery. A target the hub cannot send the case to refuses the whole call
// with a *schemas.Error of code forward_target_unknown, forward_target_inactive,
// forward_target_duplicate or forward_target_forbidden, and nothing is stored.
func (s *Store) ApplyAuthorityMessages(ctx context.Context, authority string, msgs []schemas.AuthorityMessage,
	now time.Time, next TransitionFunc) ([]schemas.MessageResult, error) {
	results := make([]schemas.MessageResult, 0, len(msgs))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, m := range msgs {
			r, err := applyOne(ctx, tx, authority, m, now, next)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply authority messages: %w", err)
	}
	return results, nil
}

func applyOne(ctx context.Context, tx *sql.Tx, authority string, m schemas.AuthorityMessage, now time.Time, next TransitionFunc) (schemas.MessageResult, error) {
	r := schemas.MessageResult{MessageID: m.MessageID, Of: m.Of}
	var appealID string
	var status schemas.DeliveryStatus
	var undelivered bool
	err := tx.QueryRowContext(ctx, `
		SELECT appeal_id, status, delivered_at IS NULL FROM deliveries WHERE id = $1 AND authority_code = $2 FOR UPDATE`,
		m.Of, authority).Scan(&appealID, &status, &undelivered)
	if err != nil {
		return r, fmt.Errorf("message %s about delivery %s: %w", m.MessageID, m.Of, mapErr(err))
	}
	r.Status = status
	raw, err := json.Marshal(m)
	if err != nil {
		return r, fmt.Errorf("encode message: %w", err)
	}
	newStatus, applied := next(status, m)
	res, err := tx.ExecContext(ctx, `
		INSERT INTO authority_messages (authority_code, message_id, delivery_id, type, message, applied, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (authority_code, message_id) DO NOTHING`,
		authority, m.MessageID, m.Of, string(m.Type), raw, applied, now)
	if err != nil {
		return r, fmt.Errorf("store message: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var same bool
		if err := tx.QueryRowContext(ctx, `
			SELECT message = $3::jsonb FROM authority_messages WHERE authority_code = $1 AND message_id = $2`,
			authority, m.MessageID, raw).Scan(&same); err != nil {
			return r, fmt.Errorf("compare repeated message: %w", err)
		}
		if !same {
			return r, fmt.Errorf("message %s: %w", m.MessageID, ErrConflict)
		}
		r.Duplicate = true
		return r, nil
	}
	if !applied {
		// The event's type and status say which message met which status.
		return r, insertEvent(ctx, tx, appealID, m.Of, schemas.AuthorityEvent(m.Type), status, "no change of status", now)
	}
	r.Applied, r.Status = true, newStatus
	f := factsOf(m)
	if _, err := tx.ExecContext(ctx, `
		UPDATE deliveries SET status = $2, updated_at = $3,
		    delivered_at = CASE WHEN delivered_at IS NULL AND $2 <> 'refused' THEN $3 ELSE delivered_at END,
		    registration_number = coalesce(NULLIF($4, ''), registration_number),
		    registered_at = coalesce($5, registered_at),
		    refusal_code = coalesce(NULLIF($6, ''), refusal_code),
		    refusal_text = coalesce(NULLIF($7, ''), refusal_text),
		    registrar = coalesce(NULLIF($8, ''), registrar),
		    reason = coalesce(NULLIF($9, ''), reason)
		WHERE id = $1`, m.Of, string(newStatus), now, f.registrationNumber, nullTimePtr(f.registrationDate),
		f.refusalCode, f.refusalText, f.registrar, f.reason); err != nil {
		return r, fmt.Errorf("update delivery: %w", err)
	}
	if status.Pending() {
		// The authority's system answered before the hub recorded sending the document (the
		// delivery worker's outcome then finds the delivery moved on and changes nothing): the
		// timeline still shows the document queued and sent first.
		if status == schemas.StatusAccepted {
			if err := insertEvent(ctx, tx, appealID, m.Of, schemas.EventDeliveryQueued, schemas.StatusQueued, "", now); err != nil {
				return r, err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET sent_at = coalesce(sent_at, $2) WHERE id = $1`, m.Of, now); err != nil {
			return r, fmt.Errorf("record sending: %w", err)
		}
		if err := insertEvent(ctx, tx, appealID, m.Of, schemas.EventDeliverySent, schemas.StatusSent,
			"answered by the authority's system before the hub recorded sending", now); err != nil {
			return r, err
		}
	}
	if undelivered && newStatus != schemas.StatusRefused {
		// The first proof that the system has the document, before the hub recorded its own: the
		// delivery's legal moment, with the event every delivery has once (and its receipt).
		if err := insertEvent(ctx, tx, appealID, m.Of, schemas.EventDeliveryDelivered, schemas.StatusDelivered,
			"reported by the authority's system", now); err != nil {
			return r, err
		}
	}
	if err := insertEvent(ctx, tx, appealID, m.Of, schemas.AuthorityEvent(m.Type), newStatus, appliedDetail(m), now); err != nil {
		return r, err
	}
	if m.Type == schemas.MsgForwarded && newStatus == schemas.StatusForwarded {
		if err := forward(ctx, tx, authority, appealID, m, now); err != nil {
			return r, err
		}
	}
	return r, nil
}

// facts are what an applied message establishes about its delivery; "" and nil leave a column as
// it is.
type facts struct {
	registrationNumber string
	registrationDate   *time.Time
	refusalCode        string
	refusalText        string
	registrar          string
	reason             string
}

// factsOf takes from m the facts its type establishes, and nothing else: a field a type does not
// need is kept with the message but never changes the delivery.
func factsOf(m schemas.AuthorityMessage) facts {
	switch m.Type {
	case schemas.MsgRegistered:
		return facts{registrationNumber: m.RegistrationNumber, registrationDate: m.RegistrationDate, registrar: m.Registrar}
	case schemas.MsgRefused:
		return facts{refusalCode: m.RefusalCode, refusalText: cmp.Or(m.RefusalText, schemas.RefusalText(m.RefusalCode)),
			registrar: m.Registrar}
	case schemas.MsgForwarded, schemas.MsgReturned, schemas.MsgNotConsidered:
		return facts{reason: m.Reason}
	default:
		return facts{}
	}
}

// appliedDetail is the event detail of an applied message: codes, numbers and dates only, never
// the authority's free text (it may name people; the case view shows it to the portal).
func appliedDetail(m schemas.AuthorityMessage) string {
	switch m.Type {
	case schemas.MsgDelivered:
		return "the authority's system has the document"
	case schemas.MsgAccepted:
		return "the authority's system accepted the document for processing"
	case schemas.MsgRegistered:
		return fmt.Sprintf("registered as %s on %s", m.RegistrationNumber, formatTime(m.RegistrationDate))
	case schemas.MsgRefused:
		if m.RefusalCode == "" {
			return "registration refused; the notice names no ground of the closed list"
		}
		return "registration refused on the ground " + m.RefusalCode
	case schemas.MsgStatus:
		return "informative status from the authority's system"
	case schemas.MsgExtended:
		return "term of consideration extended to " + formatTime(m.NewDueDate)
	case schemas.MsgForwarded:
		return "forwarded to authority " + m.ForwardedTo
	case schemas.MsgReturned:
		return "returned to the applicant"
	case schemas.MsgNotConsidered:
		return "not considered"
	case schemas.MsgAnswered:
		if m.Outcome == "" {
			return fmt.Sprintf("answered with %d document(s)", len(m.Documents))
		}
		return fmt.Sprintf("answered (%s) with %d document(s)", m.Outcome, len(m.Documents))
	default:
		return ""
	}
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "an unstated date"
	}
	return t.Format(time.RFC3339)
}

// forward carries out an applied forwarded message m of authority from about a delivery of case
// appealID: it checks the target (its registry row locked FOR SHARE until the commit, so that a
// concurrent suspension or closure waits and sees the new delivery), creates the delivery with its
// outbox row and writes the link events. A refusal is a *schemas.Error.
func forward(ctx context.Context, tx *sql.Tx, from, appealID string, m schemas.AuthorityMessage, now time.Time) error {
	to := m.ForwardedTo
	refuse := func(code schemas.Code, format string, args ...any) error {
		return &schemas.Error{Code: code, Detail: fmt.Sprintf("message %q: ", m.MessageID) + fmt.Sprintf(format, args...)}
	}
	if to == from {
		return refuse(schemas.CodeForwardTargetDuplicate, "an authority cannot forward a case to itself")
	}
	var status string
	var accepts pq.StringArray
	err := tx.QueryRowContext(ctx, `SELECT status, accepts FROM authorities WHERE code = $1 FOR SHARE`, to).Scan(&status, &accepts)
	if errors.Is(err, sql.ErrNoRows) {
		return refuse(schemas.CodeForwardTargetUnknown, "authority %s is not in the registry", to)
	}
	if err != nil {
		return fmt.Errorf("read forward target %s: %w", to, err)
	}
	var caseKind string
	var body []byte
	var has bool
	if err := tx.QueryRowContext(ctx, `
		SELECT case_kind, body, EXISTS (SELECT 1 FROM deliveries WHERE appeal_id = $1 AND authority_code = $2)
		FROM appeals WHERE id = $1`, appealID, to).Scan(&caseKind, &body, &has); err != nil {
		return fmt.Errorf("read forwarded case: %w", mapErr(err))
	}
	var sub struct {
		ComplaintAgainst string `json:"complaint_against"`
	}
	_ = json.Unmarshal(body, &sub) // intake stored valid JSON; without the field there is nothing to check
	switch {
	case has:
		return refuse(schemas.CodeForwardTargetDuplicate, "authority %s already has a delivery of this case", to)
	case sub.ComplaintAgainst == to:
		return refuse(schemas.CodeForwardTargetForbidden, "the complaint is against authority %s, which may not receive it", to)
	case status != schemas.AuthorityActive:
		return refuse(schemas.CodeForwardTargetInactive, "authority %s is %s", to, status)
	case !slices.Contains(accepts, caseKind):
		return refuse(schemas.CodeForwardTargetInactive, "authority %s does not accept %s cases", to, caseKind)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("new delivery id: %w", err)
	}
	d := schemas.NewDelivery{ID: id.String(), Authority: to, RoutingRule: schemas.RoutingForwarded,
		RoutingReason: fmt.Sprintf("forwarded by authority %s (delivery %s) as the competent authority", from, m.Of)}
	if err := insertDelivery(ctx, tx, appealID, d, m.Of, now); err != nil {
		if errors.Is(err, ErrDuplicate) { // another delivery of the case to it committed first
			return refuse(schemas.CodeForwardTargetDuplicate, "authority %s already has a delivery of this case", to)
		}
		return fmt.Errorf("forward to %s: %w", to, err)
	}
	if err := insertEvent(ctx, tx, appealID, m.Of, schemas.EventDeliveryForwardedTo, schemas.StatusForwarded,
		fmt.Sprintf("forwarded to authority %s as delivery %s", to, d.ID), now); err != nil {
		return err
	}
	return insertEvent(ctx, tx, appealID, d.ID, schemas.EventDeliveryForwardedFrom, schemas.StatusAccepted,
		fmt.Sprintf("forwarded by authority %s from delivery %s", from, m.Of), now)
}

// addForwardsAndAnswers fills ForwardedTo from the forwarded_from links among ds (the deliveries of
// one case) and Answer from the applied answered message of each answered delivery.
func (s *Store) addForwardsAndAnswers(ctx context.Context, ds []schemas.Delivery) error {
	byID := make(map[string]*schemas.Delivery, len(ds))
	var answered []string
	for i := range ds {
		byID[ds[i].ID] = &ds[i]
		if ds[i].Status == schemas.StatusAnswered {
			answered = append(answered, ds[i].ID)
		}
	}
	for _, d := range ds {
		if p, ok := byID[d.ForwardedFrom]; ok {
			p.ForwardedTo = d.ID
		}
	}
	if len(answered) == 0 {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT delivery_id, received_at, message FROM authority_messages
		WHERE delivery_id = ANY($1::uuid[]) AND type = $2 AND applied`, pq.Array(answered), string(schemas.MsgAnswered))
	if err != nil {
		return fmt.Errorf("read answers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at time.Time
		var raw []byte
		if err := rows.Scan(&id, &at, &raw); err != nil {
			return fmt.Errorf("scan answer: %w", err)
		}
		var m schemas.AuthorityMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("decode answer of delivery %s: %w", id, err)
		}
		d, ok := byID[id]
		if !ok {
			continue
		}
		d.Answer = &schemas.Answer{MessageID: m.MessageID, At: at.UTC(), Outcome: m.Outcome, LegalBasis: m.LegalBasis,
			AppealProcedure: m.AppealProcedure, Text: m.Text, Documents: m.Documents}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read answers: %w", err)
	}
	return nil
}

func nullTimePtr(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}
