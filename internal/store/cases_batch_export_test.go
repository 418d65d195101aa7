package store

import (
	"context"
	"sync"

	"appealhub/schemas"
)

// CreateCasesSQL is the statement storing many new cases.
const CreateCasesSQL = createCasesSQL

// CreateCasesForTest runs createCasesSQL for ncs (with the access codes' hashes codes[i], when
// codes is not nil) and returns each case's answer; raced[i] is true when the statement returned
// nothing for ncs[i] (a concurrent request committed its key).
func (s *Store) CreateCasesForTest(ctx context.Context, ncs []schemas.NewCase, prefix string, codes [][]byte) (
	cases []schemas.StoredCase, raced []bool, err error) {
	reqs := make([]caseRequest, len(ncs))
	for i, nc := range ncs {
		reqs[i] = caseRequest{nc: nc, prefix: prefix}
		if codes != nil {
			reqs[i].accessCode = codes[i]
		}
	}
	answers, err := s.createCases(ctx, reqs)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range answers {
		cases, raced = append(cases, a.c), append(raced, a.raced)
	}
	return cases, raced, nil
}

// CaseBatchRecorder records the batches a CaseBatcher made for tests.
type CaseBatchRecorder struct {
	mu      sync.Mutex
	batches [][]string // the idempotency keys of each flush
}

// Batches returns the idempotency keys of each flush, in the order the flushes began.
func (r *CaseBatchRecorder) Batches() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.batches...)
}

// NewCaseBatcherForTest is NewCaseBatcher with flushes statements at once at most, recording its
// batches in rec. Its first flush waits until first (when not nil) is closed, so that the callers
// that come meanwhile queue up for the next ones.
func NewCaseBatcherForTest(s *Store, flushes int, rec *CaseBatchRecorder, first <-chan struct{}) *CaseBatcher {
	var once sync.Once
	return newCaseBatcher(s, flushes, func(ctx context.Context, reqs []caseRequest, res []caseAnswer, errs []error) {
		keys := make([]string, len(reqs))
		for i, r := range reqs {
			keys[i] = r.nc.IdempotencyKey
		}
		rec.mu.Lock()
		rec.batches = append(rec.batches, keys)
		rec.mu.Unlock()
		if first != nil {
			once.Do(func() { <-first })
		}
		s.flushCases(ctx, reqs, res, errs)
	})
}

// Waiting returns how many submissions wait for a statement.
func (b *CaseBatcher) Waiting() int { return b.cases.waiting() }
