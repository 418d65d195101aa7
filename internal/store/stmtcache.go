package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// Every statement with parameters runs as a named prepared statement of its connection, kept
// for the connection's life (stmtCacheSize most recently used per connection). lib/pq alone
// sends each such statement unnamed: PostgreSQL parses and plans it again on every execution,
// and the driver waits for the parse before it binds (two round trips). With the statement
// kept, an execution is one round trip, and PostgreSQL plans it once (after five executions it
// keeps a generic plan when that is no worse than the custom ones, plan_cache_mode=auto). The
// hub's statements are a fixed set of constant strings plus the few the console builds from
// its filters, so the cache holds all of them. Statements without parameters still use the
// simple protocol (one round trip, several statements allowed: migrations).
const stmtCacheSize = 256

// cachingConnector wraps lib/pq's connector so that every connection keeps its statements.
type cachingConnector struct {
	driver.Connector
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// pqConn is what lib/pq's connection implements and cachingConn passes on.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
	driver.Validator
}

// pqStmt is what lib/pq's prepared statement implements.
type pqStmt interface {
	driver.Stmt
	driver.StmtQueryContext
	driver.StmtExecContext
}

// cachingConn is one connection with its prepared statements. database/sql never uses a
// connection from two goroutines at once, so it needs no lock.
type cachingConn struct {
	pqConn
	stmts map[string]*list.Element // query → element of lru holding a *cachedStmt
	lru   *list.List               // front: most recently used
}

type cachedStmt struct {
	query string
	stmt  pqStmt
}

var _ pqConn = (*cachingConn)(nil)

func newCachingConn(conn driver.Conn) (driver.Conn, error) {
	pc, ok := conn.(pqConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("database driver connection %T lacks the interfaces the statement cache needs", conn)
	}
	return &cachingConn{pqConn: pc, stmts: map[string]*list.Element{}, lru: list.New()}, nil
}

// QueryContext runs a statement with parameters as the connection's prepared statement.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.pqConn.QueryContext(ctx, query, args)
	}
	st, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args)
	c.forgetIfStale(query, err)
	return rows, err
}

// ExecContext runs a statement with parameters as the connection's prepared statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.pqConn.ExecContext(ctx, query, args)
	}
	st, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, args)
	c.forgetIfStale(query, err)
	return res, err
}

// prepared returns the connection's statement for query, preparing it on first use and
// closing the least recently used one when the cache is full.
func (c *cachingConn) prepared(ctx context.Context, query string) (pqStmt, error) {
	if e, ok := c.stmts[query]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cachedStmt).stmt, nil
	}
	if c.lru.Len() >= stmtCacheSize {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		cs := oldest.Value.(*cachedStmt)
		delete(c.stmts, cs.query)
		if err := cs.stmt.Close(); err != nil {
			return nil, fmt.Errorf("close a cached statement: %w", err)
		}
	}
	s, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := s.(pqStmt)
	if !ok {
		_ = s.Close()
		return nil, fmt.Errorf("database driver statement %T lacks context execution", s)
	}
	c.stmts[query] = c.lru.PushFront(&cachedStmt{query: query, stmt: st})
	return st, nil
}

// forgetIfStale drops a statement PostgreSQL no longer accepts: its result type changed under
// it (a migration by another process: "cached plan must not change result type") or the
// server lost it. The statement is prepared again on its next use.
func (c *cachingConn) forgetIfStale(query string, err error) {
	pqErr, ok := errors.AsType[*pq.Error](err)
	if !ok {
		return
	}
	if pqErr.Code != "0A000" && pqErr.Code != "26000" {
		return
	}
	if e, ok := c.stmts[query]; ok {
		c.lru.Remove(e)
		delete(c.stmts, query)
		// Best effort: the server may have lost it already, and a connection that broke is
		// discarded by database/sql anyway.
		_ = e.Value.(*cachedStmt).stmt.Close()
	}
}

// Close closes the connection; its prepared statements go with it.
func (c *cachingConn) Close() error {
	c.stmts, c.lru = nil, nil
	return c.pqConn.Close()
}
