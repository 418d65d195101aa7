package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/lib/pq"
)

// The event chain (migration 00010, docs/adr/0004-event-hash-chain.md): every event is sealed by a
// link of event_chain whose hash covers the event and the previous link; chain_checkpoints records
// the chain head from time to time. The store reads and writes the rows; how a hash is computed is
// the caller's (internal/audit).

// ChainEvent is an event as the chain sees it.
type ChainEvent struct {
	Seq        int64
	TxID       uint64 // the inserting transaction (the sealing order; not covered by the hash)
	AppealID   string
	DeliveryID string // "" when the event concerns no delivery
	Type       string
	Status     string
	Detail     string
	CreatedAt  time.Time
}

// ChainLink is one link of the event chain.
type ChainLink struct {
	Pos      int64  // 1, 2, 3 … without gaps
	Seq      int64  // the sealed event
	TxID     uint64 // the sealed event's transaction, as it was when sealed
	PrevHash []byte // the hash of the link at Pos-1; nil for the first link
	Hash     []byte
	SealedAt time.Time
}

// ChainCheckpoint is a recorded chain head.
type ChainCheckpoint struct {
	ID        int64
	Pos       int64
	Seq       int64
	Hash      []byte
	CreatedAt time.Time
	Signature []byte // nil: unsigned
	Signer    string // who signed; "" when unsigned
}

// HashFunc returns the hash of the link that seals e after a link whose hash is prev (nil for the
// first link of the chain).
type HashFunc func(prev []byte, e ChainEvent) []byte

// ChainSeal is what one sealing step did.
type ChainSeal struct {
	Sealed int       // links added
	Head   ChainLink // the last link after the step; Pos 0 when the chain is empty or Busy
	Busy   bool      // another process was sealing: this step did nothing
}

// chainLockKey is the transaction advisory lock that makes one process at a time seal the events of
// this store's schema.
func (s *Store) chainLockKey() int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("appealhub:event_chain:" + s.schema))
	return int64(h.Sum64() >> 1)
}

// SealEvents adds up to limit links to the event chain in one transaction, one per event not yet
// sealed, in (txid, seq) order, with the hashes hash computes. It seals only events whose
// transaction ended before the oldest transaction still running began (txid below the snapshot's
// xmin), so that no event can commit later in front of a sealed one; a rolled-back event never
// appears and leaves nothing to wait for. When another process holds the sealing lock it returns at
// once with Busy set. Safe for concurrent use by several processes.
func (s *Store) SealEvents(ctx context.Context, limit int, hash HashFunc) (ChainSeal, error) {
	var out ChainSeal
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var locked bool
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, s.chainLockKey()).Scan(&locked); err != nil {
			return fmt.Errorf("take the sealing lock: %w", err)
		}
		if !locked {
			out.Busy = true
			return nil
		}
		head, err := chainHead(ctx, tx)
		if err != nil {
			return err
		}
		out.Head = head
		events, err := eligibleEvents(ctx, tx, head, limit)
		if err != nil || len(events) == 0 {
			return err
		}
		n := len(events)
		pos, seq, txid := make([]int64, n), make([]int64, n), make([]string, n)
		prevs, hashes := make(pq.ByteaArray, n), make(pq.ByteaArray, n)
		prev := head.Hash
		for i, e := range events {
			h := hash(prev, e)
			pos[i], seq[i], txid[i] = head.Pos+int64(i)+1, e.Seq, strconv.FormatUint(e.TxID, 10)
			prevs[i], hashes[i] = prev, h
			prev = h
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO event_chain (pos, seq, txid, prev_hash, hash)
			SELECT pos, seq, txid, NULLIF(prev_hash, ''::bytea), hash
			FROM unnest($1::bigint[], $2::bigint[], $3::text[]::xid8[], $4::bytea[], $5::bytea[]) AS l(pos, seq, txid, prev_hash, hash)`,
			pq.Array(pos), pq.Array(seq), pq.Array(txid), prevs, hashes); err != nil {
			return fmt.Errorf("insert chain links: %w", mapErr(err))
		}
		last := events[n-1]
		out.Sealed = n
		out.Head = ChainLink{Pos: pos[n-1], Seq: last.Seq, TxID: last.TxID, PrevHash: prevs[n-1], Hash: hashes[n-1]}
		return nil
	})
	if err != nil {
		return ChainSeal{}, fmt.Errorf("seal events: %w", err)
	}
	return out, nil
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const linkColumns = `pos, seq, txid::text, prev_hash, hash, sealed_at`

func scanLink(sc rowScanner, l *ChainLink) error {
	var txid string
	if err := sc.Scan(&l.Pos, &l.Seq, &txid, &l.PrevHash, &l.Hash, &l.SealedAt); err != nil {
		return err
	}
	return parseTxID(txid, &l.TxID)
}

func parseTxID(s string, v *uint64) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("parse transaction id %q: %w", s, err)
	}
	*v = n
	return nil
}

// chainHead returns the last link (Pos 0 when the chain is empty).
func chainHead(ctx context.Context, q queryer) (ChainLink, error) {
	var l ChainLink
	err := scanLink(q.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM event_chain ORDER BY pos DESC LIMIT 1`), &l)
	if errors.Is(err, sql.ErrNoRows) {
		return ChainLink{}, nil
	}
	if err != nil {
		return ChainLink{}, fmt.Errorf("read chain head: %w", err)
	}
	return l, nil
}

