package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// UpsertAuthority creates or updates an authority's routing entry.
func (s *Store) UpsertAuthority(ctx context.Context, a schemas.AuthorityRoute) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO authorities (code, name, adapter, endpoint, token, status, mode, tls_client, max_message_bytes)
		VALUES ($1, $2, $3, $4, $5, coalesce(NULLIF($6, ''), 'active'), coalesce(NULLIF($7, ''), 'push'), $8, $9)
		ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, adapter = EXCLUDED.adapter,
		    endpoint = EXCLUDED.endpoint, token = EXCLUDED.token, status = EXCLUDED.status,
		    mode = EXCLUDED.mode, tls_client = EXCLUDED.tls_client, max_message_bytes = EXCLUDED.max_message_bytes,
		    updated_at = now()`,
		a.Code, a.Name, a.Adapter, a.Endpoint, a.Token, a.Status, a.Mode, a.TLSClient, a.MaxMessageBytes)
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

// ActiveAuthorities returns the codes of every active authority, sorted.
func (s *Store) ActiveAuthorities(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT code FROM authorities WHERE status = 'active' ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("read active authorities: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, fmt.Errorf("scan authority code: %w", err)
		}
		out = append(out, code)
	}
	return out, rows.Err()
}
