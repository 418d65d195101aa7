package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// The authority registry: full entries, their history, listing and directory search. Validation is
// router/registry's; the store only keeps what it is given, each change with its history row in the
// same transaction.

// ErrVersionConflict: a change named a version of an authority registry entry that is not its
// current one (it wraps schemas.ErrVersionConflict).
var ErrVersionConflict = fmt.Errorf("store: %w", schemas.ErrVersionConflict)

const registryColumns = `code, subsystem, name, short_name, kind, coalesce(parent_code, ''), territory, topics, accepts,
	adapter, mode, endpoint, token, tls_client, max_message_bytes, coalesce(concurrency, 0), coalesce(request_timeout_ms, 0),
	calendar, it_contact, status, coalesce(successor_code, ''), effective_from, updated_at, version`

type rowScanner interface{ Scan(dest ...any) error }

func scanRegistryAuthority(sc rowScanner) (schemas.Authority, error) {
	var a schemas.Authority
	var topics, accepts pq.StringArray
	var timeoutMS int64
	err := sc.Scan(&a.Code, &a.Subsystem, &a.Name, &a.ShortName, &a.Kind, &a.Parent, &a.Territory, &topics, &accepts,
		&a.Adapter, &a.Mode, &a.Endpoint, &a.Token, &a.TLSClient, &a.MaxMessageBytes, &a.Concurrency, &timeoutMS,
		&a.Calendar, &a.ITContact, &a.Status, &a.Successor, &a.EffectiveFrom, &a.UpdatedAt, &a.Version)
	if err != nil {
		return a, err
	}
	a.Topics, a.Accepts = nonNil(topics), nonNil(accepts)
	a.RequestTimeout = schemas.Duration(time.Duration(timeoutMS) * time.Millisecond)
	a.EffectiveFrom, a.UpdatedAt = a.EffectiveFrom.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RegistryAuthority returns the registry entry of code, or ErrNotFound. Its Pending is not filled
// (see PendingAuthorityChanges).
func (s *Store) RegistryAuthority(ctx context.Context, code string) (schemas.Authority, error) {
	a, err := scanRegistryAuthority(s.db.QueryRowContext(ctx, `SELECT `+registryColumns+` FROM authorities WHERE code = $1`, code))
	if err != nil {
		return a, fmt.Errorf("read authority %s: %w", code, mapErr(err))
	}
	return a, nil
}

// lockAuthority reads the entry of code and locks its row until tx ends; ErrNotFound if missing.
func lockAuthority(ctx context.Context, tx *sql.Tx, code string) (schemas.Authority, error) {
	a, err := scanRegistryAuthority(tx.QueryRowContext(ctx, `SELECT `+registryColumns+` FROM authorities WHERE code = $1 FOR UPDATE`, code))
	if err != nil {
		return a, fmt.Errorf("read authority %s: %w", code, mapErr(err))
	}
	return a, nil
}

// checkVersion returns ErrVersionConflict when want is positive and cur is at another version.
func checkVersion(action string, cur schemas.Authority, want int64) error {
	if want > 0 && cur.Version != want {
		return fmt.Errorf("%s authority %s: %w: it is at version %d, the change was made against %d",
			action, cur.Code, ErrVersionConflict, cur.Version, want)
	}
	return nil
}

// fillChangedAt sets a zero ch.ChangedAt to the database's now, and a zero ch.EffectiveAt to
// ChangedAt; both in UTC.
func fillChangedAt(ctx context.Context, tx *sql.Tx, ch *schemas.AuthorityChange) error {
	if ch.ChangedAt.IsZero() {
		if err := tx.QueryRowContext(ctx, `SELECT now()`).Scan(&ch.ChangedAt); err != nil {
			return fmt.Errorf("read clock: %w", mapErr(err))
		}
	}
	ch.ChangedAt = ch.ChangedAt.UTC()
	if ch.EffectiveAt.IsZero() {
		ch.EffectiveAt = ch.ChangedAt
	}
	ch.EffectiveAt = ch.EffectiveAt.UTC()
	return nil
}

// ApplyAuthorityChanges writes every change's After entry and its history row, all in one
// transaction: all are applied or none. An ActionAdd of an existing code fails with ErrDuplicate;
// update, suspend, resume and close of a missing code fail with ErrNotFound; ActionImport (and any
// other action) creates or replaces. A change with a positive IfVersion fails with
// ErrVersionConflict unless the entry is at that version, checked under the entry's row lock: of
// two changes made against the same version, exactly one is applied. It returns the changes as
// recorded (ids, Before, After with its new Version, and times filled in). A zero ChangedAt is the
// database's now; a zero EffectiveAt is ChangedAt. The registry's NOTIFY follows the commit.
func (s *Store) ApplyAuthorityChanges(ctx context.Context, changes []schemas.AuthorityChange) ([]schemas.AuthorityChange, error) {
	out := make([]schemas.AuthorityChange, 0, len(changes))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, ch := range changes {
			recorded, err := applyAuthorityChange(ctx, tx, ch)
			if err != nil {
				return err
			}
			out = append(out, recorded)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.registryChanged(ctx)
	return out, nil
}

// ChangeAuthority changes the existing entry ch.Code under its row lock: resolve makes the new
// entry from the entry as it stands, and it is written with its history row as ApplyAuthorityChanges
// writes (ch gives the action, who, when and why). Concurrent changes of one entry are thus made
// one after the other, each on what the previous left. An error of resolve (a refusal) rolls back
// and is returned as it is. ch.IfVersion, when positive, must be the entry's version (else
// ErrVersionConflict); a missing entry is ErrNotFound.
func (s *Store) ChangeAuthority(ctx context.Context, ch schemas.AuthorityChange,
	resolve func(ctx context.Context, cur schemas.Authority) (schemas.Authority, error),
) (schemas.AuthorityChange, error) {
	var out schemas.AuthorityChange
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := lockAuthority(ctx, tx, ch.Code)
		if err != nil {
			return err
		}
		if err := checkVersion(ch.Action, cur, ch.IfVersion); err != nil {
			return err
		}
		after, err := resolve(ctx, cur)
		if err != nil {
			return err
		}
		after.Code = cur.Code
		ch.After = &after
		out, err = applyAuthorityChange(ctx, tx, ch)
		return err
	})
	if err != nil {
		return out, err
	}
	s.registryChanged(ctx)
	return out, nil
}

