package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"sort"

	"appealhub/internal/store"
)

// Source is what Verify reads: the chain, its checkpoints and the events, from one snapshot.
type Source interface {
	ReadChain(ctx context.Context, v store.ChainVisitor) error
}

// Verifier checks a checkpoint's signature over content (see CheckpointContent). It returns nil
// when sig is a valid signature by signer. It may block and must honour ctx.
type Verifier interface {
	Verify(ctx context.Context, content, sig []byte, signer string) error
}

// Kind says what is wrong with a link. The values are stable: scripts and alerts match them.
type Kind string

// What Verify detects.
const (
	// KindEventChanged: the event differs from what was sealed (the next link confirms the link).
	KindEventChanged Kind = "event_changed"
	// KindEventsSwapped: two events carry each other's sealed content.
	KindEventsSwapped Kind = "events_swapped"
	// KindEventMissing: a link seals an event that no longer exists.
	KindEventMissing Kind = "event_missing"
	// KindEventInserted: an event that sorts before the chain head has no link: it was inserted
	// afterwards, or its link was deleted.
	KindEventInserted Kind = "event_inserted"
	// KindChainChanged: a link was altered (its hash, its prev_hash or its place in the order).
	KindChainChanged Kind = "chain_changed"
	// KindLinksMissing: positions are missing in the chain (links deleted with or without their
	// events).
	KindLinksMissing Kind = "links_missing"
	// KindHashMismatch: the last link does not match its event and nothing after it tells whether
	// the event or the link was changed.
	KindHashMismatch Kind = "hash_mismatch"
	// KindTailCut: a checkpoint names a position the chain no longer reaches.
	KindTailCut Kind = "tail_cut"
	// KindCheckpointMismatch: a checkpoint disagrees with the link at its position (the chain was
	// rewritten from there, or the checkpoint was altered).
	KindCheckpointMismatch Kind = "checkpoint_mismatch"
	// KindSignatureInvalid: a checkpoint's signature does not verify.
	KindSignatureInvalid Kind = "signature_invalid"
)

// Break is one broken link.
type Break struct {
	Kind Kind `json:"kind"`
	// Pos is the chain position concerned: the broken link; for links_missing and tail_cut the
	// first missing position; for event_inserted the position of the link the event sorts before.
	Pos int64 `json:"pos"`
	// Seq is the event concerned; for tail_cut the event of the first checkpoint beyond the end;
	// 0 for links_missing.
	Seq int64 `json:"seq"`
	// OtherSeq is, for events_swapped, the event this one swapped content with.
	OtherSeq int64 `json:"other_seq,omitempty"`
	// Checkpoint is the checkpoint concerned, for checkpoint_mismatch, signature_invalid and tail_cut.
	Checkpoint int64 `json:"checkpoint,omitempty"`
	// Detail says what is wrong, in words (no event content).
	Detail string `json:"detail"`
}

// Head is the last link of the chain.
type Head struct {
	Pos  int64  `json:"pos"`
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"` // hex
}

// MaxBreaks is the most breaks a Report lists (BreakCount counts them all).
const MaxBreaks = 100

// Report is the outcome of Verify.
type Report struct {
	Links    int64 `json:"links"`
	Head     *Head `json:"head,omitempty"` // nil when the chain is empty
	Unsealed int64 `json:"unsealed"`       // events after the head, not sealed yet
	// Checkpoints counts the checkpoints; of those, Verified had a valid signature, Unverified a
	// signature that was not checked (no Verifier) and Unsigned none.
	Checkpoints int `json:"checkpoints"`
	Verified    int `json:"signatures_verified"`
	Unverified  int `json:"signatures_unverified"`
	Unsigned    int `json:"unsigned"`
	// Breaks are the first MaxBreaks breaks in chain order; BreakCount counts all of them.
	Breaks     []Break `json:"breaks"`
	BreakCount int     `json:"break_count"`
}

// Intact reports whether no break was found.
func (r Report) Intact() bool { return r.BreakCount == 0 }

// First returns the first break in chain order.
func (r Report) First() (Break, bool) {
	if len(r.Breaks) == 0 {
		return Break{}, false
	}
	return r.Breaks[0], true
}

// Verify walks the whole chain from one snapshot of src: it recomputes every link's hash from its
// event and the previous link, checks that positions have no gaps and that every event before the
// head is sealed, and checks every checkpoint against the link at its position (and its signature,
// when v is not nil; nil leaves signatures unchecked). A broken chain is reported in the Report,
// not as an error; the error is for failing to read.
func Verify(ctx context.Context, src Source, v Verifier) (Report, error) {
	w := &walker{ctx: ctx, verifier: v, checkpoints: map[int64][]store.ChainCheckpoint{}, suspects: map[int64]suspect{}}
	w.report.Breaks = []Break{}
	err := src.ReadChain(ctx, store.ChainVisitor{
		CheckpointFunc: w.checkpoint,
		HeadFunc:       w.head,
		StrayFunc:      w.stray,
		LinkFunc:       w.link,
	})
	if err != nil {
		return Report{}, fmt.Errorf("verify event chain: %w", err)
	}
	w.finish()
	return w.report, nil
}

