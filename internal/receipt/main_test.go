package receipt_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// lib/pq connections wind down asynchronously after Close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
