package chart_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/chart"
)

func TestUnitFormat(t *testing.T) {
	t.Parallel()
	const day, hour, minute = 86400.0, 3600.0, 60.0
	for _, tc := range []struct {
		unit chart.Unit
		v    float64
		want string
	}{
		{chart.UnitCount, 0, "0"},
		{chart.UnitCount, math.Copysign(0, -1), "0"},
		{chart.UnitCount, 7, "7"},
		{chart.UnitCount, 1234, "1234"},
		{chart.UnitCount, 12345, "12 345"},
		{chart.UnitCount, 1234567, "1 234 567"},
		{chart.UnitCount, 2.5, "2.5"},
		{chart.UnitCount, 0.126, "0.13"},
		{chart.UnitCount, 12345.678, "12 345.68"},
		{chart.UnitCount, 1e15, "1 000 000 000 000 000"},
		{chart.UnitCount, math.NaN(), "no data"},
		{chart.UnitPercent, 0, "0 %"},
		{chart.UnitPercent, 87.5, "87.5 %"},
		{chart.UnitPercent, 99.96, "100 %"},
		{chart.UnitPercent, 100, "100 %"},
		{chart.UnitDuration, 0, "0 s"},
		{chart.UnitDuration, 0.4, "0.4 s"},
		{chart.UnitDuration, 45, "45 s"},
		{chart.UnitDuration, 59.6, "1 min"},
		{chart.UnitDuration, 90, "1 min 30 s"},
		{chart.UnitDuration, hour, "1 h"},
		{chart.UnitDuration, 2*hour + 5*minute, "2 h 5 min"},
		{chart.UnitDuration, day - 1, "1 d"},
		{chart.UnitDuration, 3*day + 4*hour, "3 d 4 h"},
		{chart.UnitDuration, 3*day + 4*hour + 40*minute, "3 d 5 h"},
		{chart.UnitDuration, 400 * day, "400 d"},
		{chart.UnitDuration, math.NaN(), "no data"},
	} {
		require.Equal(t, tc.want, tc.unit.Format(tc.v), "%s %v", tc.unit, tc.v)
	}
}

func TestUnitString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "count", chart.UnitCount.String())
	require.Equal(t, "percent", chart.UnitPercent.String())
	require.Equal(t, "duration", chart.UnitDuration.String())
}