// key is an event's place in sealing order.
type key struct {
	txid uint64
	seq  int64
}

func (a key) less(b key) bool { return a.txid < b.txid || (a.txid == b.txid && a.seq < b.seq) }

// pendingLink is a link whose hash does not match its event, waiting for the next link to tell
// whether the event or the link changed.
type pendingLink struct {
	link       store.ChainLink
	event      store.ChainEvent
	prev       []byte // the hash the link should follow
	recomputed []byte
}

// suspect is a link whose event changed, kept to look for a swap.
type suspect struct {
	seq        int64
	prev, hash []byte
	event      store.ChainEvent
}

// maxSuspects bounds the changed events kept for the swap search.
const maxSuspects = 256

type walker struct {
	ctx      context.Context
	verifier Verifier
	report   Report

	checkpoints map[int64][]store.ChainCheckpoint // by position
	strays      []store.ChainEvent                // the first MaxBreaks, in sealing order
	nextStray   int

	lastPos  int64
	lastKey  key
	carry    []byte // the hash the next link's prev_hash must be
	pending  *pendingLink
	suspects map[int64]suspect // by position
}

func (w *walker) add(b Break) {
	w.report.BreakCount++
	breaks := w.report.Breaks
	i := sort.Search(len(breaks), func(i int) bool { return breaks[i].Pos > b.Pos })
	if i >= MaxBreaks {
		return
	}
	breaks = append(breaks, Break{})
	copy(breaks[i+1:], breaks[i:])
	breaks[i] = b
	if len(breaks) > MaxBreaks {
		breaks = breaks[:MaxBreaks]
	}
	w.report.Breaks = breaks
}

func (w *walker) checkpoint(cp store.ChainCheckpoint) error {
	w.report.Checkpoints++
	w.checkpoints[cp.Pos] = append(w.checkpoints[cp.Pos], cp)
	switch {
	case cp.Signature == nil:
		w.report.Unsigned++
	case w.verifier == nil:
		w.report.Unverified++
	default:
		content := CheckpointContent(cp.Pos, cp.Seq, cp.Hash, cp.CreatedAt)
		if err := w.verifier.Verify(w.ctx, content, cp.Signature, cp.Signer); err != nil {
			if w.ctx.Err() != nil {
				return w.ctx.Err()
			}
			w.add(Break{Kind: KindSignatureInvalid, Pos: cp.Pos, Seq: cp.Seq, Checkpoint: cp.ID,
				Detail: fmt.Sprintf("checkpoint %d: the signature by %q does not verify: %v", cp.ID, cp.Signer, err)})
			return nil
		}
		w.report.Verified++
	}
	return nil
}

func (w *walker) head(h store.ChainLink, unsealed int64) error {
	if h.Pos > 0 {
		w.report.Head = &Head{Pos: h.Pos, Seq: h.Seq, Hash: hex.EncodeToString(h.Hash)}
	}
	w.report.Unsealed = unsealed
	return nil
}

func (w *walker) stray(e store.ChainEvent) error {
	if len(w.strays) < MaxBreaks {
		w.strays = append(w.strays, e)
	} else {
		w.report.BreakCount++ // beyond what a report lists
	}
	return nil
}

func (w *walker) link(l store.ChainLink, e *store.ChainEvent) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	lk := key{l.TxID, l.Seq}
	for ; w.nextStray < len(w.strays); w.nextStray++ {
		s := w.strays[w.nextStray]
		if !(key{s.TxID, s.Seq}).less(lk) {
			break
		}
		w.addStray(s, l.Pos)
	}
	gap := l.Pos != w.lastPos+1
	if gap {
		w.add(Break{Kind: KindLinksMissing, Pos: w.lastPos + 1,
			Detail: fmt.Sprintf("links %d to %d are missing (the next link present seals seq %d)", w.lastPos+1, l.Pos-1, l.Seq)})
		w.resolve(nil, false)
	} else {
		w.resolve(l.PrevHash, true)
	}
	if w.lastPos > 0 && !w.lastKey.less(lk) {
		w.add(Break{Kind: KindChainChanged, Pos: l.Pos, Seq: l.Seq, Detail: "the link is out of sealing order"})
	}
	prev := w.carry
	switch {
	case gap:
		prev = l.PrevHash // nothing to compare with across a gap
	case !bytes.Equal(l.PrevHash, prev):
		w.add(Break{Kind: KindChainChanged, Pos: l.Pos, Seq: l.Seq,
			Detail: fmt.Sprintf("its prev_hash is not the hash of link %d", l.Pos-1)})
	}
	w.lastPos, w.lastKey = l.Pos, lk
	w.report.Links++
	if e == nil {
		w.add(Break{Kind: KindEventMissing, Pos: l.Pos, Seq: l.Seq, Detail: fmt.Sprintf("event %d, sealed by this link, is gone", l.Seq)})
		w.settle(l, l.Hash)
		return nil
	}
	if r := LinkHash(prev, *e); !bytes.Equal(r, l.Hash) {
		w.pending = &pendingLink{link: l, event: *e, prev: prev, recomputed: r}
		return nil
	}
	w.settle(l, l.Hash)
	return nil
}

