package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"appealhub/schemas"
)

// The broker's sink queues (migration 00020, docs/adr/0008-sink-queues.md): the hub consumes
// hub.dead and hub.unroutable. A delivery message found there whose delivery still waits for that
// attempt is sent again at once (ResolveSinkLetter); anything it cannot account for is kept in
// sink_letters (KeepSinkLetter), so that the queues can be emptied without losing a message.

// SinkResolution is what ResolveSinkLetter did.
type SinkResolution int

const (
	// SinkResent: the delivery was still in transit at the message's attempt; it was sent again.
	SinkResent SinkResolution = iota
	// SinkGaveUp: the delivery was still in transit, but its messages had been found in the sinks
	// too often: it was recorded dead (operators redrive it from the console).
	SinkGaveUp
	// SinkSettled: the delivery no longer waits for that attempt (delivered, dead, later attempt):
	// the message is a stale copy and nothing changed.
	SinkSettled
	// SinkUnknown: no delivery has the message's id; nothing changed.
	SinkUnknown
)

// String returns the stable name of r (used in logs).
func (r SinkResolution) String() string {
	switch r {
	case SinkResent:
		return "resent"
	case SinkGaveUp:
		return "gave_up"
	case SinkSettled:
		return "settled"
	case SinkUnknown:
		return "unknown"
	}
	return fmt.Sprintf("sink_resolution(%d)", int(r))
}

// SinkLetter is a delivery message found in a sink queue.
type SinkLetter struct {
	DeliveryID string
	// Attempt is the attempt the message was for (attempts recorded before it).
	Attempt int
	// Reason is ReconcileDeadLettered or ReconcileUnroutable.
	Reason string
	// Cause is the broker's reason, for the timeline (say "delivery_limit"); never personal data.
	Cause string
	// Max is how often one attempt is sent again for Reason before the delivery is given up
	// (config reconcile.sink_resends).
	Max int
	Now time.Time
}

// ResolveSinkLetter settles a delivery message found in a sink queue: if its delivery is still
// accepted or queued at the message's attempt, it is sent again for that attempt (a new outbox row,
// a delivery_reconciled event with l.Reason), at most l.Max times per attempt, the n-th time after
// 2^(n-1)-1 seconds, so that a network cutting connections for a while does not use them up at
// once; beyond that the delivery is recorded dead, its error saying why. A delivery that has moved
// on is left alone.
func (s *Store) ResolveSinkLetter(ctx context.Context, l SinkLetter) (SinkResolution, error) {
	detail := fmt.Sprintf("%s: attempt %d sent again; its message was found in the broker's %s queue", l.Reason, l.Attempt+1, sinkOf(l.Reason))
	if l.Cause != "" {
		detail += " (" + truncate(l.Cause, 100) + ")"
	}
	resent, err := s.sendAgainCapped(ctx, l.DeliveryID, l.Attempt, l.Reason, detail, l.Max, l.Now)
	if err != nil {
		return 0, err
	}
	if resent {
		return SinkResent, nil
	}
	var status schemas.DeliveryStatus
	var attempts int
	err = s.db.QueryRowContext(ctx, `SELECT status, attempts FROM deliveries WHERE id = $1::uuid`, l.DeliveryID).Scan(&status, &attempts)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return SinkUnknown, nil
	case err != nil:
		return 0, fmt.Errorf("read delivery %s: %w", l.DeliveryID, err)
	case !status.Pending() || attempts != l.Attempt:
		return SinkSettled, nil
	}
	applied, err := s.RecordOutcome(ctx, schemas.DeliveryOutcome{DeliveryID: l.DeliveryID, Attempt: l.Attempt + 1,
		Status: schemas.StatusDead, At: l.Now,
		Error: fmt.Sprintf("gave up: its message was found in the broker's %s queue %d times", sinkOf(l.Reason), l.Max+1)})
	if err != nil {
		return 0, err
	}
	if !applied {
		return SinkSettled, nil
	}
	return SinkGaveUp, nil
}

func sinkOf(reason string) string {
	if reason == ReconcileUnroutable {
		return "unroutable"
	}
	return "dead-letter"
}

// KeptLetter is a message taken from a sink queue that the hub could not account for.
type KeptLetter struct {
	// ID is set once it is kept.
	ID int64
	// Sink is "dead" or "unroutable".
	Sink string
	// Reason and SourceQueue are the broker's x-first-death-reason and x-first-death-queue, if set.
	Reason, SourceQueue   string
	RoutingKey, MessageID string
	// Note says why the hub kept it.
	Note    string
	Headers map[string]any
	// Body is the message exactly as received; KeptSinkLetters leaves it out and gives its Size.
	Body []byte
	Size int
	At   time.Time
}

