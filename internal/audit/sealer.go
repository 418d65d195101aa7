package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"go.uber.org/zap"

	"appealhub/internal/clock"
	"appealhub/internal/lifecycle"
	"appealhub/internal/store"
)

// Chain is the sealer's view of the store.
type Chain interface {
	SealEvents(ctx context.Context, limit int, hash store.HashFunc) (store.ChainSeal, error)
	ChainStatus(ctx context.Context) (store.ChainStatus, error)
	AddCheckpoint(ctx context.Context, cp store.ChainCheckpoint) (int64, error)
}

// Signer signs checkpoints. Sign may block (a remote signing service) and must honour ctx; it is
// called from one goroutine at a time per Sealer. It returns the signature and a name for who
// signed (a certificate subject, a key id) that the matching Verifier understands.
type Signer interface {
	Sign(ctx context.Context, content []byte) (sig []byte, signer string, err error)
}

// Defaults.
const (
	DefaultSealInterval       = time.Second
	DefaultCheckpointInterval = 10 * time.Minute
	DefaultBatchSize          = 1000
)

// Config configures a Sealer.
type Config struct {
	// SealInterval is how often the sealer looks for events to seal. Defaults to 1s.
	SealInterval time.Duration
	// CheckpointInterval is the least time between two periodic checkpoints; one is written at the
	// first seal step after it, when the chain has grown since the last one. Defaults to 10m.
	CheckpointInterval time.Duration
	// BatchSize is the most events sealed in one transaction. Defaults to 1000.
	BatchSize int
	// Signer signs checkpoints; nil stores them unsigned. Defaults to nil.
	Signer Signer
	// Clock dates checkpoints. Defaults to the real clock.
	Clock clock.Clock
}

// Sealer extends the event chain: it seals new events in the background between Start and Stop,
// and writes a checkpoint every CheckpointInterval. Several hub processes may each run one: one at
// a time seals (the others find the lock taken and skip the step). Seal and Checkpoint may also be
// called directly; a Sealer is safe for concurrent use.
type Sealer struct {
	cfg    Config
	chain  Chain
	logger *zap.Logger
	loop   lifecycle.Loop

	// nextCheckpoint is when the loop next looks whether a checkpoint is due (loop goroutine only).
	nextCheckpoint time.Time
}

// NewSealer returns a sealer over chain.
func NewSealer(chain Chain, cfg Config, logger *zap.Logger) *Sealer {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.SealInterval <= 0 {
		cfg.SealInterval = DefaultSealInterval
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	cfg.Clock = clock.OrReal(cfg.Clock)
	return &Sealer{cfg: cfg, chain: chain, logger: logger.Named("audit")}
}

// Seal seals every event that may be sealed now, in steps of BatchSize events, and returns how many
// it sealed. It returns 0 without error when another process is sealing.
func (s *Sealer) Seal(ctx context.Context) (int, error) {
	total := 0
	for {
		res, err := s.chain.SealEvents(ctx, s.cfg.BatchSize, LinkHash)
		if err != nil {
			return total, err
		}
		total += res.Sealed
		if res.Busy || res.Sealed < s.cfg.BatchSize {
			return total, nil
		}
	}
}

// Checkpoint records a checkpoint of the current chain head, signed when a Signer is configured,
// and returns it. It returns an error wrapping store.ErrNotFound when the chain is empty.
func (s *Sealer) Checkpoint(ctx context.Context) (store.ChainCheckpoint, error) {
	st, err := s.chain.ChainStatus(ctx)
	if err != nil {
		return store.ChainCheckpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	return s.checkpoint(ctx, st.Head)
}

func (s *Sealer) checkpoint(ctx context.Context, head store.ChainLink) (store.ChainCheckpoint, error) {
	if head.Pos == 0 {
		return store.ChainCheckpoint{}, fmt.Errorf("checkpoint: the event chain is empty: %w", store.ErrNotFound)
	}
	cp := store.ChainCheckpoint{Pos: head.Pos, Seq: head.Seq, Hash: head.Hash,
		CreatedAt: s.cfg.Clock.Now().UTC().Truncate(time.Microsecond)}
	if s.cfg.Signer != nil {
		sig, signer, err := s.cfg.Signer.Sign(ctx, CheckpointContent(cp.Pos, cp.Seq, cp.Hash, cp.CreatedAt))
		if err != nil {
			return store.ChainCheckpoint{}, fmt.Errorf("checkpoint: sign: %w", err)
		}
		cp.Signature, cp.Signer = sig, signer
	}
	id, err := s.chain.AddCheckpoint(ctx, cp)
	if err != nil {
		return store.ChainCheckpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	cp.ID = id
	// The log is a copy of the checkpoint outside the database (hashes only, no personal data).
	s.logger.Info("event chain checkpoint", zap.Int64("checkpoint_id", cp.ID), zap.Int64("pos", cp.Pos),
		zap.Int64("seq", cp.Seq), zap.String("hash", hex.EncodeToString(cp.Hash)), zap.Bool("signed", cp.Signature != nil))
	return cp, nil
}

// Start starts sealing in the background and returns.
func (s *Sealer) Start(ctx context.Context) error {
	s.loop.Start(ctx, s.run)
	return nil
}

// Stop stops the background sealing after the step in flight and waits for it. Safe before Start
// and repeated.
func (s *Sealer) Stop(ctx context.Context) error { return s.loop.Stop(ctx) }

// Stopped is closed when the background sealing has stopped; nil before Start.
func (s *Sealer) Stopped() <-chan struct{} { return s.loop.Stopped() }

func (s *Sealer) run(ctx context.Context) {
	t := time.NewTicker(s.cfg.SealInterval)
	defer t.Stop()
	for {
		s.step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// step seals what it can and writes a checkpoint when one is due.
func (s *Sealer) step(ctx context.Context) {
	n, err := s.Seal(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("sealing events failed", zap.Error(err))
		}
		return
	}
	if n > 0 {
		s.logger.Debug("events sealed", zap.Int("sealed", n))
	}
	if err := s.checkpointIfDue(ctx); err != nil && ctx.Err() == nil {
		s.logger.Warn("periodic checkpoint failed", zap.Error(err))
	}
}

// checkpointIfDue writes a checkpoint when the last one (by any process) is CheckpointInterval old
// and the chain has grown since.
func (s *Sealer) checkpointIfDue(ctx context.Context) error {
	now := s.cfg.Clock.Now()
	if now.Before(s.nextCheckpoint) {
		return nil
	}
	st, err := s.chain.ChainStatus(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if last := st.LastCheckpoint; last != nil {
		if due := last.CreatedAt.Add(s.cfg.CheckpointInterval); now.Before(due) {
			s.nextCheckpoint = due
			return nil
		}
		if last.Pos >= st.Head.Pos {
			return nil // nothing new: look again at the next step
		}
	}
	if st.Head.Pos == 0 {
		return nil
	}
	if _, err := s.checkpoint(ctx, st.Head); err != nil {
		return err
	}
	s.nextCheckpoint = now.Add(s.cfg.CheckpointInterval)
	return nil
}
