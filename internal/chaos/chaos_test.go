package chaos_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"appealhub/internal/chaos"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := chaos.RemoveBuilt(); err != nil {
		_, _ = fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		code = 1
	}
	if code == 0 {
		// lib/pq and net/http keep-alive goroutines wind down asynchronously after Close.
		if err := goleak.Find(
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			// toxiproxy v2.5.0 (in this process) leaves a link's reader and first stage blocked for
			// good when a toxic ends its stage (reset_peer, limit_data, a removed timeout) while
			// data still arrives: a leak of the test's proxy, not of the hub.
			goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2.(*ToxicLink).read"),
			goleak.IgnoreAnyFunction("github.com/Shopify/toxiproxy/v2/toxics.(*ToxicStub).Run"),
		); err != nil {
			_, _ = fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// full reports whether the full profile runs (make chaos: APPEALHUB_CHAOS=full): scenarios R0–R10
// (2,000 appeals each, R10 500) and N1 on a three-node cluster. Otherwise the short profile runs with
// `make test`: R0 with 200 appeals and R2 with two hub kills.
func full() bool { return os.Getenv("APPEALHUB_CHAOS") == "full" }

func TestScenarios(t *testing.T) {
	scenarios := []chaos.Scenario{
		chaos.R0(200, 50),
		chaos.R2(300, 50, 2, 2*time.Second),
	}
	if full() {
		scenarios = []chaos.Scenario{
			chaos.R0(2000, 50),
			chaos.R1(2000, 20, 5, 20*time.Second, 5*time.Second),
			chaos.R2(2000, 50, 10, 3*time.Second),
			chaos.R3(2000, 25, 3, 15*time.Second, 10*time.Second),
			chaos.R5(2000, 50, 12),
			chaos.R6(2000, 50, 30*time.Second),
			chaos.R7(2000, 50, 30*time.Second),
			chaos.R8(2000, 50, 1, 6),
			chaos.R9(2000, 50),
			chaos.N1(2000, 10, 3, 10*time.Second, 5*time.Second),
			chaos.R4(2000, 16, chaos.DefaultNetPlan()),
			chaos.R10(500, 10, 12, 3*time.Second),
		}
	}
	for _, sc := range scenarios {
		sc.Timing = full()
		t.Run(sc.ID, func(t *testing.T) {
			// Not parallel: each scenario runs its own broker node, PostgreSQL and hubs.
			chaos.RunScenario(t, sc)
		})
	}
}
