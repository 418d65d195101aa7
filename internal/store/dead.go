package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// DeadFilter selects dead deliveries. Zero fields select everything.
type DeadFilter struct {
	// Authority is an authority code.
	Authority string
	// Reason is a piece of the reason (the last error), matched without regard to case.
	Reason string
	// MinAge and MaxAge bound how long ago the delivery went dead, at Now.
	MinAge, MaxAge time.Duration
	Now            time.Time
	// Limit is the most returned; 0 means 100, and it is capped at 1000.
	Limit int
}

// DeadDelivery is a dead delivery as operators see it.
type DeadDelivery struct {
	ID             string
	AppealID       string
	TrackingNumber string
	CaseKind       schemas.CaseKind
	Authority      string
	AuthorityName  string
	Attempts       int
	// Reason is the delivery's last error: why it is dead.
	Reason    string
	CreatedAt time.Time
	// DeadAt is when the delivery went dead (its last change).
	DeadAt time.Time
	// DiscardedAt, DiscardedBy and DiscardReason are set once an operator discarded it.
	DiscardedAt   *time.Time
	DiscardedBy   string
	DiscardReason string
}

// DeadLetter is one dead delivery with the case it carries.
type DeadLetter struct {
	DeadDelivery
	// Body is the submission exactly as received (personal data: show it masked unless the
	// operator's role allows).
	Body []byte
	// Events are the delivery's events, in order.
	Events []schemas.Event
}

// OperatorAction is who does something to deliveries and why.
type OperatorAction struct {
	Actor  string
	Reason string
	At     time.Time
}

const deadColumns = `d.id, d.appeal_id, a.tracking_number, a.case_kind, d.authority_code, au.name, d.attempts, d.last_error,
	d.created_at, d.updated_at, d.discarded_at, d.discarded_by, d.discard_reason`

func scanDead(sc rowScanner, d *DeadDelivery) error {
	var discarded sql.NullTime
	if err := sc.Scan(&d.ID, &d.AppealID, &d.TrackingNumber, &d.CaseKind, &d.Authority, &d.AuthorityName, &d.Attempts,
		&d.Reason, &d.CreatedAt, &d.DeadAt, &discarded, &d.DiscardedBy, &d.DiscardReason); err != nil {
		return err
	}
	d.DiscardedAt = nullTime(discarded)
	return nil
}

