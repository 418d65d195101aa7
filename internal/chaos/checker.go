package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"appealhub/internal/bench"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// Figures are what the checker found after the drain, joining the generator's outcomes, the
// database, the queues and the sandbox ledgers.
type Figures struct {
	Appeals  int // submissions the generator made (distinct keys)
	Accepted int // keys that got a 2xx
	GaveUp   int // keys the portal gave up on (GiveUpAfter passed)
	Refused  int // keys answered with a 4xx the portal does not retry
	// Lost counts accepted appeals with a delivery that no sandbox recorded, or with no stored row.
	Lost int
	// Duplicated counts deliveries recorded as more than one document: the same delivery id in two
	// ledgers, or two documents of one appeal at one authority.
	Duplicated int
	// Unexpected counts documents that belong to no appeal the portal submitted.
	Unexpected int
	// Recovered counts accepted appeals whose portal saw an error or a timeout first, all delivered.
	Recovered int
	// DoubleAppeals counts keys answered with two different appeal ids, or with an id other than
	// the one stored for the key.
	DoubleAppeals int
	// WithoutRow counts 2xx answers whose appeal is not in the database ("201 without row").
	WithoutRow int
	// Orphans counts appeals stored for a key the portal gave up on (accepted, never told).
	Orphans int
	// DeadExpected counts dead deliveries the scenario made fail for good on purpose
	// (Options.ExpectDead); they count neither as lost nor against the "no dead delivery" rule.
	DeadExpected int
	// Resent counts repeated sends of one delivery the sandboxes took under the same key.
	Resent        int
	Deliveries    map[schemas.DeliveryStatus]int
	OutboxPending int
	QueueMessages int      // messages left in the node's queues
	QueuesLeft    []string // "<queue> <messages>" of each queue with messages left
	Attempts      int      // HTTP requests the portal made
	// Drained is whether the run settled (outbox empty, no delivery pending, queues empty) within
	// the drain limit; Drain is how long after the last fault (or the end of the load) it took.
	Drained bool
	Drain   time.Duration
	// AcceptP99 is the 99th percentile of the accepted attempts' latency; DeliverP99 that of
	// accept→first document at the authority.
	AcceptP99, DeliverP99 time.Duration
}

// settled reports whether nothing is left to do: no delivery pending, the outbox empty, every
// queue empty.
func (e *Env) settled(ctx context.Context) (bool, Figures, error) {
	var f Figures
	counts, err := e.Store.DeliveryCounts(ctx)
	if err != nil {
		return false, f, err
	}
	totals, err := e.Store.Totals(ctx)
	if err != nil {
		return false, f, err
	}
	qs, err := e.Rabbit.Queues(ctx)
	if err != nil {
		return false, f, err
	}
	f.Deliveries, f.OutboxPending = counts, totals.OutboxPending
	for _, q := range qs {
		f.QueueMessages += q.Messages
		if q.Messages > 0 {
			f.QueuesLeft = append(f.QueuesLeft, fmt.Sprintf("%s %d", q.Name, q.Messages))
		}
	}
	pending := counts[schemas.StatusAccepted] + counts[schemas.StatusQueued]
	return pending == 0 && f.OutboxPending == 0 && f.QueueMessages == 0, f, nil
}

// Drain waits until the run has settled, at most limit after since (the end of the last fault or of
// the load), and returns the figures of the last look and how long after since it settled.
func (e *Env) Drain(ctx context.Context, since time.Time, limit time.Duration) (Figures, error) {
	deadline := since.Add(limit)
	var last Figures
	var lastErr error
	for {
		ok, f, err := e.settled(ctx)
		last, lastErr = f, err
		if ok {
			last.Drained, last.Drain = true, max(time.Since(since), 0)
			return last, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			last.Drain = time.Since(since)
			if lastErr != nil {
				return last, fmt.Errorf("drain: %w", lastErr)
			}
			return last, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Check joins the generator's outcomes, the database and the ledgers into f (from Drain).
func (e *Env) Check(ctx context.Context, f Figures, outcomes []Outcome, attempts int) (Figures, error) {
	f.Appeals, f.Attempts = len(outcomes), attempts

	// Every delivery in the database, by appeal.
	byAppeal := map[string][]schemas.Delivery{}
	for _, st := range slices.Sorted(maps.Keys(f.Deliveries)) {
		ds, err := e.Store.DeliveriesByStatus(ctx, st)
		if err != nil {
			return f, err
		}
		for _, d := range ds {
			byAppeal[d.AppealID] = append(byAppeal[d.AppealID], d)
		}
	}
	// Every document in the ledgers, by delivery id.
	docs := map[string]sandbox.Entry{}
	seen := map[string]int{}
	perCase := map[string]int{} // tracking number + authority → documents
	for _, code := range e.Codes {
		for _, en := range e.Systems[code].Ledger().Entries {
			seen[en.DeliveryID]++
			perCase[en.TrackingNumber+"/"+en.Authority]++
			f.Resent += en.Received - 1
			if prev, ok := docs[en.DeliveryID]; !ok || en.FirstAt.Before(prev.FirstAt) {
				docs[en.DeliveryID] = en
			}
		}
	}
	for _, n := range seen {
		f.Duplicated += n - 1
	}
	for _, n := range perCase {
		f.Duplicated += n - 1
	}

	expected := map[string]bool{} // delivery ids of appeals the portal submitted
	var accepts, delivers []time.Duration
	for _, o := range outcomes {
		c, err := e.Store.CaseByIdempotencyKey(ctx, portalClient, o.Key)
		stored := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return f, err
		}
		if stored {
			for _, d := range byAppeal[c.ID] {
				expected[d.ID] = true
			}
		}
		switch {
		case o.Accepted:
			f.Accepted++
			accepts = append(accepts, o.Latency)
		case o.TimeLimit:
			f.GaveUp++
			if stored {
				f.Orphans++
			}
			continue
		default:
			f.Refused++
			if stored {
				f.Orphans++
			}
			continue
		}
		if !stored {
			f.WithoutRow++
			f.Lost++
			continue
		}
		if len(o.IDs) != 1 || o.IDs[0] != c.ID {
			f.DoubleAppeals++
		}
		ds := byAppeal[c.ID]
		complete := len(ds) > 0
		for _, d := range ds {
			if d.Status == schemas.StatusDead && e.opts.ExpectDead != nil && e.opts.ExpectDead(d.ID) {
				f.DeadExpected++
				continue
			}
			doc, ok := docs[d.ID]
			if !ok {
				complete = false
				continue
			}
			delivers = append(delivers, max(doc.FirstAt.Sub(o.AcceptAt), 0))
		}
		if !complete {
			f.Lost++
		} else if o.Errors > 0 {
			f.Recovered++
		}
	}
	for id := range docs {
		if !expected[id] {
			f.Unexpected++
		}
	}
	f.AcceptP99 = bench.Percentile(accepts, 99)
	f.DeliverP99 = bench.Percentile(delivers, 99)
	return f, nil
}