const eventColumns = `e.seq, e.txid::text, coalesce(e.appeal_id::text, ''), coalesce(e.delivery_id::text, ''), e.type, e.status, e.detail, e.created_at`

func scanEvent(sc rowScanner, e *ChainEvent) error {
	var txid string
	if err := sc.Scan(&e.Seq, &txid, &e.AppealID, &e.DeliveryID, &e.Type, &e.Status, &e.Detail, &e.CreatedAt); err != nil {
		return err
	}
	return parseTxID(txid, &e.TxID)
}

// eligibleEvents returns up to limit events after head in (txid, seq) order whose transaction ended
// before the oldest one still running.
func eligibleEvents(ctx context.Context, tx *sql.Tx, head ChainLink, limit int) ([]ChainEvent, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT `+eventColumns+`
		FROM events e
		WHERE (e.txid, e.seq) > ($1::xid8, $2::bigint) AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.txid, e.seq
		LIMIT $3`, strconv.FormatUint(head.TxID, 10), head.Seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read events to seal: %w", err)
	}
	return collectEvents(rows)
}

func collectEvents(rows *sql.Rows) ([]ChainEvent, error) {
	defer rows.Close()
	var out []ChainEvent
	for rows.Next() {
		var e ChainEvent
		if err := scanEvent(rows, &e); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// ChainStatus is the state of the event chain.
type ChainStatus struct {
	Head           ChainLink        // the last link; Pos 0 when the chain is empty
	LastCheckpoint *ChainCheckpoint // nil when none was recorded
}

// ChainStatus returns the chain head and the latest checkpoint.
func (s *Store) ChainStatus(ctx context.Context) (ChainStatus, error) {
	var st ChainStatus
	var err error
	if st.Head, err = chainHead(ctx, s.db); err != nil {
		return st, err
	}
	var cp ChainCheckpoint
	err = scanCheckpoint(s.db.QueryRowContext(ctx, `SELECT `+checkpointColumns+` FROM chain_checkpoints ORDER BY id DESC LIMIT 1`), &cp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return st, fmt.Errorf("read last checkpoint: %w", err)
	default:
		st.LastCheckpoint = &cp
	}
	return st, nil
}

// UnsealedEvents counts the events not sealed yet: those after the chain head in sealing order.
func (s *Store) UnsealedEvents(ctx context.Context) (int64, error) {
	head, err := chainHead(ctx, s.db)
	if err != nil {
		return 0, err
	}
	return unsealedEvents(ctx, s.db, head)
}

func unsealedEvents(ctx context.Context, q queryer, head ChainLink) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM events e WHERE (e.txid, e.seq) > ($1::xid8, $2::bigint)`,
		strconv.FormatUint(head.TxID, 10), head.Seq).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unsealed events: %w", err)
	}
	return n, nil
}

const checkpointColumns = `id, pos, seq, hash, created_at, signature, signer`

func scanCheckpoint(sc rowScanner, cp *ChainCheckpoint) error {
	return sc.Scan(&cp.ID, &cp.Pos, &cp.Seq, &cp.Hash, &cp.CreatedAt, &cp.Signature, &cp.Signer)
}

// AddCheckpoint records a checkpoint of the link at cp.Pos and returns its id. It refuses, with
// ErrNotFound, a checkpoint whose position, seq and hash are not those of a link of the chain.
func (s *Store) AddCheckpoint(ctx context.Context, cp ChainCheckpoint) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `
		INSERT INTO chain_checkpoints (pos, seq, hash, created_at, signature, signer)
		SELECT $1, $2, $3, $4, $5, $6
		WHERE EXISTS (SELECT 1 FROM event_chain WHERE pos = $1 AND seq = $2 AND hash = $3)
		RETURNING id`, cp.Pos, cp.Seq, cp.Hash, cp.CreatedAt, cp.Signature, cp.Signer).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add chain checkpoint at position %d: %w", cp.Pos, mapErr(err))
	}
	return id, nil
}

