package signature

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// chainCacheSize bounds the chains remembered: when full, the cache starts again empty.
const chainCacheSize = 10000

// chainCache remembers the chains x509 built from a signer certificate and the certificates its
// SignedData carried to the loaded trust anchors. Building them checks a signature per link,
// the same work for every signature a citizen makes with the same certificate (an appeal
// carries two: text and attachment). Only what is independent of the verification time is
// reused: a remembered chain is offered only when every certificate of it is valid at that
// time, and revocation is checked again on every call against the current CRLs. The chains
// offered are therefore a subset of what x509 would build at that time (a chain that was not
// valid when the entry was made is missing); checkChain builds them afresh when none of the
// offered ones passes. A Reload (new anchors) empties the cache.
type chainCache struct {
	mu     sync.Mutex
	anchor *trustStore // the trust store the entries were built against
	chains map[[sha256.Size]byte][]cachedChain
}

type cachedChain struct {
	certs       []*x509.Certificate
	from, until time.Time // every certificate of the chain is valid from..until
}

// chainKey identifies a signer certificate with the other certificates of its SignedData.
func chainKey(leaf *x509.Certificate, certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	add := func(der []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(der)))
		h.Write(n[:])
		h.Write(der)
	}
	add(leaf.Raw)
	for _, c := range certs {
		if c != leaf {
			add(c.Raw)
		}
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// get returns the remembered chains for key built against ts that are valid at at.
func (c *chainCache) get(ts *trustStore, key [sha256.Size]byte, at time.Time) [][]*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.anchor != ts {
		return nil
	}
	var out [][]*x509.Certificate
	for _, ch := range c.chains[key] {
		if !at.Before(ch.from) && !at.After(ch.until) {
			out = append(out, ch.certs)
		}
	}
	return out
}

// put remembers the chains x509 built for key against ts.
func (c *chainCache) put(ts *trustStore, key [sha256.Size]byte, chains [][]*x509.Certificate) {
	entry := make([]cachedChain, 0, len(chains))
	for _, certs := range chains {
		ch := cachedChain{certs: certs}
		for i, cert := range certs {
			if i == 0 || cert.NotBefore.After(ch.from) {
				ch.from = cert.NotBefore
			}
			if i == 0 || cert.NotAfter.Before(ch.until) {
				ch.until = cert.NotAfter
			}
		}
		entry = append(entry, ch)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.anchor != ts || len(c.chains) >= chainCacheSize {
		c.anchor, c.chains = ts, map[[sha256.Size]byte][]cachedChain{}
	}
	c.chains[key] = entry
}