func (w *walker) addStray(e store.ChainEvent, pos int64) {
	w.add(Break{Kind: KindEventInserted, Pos: pos, Seq: e.Seq,
		Detail: fmt.Sprintf("event %d sorts before the chain head but no link seals it", e.Seq)})
}

// resolve classifies the pending link, if any, with the prev_hash of the link after it (hasNext
// false: there is none, or a gap follows).
func (w *walker) resolve(nextPrev []byte, hasNext bool) {
	p := w.pending
	if p == nil {
		return
	}
	w.pending = nil
	l := p.link
	if !hasNext {
		// The checkpoints at this position, if any, say which hash is the sealed one.
		for _, cp := range w.checkpoints[l.Pos] {
			if cp.Seq == l.Seq && bytes.Equal(cp.Hash, p.recomputed) {
				nextPrev, hasNext = p.recomputed, true
			} else if cp.Seq == l.Seq && bytes.Equal(cp.Hash, l.Hash) {
				nextPrev, hasNext = l.Hash, true
			}
		}
	}
	switch {
	case hasNext && bytes.Equal(nextPrev, p.recomputed):
		w.add(Break{Kind: KindChainChanged, Pos: l.Pos, Seq: l.Seq, Detail: "the link's hash was changed"})
		w.settle(l, p.recomputed)
	case hasNext && bytes.Equal(nextPrev, l.Hash):
		w.add(Break{Kind: KindEventChanged, Pos: l.Pos, Seq: l.Seq, Detail: fmt.Sprintf("event %d differs from what was sealed", l.Seq)})
		if len(w.suspects) < maxSuspects {
			w.suspects[l.Pos] = suspect{seq: l.Seq, prev: p.prev, hash: l.Hash, event: p.event}
		}
		w.settle(l, l.Hash)
	default:
		w.add(Break{Kind: KindHashMismatch, Pos: l.Pos, Seq: l.Seq,
			Detail: fmt.Sprintf("event %d does not match its link, and nothing after the link tells which of the two changed", l.Seq)})
		w.settle(l, l.Hash)
	}
}

// settle records the hash link l is taken to have (what the next link must follow) and checks the
// checkpoints at its position against it.
func (w *walker) settle(l store.ChainLink, hash []byte) {
	w.carry = hash
	for _, cp := range w.checkpoints[l.Pos] {
		if cp.Seq != l.Seq || !bytes.Equal(cp.Hash, hash) {
			w.add(Break{Kind: KindCheckpointMismatch, Pos: l.Pos, Seq: l.Seq, Checkpoint: cp.ID,
				Detail: fmt.Sprintf("checkpoint %d recorded seq %d with hash %x here; the chain has seq %d with hash %x",
					cp.ID, cp.Seq, cp.Hash, l.Seq, hash)})
		}
	}
}

func (w *walker) finish() {
	w.resolve(nil, false)
	for ; w.nextStray < len(w.strays); w.nextStray++ {
		w.addStray(w.strays[w.nextStray], w.lastPos+1)
	}
	var first, last *store.ChainCheckpoint
	for pos, cps := range w.checkpoints {
		if pos <= w.lastPos {
			continue
		}
		for i := range cps {
			if first == nil || pos < first.Pos {
				first = &cps[i]
			}
			if last == nil || pos > last.Pos {
				last = &cps[i]
			}
		}
	}
	if first != nil {
		w.add(Break{Kind: KindTailCut, Pos: w.lastPos + 1, Seq: first.Seq, Checkpoint: last.ID,
			Detail: fmt.Sprintf("the chain ends at position %d, but checkpoint %d was taken at position %d (seq %d)",
				w.lastPos, last.ID, last.Pos, last.Seq)})
	}
	w.pairSwaps()
}

// pairSwaps turns two event_changed breaks into events_swapped when each event carries exactly
// what the other's link sealed.
func (w *walker) pairSwaps() {
	for i := range w.report.Breaks {
		b := &w.report.Breaks[i]
		if b.Kind != KindEventChanged {
			continue
		}
		a, ok := w.suspects[b.Pos]
		if !ok {
			continue
		}
		for pos, o := range w.suspects {
			if pos == b.Pos {
				continue
			}
			ae, oe := a.event, o.event
			ae.Seq, oe.Seq = o.seq, a.seq
			if bytes.Equal(LinkHash(o.prev, ae), o.hash) && bytes.Equal(LinkHash(a.prev, oe), a.hash) {
				b.Kind, b.OtherSeq = KindEventsSwapped, o.seq
				b.Detail = fmt.Sprintf("events %d and %d carry each other's sealed content", a.seq, o.seq)
				break
			}
		}
	}
}
