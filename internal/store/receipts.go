package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// Hub-signed receipts (migration 00012, docs/receipts.md): the notary (internal/receipt) walks the
// event chain after its cursor and writes one signed receipt per evidence event. The store reads
// the links with what a receipt states about their events, and writes the receipts and the cursor
// move in one transaction; what a receipt says and how it is signed is the caller's.

// ReceiptEvent is a sealed event the notary may issue a receipt for, with what a receipt states
// about it.
type ReceiptEvent struct {
	// Link is the chain link that seals Event.
	Link ChainLink
	// Event is the event as it is stored now (the caller checks it against Link).
	Event          ChainEvent
	TrackingNumber string
	// Authority is the code of the authority of the event's delivery; "" when the event concerns
	// no delivery.
	Authority string
	// Body is the stored submission (the request body exactly as stored), for submission_accepted
	// events only; nil otherwise.
	Body []byte
	// Message is, for an authority_<type> event, the authority message of that type about the
	// event's delivery that the event records (a schemas.AuthorityMessage as JSON); nil otherwise.
	Message []byte
	// Repeat is set when an earlier event of the same delivery has the same type and status (a
	// second registration notice that changed nothing, say).
	Repeat bool
}

// Receipt is a hub-signed receipt to store.
type Receipt struct {
	ID         string
	AppealID   string
	DeliveryID string // "" when the receipt concerns no delivery
	Type       schemas.EvidenceType
	Content    []byte // the signed bytes
	CMS        []byte // DER CMS SignedData encapsulating Content
	ChainPos   int64  // the position of the link of the event the receipt is about
	CreatedAt  time.Time
}

// IssueFunc makes the receipt for e, or returns ok false when e warrants none. An error stops the
// step: nothing of it is stored.
type IssueFunc func(e ReceiptEvent) (r Receipt, ok bool, err error)

// ReceiptIssue is what one issuing step did.
type ReceiptIssue struct {
	Issued int   // receipts written
	Passed int64 // chain links the cursor moved over
	Cursor int64 // the last chain position handled after the step
	Busy   bool  // another process was issuing: this step did nothing
}

// IssueReceipts moves the receipt cursor over up to limit chain links in one transaction: for each
// link after the cursor whose event's type is one of types, in chain order, it calls issue and
// stores the receipt it returns; then it records the new cursor. Either all of it is committed or
// nothing, so every link is handled exactly once. When another process holds the issuing lock it
// returns at once with Busy set. Safe for concurrent use by several processes.
func (s *Store) IssueReceipts(ctx context.Context, limit int, types []schemas.EventType, issue IssueFunc) (ReceiptIssue, error) {
	issued := 0
	step, err := s.advanceCursor(ctx, receiptCursor, limit, func(tx *sql.Tx, from, to int64) error {
		events, err := receiptEvents(ctx, tx, from, to, types)
		if err != nil {
			return err
		}
		var receipts []Receipt
		for _, e := range events {
			r, ok, err := issue(e)
			if err != nil {
				return fmt.Errorf("issue the receipt of chain position %d: %w", e.Link.Pos, err)
			}
			if ok {
				receipts = append(receipts, r)
			}
		}
		if err := insertReceipts(ctx, tx, receipts); err != nil {
			return err
		}
		issued = len(receipts)
		return nil
	})
	if err != nil {
		return ReceiptIssue{}, fmt.Errorf("issue receipts: %w", err)
	}
	return ReceiptIssue{Issued: issued, Passed: step.Passed, Cursor: step.Cursor, Busy: step.Busy}, nil
}

