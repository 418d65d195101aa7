package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// The registry as router/recipient reads it to choose the authorities of a submission. Only the
// fields routing needs are read (never the credentials); status is returned, not filtered, so that
// the resolver can say why a competent body was passed over.

const routingColumns = `code, name, short_name, kind, coalesce(parent_code, ''), territory, topics, accepts, status`

func scanRoutingAuthority(sc rowScanner) (schemas.Authority, error) {
	var a schemas.Authority
	var topics, accepts pq.StringArray
	if err := sc.Scan(&a.Code, &a.Name, &a.ShortName, &a.Kind, &a.Parent, &a.Territory, &topics, &accepts, &a.Status); err != nil {
		return a, err
	}
	a.Topics, a.Accepts = nonNil(topics), nonNil(accepts)
	return a, nil
}

// RoutingCandidates returns the authorities, whatever their status, competent for topic (listing it
// or schemas.AnyTopic) whose territory is exactly one of territories or whose kind is central,
// ordered by code.
func (s *Store) RoutingCandidates(ctx context.Context, topic string, territories []string) ([]schemas.Authority, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT `+routingColumns+` FROM authorities WHERE territory = ANY($1) AND topics && ARRAY[$2, $3]::text[]
		UNION
		SELECT `+routingColumns+` FROM authorities WHERE kind = $4 AND topics && ARRAY[$2, $3]::text[]
		ORDER BY 1`,
		pq.Array(territories), topic, schemas.AnyTopic, schemas.AuthorityKindCentral)
	if err != nil {
		return nil, fmt.Errorf("read routing candidates: %w", mapErr(err))
	}
	defer rows.Close()
	var out []schemas.Authority
	for rows.Next() {
		a, err := scanRoutingAuthority(rows)
		if err != nil {
			return nil, fmt.Errorf("scan routing candidate: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read routing candidates: %w", mapErr(err))
	}
	return out, nil
}

// RoutingEntries returns the registry entries of codes, whatever their status, by code; a code not
// in the registry is absent from the map.
//
// An entry read within the last RoutingCacheTTL is answered from memory (see RoutingCacheTTL);
// only the codes not cached are read. A request whose ctx is already done gets its error, cached or
// not.
func (s *Store) RoutingEntries(ctx context.Context, codes []string) (map[string]schemas.Authority, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read routing entries: %w", err)
	}
	now := time.Now()
	cache := s.routes()
	out, missing, gen := cache.get(codes, now)
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+routingColumns+` FROM authorities WHERE code = ANY($1)`, pq.Array(missing))
	if err != nil {
		return nil, fmt.Errorf("read routing entries: %w", mapErr(err))
	}
	defer rows.Close()
	read := make([]schemas.Authority, 0, len(missing))
	for rows.Next() {
		a, err := scanRoutingAuthority(rows)
		if err != nil {
			return nil, fmt.Errorf("scan routing entry: %w", err)
		}
		read = append(read, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read routing entries: %w", mapErr(err))
	}
	cache.put(read, now, gen)
	for _, a := range read {
		out[a.Code] = a
	}
	return out, nil
}

// RoutingCacheTTL is how long RoutingEntries answers an entry it read from memory. Every registry
// write a Store of this process makes on the same database and schema (UpsertAuthority,
// ApplyAuthorityChanges, ChangeAuthority, ApplyDueAuthorityChanges: imports, updates, suspensions,
// resumptions, closures, scheduled changes applied) forgets the cached entries at once, so this
// process routes by a change as soon as it is made. A change made by another hub process (or the
// CLI, or directly in the database) is seen by this one at most this long after: until then a
// submission may still be accepted for an authority suspended or closed there (its delivery then
// waits, as any delivery to a suspended authority does, or is reported by reconciliation as
// in transit to a closed authority). Codes not in the registry are never cached: every one is read.
const RoutingCacheTTL = 2 * time.Second

// routeCacheMax bounds the entries kept per database and schema; past it the cache starts over.
const routeCacheMax = 4096

// routeCaches holds the routing cache of each database and schema (by DSN, which names both), so
// that every Store of the process on the same schema shares it, and a write through any of them
// forgets what all of them cached.
var routeCaches sync.Map // string → *routeCache

// routes returns the routing cache of s's database and schema.
func (s *Store) routes() *routeCache {
	if c, ok := routeCaches.Load(s.dsn); ok {
		return c.(*routeCache)
	}
	c, _ := routeCaches.LoadOrStore(s.dsn, &routeCache{})
	return c.(*routeCache)
}

// forgetRoutes forgets the cached routing entries of s's database and schema (after a registry
// write).
func (s *Store) forgetRoutes() { s.routes().clear() }

// routeCache keeps recently read routing entries by code.
type routeCache struct {
	mu      sync.Mutex
	entries map[string]cachedRoute
	// gen counts clears: a read that began before one does not store what it read.
	gen uint64
}

type cachedRoute struct {
	a       schemas.Authority
	expires time.Time
}

// get returns the fresh cached entries of codes (copies: callers may change them), the codes to
// read, and the generation to pass to put with what was read.
func (c *routeCache) get(codes []string, now time.Time) (map[string]schemas.Authority, []string, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]schemas.Authority, len(codes))
	var missing []string
	for _, code := range codes {
		e, ok := c.entries[code]
		if !ok || !now.Before(e.expires) {
			missing = append(missing, code)
			continue
		}
		a := e.a
		a.Topics, a.Accepts = slices.Clone(a.Topics), slices.Clone(a.Accepts)
		out[code] = a
	}
	return out, missing, c.gen
}

// put caches entries read at now, unless the cache was cleared since get returned gen. The entries
// are copied: the caller keeps its own.
func (c *routeCache) put(entries []schemas.Authority, now time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || len(entries) == 0 {
		return
	}
	if c.entries == nil || len(c.entries)+len(entries) > routeCacheMax {
		c.entries = make(map[string]cachedRoute)
	}
	for _, a := range entries {
		a.Topics, a.Accepts = slices.Clone(a.Topics), slices.Clone(a.Accepts)
		c.entries[a.Code] = cachedRoute{a: a, expires: now.Add(RoutingCacheTTL)}
	}
}

func (c *routeCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
	c.gen++
}
