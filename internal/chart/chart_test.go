package chart_test

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/chart"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// months returns n monthly labels from January 2025.
func months(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%04d-%02d", 2025+i/12, i%12+1)
	}
	return out
}

// series builds a series from labels and values.
func series(name string, labels []string, values ...float64) chart.Series {
	s := chart.Series{Name: name}
	for i, v := range values {
		s.Points = append(s.Points, chart.Point{Label: labels[i], Value: v})
	}
	return s
}

const hostile = `<script>alert("x")</script> "&' ]]> </svg>`

// goldenCases are drawn and compared with testdata/golden/<name>.svg.
var goldenCases = []struct {
	name string
	draw func(w *bytes.Buffer) error
}{
	{"line_counts", func(w *bytes.Buffer) error {
		m := months(12)
		return chart.Line(w, "Appeals per month",
			series("received", m, 120, 135, 160, 150, 170, 210, 190, 180, 230, 260, 240, 250),
			series("delivered", m, 118, 130, 158, 149, 165, 205, 188, 179, 228, 255, 239, 247),
			series("answered", m, 80, 100, 120, 130, 140, 150, 160, 150, 170, 200, 190, 180))
	}},
	{"line_percent_gap", func(w *bytes.Buffer) error {
		m := months(8)
		return chart.LineWith(w, chart.Options{Title: "Answered on time", Unit: chart.UnitPercent, Width: 480, Height: 240},
			series("", m, 91.5, 88, math.NaN(), 93.25, 97, math.NaN(), 100, 99.9))
	}},
	{"line_duration", func(w *bytes.Buffer) error {
		m := months(6)
		const day, hour = 86400.0, 3600.0
		return chart.LineWith(w, chart.Options{Title: "Median time", Unit: chart.UnitDuration},
			series("to registration", m, 5*hour, 7*hour, 1*day+2*hour, 9*hour, 6*hour, 4*hour),
			series("to answer", m, 12*day, 14*day+6*hour, 15*day, 11*day, 9*day+12*hour, 10*day))
	}},
	{"line_one_point", func(w *bytes.Buffer) error {
		return chart.Line(w, "One month", series("received", []string{"2026-01"}, 7))
	}},
	{"line_all_zero", func(w *bytes.Buffer) error {
		return chart.Line(w, "Nothing yet", series("", months(4), 0, 0, 0, 0))
	}},
	{"line_empty", func(w *bytes.Buffer) error {
		return chart.Line(w, "No series")
	}},
	{"line_only_nan", func(w *bytes.Buffer) error {
		return chart.Line(w, "Only gaps", series("a", months(2), math.NaN(), math.NaN()))
	}},
	{"line_many_points", func(w *bytes.Buffer) error {
		labels := make([]string, 365)
		values := make([]float64, 365)
		for i := range labels {
			labels[i] = fmt.Sprintf("day %d", i+1)
			values[i] = float64((i*37)%101) + 3
		}
		return chart.LineWith(w, chart.Options{Title: "Daily", Width: 800}, series("received", labels, values...))
	}},
	{"line_hostile", func(w *bytes.Buffer) error {
		labels := []string{hostile, "a very long label that goes on and on and on", "tab\tand\nnew line"}
		return chart.Line(w, hostile,
			series(hostile, labels, 1, 2, 3),
			series(`"&'`, labels, 3, 2, 1))
	}},
	{"line_eight_series", func(w *bytes.Buffer) error {
		m := months(5)
		var ss []chart.Series
		for i := range chart.MaxSeries {
			ss = append(ss, series(fmt.Sprintf("Regional administration %d", i+1), m,
				float64(i), float64(i+1), float64(2*i), float64(i+3), float64(8-i)))
		}
		return chart.LineWith(w, chart.Options{Title: "By authority", Width: 400, Height: 200}, ss...)
	}},
	{"bars_topics", func(w *bytes.Buffer) error {
		labels := []string{"Housing and utilities", "Roads", "Social protection", "Health care", "Education", "Land"}
		return chart.Bars(w, "Top topics", series("appeals", labels, 1520, 1210, 980, 640, 320, 15))
	}},
	{"bars_duration_nan", func(w *bytes.Buffer) error {
		labels := []string{"Kyiv City State Administration", "Lviv Regional State Administration", "Ministry of Health"}
		return chart.BarsWith(w, chart.Options{Title: "Median time to answer", Unit: chart.UnitDuration, Width: 520},
			series("", labels, 14*86400+5*3600, math.NaN(), 3*86400))
	}},
	{"bars_hostile", func(w *bytes.Buffer) error {
		return chart.Bars(w, hostile, series("", []string{hostile, `"&'`, strings.Repeat("Довга назва ", 10)}, 3, 0, 1))
	}},
	{"bars_empty", func(w *bytes.Buffer) error {
		return chart.Bars(w, "", chart.Series{})
	}},
}

