package store

import "database/sql"

// StmtCacheSize is the number of statements a connection keeps prepared.
const StmtCacheSize = stmtCacheSize

// DBForTest returns the store's connection pool, to run statements through the statement cache.
func (s *Store) DBForTest() *sql.DB { return s.db }

// RecordOutcomeSQL is the statement recording a delivery attempt's outcome.
const RecordOutcomeSQL = recordOutcomeSQL
