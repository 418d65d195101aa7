package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"appealhub/internal/audit"
	"appealhub/internal/clock"
)

// TestFollowLogsEachFailureOnce: a failure repeated is logged once (again only after a minute), a
// new one at once, and the loop ends when its context does.
func TestFollowLogsEachFailureOnce(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	c := clock.NewStub(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	steps := []error{errors.New("db down"), errors.New("db down"), errors.New("lock lost"), errors.New("lock lost"),
		errors.New("lock lost"), nil, errors.New("db down"), nil}
	calls := 0
	audit.Follow(ctx, time.Millisecond, c, zap.New(core), "notifying", func(context.Context) (int, error) {
		err := steps[calls]
		calls++
		if calls == 4 {
			c.Advance(2 * time.Minute) // the fourth step fails a minute after the third was logged
		}
		if calls == len(steps) {
			cancel()
			return 0, nil // nothing done: nothing logged
		}
		return 1, err
	})
	require.Equal(t, len(steps), calls)
	var msgs []string
	for _, e := range logs.All() {
		msgs = append(msgs, e.Message)
	}
	require.Equal(t, []string{"notifying failed; retrying", "notifying failed; retrying", "notifying failed; retrying",
		"notifying", "notifying failed; retrying"}, msgs)
	require.Equal(t, "lock lost", logs.All()[1].ContextMap()["error"])
}
