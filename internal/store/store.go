// Package store is the hub's PostgreSQL layer and the only package that imports lib/pq: embedded
// migrations, the queries of every stage, transactions, and the mapping of PostgreSQL errors to the
// sentinels callers branch on.
//
// Every stage changes state in one transaction, and writes outbox rows in the same transaction, so
// that what is committed is what will be sent. A Store is safe for concurrent use.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"regexp"
	"time"

	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"appealhub/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Sentinels for conditions callers branch on.
var (
	// ErrNotFound: no such row, or not visible to the caller.
	ErrNotFound = fmt.Errorf("store: %w", schemas.ErrNotFound)
	// ErrDuplicate: a unique constraint refused the write.
	ErrDuplicate = errors.New("store: duplicate")
	// ErrConflict: an id was used before for something else (an authority message id reused with
	// another content).
	ErrConflict = fmt.Errorf("store: %w", schemas.ErrConflict)
	// ErrSchemaOutdated: the database schema is older than this binary expects; run `appealhub migrate`.
	ErrSchemaOutdated = errors.New("store: database schema is older than this binary expects")
)

// Config says how to reach the database.
type Config struct {
	URL             string
	Schema          string // empty: the server's default search_path
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// Store is the hub's database.
type Store struct {
	db      *sql.DB
	dsn     string
	schema  string
	clients clientCache // authenticated tokens (clients.go)
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// Open connects to the database (without migrating) and checks that it answers.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	dsn, err := withSearchPath(cfg.URL, cfg.Schema)
	if err != nil {
		return nil, err
	}
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	db := sql.OpenDB(cachingConnector{connector})
	db.SetMaxOpenConns(cmpOr(cfg.MaxOpenConns, 20))
	db.SetMaxIdleConns(cmpOr(cfg.MaxIdleConns, cmpOr(cfg.MaxOpenConns, 20)))
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &Store{db: db, dsn: dsn, schema: cfg.Schema}, nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// withSearchPath adds the schema to the connection URL so that every pooled connection uses it.
func withSearchPath(rawURL, schema string) (string, error) {
	if schema == "" {
		return rawURL, nil
	}
	if !schemaName.MatchString(schema) {
		return "", fmt.Errorf("database schema %q: must match %s", schema, schemaName)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("database url: must be a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// CreateSchema creates the store's schema if it is missing (tests and demos use their own schema).
func (s *Store) CreateSchema(ctx context.Context) error {
	if s.schema == "" {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pq.QuoteIdentifier(s.schema)); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	return nil
}

// DropSchema drops the store's own schema and everything in it. It refuses the default schema.
func (s *Store) DropSchema(ctx context.Context) error {
	if s.schema == "" || s.schema == "public" {
		return errors.New("drop schema: refusing to drop the default schema")
	}
	if _, err := s.db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+pq.QuoteIdentifier(s.schema)+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema: %w", err)
	}
	return nil
}

func (s *Store) migrator() (*goose.Provider, error) {
	// One advisory lock per schema: hub processes migrating the same schema take turns, and
	// different schemas (tests, demos) never wait for each other.
	h := fnv.New64a()
	_, _ = h.Write([]byte("appealhub:" + s.schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration and returns the versions applied.
func (s *Store) Migrate(ctx context.Context) ([]int64, error) {
	if err := s.CreateSchema(ctx); err != nil {
		return nil, err
	}
	p, err := s.migrator()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]int64, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Version)
	}
	return applied, nil
}

// SchemaVersion returns the version the database is at and the version this binary expects.
func (s *Store) SchemaVersion(ctx context.Context) (current, want int64, err error) {
	p, err := s.migrator()
	if err != nil {
		return 0, 0, err
	}
	current, want, err = p.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return current, want, nil
}

// CheckSchema returns ErrSchemaOutdated (wrapped with both versions) unless the database is at the
// version this binary expects.
func (s *Store) CheckSchema(ctx context.Context) error {
	current, want, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current < want {
		return fmt.Errorf("%w: database at version %d, binary needs %d: run `appealhub migrate`", ErrSchemaOutdated, current, want)
	}
	return nil
}

// NotifyChannel is the LISTEN/NOTIFY channel that outbox inserts of this store's schema signal.
func (s *Store) NotifyChannel() string {
	schema := s.schema
	if schema == "" {
		schema = "public"
	}
	return "appealhub_outbox_" + schema
}

// inTx runs fn in a transaction and commits it, or rolls back on error.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", mapErr(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// mapErr turns PostgreSQL errors callers branch on into sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if pqErr, ok := errors.AsType[*pq.Error](err); ok && pqErr.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrDuplicate, pqErr.Constraint)
	}
	return err
}