// registryChanged forgets this process's cached routing entries (RoutingCacheTTL) and tells every
// hub process to re-read the registry at once (subscriptions, topology). If the notice is lost,
// their periodic sync catches up: the change itself is committed.
func (s *Store) registryChanged(ctx context.Context) {
	s.forgetRoutes()
	_ = s.notify(ctx, s.RegistryChannel())
}

func applyAuthorityChange(ctx context.Context, tx *sql.Tx, ch schemas.AuthorityChange) (schemas.AuthorityChange, error) {
	if ch.After == nil {
		return ch, fmt.Errorf("change authority %s: no entry to write", ch.Code)
	}
	a := *ch.After
	ch.Code = a.Code
	var before *schemas.Authority
	cur, err := lockAuthority(ctx, tx, a.Code)
	switch {
	case err == nil:
		before = &cur
	case errors.Is(err, ErrNotFound):
	default:
		return ch, err
	}
	switch {
	case ch.Action == schemas.ActionAdd && before != nil:
		return ch, fmt.Errorf("add authority %s: %w: already registered", a.Code, ErrDuplicate)
	case before == nil && (ch.Action == schemas.ActionUpdate || ch.Action == schemas.ActionSuspend ||
		ch.Action == schemas.ActionResume || ch.Action == schemas.ActionClose):
		return ch, fmt.Errorf("%s authority %s: %w", ch.Action, a.Code, ErrNotFound)
	case before != nil:
		if err := checkVersion(ch.Action, *before, ch.IfVersion); err != nil {
			return ch, err
		}
	}
	if err := fillChangedAt(ctx, tx, &ch); err != nil {
		return ch, err
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO authorities (code, subsystem, name, short_name, kind, parent_code, territory, topics, accepts, adapter,
		    mode, endpoint, token, tls_client, max_message_bytes, concurrency, request_timeout_ms, calendar, it_contact,
		    status, successor_code, effective_from, updated_at)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11, $12, $13, $14, $15, NULLIF($16, 0), NULLIF($17, 0),
		    $18, $19, $20, NULLIF($21, ''), $22, $23)
		ON CONFLICT (code) DO UPDATE SET subsystem = EXCLUDED.subsystem, name = EXCLUDED.name,
		    short_name = EXCLUDED.short_name, kind = EXCLUDED.kind, parent_code = EXCLUDED.parent_code,
		    territory = EXCLUDED.territory, topics = EXCLUDED.topics, accepts = EXCLUDED.accepts,
		    adapter = EXCLUDED.adapter, mode = EXCLUDED.mode, endpoint = EXCLUDED.endpoint, token = EXCLUDED.token,
		    tls_client = EXCLUDED.tls_client, max_message_bytes = EXCLUDED.max_message_bytes,
		    concurrency = EXCLUDED.concurrency, request_timeout_ms = EXCLUDED.request_timeout_ms,
		    calendar = EXCLUDED.calendar, it_contact = EXCLUDED.it_contact, status = EXCLUDED.status,
		    successor_code = EXCLUDED.successor_code, effective_from = EXCLUDED.effective_from,
		    updated_at = EXCLUDED.updated_at`,
		a.Code, a.Subsystem, a.Name, a.ShortName, a.Kind, a.Parent, a.Territory, pq.Array(nonNil(a.Topics)),
		pq.Array(nonNil(a.Accepts)), a.Adapter, cmpStr(a.Mode, schemas.AuthorityModePush), a.Endpoint, a.Token,
		a.TLSClient, a.MaxMessageBytes, a.Concurrency, time.Duration(a.RequestTimeout).Milliseconds(),
		cmpStr(a.Calendar, schemas.DefaultCalendar), a.ITContact, cmpStr(a.Status, schemas.AuthorityActive),
		a.Successor, ch.EffectiveAt, ch.ChangedAt)
	if err != nil {
		return ch, fmt.Errorf("write authority %s: %w", a.Code, mapErr(err))
	}
	after, err := scanRegistryAuthority(tx.QueryRowContext(ctx, `SELECT `+registryColumns+` FROM authorities WHERE code = $1`, a.Code))
	if err != nil {
		return ch, fmt.Errorf("read authority %s: %w", a.Code, mapErr(err))
	}
	ch.Before, ch.After = before, &after
	if ch, err = recordHistory(ctx, tx, ch); err != nil {
		return ch, err
	}
	if after.Status == schemas.AuthorityClosed && after.Successor != "" {
		if err := retarget(ctx, tx, after.Code, after.Successor, ch.ChangedAt); err != nil {
			return ch, err
		}
	}
	return ch, nil
}

// recordHistory inserts ch (Before, After and Pending as JSON, without credentials) and returns it
// with its id, as it was recorded.
func recordHistory(ctx context.Context, tx *sql.Tx, ch schemas.AuthorityChange) (schemas.AuthorityChange, error) {
	var raw [3]any
	for i, v := range []any{ch.Before, ch.After, ch.Pending} {
		var err error
		if raw[i], err = jsonOrNil(ch.Code, v); err != nil {
			return ch, err
		}
	}
	err := tx.QueryRowContext(ctx, `
		INSERT INTO authority_history (code, changed_at, changed_by, effective_at, reason, action, before, after, pending)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		ch.Code, ch.ChangedAt, ch.ChangedBy, ch.EffectiveAt, ch.Reason, ch.Action, raw[0], raw[1], raw[2]).Scan(&ch.ID)
	if err != nil {
		return ch, fmt.Errorf("record history of authority %s: %w", ch.Code, mapErr(err))
	}
	if ch.Pending != nil {
		shown := ch.Pending.Shown()
		ch.Pending = &shown
	}
	if actor, ok := ctx.Value(operatorKey{}).(string); ok {
		if err := insertOperatorEvent(ctx, tx, EventOperatorAction, registryAction(actor, ch), ch.ChangedAt); err != nil {
			return ch, fmt.Errorf("record change of authority %s in the audit chain: %w", ch.Code, err)
		}
	}
	return ch, nil
}

