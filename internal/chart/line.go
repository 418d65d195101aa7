package chart

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Line writes an <svg> line chart of the series, counted values, titled title. See LineWith.
func Line(w io.Writer, title string, series ...Series) error {
	return LineWith(w, Options{Title: title}, series...)
}

// LineWith writes an <svg> line chart of the series to w in one Write. The series share the x
// labels of the first one, so each must have as many points (ErrShape otherwise); a NaN value is
// a gap in its line. More than MaxSeries series or MaxPoints points is ErrTooMany; a negative,
// infinite or too large value is ErrValue. On an error nothing is written. With no series, no
// points or only NaN values it draws a frame saying "No data". The legend is shown when there are
// several series or the only one has a name; the chart grows taller if the legend needs it.
func LineWith(w io.Writer, opt Options, series ...Series) error {
	if err := checkLine(series); err != nil {
		return fmt.Errorf("draw line chart: %w", err)
	}
	opt = opt.withDefaults(DefaultHeight)
	var c canvas
	drawLine(&c, opt, series)
	return c.close(w)
}

func checkLine(series []Series) error {
	if len(series) > MaxSeries {
		return fmt.Errorf("%d series, at most %d: %w", len(series), MaxSeries, ErrTooMany)
	}
	if len(series) == 0 {
		return nil
	}
	n := len(series[0].Points)
	if n > MaxPoints {
		return fmt.Errorf("%d points, at most %d: %w", n, MaxPoints, ErrTooMany)
	}
	for i, s := range series {
		if len(s.Points) != n {
			return fmt.Errorf("series %d has %d points, the first has %d: %w", i, len(s.Points), n, ErrShape)
		}
		for j, p := range s.Points {
			if err := checkValue(p.Value); err != nil {
				return fmt.Errorf("series %d point %d: %w", i, j, err)
			}
		}
	}
	return nil
}

// maxVisibleMarkers is the most points per series drawn with visible markers.
const maxVisibleMarkers = 60

// legendEntry is one series in the legend, placed.
type legendEntry struct {
	x, y float64
	name string
}

// layoutLegend places the names left to right from y, wrapping at width; it returns the entries
// and the height they take.
func layoutLegend(series []Series, opt Options, y float64) ([]legendEntry, float64) {
	if len(series) == 0 || (len(series) == 1 && tidy(series[0].Name) == "") {
		return nil, 0
	}
	const swatch, gap, rowHeight = 24.0, 14.0, 16.0
	entries := make([]legendEntry, 0, len(series))
	x, rows := 8.0, 1
	for _, s := range series {
		name := cut(s.Name, opt.MaxLabel)
		wd := swatch + textWidth(name, fontSize)
		if x > 8 && x+wd > float64(opt.Width)-8 {
			x, rows = 8, rows+1
		}
		entries = append(entries, legendEntry{x: x, y: y + float64(rows-1)*rowHeight, name: name})
		x += wd + gap
	}
	return entries, float64(rows)*rowHeight + 4
}

