package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"appealhub/schemas"
)

// ClientCacheTTL is how long a token that authenticated is answered from memory without reading
// api_clients again: a client disabled (or whose token was replaced) directly in the database is
// refused by this process at most this long after. UpsertClient, which the configuration's seed
// uses, forgets the cached tokens of the process that calls it at once. Unknown tokens are never
// cached: every one is looked up.
const ClientCacheTTL = 5 * time.Second

// clientCacheMax bounds the tokens kept; past it the cache starts over.
const clientCacheMax = 4096

// clientCache keeps the clients of recently authenticated tokens, by token hash.
type clientCache struct {
	mu      sync.Mutex
	entries map[string]cachedClient
	// gen counts clears: a lookup that began before one does not store what it read.
	gen uint64
}

type cachedClient struct {
	client  schemas.Client
	expires time.Time
}

// get returns the cached client of sum, or the generation to pass to put after reading it.
func (c *clientCache) get(sum []byte, now time.Time) (schemas.Client, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(sum)]
	if !ok || !now.Before(e.expires) {
		return schemas.Client{}, c.gen, false
	}
	return e.client, c.gen, true
}

func (c *clientCache) put(sum []byte, client schemas.Client, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= clientCacheMax {
		c.entries = make(map[string]cachedClient)
	}
	c.entries[string(sum)] = cachedClient{client: client, expires: now.Add(ClientCacheTTL)}
}

func (c *clientCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.gen++
}

// ClientByTokenHash returns the enabled client whose bearer token hashes to sum (SHA-256). A token
// found within the last ClientCacheTTL is answered from memory; a request whose ctx is already done
// gets its error, cached or not.
func (s *Store) ClientByTokenHash(ctx context.Context, sum []byte) (schemas.Client, error) {
	if err := ctx.Err(); err != nil {
		return schemas.Client{}, fmt.Errorf("find client by token: %w", err)
	}
	now := time.Now()
	c, gen, ok := s.clients.get(sum, now)
	if ok {
		return c, nil
	}
	var authority sql.NullString
	err := s.db.QueryRowContext(ctx, `
		SELECT id, kind, authority_code FROM api_clients
		WHERE token_sha256 = $1 AND disabled_at IS NULL`, sum).Scan(&c.ID, &c.Kind, &authority)
	if err != nil {
		return c, fmt.Errorf("find client by token: %w", mapErr(err))
	}
	c.Authority = authority.String
	s.clients.put(sum, c, now, gen)
	return c, nil
}

// UpsertClient creates or updates an API client with the SHA-256 of its token.
func (s *Store) UpsertClient(ctx context.Context, c schemas.Client, tokenSHA256 []byte) error {
	s.clients.clear()
	defer s.clients.clear() // again after the write: a lookup that read before it commits is not kept
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
