package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// Operator roles, stored in operators.role: never rename one.
const (
	// RoleViewer reads every console page; personal data are masked.
	RoleViewer = "viewer"
	// RoleOperator also redrives and discards dead deliveries and sees personal data.
	RoleOperator = "operator"
	// RoleAdmin also edits the authority registry.
	RoleAdmin = "admin"
)

// The event types of operators' actions. The values are stored and sealed in the event chain:
// never rename one.
const (
	// EventOperatorAdded: an operator account was created (a case-less event).
	EventOperatorAdded schemas.EventType = "operator_added"
	// EventOperatorSignedIn and EventOperatorSignedOut: an operator signed in to, or out of, the
	// console (case-less events).
	EventOperatorSignedIn  schemas.EventType = "operator_signed_in"
	EventOperatorSignedOut schemas.EventType = "operator_signed_out"
	// EventOperatorAction: an operator changed something that concerns no case, such as a
	// registry entry (a case-less event; the detail says what).
	EventOperatorAction schemas.EventType = "operator_action"
	// EventOperatorDenied: an operator tried an action their role does not allow and was refused
	// (a case-less event; Action names it, Object what it was aimed at).
	EventOperatorDenied schemas.EventType = "operator_denied"
	// EventAccessDenied: an authority's client asked for another authority's path, inbox item or
	// delivery and got 404 (a case-less event: Actor is the client or authority, Action what it
	// tried, Object what it named).
	EventAccessDenied schemas.EventType = "access_denied"
	// EventDeliveryRedriven: an operator sent a dead delivery again, with a fresh series of attempts.
	EventDeliveryRedriven schemas.EventType = "delivery_redriven"
	// EventDeliveryDiscarded: an operator discarded a dead delivery: it stays dead and is no longer
	// listed among the dead letters.
	EventDeliveryDiscarded schemas.EventType = "delivery_discarded"
)

// Operator is an account of the operators' console.
type Operator struct {
	Login string
	// Role is RoleViewer, RoleOperator or RoleAdmin.
	Role string
	// PasswordHash is the bcrypt hash of the password (internal/console hashes and checks it).
	PasswordHash string
	CreatedAt    time.Time
	// Disabled operators cannot sign in, and their sessions end.
	Disabled bool
}

// OperatorDetail is the detail of an operator's event: a JSON object with who acted and why, never
// personal data.
type OperatorDetail struct {
	// Actor is the login of the operator who acted ("cli" for the command line).
	Actor string `json:"actor"`
	// Action names what was done (operator_action events), e.g. "registry_update".
	Action string `json:"action,omitempty"`
	// Object names what it was done to, e.g. an authority code or an operator login.
	Object string `json:"object,omitempty"`
	// Role is the role of an added operator.
	Role string `json:"role,omitempty"`
	// Reason is the operator's reason, as given.
	Reason string `json:"reason,omitempty"`
}

// maxReasonLen bounds the reason stored in an event's detail.
const maxReasonLen = 500

func (d OperatorDetail) encode() string {
	d.Reason = truncate(d.Reason, maxReasonLen)
	b, _ := json.Marshal(d) // strings only: cannot fail
	return string(b)
}

// AddOperator creates an operator account with an event operator_added (actor: the one who added
// it). A login in use is ErrDuplicate.
func (s *Store) AddOperator(ctx context.Context, op Operator, actor string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO operators (login, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
			op.Login, op.Role, op.PasswordHash, now); err != nil {
			return mapErr(err)
		}
		return insertOperatorEvent(ctx, tx, EventOperatorAdded, OperatorDetail{Actor: actor, Object: op.Login, Role: op.Role}, now)
	})
	if err != nil {
		return fmt.Errorf("add operator %s: %w", op.Login, err)
	}
	return nil
}

// SetOperatorPassword replaces the password hash of an operator (and ends its sessions), with an
// event operator_action. An unknown login is ErrNotFound.
func (s *Store) SetOperatorPassword(ctx context.Context, login, passwordHash, actor string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE operators SET password_hash = $2, updated_at = $3 WHERE login = $1`,
			login, passwordHash, now)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE login = $1`, login); err != nil {
			return err
		}
		return insertOperatorEvent(ctx, tx, EventOperatorAction,
			OperatorDetail{Actor: actor, Action: "operator_password", Object: login}, now)
	})
	if err != nil {
		return fmt.Errorf("set the password of operator %s: %w", login, err)
	}
	return nil
}

// RecordOperatorDenied records that login tried action on object and was refused for their role.
func (s *Store) RecordOperatorDenied(ctx context.Context, login, action, object string, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return insertOperatorEvent(ctx, tx, EventOperatorDenied, OperatorDetail{Actor: login, Action: action, Object: object}, now)
	})
	if err != nil {
		return fmt.Errorf("record a refused operator action: %w", err)
	}
	return nil
}