// ChainVisitor receives what ReadChain reads. Every function is optional.
type ChainVisitor struct {
	// CheckpointFunc is called first, once per checkpoint, in id order.
	CheckpointFunc func(cp ChainCheckpoint) error
	// HeadFunc is called next, with the last link (Pos 0 when the chain is empty) and the number of
	// events after it, not sealed yet.
	HeadFunc func(head ChainLink, unsealed int64) error
	// StrayFunc is called next, once per event that no link seals although it sorts before the chain
	// head in sealing order ((txid, seq)), in that order.
	StrayFunc func(e ChainEvent) error
	// LinkFunc is called last, once per link in position order, with the event whose seq the link
	// names, or nil when there is no such event.
	LinkFunc func(l ChainLink, e *ChainEvent) error
}

// ReadChain reads the whole event chain, its checkpoints and the events it covers from one snapshot
// (a read-only repeatable-read transaction) and hands them to v, streaming the links. An error
// from a visitor function stops the read and is returned as is.
func (s *Store) ReadChain(ctx context.Context, v ChainVisitor) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("read event chain: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := readCheckpoints(ctx, tx, v.CheckpointFunc); err != nil {
		return err
	}
	head, err := chainHead(ctx, tx)
	if err != nil {
		return err
	}
	if v.HeadFunc != nil {
		unsealed, err := unsealedEvents(ctx, tx, head)
		if err != nil {
			return err
		}
		if err := v.HeadFunc(head, unsealed); err != nil {
			return err
		}
	}
	if err := readStrays(ctx, tx, head, v.StrayFunc); err != nil {
		return err
	}
	return readLinks(ctx, tx, v.LinkFunc)
}

func readCheckpoints(ctx context.Context, tx *sql.Tx, fn func(ChainCheckpoint) error) error {
	if fn == nil {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+checkpointColumns+` FROM chain_checkpoints ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read chain checkpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cp ChainCheckpoint
		if err := scanCheckpoint(rows, &cp); err != nil {
			return fmt.Errorf("scan chain checkpoint: %w", err)
		}
		if err := fn(cp); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read chain checkpoints: %w", err)
	}
	return nil
}

func readStrays(ctx context.Context, tx *sql.Tx, head ChainLink, fn func(ChainEvent) error) error {
	if fn == nil || head.Pos == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT `+eventColumns+`
		FROM events e
		WHERE (e.txid, e.seq) < ($1::xid8, $2::bigint)
		  AND NOT EXISTS (SELECT 1 FROM event_chain c WHERE c.seq = e.seq)
		ORDER BY e.txid, e.seq`, strconv.FormatUint(head.TxID, 10), head.Seq)
	if err != nil {
		return fmt.Errorf("read unsealed events behind the chain head: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ChainEvent
		if err := scanEvent(rows, &e); err != nil {
			return fmt.Errorf("scan event: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read unsealed events behind the chain head: %w", err)
	}
	return nil
}

func readLinks(ctx context.Context, tx *sql.Tx, fn func(ChainLink, *ChainEvent) error) error {
	if fn == nil {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT c.pos, c.seq, c.txid::text, c.prev_hash, c.hash, c.sealed_at, e.seq IS NOT NULL,
		       coalesce(e.txid, '0')::text, coalesce(e.appeal_id::text, ''), coalesce(e.delivery_id::text, ''),
		       coalesce(e.type, ''), coalesce(e.status, ''), coalesce(e.detail, ''), coalesce(e.created_at, 'epoch')
		FROM event_chain c LEFT JOIN events e ON e.seq = c.seq
		ORDER BY c.pos`)
	if err != nil {
		return fmt.Errorf("read chain links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l ChainLink
		var e ChainEvent
		var found bool
		var linkTx, eventTx string
		if err := rows.Scan(&l.Pos, &l.Seq, &linkTx, &l.PrevHash, &l.Hash, &l.SealedAt, &found,
			&eventTx, &e.AppealID, &e.DeliveryID, &e.Type, &e.Status, &e.Detail, &e.CreatedAt); err != nil {
			return fmt.Errorf("scan chain link: %w", err)
		}
		if err := errors.Join(parseTxID(linkTx, &l.TxID), parseTxID(eventTx, &e.TxID)); err != nil {
			return fmt.Errorf("scan chain link: %w", err)
		}
		var ev *ChainEvent
		if found {
			e.Seq = l.Seq
			ev = &e
		}
		if err := fn(l, ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read chain links: %w", err)
	}
	return nil
}