type operatorKey struct{}

// AsOperator returns ctx marked as an operator's (actor: their login): every registry change
// made with it is recorded, in its own transaction, as an operator_action event in the audit
// chain as well as in the registry's history — both or neither.
func AsOperator(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, operatorKey{}, actor)
}

// registryAction is the audit event's detail of ch made by actor: registry_update,
// registry_schedule or registry_cancel, of "<code> v<version>", with the reason.
func registryAction(actor string, ch schemas.AuthorityChange) OperatorDetail {
	action := "registry_update"
	switch ch.Action {
	case schemas.ActionSchedule:
		action = "registry_schedule"
	case schemas.ActionCancel:
		action = "registry_cancel"
	}
	object := ch.Code
	if ch.After != nil {
		object = fmt.Sprintf("%s v%d", ch.Code, ch.After.Version)
	}
	return OperatorDetail{Actor: actor, Action: action, Object: object, Reason: ch.Reason}
}

// retarget moves the deliveries still waiting for a closed authority to its successor, with an
// event each, and makes sure each has an outbox row routed to the successor, due at once (a wait
// for the closed authority's system, its backoff or its open breaker, says nothing of the
// successor's). A delivery whose
// appeal already goes to the successor is not needed any more: it is marked forwarded. Deliveries
// the closed authority's system already has (sent, fetched from the inbox, or further) stay.
func retarget(ctx context.Context, tx *sql.Tx, from, to string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `
		WITH dup AS (
			UPDATE deliveries d SET status = 'forwarded', updated_at = $3
			WHERE d.authority_code = $1 AND d.status IN ('accepted', 'queued')
			  AND EXISTS (SELECT 1 FROM deliveries x WHERE x.appeal_id = d.appeal_id AND x.authority_code = $2)
			RETURNING d.id, d.appeal_id)
		INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
		SELECT appeal_id, id, $4, 'forwarded', 'authority ' || $1 || ' closed; its successor ' || $2 || ' already has this appeal', $3
		FROM dup`, from, to, at, string(schemas.EventDeliveryRetargeted)); err != nil {
		return fmt.Errorf("close %s: settle deliveries its successor already has: %w", from, err)
	}
	rows, err := tx.QueryContext(ctx, `
		WITH moved AS (
			UPDATE deliveries d SET authority_code = $2, updated_at = $3
			WHERE d.authority_code = $1 AND d.status IN ('accepted', 'queued')
			  AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.delivery_id = d.id AND i.fetch_count > 0)
			RETURNING d.id, d.appeal_id, d.attempts),
		ev AS (
			INSERT INTO events (appeal_id, delivery_id, type, status, detail, created_at)
			SELECT appeal_id, id, $4, 'queued', 'authority ' || $1 || ' closed; moved to its successor ' || $2, $3 FROM moved),
		unpull AS (DELETE FROM inbox WHERE delivery_id IN (SELECT id FROM moved))
		SELECT id, attempts FROM moved`, from, to, at, string(schemas.EventDeliveryRetargeted))
	if err != nil {
		return fmt.Errorf("close %s: move waiting deliveries to %s: %w", from, to, err)
	}
	type moved struct {
		id       string
		attempts int
	}
	var all []moved
	for rows.Next() {
		var m moved
		if err := rows.Scan(&m.id, &m.attempts); err != nil {
			rows.Close()
			return fmt.Errorf("scan moved delivery: %w", err)
		}
		all = append(all, m)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read moved deliveries: %w", err)
	}
	for _, m := range all {
		res, err := tx.ExecContext(ctx, `
			UPDATE outbox SET routing_key = $2, available_at = LEAST(available_at, $3)
			WHERE delivery_id = $1 AND status = 'pending'`, m.id, to, at)
		if err != nil {
			return fmt.Errorf("re-route outbox rows: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO outbox (delivery_id, routing_key, attempt, available_at, created_at) VALUES ($1, $2, $3, $4, $4)`,
			m.id, to, m.attempts, at); err != nil {
			return fmt.Errorf("queue moved delivery: %w", err)
		}
	}
	return nil
}

func cmpStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// jsonOrNil encodes v, a *schemas.Authority or *schemas.PendingAuthorityChange (neither encodes
// a token), or returns nil for SQL NULL when v is a nil pointer.
func jsonOrNil(code string, v any) (any, error) {
	switch p := v.(type) {
	case *schemas.Authority:
		if p == nil {
			return nil, nil
		}
	case *schemas.PendingAuthorityChange:
		if p == nil {
			return nil, nil
		}
		shown := p.Shown()
		v = &shown
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode history of authority %s: %w", code, err)
	}
	return string(b), nil
}

// AuthorityHistory returns the changes of code, oldest first (empty when there are none).
func (s *Store) AuthorityHistory(ctx context.Context, code string) ([]schemas.AuthorityChange, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, code, changed_at, changed_by, effective_at, reason, action, before, after, pending
		FROM authority_history WHERE code = $1 ORDER BY id`, code)
	if err != nil {
		return nil, fmt.Errorf("read history of authority %s: %w", code, mapErr(err))
	}
	defer rows.Close()
	out := []schemas.AuthorityChange{}
	for rows.Next() {
		var ch schemas.AuthorityChange
		var before, after, pending []byte
		if err := rows.Scan(&ch.ID, &ch.Code, &ch.ChangedAt, &ch.ChangedBy, &ch.EffectiveAt, &ch.Reason, &ch.Action,
			&before, &after, &pending); err != nil {
			return nil, fmt.Errorf("scan authority history: %w", err)
		}
		ch.ChangedAt, ch.EffectiveAt = ch.ChangedAt.UTC(), ch.EffectiveAt.UTC()
		for _, p := range []struct {
			raw []byte
			dst **schemas.Authority
		}{{before, &ch.Before}, {after, &ch.After}} {
			if p.raw == nil {
				continue
			}
			var a schemas.Authority
			if err := json.Unmarshal(p.raw, &a); err != nil {
				return nil, fmt.Errorf("decode authority history %d: %w", ch.ID, err)
			}
			*p.dst = &a
		}
		if pending != nil {
			ch.Pending = &schemas.PendingAuthorityChange{}
			if err := json.Unmarshal(pending, ch.Pending); err != nil {
				return nil, fmt.Errorf("decode authority history %d: %w", ch.ID, err)
			}
		}
		out = append(out, ch)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history of authority %s: %w", code, err)
	}
	return out, nil
}

// ListRegistryAuthorities returns one page of the entries f selects, ordered by name then code, and
// how many it selects in all. f.Query is split into words; each word must occur, lower-cased, in the
// name or the short name. f.TerritoryPrefix (not f.Territory) filters by territory.
func (s *Store) ListRegistryAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, w := range strings.Fields(strings.ToLower(f.Query)) {
		p := arg("%" + likeEscape(w) + "%")
		where = append(where, "(lower(name) LIKE "+p+" OR lower(short_name) LIKE "+p+")")
	}
	if f.TerritoryPrefix != "" {
		where = append(where, "territory LIKE "+arg(likeEscape(f.TerritoryPrefix)+"%"))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(f.Kind))
	}
	if f.Topic != "" {
		where = append(where, "(topics @> ARRAY["+arg(f.Topic)+"]::text[] OR topics @> '{*}'::text[])")
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Parent != "" {
		where = append(where, "parent_code = "+arg(f.Parent))
	}
	if f.Directory {
		where = append(where, "status = 'active' AND cardinality(accepts) > 0 AND kind <> ''")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	page := schemas.AuthorityPage{Items: []schemas.Authority{}}
	countQ := `SELECT count(*) FROM authorities` + cond
	if f.CountLimit > 0 {
		countQ = `SELECT count(*) FROM (SELECT 1 FROM authorities` + cond + ` LIMIT ` + strconv.Itoa(f.CountLimit+1) + `) c`
	}
	if err := s.db.QueryRowContext(ctx, countQ, args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count authorities: %w", mapErr(err))
	}
	if f.CountLimit > 0 && page.Total > f.CountLimit {
		page.Total, page.TotalIsLowerBound = f.CountLimit, true
	}
	q := `SELECT ` + registryColumns + ` FROM authorities` + cond + ` ORDER BY name, code`
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	if f.Offset > 0 {
		q += " OFFSET " + arg(f.Offset)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return page, fmt.Errorf("list authorities: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanRegistryAuthority(rows)
		if err != nil {
			return page, fmt.Errorf("scan authority: %w", err)
		}
		page.Items = append(page.Items, a)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("list authorities: %w", err)
	}
	return page, nil
}

// likeEscape escapes the LIKE wildcards of s (the default escape character is the backslash).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
