package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// TestRouteCacheExpiresAndKeepsNoReadFromBeforeAClear: an entry is answered until RoutingCacheTTL
// after it was read; what a read that began before a clear returns is not kept; past
// routeCacheMax entries the cache starts over.
func TestRouteCacheExpiresAndKeepsNoReadFromBeforeAClear(t *testing.T) {
	t.Parallel()
	var c routeCache
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	a := schemas.Authority{Code: "00000001", Status: schemas.AuthorityActive, Accepts: []string{"appeal"}}

	got, missing, gen := c.get([]string{a.Code}, t0)
	require.Empty(t, got)
	require.Equal(t, []string{a.Code}, missing)
	c.put([]schemas.Authority{a}, t0, gen)
	got, missing, _ = c.get([]string{a.Code}, t0.Add(RoutingCacheTTL-time.Nanosecond))
	require.Empty(t, missing)
	require.Equal(t, a, got[a.Code])
	_, missing, _ = c.get([]string{a.Code}, t0.Add(RoutingCacheTTL))
	require.Equal(t, []string{a.Code}, missing, "expired")

	// A read that began before a registry write finishes after it: not kept.
	_, _, gen = c.get([]string{a.Code}, t0)
	c.clear()
	c.put([]schemas.Authority{a}, t0, gen)
	_, missing, gen = c.get([]string{a.Code}, t0)
	require.Equal(t, []string{a.Code}, missing)

	for i := range routeCacheMax {
		c.put([]schemas.Authority{{Code: strconv.Itoa(i)}}, t0, gen)
	}
	require.Len(t, c.entries, routeCacheMax)
	c.put([]schemas.Authority{a}, t0, gen)
	require.Len(t, c.entries, 1, "started over")
}
