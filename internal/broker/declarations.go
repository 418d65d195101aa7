package broker

import (
	"sync"
	"time"
)

// Declarations remembers when each queue was last declared, with its binding, by a Consumer, so
// that a Publisher sharing it (Config.Declarations) publishes to a queue its process's consumer
// declared without declaring it again: with thousands of authorities, a cold or reconnected
// Publisher would otherwise declare every queue once more on the broker.
//
// The Publisher trusts a consumer's declaration only when it is newer than the Publisher's last
// reason to doubt it: its publishing connection was replaced (say the exchange was deleted, and
// every binding with it), or the broker returned a message of that code as unroutable. Then it
// declares the queue itself, as without a ledger. Safe for concurrent use; the zero value is not:
// use NewDeclarations.
type Declarations struct {
	mu sync.Mutex
	at map[string]time.Time // queue name → when a Consumer last declared it
}

// NewDeclarations returns an empty ledger.
func NewDeclarations() *Declarations { return &Declarations{at: map[string]time.Time{}} }

// record notes that queue was declared (and bound) now.
func (d *Declarations) record(queue string) {
	if d == nil {
		return
	}
	now := time.Now()
	d.mu.Lock()
	d.at[queue] = now
	d.mu.Unlock()
}

// declaredAfter reports whether queue was declared after t.
func (d *Declarations) declaredAfter(queue string, t time.Time) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	at, ok := d.at[queue]
	d.mu.Unlock()
	return ok && at.After(t)
}