// receiptEvents reads the links at positions (from, to] whose event is of one of types, with what
// a receipt states about each.
func receiptEvents(ctx context.Context, tx *sql.Tx, from, to int64, types []schemas.EventType) ([]ReceiptEvent, error) {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT c.pos, c.seq, c.txid::text, c.prev_hash, c.hash, c.sealed_at,
		       e.txid::text, e.appeal_id, coalesce(e.delivery_id::text, ''), e.type, e.status, e.detail, e.created_at,
		       a.tracking_number, coalesce(d.authority_code, ''),
		       CASE WHEN e.type = $4 THEN a.body END, m.message,
		       e.delivery_id IS NOT NULL AND EXISTS (
		           SELECT 1 FROM events p
		           WHERE p.appeal_id = e.appeal_id AND p.delivery_id = e.delivery_id
		             AND p.type = e.type AND p.status = e.status AND p.seq < e.seq)
		FROM event_chain c
		JOIN events e ON e.seq = c.seq
		JOIN appeals a ON a.id = e.appeal_id
		LEFT JOIN deliveries d ON d.id = e.delivery_id
		LEFT JOIN LATERAL (
		    SELECT am.message FROM authority_messages am
		    WHERE e.type LIKE 'authority\_%' AND am.delivery_id = e.delivery_id
		      AND 'authority_' || am.type = e.type AND am.received_at = e.created_at
		    ORDER BY am.applied DESC, am.message_id
		    LIMIT 1) m ON true
		WHERE c.pos > $1 AND c.pos <= $2 AND e.type = ANY($3)
		ORDER BY c.pos`, from, to, pq.Array(names), string(schemas.EventSubmissionAccepted))
	if err != nil {
		return nil, fmt.Errorf("read evidence events: %w", err)
	}
	defer rows.Close()
	var out []ReceiptEvent
	for rows.Next() {
		var r ReceiptEvent
		var linkTx, eventTx string
		if err := rows.Scan(&r.Link.Pos, &r.Link.Seq, &linkTx, &r.Link.PrevHash, &r.Link.Hash, &r.Link.SealedAt,
			&eventTx, &r.Event.AppealID, &r.Event.DeliveryID, &r.Event.Type, &r.Event.Status, &r.Event.Detail, &r.Event.CreatedAt,
			&r.TrackingNumber, &r.Authority, &r.Body, &r.Message, &r.Repeat); err != nil {
			return nil, fmt.Errorf("scan evidence event: %w", err)
		}
		if err := errors.Join(parseTxID(linkTx, &r.Link.TxID), parseTxID(eventTx, &r.Event.TxID)); err != nil {
			return nil, fmt.Errorf("scan evidence event: %w", err)
		}
		r.Event.Seq = r.Link.Seq
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read evidence events: %w", err)
	}
	return out, nil
}

// insertReceipts stores receipts, in their order, with one statement (none when there are none):
// the columns travel as arrays that unnest zips back into rows.
func insertReceipts(ctx context.Context, tx *sql.Tx, receipts []Receipt) error {
	if len(receipts) == 0 {
		return nil
	}
	n := len(receipts)
	ids, appeals, deliveries, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	contents, cmss := make([][]byte, n), make([][]byte, n)
	positions, created := make([]int64, n), make([]string, n)
	for i, r := range receipts {
		// A nil content or CMS would travel as an empty bytea in an array, where a parameter of its
		// own was NULL, which the table refuses: refuse it here instead.
		if r.Content == nil || r.CMS == nil {
			return fmt.Errorf("insert receipt %s: no content or no CMS", r.ID)
		}
		ids[i], appeals[i], deliveries[i], types[i] = r.ID, r.AppealID, r.DeliveryID, string(r.Type)
		contents[i], cmss[i], positions[i] = r.Content, r.CMS, r.ChainPos
		// The text lib/pq sends for a time.Time parameter, so the stored instant is the one a
		// parameter of its own gave.
		created[i] = string(pq.FormatTimestamp(r.CreatedAt))
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO receipts (id, appeal_id, delivery_id, type, content, cms, chain_pos, created_at)
		SELECT r.id, r.appeal_id, NULLIF(r.delivery_id, '')::uuid, r.type, r.content, r.cms, r.chain_pos, r.created_at
		FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::bigint[], $8::timestamptz[])
		     WITH ORDINALITY AS r (id, appeal_id, delivery_id, type, content, cms, chain_pos, created_at, ord)
		ORDER BY r.ord`,
		pq.Array(ids), pq.Array(appeals), pq.Array(deliveries), pq.Array(types), pq.Array(contents), pq.Array(cmss),
		pq.Array(positions), pq.Array(created)); err != nil {
		return fmt.Errorf("insert receipts: %w", mapErr(err))
	}
	return nil
}

// ReceiptCursor returns the last chain position the notary has handled (0: none).
func (s *Store) ReceiptCursor(ctx context.Context) (int64, error) {
	return s.cursorPos(ctx, receiptCursor)
}

const receiptColumns = `id, type, coalesce(delivery_id::text, ''), created_at, content, cms`

func scanReceipt(sc rowScanner, appealID string, r *schemas.SignedReceipt) error {
	var content []byte
	if err := sc.Scan(&r.ID, &r.Type, &r.DeliveryID, &r.CreatedAt, &content, &r.CMS); err != nil {
		return err
	}
	r.AppealID, r.Content = appealID, json.RawMessage(content)
	return nil
}

// Receipts returns the receipts of a case in chain order, if clientID submitted it (ErrNotFound
// otherwise, so that another client cannot tell the id exists). A case without receipts yet gives
// an empty list.
func (s *Store) Receipts(ctx context.Context, clientID, appealID string) ([]schemas.SignedReceipt, error) {
	if err := s.ownCase(ctx, clientID, appealID); err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+receiptColumns+` FROM receipts WHERE appeal_id = $1 ORDER BY chain_pos, type`, appealID)
	if err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	defer rows.Close()
	out := []schemas.SignedReceipt{}
	for rows.Next() {
		var r schemas.SignedReceipt
		if err := scanReceipt(rows, appealID, &r); err != nil {
			return nil, fmt.Errorf("scan receipt: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read receipts: %w", err)
	}
	return out, nil
}

// Receipt returns one receipt of a case, if clientID submitted the case and the receipt is the
// case's (ErrNotFound otherwise).
func (s *Store) Receipt(ctx context.Context, clientID, appealID, id string) (schemas.SignedReceipt, error) {
	var r schemas.SignedReceipt
	if err := s.ownCase(ctx, clientID, appealID); err != nil {
		return r, fmt.Errorf("read receipt: %w", err)
	}
	err := scanReceipt(s.db.QueryRowContext(ctx, `SELECT `+receiptColumns+` FROM receipts WHERE id = $1 AND appeal_id = $2`,
		id, appealID), appealID, &r)
	if err != nil {
		return r, fmt.Errorf("read receipt: %w", mapErr(err))
	}
	return r, nil
}

// ownCase returns ErrNotFound unless clientID submitted the case appealID.
func (s *Store) ownCase(ctx context.Context, clientID, appealID string) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM appeals WHERE id = $1 AND client_id = $2`, appealID, clientID).Scan(&one)
	if err != nil {
		return fmt.Errorf("find case: %w", mapErr(err))
	}
	return nil
}
