// Package storetest gives each test its own migrated PostgreSQL schema, dropped when the test ends,
// so tests run in parallel without seeing each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"appealhub/internal/store"
)

// DefaultURL is the test database when TEST_DATABASE_URL is unset (created by scripts/services.sh).
const DefaultURL = "postgres://appealhub:appealhub@127.0.0.1:5432/appealhub_test?sslmode=disable&connect_timeout=5"

// URL returns the test database URL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Config returns a store configuration with a fresh random schema name (not yet created).
func Config() store.Config {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return store.Config{URL: URL(), Schema: "t_" + hex.EncodeToString(b), MaxOpenConns: 20}
}

// New opens a store on a new schema, migrates it, and drops it when the test ends. Without a
// database it fails the test under CI=true and skips it otherwise.
func New(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, Config())
}

// Open is New with a given configuration (for tests that open the same schema twice).
func Open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := store.Open(ctx, cfg)
	if err != nil {
		Unavailable(t, "PostgreSQL", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		t.Fatalf("migrate test schema %s: %v", cfg.Schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if os.Getenv("KEEP_TEST_SCHEMA") == "" {
			if err := s.DropSchema(ctx); err != nil {
				t.Errorf("drop test schema: %v", err)
			}
		}
		_ = s.Close()
	})
	return s
}

// Unavailable reports a missing service: a failure under CI=true, a skip with the reason otherwise.
func Unavailable(t testing.TB, service string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable (CI=true, so this fails): %v", service, err)
	}
	t.Skipf("%s is not reachable; run `make services` (with CI=true this fails): %v", service, err)
}
