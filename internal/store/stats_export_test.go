package store

import (
	"context"
	"fmt"
)

// ScanForTest runs a query of one row and scans it into dest (tests only).
func (s *Store) ScanForTest(ctx context.Context, query string, args []any, dest ...any) error {
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(dest...); err != nil {
		return fmt.Errorf("scan for test: %w", err)
	}
	return nil
}
