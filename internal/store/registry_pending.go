package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"appealhub/schemas"
)

// Scheduled registry changes: a change whose effective time is still to come waits in
// authority_pending until the registry's periodic step applies it. Locks are always taken in one
// order, the pending row first and the authority's row second, so the step, a cancellation and
// direct changes never deadlock.

const pendingColumns = `id, code, action, patch, token, coalesce(successor_code, ''), effective_at, created_at,
	created_by, reason`

// scanPending reads a pending change with the token its patch sets, if any, in Patch.Token.
func scanPending(sc rowScanner) (schemas.PendingAuthorityChange, error) {
	var p schemas.PendingAuthorityChange
	var patch []byte
	var token sql.NullString
	if err := sc.Scan(&p.ID, &p.Code, &p.Action, &patch, &token, &p.Successor, &p.EffectiveAt, &p.CreatedAt,
		&p.CreatedBy, &p.Reason); err != nil {
		return p, err
	}
	p.EffectiveAt, p.CreatedAt = p.EffectiveAt.UTC(), p.CreatedAt.UTC()
	if patch != nil {
		p.Patch = &schemas.AuthorityPatch{}
		if err := json.Unmarshal(patch, p.Patch); err != nil {
			return p, fmt.Errorf("decode scheduled change %d: %w", p.ID, err)
		}
	}
	if token.Valid {
		if p.Patch == nil {
			p.Patch = &schemas.AuthorityPatch{}
		}
		p.Patch.Token = &token.String
	}
	return p, nil
}

// PendingAuthorityChanges returns the changes of code scheduled for later, soonest first, as they
// may be shown (without tokens).
func (s *Store) PendingAuthorityChanges(ctx context.Context, code string) ([]schemas.PendingAuthorityChange, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pendingColumns+` FROM authority_pending WHERE code = $1
		ORDER BY effective_at, id`, code)
	if err != nil {
		return nil, fmt.Errorf("read scheduled changes of authority %s: %w", code, mapErr(err))
	}
	defer rows.Close()
	out := []schemas.PendingAuthorityChange{}
	for rows.Next() {
		p, err := scanPending(rows)
		if err != nil {
			return nil, fmt.Errorf("scan scheduled change: %w", err)
		}
		out = append(out, p.Shown())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read scheduled changes of authority %s: %w", code, err)
	}
	return out, nil
}

// ScheduleAuthorityChange keeps p (an update, suspend, resume or close of an existing entry, with
// its EffectiveAt, CreatedBy and Reason) until its effective time, and records the scheduling in
// the history (ActionSchedule, with the entry's version counted up). ifVersion, when positive, must
// be the entry's version (else ErrVersionConflict); a missing entry is ErrNotFound. A zero
// p.CreatedAt is the database's now. It returns the history entry, whose Pending is p with its id.
func (s *Store) ScheduleAuthorityChange(ctx context.Context, p schemas.PendingAuthorityChange, ifVersion int64) (schemas.AuthorityChange, error) {
	var out schemas.AuthorityChange
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := lockAuthority(ctx, tx, p.Code)
		if err != nil {
			return err
		}
		if err := checkVersion(p.Action, cur, ifVersion); err != nil {
			return err
		}
		ch := schemas.AuthorityChange{Code: p.Code, Action: schemas.ActionSchedule, ChangedAt: p.CreatedAt,
			ChangedBy: p.CreatedBy, EffectiveAt: p.EffectiveAt, Reason: p.Reason}
		if err := fillChangedAt(ctx, tx, &ch); err != nil {
			return err
		}
		p.CreatedAt, p.EffectiveAt = ch.ChangedAt, ch.EffectiveAt
		var patch, token any
		if p.Patch != nil {
			shown := *p.Patch
			if shown.Token != nil {
				token, shown.Token = *shown.Token, nil
			}
			b, err := json.Marshal(shown)
			if err != nil {
				return fmt.Errorf("encode scheduled change of authority %s: %w", p.Code, err)
			}
			patch = string(b)
		}
		err = tx.QueryRowContext(ctx, `
			INSERT INTO authority_pending (code, action, patch, token, successor_code, effective_at, created_at, created_by, reason)
			VALUES ($1, $2, $3, $4, NULLIF($5, ''), $6, $7, $8, $9) RETURNING id`,
			p.Code, p.Action, patch, token, p.Successor, p.EffectiveAt, p.CreatedAt, p.CreatedBy, p.Reason).Scan(&p.ID)
		if err != nil {
			return fmt.Errorf("schedule change of authority %s: %w", p.Code, mapErr(err))
		}
		ch.Pending = &p
		out, err = recordVersionOnly(ctx, tx, cur, ch)
		return err
	})
	return out, err
}

// recordVersionOnly counts up the version of cur (a change of the schedule, not of its fields)
// and records ch with the entry before and after.
func recordVersionOnly(ctx context.Context, tx *sql.Tx, cur schemas.Authority, ch schemas.AuthorityChange) (schemas.AuthorityChange, error) {
	after, err := scanRegistryAuthority(tx.QueryRowContext(ctx, `
		UPDATE authorities SET version = version + 1, updated_at = $2 WHERE code = $1
		RETURNING `+registryColumns, cur.Code, ch.ChangedAt))
	if err != nil {
		return ch, fmt.Errorf("count version of authority %s: %w", cur.Code, mapErr(err))
	}
	ch.Before, ch.After = &cur, &after
	return recordHistory(ctx, tx, ch)
}

