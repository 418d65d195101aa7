package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPublishStalls(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rows := []outboxRow{
		{Ready: at(0), Published: at(10)},
		{Ready: at(5), Published: at(20)},
		// Nothing was ready between 20 and 1000: no stall, however long the gap.
		{Ready: at(1000), Published: at(1010)},
		// Ready at 1020, published only at 4020 (a failover), and a row ready at 1030 behind it.
		{Ready: at(1020), Published: at(4020)},
		{Ready: at(1030), Published: at(4020)},
		// A retry ready later than it was created but published late too.
		{Ready: at(5000), Published: at(5500)},
	}
	stalls := publishStalls(rows)
	require.Equal(t, []stall{
		{From: at(10), To: at(20)},
		{From: at(1000), To: at(1010)},
		{From: at(1020), To: at(4020)},
		{From: at(5000), To: at(5500)},
	}, stalls)
	require.Equal(t, 3*time.Second, longestStall(stalls, time.Time{}, at(10000)))
	require.Equal(t, 500*time.Millisecond, longestStall(stalls, at(4500), at(6000)), "only stalls overlapping the window")
	require.Zero(t, longestStall(stalls, at(6000), at(7000)))
	require.Nil(t, publishStalls(rows[:1]))
}

func TestBusiestLeader(t *testing.T) {
	t.Parallel()
	qs := []QuorumQueue{
		{Name: "a", Leader: "n1", Messages: 0},
		{Name: "b", Leader: "n1", Messages: 0},
		{Name: "c", Leader: "n2", Messages: 3},
		{Name: "d", Leader: "", Messages: 50}, // no leader right now: not counted
	}
	node, queues, messages := busiestLeader(qs)
	require.Equal(t, []any{"n2", 1, 3}, []any{node, queues, messages}, "the most messages wins")
	qs[2].Messages = 0
	node, queues, messages = busiestLeader(qs)
	require.Equal(t, []any{"n1", 2, 0}, []any{node, queues, messages}, "then the most queues")
}

func TestReplicationAndOnline(t *testing.T) {
	t.Parallel()
	nodes := []string{"n1", "n2", "n3"}
	qs := []QuorumQueue{
		{Name: authorityQueue(Codes[0]), Leader: "n1", Members: nodes, Online: nodes},
		{Name: authorityQueue(Codes[1]), Leader: "n2", Members: nodes, Online: nodes},
		{Name: "hub.dead", Leader: "n1", Members: nodes, Online: nodes},
	}
	desc, err := replication(qs, Codes[:2])
	require.NoError(t, err)
	require.Equal(t, "3 of 3 quorum queues (2 of 2 authority queues) on 3 nodes", desc)
	require.True(t, allOnline(qs))
	require.Equal(t, 2, ledBy(qs, "n1"))

	qs[1].Online, qs[2].Leader = []string{"n2", "n3"}, ""
	require.False(t, allOnline(qs), "a member offline")
	require.Equal(t, 2, ledBy(qs, "n1"), "a queue without a leader counts as still led by the dead node")
	_, err = replication(qs, Codes[:3])
	require.ErrorContains(t, err, "2 of 3 authority queues", "an authority queue missing")
	qs[0].Members = nodes[:2]
	_, err = replication(qs, Codes[:2])
	require.ErrorContains(t, err, "2 of 3 quorum queues")
}

func TestJoinDurations(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1.5s n/a 20ms", joinDurations([]time.Duration{1500 * time.Millisecond, -1, 20 * time.Millisecond}))
}
