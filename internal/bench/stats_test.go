package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i+1) * time.Millisecond // 100ms … 1ms, unsorted
	}
	require.Equal(t, 50*time.Millisecond, Percentile(ds, 50))
	require.Equal(t, 99*time.Millisecond, Percentile(ds, 99))
	require.Equal(t, 100*time.Millisecond, Percentile(ds, 100))
	require.Equal(t, time.Millisecond, Percentile(ds, 0.1))
	require.Equal(t, 100*time.Millisecond, ds[0], "the input is not sorted in place")
	require.Equal(t, 7*time.Millisecond, Percentile([]time.Duration{7 * time.Millisecond}, 99))
	require.Zero(t, Percentile(nil, 50))
	require.InDelta(t, 1.5, Millis(1500*time.Microsecond), 1e-9)
}

func TestMedianRatioOverRounds(t *testing.T) {
	require.InDelta(t, 2.0, median([]float64{3, 1, 2}), 1e-9)
	require.InDelta(t, 2.5, median([]float64{4, 1, 3, 2}), 1e-9)

	run := func(delivered int) compareRun {
		return compareRun{closed: endToEnd{delivered: delivered, wall: time.Second}}
	}
	one := compareCase{name: "one"}
	three := compareCase{name: "three"}
	resultsMu.Lock()
	saved := compares
	compares = []compareResult{
		{cc: one, hub: run(70), base: run(100)},
		{cc: three, hub: run(60), base: run(100)},
		{cc: three, hub: run(80), base: run(100)},
		{cc: three, hub: run(75), base: run(100)},
	}
	var out bytes.Buffer
	printRatioRounds(&out)
	compares = saved
	resultsMu.Unlock()
	// A case run once has no median line; one run three times reports its middle round.
	require.Equal(t, "three: median ratio 0.75 over 3 rounds (lowest 0.60, highest 0.80)\n", out.String())
}

func TestBodyIsAValidSubmissionOfTheAskedSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1 << 10, 3 << 10, 64 << 10, 256 << 10} {
		for n := range 3 {
			b := Body(n, size, "50000001")
			require.InDelta(t, size, len(b), 8, "size %d, n %d", size, n)
			sub, err := schemas.DecodeSubmission(b)
			require.NoError(t, err, "size %d, n %d", size, n)
			require.Equal(t, []string{"50000001"}, sub.Addressees)
			require.Equal(t, size > attachmentOver, len(sub.Attachments) == 1, "size %d", size)
		}
		require.NotEqual(t, Body(1, size, "50000001"), Body(2, size, "50000001"), "bodies differ by n")
		require.Equal(t, Body(1, size, "50000001"), Body(1, size, "50000001"), "bodies are deterministic")
	}
}

func TestCPUUse(t *testing.T) {
	t.Parallel()
	at := time.Now()
	a := CPUSample{At: at, Busy: time.Second, Self: 100 * time.Millisecond}
	b := CPUSample{At: at.Add(2 * time.Second), Busy: 4 * time.Second, IRQ: 200 * time.Millisecond,
		Self: 1100 * time.Millisecond, Postgres: time.Second, RabbitMQ: 500 * time.Millisecond}
	c := b.Since(a).Add(CPUUse{Wall: 2 * time.Second}).Cores()
	require.InDelta(t, 0.75, c.Busy, 1e-9)
	require.InDelta(t, 0.25, c.Self, 1e-9)
	require.InDelta(t, 0.25, c.Postgres, 1e-9)
	require.InDelta(t, 0.125, c.RabbitMQ, 1e-9)
	require.InDelta(t, 0.05, c.IRQ, 1e-9)
	require.InDelta(t, 0.075, c.Other, 1e-9)
	require.Equal(t, Cores{}, CPUUse{}.Cores(), "an empty interval uses nothing")
	s := ReadCPU()
	require.False(t, s.At.IsZero())
	require.GreaterOrEqual(t, s.Busy, s.Self, "the machine is at least as busy as this process")
	require.GreaterOrEqual(t, s.Busy, s.IRQ)
}

func TestCPUUseCountsBackendsThatCameAndWent(t *testing.T) {
	t.Parallel()
	at := time.Now()
	ms := time.Millisecond
	earlier := CPUSample{At: at, servers: map[int]serverCPU{
		1:  {cpu: 100 * ms},               // the postmaster
		2:  {cpu: 40 * ms},                // a backend that lives on
		3:  {cpu: 30 * ms},                // a backend that exits in between
		9:  {rabbit: true, cpu: 500 * ms}, // the broker
		10: {cpu: 7 * ms},                 // a process whose counter went back (pid reused): skipped
	}}
	later := CPUSample{At: at.Add(time.Second), servers: map[int]serverCPU{
		1:  {cpu: 110*ms + 50*ms}, // own +10, and the exited backend's 50 reaped
		2:  {cpu: 60 * ms},        // +20
		4:  {cpu: 25 * ms},        // started in between: all of it
		9:  {rabbit: true, cpu: 800 * ms},
		10: {cpu: 3 * ms},
	}}
	u := later.Since(earlier)
	require.Equal(t, 105*ms, u.Postgres, "postmaster 10 + reaped 50 + living backend 20 + new backend 25")
	require.Equal(t, 300*ms, u.RabbitMQ)
}

func TestReadMachine(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := ReadMachine(ctx, "postgres://invalid.invalid:1/none?connect_timeout=1")
	require.Positive(t, m.Cores)
	require.NotEmpty(t, m.GoVersion)
	require.Equal(t, "unknown", m.Postgres, "an unreachable database reads unknown")
}
