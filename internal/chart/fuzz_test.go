package chart_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"appealhub/internal/chart"
)

// fuzzSeries builds up to three series from the fuzzer's data: labels split on "|", values taken
// in turn from a, b and c (scaled per series).
func fuzzSeries(names, labels string, a, b, c float64) []chart.Series {
	ls := strings.Split(labels, "|")
	if len(ls) > 50 {
		ls = ls[:50]
	}
	vals := []float64{a, b, c}
	var out []chart.Series
	for i, name := range strings.SplitN(names, "|", 3) {
		s := chart.Series{Name: name}
		for j, l := range ls {
			s.Points = append(s.Points, chart.Point{Label: l, Value: vals[(i+j)%3] * float64(j+1)})
		}
		out = append(out, s)
	}
	return out
}

// checkFuzzOutput fails unless err is one of the documented refusals with nothing written, or
// out is a well-formed, self-contained svg.
func checkFuzzOutput(t *testing.T, out *bytes.Buffer, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, chart.ErrValue) && !errors.Is(err, chart.ErrShape) && !errors.Is(err, chart.ErrTooMany) {
			t.Fatalf("unexpected error: %v", err)
		}
		if out.Len() != 0 {
			t.Fatalf("%d bytes written with the error %v", out.Len(), err)
		}
		return
	}
	requireSVG(t, out.Bytes())
}

func FuzzLine(f *testing.F) {
	f.Add("Appeals", "received|answered", "2026-01|2026-02|2026-03", 1.0, 2.0, 3.0, uint8(0))
	f.Add(`<script>alert(1)</script>`, `"&'|]]>`, "<b>|</svg>|\x00\xff", 0.0, 0.0, 0.0, uint8(1))
	f.Add("", "", "", math.NaN(), 5.0, -1.0, uint8(2))
	f.Add("t", "a", strings.Repeat("x|", 40), 1e15, math.Inf(1), 0.5, uint8(2))
	f.Fuzz(func(t *testing.T, title, names, labels string, a, b, c float64, unit uint8) {
		opt := chart.Options{Title: title, Unit: chart.Unit(unit % 3), MaxLabel: int(unit % 40)}
		var out bytes.Buffer
		err := chart.LineWith(&out, opt, fuzzSeries(names, labels, a, b, c)...)
		checkFuzzOutput(t, &out, err)
	})
}

func FuzzBars(f *testing.F) {
	f.Add("Top topics", "Roads|Housing|Health", 10.0, 5.0, 1.0, uint8(0))
	f.Add(`<script>x</script>`, `"&'|]]>|<!--`, math.NaN(), 0.0, 1e15, uint8(2))
	f.Fuzz(func(t *testing.T, title, labels string, a, b, c float64, unit uint8) {
		opt := chart.Options{Title: title, Unit: chart.Unit(unit % 3), Width: int(unit) * 4}
		var out bytes.Buffer
		err := chart.BarsWith(&out, opt, fuzzSeries("", labels, a, b, c)[0])
		checkFuzzOutput(t, &out, err)
	})
}
