package store

import (
	"context"
	"fmt"
)

// CountForTest runs a count query (tests only).
func (s *Store) CountForTest(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count for test: %w", err)
	}
	return n, nil
}
