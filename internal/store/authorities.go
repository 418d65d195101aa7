package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// UpsertAuthority creates or updates an authority's routing entry (the configuration's seed).
// Zero Concurrency and RequestTimeout store NULL: the hub's defaults. The status is written only
// when the entry is created: afterwards the registry decides it, so a restart never resumes an
// authority an operator suspended or closed.
func (s *Store) UpsertAuthority(ctx context.Context, a schemas.AuthorityRoute) error {
	// After the write, the routing cache (RoutingCacheTTL) forgets what was read before it; a
	// lookup that began before the write does not store what it read.
	defer s.forgetRoutes()
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO authorities (code, name, adapter, endpoint, token, status, mode, tls_client, max_message_bytes,
		    concurrency, request_timeout_ms)
		VALUES ($1, $2, $3, $4, $5, coalesce(NULLIF($6, ''), 'active'), coalesce(NULLIF($7, ''), 'push'), $8, $9,
		    NULLIF($10, 0), NULLIF($11, 0))
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, adapter = EXCLUDED.adapter,
		    endpoint = EXCLUDED.endpoint, token = EXCLUDED.token,
		    mode = EXCLUDED.mode, tls_client = EXCLUDED.tls_client, max_message_bytes = EXCLUDED.max_message_bytes,
		    concurrency = EXCLUDED.concurrency, request_timeout_ms = EXCLUDED.request_timeout_ms,
		    updated_at = now()`,
		a.Code, a.Name, a.Adapter, a.Endpoint, a.Token, a.Status, a.Mode, a.TLSClient, a.MaxMessageBytes,
		a.Concurrency, a.RequestTimeout.Milliseconds())
	if err != nil {
		return fmt.Errorf("upsert authority %s: %w", a.Code, mapErr(err))
	}
	return nil
}

// Authorities returns the registry entries of the given codes (missing codes are absent from the map).
func (s *Store) Authorities(ctx context.Context, codes []string) (map[string]schemas.AuthorityRoute, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT code, name, status, mode, adapter, endpoint, token, tls_client, max_message_bytes
		FROM authorities WHERE code = ANY($1)`, pq.Array(codes))
	if err != nil {
		return nil, fmt.Errorf("read authorities: %w", err)
	}
	defer rows.Close()
	out := make(map[string]schemas.AuthorityRoute, len(codes))
	for rows.Next() {
		var a schemas.AuthorityRoute
		if err := rows.Scan(&a.Code, &a.Name, &a.Status, &a.Mode, &a.Adapter, &a.Endpoint, &a.Token, &a.TLSClient, &a.MaxMessageBytes); err != nil {
			return nil, fmt.Errorf("scan authority: %w", err)
		}
		out[a.Code] = a
	}
	return out, rows.Err()
}

// ActiveAuthorities returns the delivery limits of every active authority, sorted by code.
func (s *Store) ActiveAuthorities(ctx context.Context) ([]schemas.AuthorityLimits, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+limitsColumns+` FROM authorities WHERE status = 'active' ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("read active authorities: %w", err)
	}
	defer rows.Close()
	var out []schemas.AuthorityLimits
	for rows.Next() {
		l, err := scanLimits(rows)
		if err != nil {
			return nil, fmt.Errorf("scan authority limits: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AuthorityLimits returns the delivery limits of one authority, whatever its status, or ErrNotFound.
func (s *Store) AuthorityLimits(ctx context.Context, code string) (schemas.AuthorityLimits, error) {
	l, err := scanLimits(s.db.QueryRowContext(ctx, `SELECT `+limitsColumns+` FROM authorities WHERE code = $1`, code))
	if err != nil {
		return l, fmt.Errorf("read authority limits %s: %w", code, mapErr(err))
	}
	return l, nil
}

const limitsColumns = `code, coalesce(concurrency, 0), coalesce(request_timeout_ms, 0)`

func scanLimits(sc rowScanner) (schemas.AuthorityLimits, error) {
	var l schemas.AuthorityLimits
	var timeoutMS int64
	err := sc.Scan(&l.Code, &l.Concurrency, &timeoutMS)
	l.RequestTimeout = time.Duration(timeoutMS) * time.Millisecond
	return l, err
}