func drawLine(c *canvas, opt Options, series []Series) {
	n := 0
	if len(series) > 0 {
		n = len(series[0].Points)
	}
	maxV, hasValue := 0.0, false
	for _, s := range series {
		for _, p := range s.Points {
			if !math.IsNaN(p.Value) {
				maxV, hasValue = max(maxV, p.Value), true
			}
		}
	}

	// Vertical layout: title, legend, plot, x labels. The chart grows if the legend leaves too
	// little room for the plot.
	const bottom, minPlot = 26.0, 100.0
	top := headingHeight(opt.Title)
	legend, legendH := layoutLegend(series, opt, top+12)
	plotTop := top + legendH + 8
	if h := int(math.Ceil(plotTop + minPlot + bottom)); opt.Height < h {
		opt.Height = h
	}
	c.open(opt.Width, opt.Height, opt.Title)
	c.heading(opt.Title, opt.Width)
	plotBottom := float64(opt.Height) - bottom

	if !hasValue {
		drawLegend(c, legend)
		c.noData(float64(opt.Width)/2, (plotTop+plotBottom)/2)
		return
	}

	step, axisTop := axis(maxV, opt.Unit)
	tickVals := ticks(step, axisTop)
	tickLabels := make([]string, len(tickVals))
	yLabelW := 0.0
	for i, v := range tickVals {
		tickLabels[i] = tickLabel(v, opt.Unit)
		yLabelW = max(yLabelW, textWidth(tickLabels[i], fontSizeAxis))
	}
	xLabels := make([]string, n)
	xLabelW := 0.0
	for i, p := range series[0].Points {
		xLabels[i] = cut(p.Label, opt.MaxLabel)
		xLabelW = max(xLabelW, textWidth(xLabels[i], fontSizeAxis))
	}
	width := float64(opt.Width)
	left := max(8+yLabelW+6, textWidth(xLabels[0], fontSizeAxis)/2+4)
	left = min(left, width/3)
	right := max(16, textWidth(xLabels[n-1], fontSizeAxis)/2+4)
	right = min(right, width/4)
	plotLeft, plotRight := left, width-right

	x := func(i int) float64 {
		if n == 1 {
			return (plotLeft + plotRight) / 2
		}
		return plotLeft + float64(i)*(plotRight-plotLeft)/float64(n-1)
	}
	y := func(v float64) float64 {
		return plotBottom - v/axisTop*(plotBottom-plotTop)
	}

	// Grid and y labels.
	c.f(`<g stroke="%s" stroke-width="1">`+"\n", colourGrid)
	for _, v := range tickVals[1:] {
		c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(plotLeft), num(y(v)), num(plotRight), num(y(v)))
	}
	c.raw("</g>\n")
	for i, v := range tickVals {
		c.label(plotLeft-6, y(v)+4, "end", fontSizeAxis, colourMuted, "", tickLabels[i])
	}

	// Axes, x ticks and x labels, thinned so that they do not overlap.
	c.f(`<g stroke="%s" stroke-width="1">`+"\n", colourAxis)
	c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(plotLeft), num(plotBottom), num(plotRight), num(plotBottom))
	c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(plotLeft), num(plotTop), num(plotLeft), num(plotBottom))
	every := labelEvery(n, plotRight-plotLeft, xLabelW+8)
	for i := 0; i < n; i += every {
		c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(x(i)), num(plotBottom), num(x(i)), num(plotBottom+4))
	}
	c.raw("</g>\n")
	for i := 0; i < n; i += every {
		c.label(x(i), plotBottom+17, "middle", fontSizeAxis, colourMuted, "", xLabels[i])
	}

	// Lines, broken at NaN, then a marker with a tooltip on every point; with many points the
	// markers are invisible (still there for the tooltips).
	markerStroke := ` stroke="` + colourBack + `" stroke-width="1"`
	if n > maxVisibleMarkers {
		markerStroke = ` fill-opacity="0" stroke="none"`
	}
	for si, s := range series {
		st := palette[si]
		c.f(`<g fill="none" stroke="%s" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"%s>`+"\n", st.colour, dashAttr(st.dash))
		var run []string
		flush := func() {
			if len(run) == 1 { // a point between gaps: a dot, with the round caps
				run = append(run, run[0])
			}
			if len(run) > 0 {
				c.f(`<polyline points="%s"/>`+"\n", strings.Join(run, " "))
			}
			run = run[:0]
		}
		for i, p := range s.Points {
			if math.IsNaN(p.Value) {
				flush()
				continue
			}
			run = append(run, num(x(i))+","+num(y(p.Value)))
		}
		flush()
		c.raw("</g>\n")

		c.f(`<g fill="%s"%s>`+"\n", st.colour, markerStroke)
		name := cut(s.Name, maxTooltip)
		for i, p := range s.Points {
			if math.IsNaN(p.Value) {
				continue
			}
			c.f(`<circle cx="%s" cy="%s" r="%s">`, num(x(i)), num(y(p.Value)), num(3))
			tip := cut(series[0].Points[i].Label, maxTooltip) + ": " + opt.Unit.Format(p.Value)
			if name != "" {
				tip = name + " — " + tip
			}
			c.tooltip(tip)
			c.raw("</circle>\n")
		}
		c.raw("</g>\n")
	}
	drawLegend(c, legend)
}

// drawLegend draws a line sample in the series' style and the name of each entry.
func drawLegend(c *canvas, entries []legendEntry) {
	for i, e := range entries {
		st := palette[i]
		c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`+"\n",
			num(e.x), num(e.y-4), num(e.x+18), num(e.y-4), st.colour, dashAttr(st.dash))
		c.label(e.x+24, e.y, "start", fontSize, colourText, "", e.name)
	}
}

// labelEvery returns k such that drawing every k-th of n labels, slot wide each, spread over
// width, leaves no overlap.
func labelEvery(n int, width, slot float64) int {
	if n <= 1 || width <= 0 {
		return 1
	}
	spacing := width / float64(n-1)
	return max(1, int(math.Ceil(slot/spacing)))
}

func dashAttr(dash string) string {
	if dash == "" {
		return ""
	}
	return ` stroke-dasharray="` + dash + `"`
}