// TestGolden draws every golden case and compares it with its file; go test -update rewrites the
// files. Every output is also checked to be a well-formed, self-contained svg.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			require.NoError(t, tc.draw(&out))
			requireSVG(t, out.Bytes())

			var again bytes.Buffer
			require.NoError(t, tc.draw(&again))
			require.Equal(t, out.String(), again.String(), "same input, same bytes")

			path := filepath.Join("testdata", "golden", tc.name+".svg")
			if *update {
				require.NoError(t, os.WriteFile(path, out.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create it")
			requireSameLines(t, string(want), out.String(), path)
		})
	}
}

// TestEscaping checks that texts from the data come out as inert, escaped text: the decoded
// character data holds them literally and the markup has none of them raw.
func TestEscaping(t *testing.T) {
	t.Parallel()
	labels := []string{"<script>alert(1)</script>", `"&'`, "</title></svg><svg onload=x>", "<![CDATA[x]]>", "a\x00b\xffc", "<!-- c -->"}
	values := []float64{1, 2, 3, 4, 5, 6}
	draws := map[string]func(*bytes.Buffer) error{
		"line": func(w *bytes.Buffer) error {
			return chart.LineWith(w, chart.Options{Title: labels[0], MaxLabel: 100}, series(labels[2], labels, values...))
		},
		"bars": func(w *bytes.Buffer) error {
			return chart.BarsWith(w, chart.Options{Title: labels[0], MaxLabel: 100}, series(labels[2], labels, values...))
		},
	}
	for name, draw := range draws {
		var out bytes.Buffer
		require.NoError(t, draw(&out), name)
		texts := strings.Join(requireSVG(t, out.Bytes()), "\n")
		raw := out.String()
		for _, l := range labels[:4] {
			require.Contains(t, texts, l, "%s: the label is drawn as text", name)
		}
		require.Contains(t, texts, "a\uFFFDb\uFFFDc", "%s: NUL and invalid UTF-8 are replaced", name)
		require.Contains(t, texts, "<!-- c -->", name)
		for _, bad := range []string{"<script", "<svg onload", "<![CDATA[", "<!--", "\x00", `"&'`} {
			require.NotContains(t, raw, bad, name)
		}
		require.Equal(t, 1, strings.Count(raw, "<svg"), name)
	}
}

// TestTruncation checks that long labels are cut with … and that the tooltip keeps them.
func TestTruncation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Ж", 40)
	var out bytes.Buffer
	require.NoError(t, chart.BarsWith(&out, chart.Options{MaxLabel: 10}, series("", []string{long}, 1)))
	texts := requireSVG(t, out.Bytes())
	require.Contains(t, texts, strings.Repeat("Ж", 9)+"…")
	require.Contains(t, texts, long+": 1")
}

// TestRefused checks the values and shapes that are refused, and that nothing is written then.
func TestRefused(t *testing.T) {
	t.Parallel()
	m := months(3)
	many := make([]chart.Series, chart.MaxSeries+1)
	for i := range many {
		many[i] = series("", m, 1, 2, 3)
	}
	long := chart.Series{Points: make([]chart.Point, chart.MaxPoints+1)}
	bars := chart.Series{Points: make([]chart.Point, chart.MaxBars+1)}
	for _, tc := range []struct {
		name string
		draw func(*bytes.Buffer) error
		want error
	}{
		{"negative", func(w *bytes.Buffer) error { return chart.Line(w, "", series("", m, 1, -1, 2)) }, chart.ErrValue},
		{"+Inf", func(w *bytes.Buffer) error { return chart.Line(w, "", series("", m, 1, math.Inf(1), 2)) }, chart.ErrValue},
		{"-Inf", func(w *bytes.Buffer) error { return chart.Line(w, "", series("", m, math.Inf(-1), 1, 2)) }, chart.ErrValue},
		{"too large", func(w *bytes.Buffer) error { return chart.Line(w, "", series("", m, 1, 2, 2e15)) }, chart.ErrValue},
		{"second series negative", func(w *bytes.Buffer) error {
			return chart.Line(w, "", series("", m, 1, 2, 3), series("", m, 1, 2, -0.5))
		}, chart.ErrValue},
		{"shorter series", func(w *bytes.Buffer) error { return chart.Line(w, "", series("", m, 1, 2, 3), series("", m, 1, 2)) }, chart.ErrShape},
		{"longer series", func(w *bytes.Buffer) error {
			return chart.Line(w, "", series("", m, 1, 2), series("", m, 1, 2, 3))
		}, chart.ErrShape},
		{"too many series", func(w *bytes.Buffer) error { return chart.Line(w, "", many...) }, chart.ErrTooMany},
		{"too many points", func(w *bytes.Buffer) error { return chart.Line(w, "", long) }, chart.ErrTooMany},
		{"bars negative", func(w *bytes.Buffer) error { return chart.Bars(w, "", series("", m, 1, -2)) }, chart.ErrValue},
		{"bars Inf", func(w *bytes.Buffer) error { return chart.Bars(w, "", series("", m, math.Inf(1))) }, chart.ErrValue},
		{"too many bars", func(w *bytes.Buffer) error { return chart.Bars(w, "", bars) }, chart.ErrTooMany},
	} {
		var out bytes.Buffer
		err := tc.draw(&out)
		require.ErrorIs(t, err, tc.want, tc.name)
		require.Zero(t, out.Len(), "%s: nothing is written", tc.name)
	}
}

