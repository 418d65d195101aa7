package store

import (
	"context"
	"fmt"

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
func (s *Store) RoutingEntries(ctx context.Context, codes []string) (map[string]schemas.Authority, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+routingColumns+` FROM authorities WHERE code = ANY($1)`, pq.Array(codes))
	if err != nil {
		return nil, fmt.Errorf("read routing entries: %w", mapErr(err))
	}
	defer rows.Close()
	out := make(map[string]schemas.Authority, len(codes))
	for rows.Next() {
		a, err := scanRoutingAuthority(rows)
		if err != nil {
			return nil, fmt.Errorf("scan routing entry: %w", err)
		}
		out[a.Code] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read routing entries: %w", mapErr(err))
	}
	return out, nil
}
