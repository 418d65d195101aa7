package store

import (
	"context"
	"database/sql"
	"fmt"

	"appealhub/schemas"
)

// ClientByTokenHash returns the enabled client whose bearer token hashes to sum (SHA-256).
func (s *Store) ClientByTokenHash(ctx context.Context, sum []byte) (schemas.Client, error) {
	var c schemas.Client
	var authority sql.NullString
	err := s.db.QueryRowContext(ctx, `
		SELECT id, kind, authority_code FROM api_clients
		WHERE token_sha256 = $1 AND disabled_at IS NULL`, sum).Scan(&c.ID, &c.Kind, &authority)
	if err != nil {
		return c, fmt.Errorf("find client by token: %w", mapErr(err))
	}
	c.Authority = authority.String
	return c, nil
}

// UpsertClient creates or updates an API client with the SHA-256 of its token.
func (s *Store) UpsertClient(ctx context.Context, c schemas.Client, tokenSHA256 []byte) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO api_clients (id, kind, authority_code, token_sha256)
		VALUES ($1, $2, NULLIF($3, ''), $4)
		ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, authority_code = EXCLUDED.authority_code,
		    token_sha256 = EXCLUDED.token_sha256, disabled_at = NULL`,
		c.ID, c.Kind, c.Authority, tokenSHA256)
	if err != nil {
		return fmt.Errorf("upsert client %s: %w", c.ID, mapErr(err))
	}
	return nil
}
