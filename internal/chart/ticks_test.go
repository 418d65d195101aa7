package chart

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAxis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max       float64
		unit      Unit
		step, top float64
	}{
		{0, UnitCount, 1, 1},
		{0.3, UnitCount, 1, 1},
		{1, UnitCount, 1, 1},
		{3, UnitCount, 1, 3},
		{5, UnitCount, 1, 5},
		{7, UnitCount, 2, 8},
		{10, UnitCount, 2, 10},
		{11, UnitCount, 2, 12},
		{23, UnitCount, 5, 25},
		{99, UnitCount, 20, 100},
		{101, UnitCount, 20, 120},
		{260, UnitCount, 50, 300},
		{1520, UnitCount, 500, 2000},
		{1e15, UnitCount, 2e14, 1e15},
		{0, UnitPercent, 20, 100},
		{37.5, UnitPercent, 20, 100},
		{100, UnitPercent, 20, 100},
		{150, UnitPercent, 50, 150},
		{0, UnitDuration, 1, 1},
		{4, UnitDuration, 1, 4},
		{45, UnitDuration, 10, 50},
		{3600, UnitDuration, 10 * 60, 3600},
		{26 * 3600, UnitDuration, 6 * 3600, 30 * 3600},
		{15 * 86400, UnitDuration, 5 * 86400, 15 * 86400},
		{100 * 86400, UnitDuration, 30 * 86400, 120 * 86400},
		{400 * 86400, UnitDuration, 100 * 86400, 400 * 86400},
	} {
		step, top := axis(tc.max, tc.unit)
		require.Equal(t, tc.step, step, "step of %v %s", tc.max, tc.unit)
		require.Equal(t, tc.top, top, "top of %v %s", tc.max, tc.unit)
	}
}

// TestAxisProperties checks, over many maxima, that the axis covers the maximum with at most
// targetIntervals steps of 1, 2 or 5 × 10^n, and that the ticks are exact.
func TestAxisProperties(t *testing.T) {
	t.Parallel()
	for _, unit := range []Unit{UnitCount, UnitPercent, UnitDuration} {
		for v := 0.0; v < 1e15; v = v*1.37 + 0.7 {
			step, top := axis(v, unit)
			require.GreaterOrEqual(t, top, v, "%v %s", v, unit)
			require.LessOrEqual(t, top/step, float64(targetIntervals)+1e-9, "%v %s", v, unit)
			tv := ticks(step, top)
			require.Equal(t, 0.0, tv[0])
			require.InDelta(t, top, tv[len(tv)-1], top*1e-12)
			if unit == UnitCount {
				m := step / math.Pow(10, math.Floor(math.Log10(step)))
				require.Contains(t, []float64{1, 2, 5}, math.Round(m*1e9)/1e9, "step %v", step)
			}
			for _, x := range tv {
				s := unit.Format(x)
				require.NotContains(t, s, "e+", "tick %v formats as %q", x, s)
			}
		}
	}
}

func TestNiceStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, min, want float64 }{
		{0, 1, 1},
		{0.7, 1, 1},
		{0.07, 0.01, 0.1},
		{1.0000000001, 1, 2},
		{2, 1, 2},
		{2.1, 1, 5},
		{5, 1, 5},
		{5.5, 1, 10},
		{9.99, 1, 10},
		{12, 1, 20},
		{0.3, 0.1, 0.5},
	} {
		require.Equal(t, tc.want, niceStep(tc.raw, tc.min), "niceStep(%v, %v)", tc.raw, tc.min)
	}
}

func TestLabelEvery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n           int
		width, slot float64
		want        int
	}{
		{0, 500, 50, 1},
		{1, 500, 50, 1},
		{11, 500, 50, 1},
		{12, 500, 50, 2},
		{365, 700, 60, 32},
		{5, 0, 50, 1},
	} {
		require.Equal(t, tc.want, labelEvery(tc.n, tc.width, tc.slot), "%+v", tc)
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven runes", 10, "eleven ru…"},
		{"word and more", 6, "word…"},
		{"Київська область", 8, "Київськ…"},
		{" a\t\nb  c ", 10, "a b c"},
		{"abc", 0, "…"},
	} {
		require.Equal(t, tc.want, cut(tc.in, tc.n), "cut(%q, %d)", tc.in, tc.n)
	}
}

func TestNum(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0", num(math.Copysign(0, -1)))
	require.Equal(t, "0.3", num(0.1+0.2))
	require.Equal(t, "12.35", num(12.345678))
	require.Equal(t, "4096", num(4096))
}

// TestPaletteGreyscale checks that any two series differ in grey level or dash pattern, and that
// neighbours in the palette differ in grey level.
func TestPaletteGreyscale(t *testing.T) {
	t.Parallel()
	grey := func(hex string) float64 {
		c, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
		require.NoError(t, err)
		r, g, b := float64(c>>16&0xff), float64(c>>8&0xff), float64(c&0xff)
		return (0.2126*r + 0.7152*g + 0.0722*b) / 255
	}
	for i := range palette {
		for j := i + 1; j < len(palette); j++ {
			require.NotEqual(t, palette[i].dash, palette[j].dash, "series %d and %d share a dash pattern", i, j)
			require.NotEqual(t, palette[i].colour, palette[j].colour)
		}
		if i > 0 {
			require.Greater(t, math.Abs(grey(palette[i].colour)-grey(palette[i-1].colour)), 0.15,
				"series %d and %d look alike in greyscale", i-1, i)
		}
	}
}
