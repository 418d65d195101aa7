package audit_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"appealhub/internal/audit"
	"appealhub/internal/store"
)

// hmacKey signs and verifies checkpoints with HMAC-SHA-256 (a stand-in for a real signature).
type hmacKey struct{ name, secret string }

func (k hmacKey) mac(content []byte) []byte {
	m := hmac.New(sha256.New, []byte(k.secret))
	m.Write(content)
	return m.Sum(nil)
}

func (k hmacKey) Sign(_ context.Context, content []byte) ([]byte, string, error) {
	return k.mac(content), k.name, nil
}

func (k hmacKey) Verify(_ context.Context, content, sig []byte, signer string) error {
	if signer != k.name {
		return fmt.Errorf("unknown signer %q", signer)
	}
	if !hmac.Equal(sig, k.mac(content)) {
		return errors.New("bad signature")
	}
	return nil
}

var (
	_ audit.Signer   = hmacKey{}
	_ audit.Verifier = hmacKey{}
)

// memChain is an event chain in memory, read the way store.ReadChain reads the real one.
type memChain struct {
	events      map[int64]store.ChainEvent // by seq
	links       []store.ChainLink
	checkpoints []store.ChainCheckpoint
}

// newMemChain seals n events with seqs 10, 20, 30 … (as if rollbacks took the seqs between),
// two events per transaction.
func newMemChain(n int) *memChain {
	c := &memChain{events: map[int64]store.ChainEvent{}}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range n {
		e := store.ChainEvent{Seq: int64(10 * (i + 1)), TxID: uint64(1000 + i/2),
			AppealID: fmt.Sprintf("0190f5a2-0000-7000-8000-%012d", i/3), Type: "delivery_queued", Status: "queued",
			Detail: fmt.Sprintf("step %d", i), CreatedAt: at.Add(time.Duration(i) * time.Second)}
		if i%3 != 0 {
			e.DeliveryID = fmt.Sprintf("0190f5a2-1111-7000-8000-%012d", i)
		}
		c.events[e.Seq] = e
		c.seal(e)
	}
	return c
}

func (c *memChain) seal(e store.ChainEvent) {
	var prev []byte
	if n := len(c.links); n > 0 {
		prev = c.links[n-1].Hash
	}
	c.links = append(c.links, store.ChainLink{Pos: int64(len(c.links) + 1), Seq: e.Seq, TxID: e.TxID, PrevHash: prev,
		Hash: audit.LinkHash(prev, e)})
}

// link returns the link at pos.
func (c *memChain) link(pos int64) *store.ChainLink {
	for i := range c.links {
		if c.links[i].Pos == pos {
			return &c.links[i]
		}
	}
	panic(fmt.Sprintf("no link at %d", pos))
}

// checkpoint records a checkpoint of the link at pos, signed by key when it is not nil.
func (c *memChain) checkpoint(pos int64, key *hmacKey) store.ChainCheckpoint {
	l := c.link(pos)
	cp := store.ChainCheckpoint{ID: int64(len(c.checkpoints) + 1), Pos: l.Pos, Seq: l.Seq, Hash: l.Hash,
		CreatedAt: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	if key != nil {
		cp.Signature, cp.Signer, _ = key.Sign(context.Background(), audit.CheckpointContent(cp.Pos, cp.Seq, cp.Hash, cp.CreatedAt))
	}
	c.checkpoints = append(c.checkpoints, cp)
	return cp
}

func (c *memChain) ReadChain(_ context.Context, v store.ChainVisitor) error {
	for _, cp := range c.checkpoints {
		if err := v.CheckpointFunc(cp); err != nil {
			return err
		}
	}
	var head store.ChainLink
	if n := len(c.links); n > 0 {
		head = c.links[n-1]
	}
	sealed := map[int64]bool{}
	for _, l := range c.links {
		sealed[l.Seq] = true
	}
	var strays []store.ChainEvent
	var unsealed int64
	for _, e := range c.events {
		switch {
		case e.TxID > head.TxID || (e.TxID == head.TxID && e.Seq > head.Seq):
			unsealed++
		case !sealed[e.Seq]:
			strays = append(strays, e)
		}
	}
	if err := v.HeadFunc(head, unsealed); err != nil {
		return err
	}
	for i := range strays { // few: insertion sort by (txid, seq)
		for j := i; j > 0 && (strays[j].TxID < strays[j-1].TxID ||
			(strays[j].TxID == strays[j-1].TxID && strays[j].Seq < strays[j-1].Seq)); j-- {
			strays[j], strays[j-1] = strays[j-1], strays[j]
		}
	}
	for _, e := range strays {
		if err := v.StrayFunc(e); err != nil {
			return err
		}
	}
	for _, l := range c.links {
		var ev *store.ChainEvent
		if e, ok := c.events[l.Seq]; ok {
			ev = &e
		}
		if err := v.LinkFunc(l, ev); err != nil {
			return err
		}
	}
	return nil
}