// CancelPendingAuthorityChange withdraws the scheduled change id of code and records it in the
// history (ActionCancel by m.By, with m.Reason; the entry's version counted up). A change that is
// not (or no longer) pending, having been applied or cancelled, is ErrNotFound; m.IfVersion, when
// positive, must be the entry's version (else ErrVersionConflict).
func (s *Store) CancelPendingAuthorityChange(ctx context.Context, code string, id int64, m schemas.AuthorityChangeMeta) (schemas.AuthorityChange, error) {
	var out schemas.AuthorityChange
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := scanPending(tx.QueryRowContext(ctx, `
			DELETE FROM authority_pending WHERE id = $1 AND code = $2 RETURNING `+pendingColumns, id, code))
		if err != nil {
			return fmt.Errorf("cancel scheduled change %d of authority %s: %w", id, code, mapErr(err))
		}
		cur, err := lockAuthority(ctx, tx, code)
		if err != nil {
			return err
		}
		if err := checkVersion(schemas.ActionCancel, cur, m.IfVersion); err != nil {
			return err
		}
		ch := schemas.AuthorityChange{Code: code, Action: schemas.ActionCancel, ChangedBy: m.By, Reason: m.Reason, Pending: &p}
		if err := fillChangedAt(ctx, tx, &ch); err != nil {
			return err
		}
		out, err = recordVersionOnly(ctx, tx, cur, ch)
		return err
	})
	return out, err
}

// RegistryBy is who the history names for a scheduled change the registry dropped.
const RegistryBy = "registry"

// ApplyDueAuthorityChanges applies, each in its own transaction and exactly once, up to limit
// scheduled changes whose effective time is at or before now, soonest first: resolve makes the new
// entry, which is written as a direct change would be (history under the scheduled action, by whom
// it was scheduled, effective at its time, changed at now), and the pending row is deleted. A
// change is claimed with FOR UPDATE SKIP LOCKED, so hub processes running this at once share the
// work, and only when no earlier change of the same authority is still pending, so one authority's
// changes apply in order.
//
// resolve returns the entry the due change p makes of cur (the entry as it stands, locked),
// validated. A non-empty refusal says why p cannot apply any more: p is then dropped and the
// history records it as cancelled by RegistryBy with that reason. An error leaves p due, to be
// tried again, and ends the call. It returns the history entries written (applied and dropped changes)
// and, when there were any, sends the registry's NOTIFY, as direct changes do.
func (s *Store) ApplyDueAuthorityChanges(ctx context.Context, now time.Time, limit int,
	resolve func(ctx context.Context, cur schemas.Authority, p schemas.PendingAuthorityChange) (after schemas.Authority, refusal string, err error),
) ([]schemas.AuthorityChange, error) {
	var out []schemas.AuthorityChange
	defer func() {
		if len(out) > 0 {
			s.registryChanged(ctx)
		}
	}()
	for len(out) < limit {
		var done bool
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			p, err := scanPending(tx.QueryRowContext(ctx, `
				SELECT `+pendingColumns+` FROM authority_pending p
				WHERE effective_at <= $1 AND NOT EXISTS (SELECT 1 FROM authority_pending e
				    WHERE e.code = p.code AND (e.effective_at, e.id) < (p.effective_at, p.id))
				ORDER BY effective_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, now))
			if errors.Is(err, sql.ErrNoRows) {
				done = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("claim a due scheduled change: %w", mapErr(err))
			}
			ch, err := applyPending(ctx, tx, now.UTC(), p, resolve)
			if err != nil {
				return err
			}
			out = append(out, ch)
			return nil
		})
		if err != nil {
			return out, err
		}
		if done {
			break
		}
	}
	return out, nil
}

// applyPending applies or drops the claimed change p and deletes it.
func applyPending(ctx context.Context, tx *sql.Tx, now time.Time, p schemas.PendingAuthorityChange,
	resolve func(context.Context, schemas.Authority, schemas.PendingAuthorityChange) (schemas.Authority, string, error),
) (schemas.AuthorityChange, error) {
	cur, err := lockAuthority(ctx, tx, p.Code)
	if err != nil {
		return schemas.AuthorityChange{}, err
	}
	after, refusal, err := resolve(ctx, cur, p)
	if err != nil {
		return schemas.AuthorityChange{}, fmt.Errorf("resolve scheduled change %d of authority %s: %w", p.ID, p.Code, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM authority_pending WHERE id = $1`, p.ID); err != nil {
		return schemas.AuthorityChange{}, fmt.Errorf("settle scheduled change %d: %w", p.ID, mapErr(err))
	}
	if refusal != "" {
		ch := schemas.AuthorityChange{Code: p.Code, Action: schemas.ActionCancel, ChangedAt: now, ChangedBy: RegistryBy,
			Reason: refusal, Pending: &p}
		if err := fillChangedAt(ctx, tx, &ch); err != nil {
			return ch, err
		}
		return recordVersionOnly(ctx, tx, cur, ch)
	}
	after.Code = p.Code
	return applyAuthorityChange(ctx, tx, schemas.AuthorityChange{Code: p.Code, Action: p.Action, ChangedAt: now,
		ChangedBy: p.CreatedBy, EffectiveAt: p.EffectiveAt, Reason: p.Reason, After: &after, Pending: &p})
}