// TestLimitsAccepted checks the largest accepted charts and values, and negative zero.
func TestLimitsAccepted(t *testing.T) {
	t.Parallel()
	long := chart.Series{Points: make([]chart.Point, chart.MaxPoints)}
	long.Points[0].Value = chart.MaxValue
	bars := chart.Series{Points: make([]chart.Point, chart.MaxBars)}
	bars.Points[1].Value = math.Copysign(0, -1)
	for name, draw := range map[string]func(*bytes.Buffer) error{
		"line": func(w *bytes.Buffer) error { return chart.Line(w, "", long) },
		"bars": func(w *bytes.Buffer) error { return chart.Bars(w, "", bars) },
	} {
		var out bytes.Buffer
		require.NoError(t, draw(&out), name)
		requireSVG(t, out.Bytes())
		require.NotContains(t, out.String(), "-0", name)
		require.NotContains(t, out.String(), "NaN", name)
	}
}

// TestSize checks the defaults and the clamping of the size.
func TestSize(t *testing.T) {
	t.Parallel()
	one := series("", []string{"a"}, 1)
	for _, tc := range []struct {
		opt  chart.Options
		want string
	}{
		{chart.Options{}, `width="640" height="320" viewBox="0 0 640 320"`},
		{chart.Options{Width: 10, Height: 10}, `width="240" height="160" viewBox="0 0 240 160"`},
		{chart.Options{Width: 1 << 20, Height: 1 << 20}, `width="4096" height="4096" viewBox="0 0 4096 4096"`},
		{chart.Options{Width: -5, Height: 500}, `width="240" height="500" viewBox="0 0 240 500"`},
	} {
		var out bytes.Buffer
		require.NoError(t, chart.LineWith(&out, tc.opt, one))
		require.Contains(t, out.String(), tc.want, "%+v", tc.opt)
	}
}

// TestThinnedLabels checks that a long line keeps few x labels and a tooltip on every point.
func TestThinnedLabels(t *testing.T) {
	t.Parallel()
	labels := make([]string, 500)
	values := make([]float64, 500)
	for i := range labels {
		labels[i] = fmt.Sprintf("2026-01-%03d", i)
		values[i] = float64(i % 7)
	}
	var out bytes.Buffer
	require.NoError(t, chart.Line(&out, "", series("", labels, values...)))
	texts := requireSVG(t, out.Bytes())
	drawn := 0
	for _, s := range texts {
		if strings.HasPrefix(s, "2026-01-") && !strings.Contains(s, ":") {
			drawn++
		}
	}
	require.Greater(t, drawn, 3)
	require.Less(t, drawn, 20, "x labels are thinned")
	require.Equal(t, 500, strings.Count(out.String(), "<circle"), "a marker per point")
}

// TestWriteError checks that a failing writer's error is returned, wrapped.
func TestWriteError(t *testing.T) {
	t.Parallel()
	err := chart.Line(failWriter{}, "t", series("", []string{"a"}, 1))
	require.ErrorIs(t, err, errWrite)
}

var errWrite = fmt.Errorf("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

// requireSameLines fails with the first line that differs, rather than both documents.
func requireSameLines(t *testing.T, want, got, path string) {
	t.Helper()
	if want == got {
		return
	}
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("differs from %s at line %d (go test -update rewrites it)\nwant: %s\ngot:  %s", path, i+1, w, g)
		}
	}
}