// DeadDeliveries returns the dead deliveries that f selects and no operator discarded, the most
// recently dead first, and how many f selects in all.
func (s *Store) DeadDeliveries(ctx context.Context, f DeadFilter) ([]DeadDelivery, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	where := []string{"d.status = 'dead'", "d.discarded_at IS NULL"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Authority != "" {
		where = append(where, "d.authority_code = "+arg(f.Authority))
	}
	if f.Reason != "" {
		where = append(where, "strpos(lower(d.last_error), lower("+arg(f.Reason)+")) > 0")
	}
	if f.MinAge > 0 {
		where = append(where, "d.updated_at <= "+arg(f.Now.Add(-f.MinAge)))
	}
	if f.MaxAge > 0 {
		where = append(where, "d.updated_at >= "+arg(f.Now.Add(-f.MaxAge)))
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries d WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count dead deliveries: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT `+deadColumns+`
		FROM deliveries d JOIN appeals a ON a.id = d.appeal_id JOIN authorities au ON au.code = d.authority_code
		WHERE `+cond+`
		ORDER BY d.updated_at DESC, d.id
		LIMIT `+arg(limit), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list dead deliveries: %w", err)
	}
	defer rows.Close()
	out := []DeadDelivery{}
	for rows.Next() {
		var d DeadDelivery
		if err := scanDead(rows, &d); err != nil {
			return nil, 0, fmt.Errorf("scan dead delivery: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list dead deliveries: %w", err)
	}
	return out, total, nil
}

// DeadLetter returns the dead delivery id, discarded or not, with its case's body and its events.
// A delivery that does not exist or is not dead is ErrNotFound.
func (s *Store) DeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	var l DeadLetter
	if !uuidPattern.MatchString(id) {
		return l, fmt.Errorf("read dead delivery: %w", ErrNotFound)
	}
	err := scanDead(s.db.QueryRowContext(ctx, `
		SELECT `+deadColumns+`
		FROM deliveries d JOIN appeals a ON a.id = d.appeal_id JOIN authorities au ON au.code = d.authority_code
		WHERE d.id = $1 AND d.status = 'dead'`, id), &l.DeadDelivery)
	if err != nil {
		return l, fmt.Errorf("read dead delivery: %w", mapErr(err))
	}
	if err := s.db.QueryRowContext(ctx, `SELECT body FROM appeals WHERE id = $1`, l.AppealID).Scan(&l.Body); err != nil {
		return l, fmt.Errorf("read dead delivery: %w", mapErr(err))
	}
	events, err := s.eventsOf(ctx, l.AppealID)
	if err != nil {
		return l, err
	}
	for _, e := range events {
		if e.DeliveryID == id {
			l.Events = append(l.Events, e)
		}
	}
	return l, nil
}

// uuidPattern matches a UUID in its text form.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validIDs returns the ids that are UUIDs, without repeats.
func validIDs(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if uuidPattern.MatchString(id) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// RedriveDead sends the dead deliveries ids again, in one statement: each one that is dead, not
// discarded, and whose authority is not closed goes back to queued with a fresh series of attempts
// (attempts 0) and a new outbox row due at once, with an event delivery_redriven whose detail
// names the actor and the reason. The authority sees the same delivery id, its idempotency key, so
// a redriven delivery is never a second document. It returns the ids redriven, in id order; the
// others (unknown, not dead, discarded, closed authority) are left as they are.
func (s *Store) RedriveDead(ctx context.Context, ids []string, a OperatorAction) ([]string, error) {
	ids = validIDs(ids)
	if len(ids) == 0 {
		return []string{}, nil
	}
	return s.deadAction(ctx, "redrive dead deliveries", `
			WITH redriven AS (
				UPDATE deliveries d
				SET status = 'queued', attempts = 0, next_attempt_at = NULL, updated_at = $2
				FROM authorities au
				WHERE d.id = ANY($1::uuid[]) AND d.status = 'dead' AND d.discarded_at IS NULL
				  AND au.code = d.authority_code AND au.status <> 'closed'
				RETURNING d.id, d.appeal_id, d.authority_code),
			scheduled AS (
				INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at)
				SELECT id, authority_code, 0, $2, $2 FROM redriven)
			INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
			SELECT appeal_id, id, $3, 'queued', $4, $2 FROM redriven
			RETURNING delivery_id::text`,
		pq.Array(ids), a.At, string(EventDeliveryRedriven), OperatorDetail{Actor: a.Actor, Reason: a.Reason}.encode())
}

// DiscardDead discards the dead deliveries ids, in one statement: each one that is dead and not
// yet discarded stays dead, marked discarded by the actor with the reason, with an event
// delivery_discarded; it is no longer listed by DeadDeliveries. It returns the ids discarded, in
// id order.
func (s *Store) DiscardDead(ctx context.Context, ids []string, a OperatorAction) ([]string, error) {
	ids = validIDs(ids)
	if len(ids) == 0 {
		return []string{}, nil
	}
	return s.deadAction(ctx, "discard dead deliveries", `
			WITH discarded AS (
				UPDATE deliveries
				SET discarded_at = $2, discarded_by = $5, discard_reason = $6
				WHERE id = ANY($1::uuid[]) AND status = 'dead' AND discarded_at IS NULL
				RETURNING id, appeal_id)
			INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
			SELECT appeal_id, id, $3, 'dead', $4, $2 FROM discarded
			RETURNING delivery_id::text`,
		pq.Array(ids), a.At, string(EventDeliveryDiscarded), OperatorDetail{Actor: a.Actor, Reason: a.Reason}.encode(),
		a.Actor, truncate(a.Reason, maxReasonLen))
}

// deadAction runs one statement over dead deliveries (atomic on its own) that returns the ids it
// acted on, and gives them in id order.
func (s *Store) deadAction(ctx context.Context, what, query string, args ...any) ([]string, error) {
	out, err := queryStrings(ctx, s.db, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out, nil
}