// KeepSinkLetter stores l in sink_letters. Headers that do not encode as JSON are stored as their
// error.
func (s *Store) KeepSinkLetter(ctx context.Context, l KeptLetter) error {
	headers, err := json.Marshal(l.Headers)
	if err != nil {
		headers, _ = json.Marshal(map[string]string{"unencodable": err.Error()})
	}
	if l.Body == nil {
		l.Body = []byte{}
	}
	if _, err := s.db.ExecContext(ctx, `
		INSERT INTO sink_letters (sink, reason, source_queue, routing_key, message_id, note, headers, body, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		l.Sink, truncate(l.Reason, 200), truncate(l.SourceQueue, 255), truncate(l.RoutingKey, 255),
		truncate(l.MessageID, 255), truncate(l.Note, 500), headers, l.Body, l.At); err != nil {
		return fmt.Errorf("keep a message of the %s sink: %w", l.Sink, err)
	}
	return nil
}

// SinkLetterCounts returns how many messages sink_letters keeps from each sink.
func (s *Store) SinkLetterCounts(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sink, count(*) FROM sink_letters GROUP BY sink`)
	if err != nil {
		return nil, fmt.Errorf("count kept sink letters: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var sink string
		var n int
		if err := rows.Scan(&sink, &n); err != nil {
			return nil, fmt.Errorf("count kept sink letters: %w", err)
		}
		out[sink] = n
	}
	return out, rows.Err()
}

// keptColumns are the columns of sink_letters scanKept reads.
const keptColumns = `id, sink, reason, source_queue, routing_key, message_id, note, headers, received_at, octet_length(body)`

// KeptSinkLetters returns the most recently kept sink letters, up to limit (100 when <= 0), newest
// first, without their bodies (KeptSinkLetter reads one whole).
func (s *Store) KeptSinkLetters(ctx context.Context, limit int) ([]KeptLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+keptColumns+` FROM sink_letters ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read kept sink letters: %w", err)
	}
	defer rows.Close()
	var out []KeptLetter
	for rows.Next() {
		var l KeptLetter
		if err := scanKept(rows, &l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// KeptSinkLetter returns the kept sink letter id, body included; ErrNotFound if there is none.
func (s *Store) KeptSinkLetter(ctx context.Context, id int64) (KeptLetter, error) {
	var l KeptLetter
	err := scanKept(s.db.QueryRowContext(ctx, `SELECT `+keptColumns+`, body FROM sink_letters WHERE id = $1`, id), &l, &l.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return KeptLetter{}, ErrNotFound
	}
	if err != nil {
		return KeptLetter{}, err
	}
	return l, nil
}

// scanKept scans the keptColumns of a row into l, then any further columns into extra.
func scanKept(sc rowScanner, l *KeptLetter, extra ...any) error {
	var headers []byte
	dest := append([]any{&l.ID, &l.Sink, &l.Reason, &l.SourceQueue, &l.RoutingKey, &l.MessageID, &l.Note, &headers, &l.At, &l.Size}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return fmt.Errorf("read kept sink letter: %w", err)
	}
	if err := json.Unmarshal(headers, &l.Headers); err != nil {
		return fmt.Errorf("decode the headers of kept sink letter %d: %w", l.ID, err)
	}
	return nil
}

// DeleteKeptSinkLetters deletes the kept sink letters ids (those that exist) and records an
// operator_action event (action sink_letters_delete, the ids deleted, the reason) in the same
// transaction; it returns the ids deleted.
func (s *Store) DeleteKeptSinkLetters(ctx context.Context, ids []int64, actor, reason string, now time.Time) ([]int64, error) {
	var deleted []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM sink_letters WHERE id = ANY($1::bigint[]) RETURNING id`, pq.Array(ids))
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			deleted = append(deleted, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(deleted) == 0 {
			return nil
		}
		slices.Sort(deleted)
		object := make([]string, len(deleted))
		for i, id := range deleted {
			object[i] = strconv.FormatInt(id, 10)
		}
		return insertOperatorEvent(ctx, tx, EventOperatorAction, OperatorDetail{Actor: actor, Action: "sink_letters_delete",
			Object: truncate(strings.Join(object, ","), 1000), Reason: reason}, now)
	})
	if err != nil {
		return nil, fmt.Errorf("delete kept sink letters: %w", err)
	}
	return deleted, nil
}