// RecordPathAccessDenied records an access_denied event when authority, the code a client named
// in a path that is not its own, is in the registry, and reports whether it did; a code that exists
// nowhere records nothing (a probe of nothing is no attempt on someone else's data).
func (s *Store) RecordPathAccessDenied(ctx context.Context, actor, action, authority string, now time.Time) (bool, error) {
	d := OperatorDetail{Actor: actor, Action: action, Object: authority}
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT NULL, NULL, $1, '', $2, $3
		WHERE EXISTS (SELECT 1 FROM authorities WHERE code = $4)`,
		string(EventAccessDenied), d.encode(), now, authority)
	if err != nil {
		return false, fmt.Errorf("record a denied access: %w", mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RecordCrossTenantAccess records an access_denied event when one of deliveryIDs exists and is
// another authority's than authority's, and reports whether it did; ids that exist nowhere record
// nothing (a typo is not an attempt on someone else's data).
func (s *Store) RecordCrossTenantAccess(ctx context.Context, authority, action string, deliveryIDs []string, now time.Time) (bool, error) {
	d := OperatorDetail{Actor: "authority " + authority, Action: action, Object: strings.Join(deliveryIDs, ",")}
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT NULL, NULL, $1, '', $2, $3
		WHERE EXISTS (SELECT 1 FROM deliveries WHERE id::text = ANY($4) AND authority_code <> $5)`,
		string(EventAccessDenied), d.encode(), now, pq.Array(deliveryIDs), authority)
	if err != nil {
		return false, fmt.Errorf("record a cross-tenant access: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Operator returns the operator login (ErrNotFound if there is none).
func (s *Store) Operator(ctx context.Context, login string) (Operator, error) {
	var op Operator
	var disabled sql.NullTime
	err := s.db.QueryRowContext(ctx, `
		SELECT login, role, password_hash, created_at, disabled_at FROM operators WHERE login = $1`, login).
		Scan(&op.Login, &op.Role, &op.PasswordHash, &op.CreatedAt, &disabled)
	if err != nil {
		return op, fmt.Errorf("read operator: %w", mapErr(err))
	}
	op.Disabled = disabled.Valid
	return op, nil
}

// StartOperatorSession records a session of login, known by the SHA-256 of its token, valid until
// expires, with an event operator_signed_in, and deletes the sessions that have expired.
func (s *Store) StartOperatorSession(ctx context.Context, login string, tokenSHA256 []byte, now, expires time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sessions WHERE expires_at <= $1`, now); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO operator_sessions (token_sha256, login, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			tokenSHA256, login, now, expires); err != nil {
			return mapErr(err)
		}
		return insertOperatorEvent(ctx, tx, EventOperatorSignedIn, OperatorDetail{Actor: login}, now)
	})
	if err != nil {
		return fmt.Errorf("start operator session: %w", err)
	}
	return nil
}

// OperatorSession returns the operator of the session whose token has SHA-256 tokenSHA256, with
// when the session expires. A session that is unknown, expired at now, or whose operator is
// disabled is ErrNotFound.
func (s *Store) OperatorSession(ctx context.Context, tokenSHA256 []byte, now time.Time) (Operator, time.Time, error) {
	var op Operator
	var expires time.Time
	err := s.db.QueryRowContext(ctx, `
		SELECT o.login, o.role, o.created_at, s.expires_at
		FROM operator_sessions s JOIN operators o ON o.login = s.login
		WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND o.disabled_at IS NULL`, tokenSHA256, now).
		Scan(&op.Login, &op.Role, &op.CreatedAt, &expires)
	if err != nil {
		return op, expires, fmt.Errorf("read operator session: %w", mapErr(err))
	}
	return op, expires, nil
}

// EndOperatorSession deletes a session, with an event operator_signed_out when it existed.
func (s *Store) EndOperatorSession(ctx context.Context, tokenSHA256 []byte, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var login string
		err := tx.QueryRowContext(ctx, `DELETE FROM operator_sessions WHERE token_sha256 = $1 RETURNING login`, tokenSHA256).
			Scan(&login)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return insertOperatorEvent(ctx, tx, EventOperatorSignedOut, OperatorDetail{Actor: login}, now)
	})
	if err != nil {
		return fmt.Errorf("end operator session: %w", err)
	}
	return nil
}

// RecordOperatorAction records an action of an operator that concerns no case (a registry edit,
// say) as an event operator_action, so that it is sealed in the event chain.
func (s *Store) RecordOperatorAction(ctx context.Context, d OperatorDetail, now time.Time) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return insertOperatorEvent(ctx, tx, EventOperatorAction, d, now)
	})
	if err != nil {
		return fmt.Errorf("record operator action: %w", err)
	}
	return nil
}

// OperatorEvents returns the most recent case-less operator events, newest first, at most limit
// (for the console and tests).
func (s *Store) OperatorEvents(ctx context.Context, limit int) ([]schemas.Event, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT seq, type, status, detail, created_at FROM events
		WHERE appeal_id IS NULL ORDER BY seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read operator events: %w", err)
	}
	defer rows.Close()
	out := []schemas.Event{}
	for rows.Next() {
		var e schemas.Event
		if err := rows.Scan(&e.Seq, &e.Type, &e.Status, &e.Detail, &e.At); err != nil {
			return nil, fmt.Errorf("scan operator event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// insertOperatorEvent inserts a case-less event in tx.
func insertOperatorEvent(ctx context.Context, tx *sql.Tx, t schemas.EventType, d OperatorDetail, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at) VALUES (NULL, NULL, $1, '', $2, $3)`,
		string(t), d.encode(), at); err != nil {
		return fmt.Errorf("insert operator event: %w", err)
	}
	return nil
}
