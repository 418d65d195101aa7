package chart

import (
	"fmt"
	"io"
	"math"
)

// Bars writes an <svg> horizontal bar chart of s, counted values, titled title. See BarsWith.
func Bars(w io.Writer, title string, s Series) error {
	return BarsWith(w, Options{Title: title}, s)
}

// BarsWith writes an <svg> horizontal bar chart of s to w in one Write: a bar per point, in the
// order given, top to bottom, with its label on the left and its value at its end. The series'
// name is not drawn. A NaN value has no bar and reads "no data". More than MaxBars points is
// ErrTooMany; a negative, infinite or too large value is ErrValue. On an error nothing is written.
// With Options.Height 0 the chart is as tall as its bars need.
func BarsWith(w io.Writer, opt Options, s Series) error {
	if len(s.Points) > MaxBars {
		return fmt.Errorf("draw bar chart: %d bars, at most %d: %w", len(s.Points), MaxBars, ErrTooMany)
	}
	for i, p := range s.Points {
		if err := checkValue(p.Value); err != nil {
			return fmt.Errorf("draw bar chart: point %d: %w", i, err)
		}
	}
	var c canvas
	drawBars(&c, opt, s)
	return c.close(w)
}

func drawBars(c *canvas, opt Options, s Series) {
	const band, bottom = 24.0, 30.0
	n := len(s.Points)
	top := headingHeight(opt.Title) + 4
	opt = opt.withDefaults(int(math.Ceil(top + float64(max(n, 2))*band + bottom)))
	c.open(opt.Width, opt.Height, opt.Title)
	c.heading(opt.Title, opt.Width)
	width, plotTop, plotBottom := float64(opt.Width), top, float64(opt.Height)-bottom

	maxV, hasValue := 0.0, false
	for _, p := range s.Points {
		if !math.IsNaN(p.Value) {
			maxV, hasValue = max(maxV, p.Value), true
		}
	}
	if n == 0 {
		c.noData(width/2, (plotTop+plotBottom)/2)
		return
	}

	labels := make([]string, n)
	values := make([]string, n)
	labelW, valueW := 0.0, 0.0
	for i, p := range s.Points {
		labels[i] = cut(p.Label, opt.MaxLabel)
		values[i] = opt.Unit.Format(p.Value)
		labelW = max(labelW, textWidth(labels[i], fontSize))
		valueW = max(valueW, textWidth(values[i], fontSizeAxis))
	}
	labelW = min(labelW, width*0.4)
	valueW = min(valueW, width*0.25)
	plotLeft, plotRight := 8+labelW+8, width-valueW-14

	step, axisTop := axis(maxV, opt.Unit)
	xOf := func(v float64) float64 { return plotLeft + v/axisTop*(plotRight-plotLeft) }

	// Grid, axis and tick labels.
	c.f(`<g stroke="%s" stroke-width="1">`+"\n", colourGrid)
	tickVals := ticks(step, axisTop)
	if hasValue {
		for _, v := range tickVals[1:] {
			c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", num(xOf(v)), num(plotTop), num(xOf(v)), num(plotBottom))
		}
	}
	c.raw("</g>\n")
	c.f(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
		num(plotLeft), num(plotTop), num(plotLeft), num(plotBottom), colourAxis)
	if hasValue {
		for _, v := range tickVals {
			c.label(xOf(v), plotBottom+16, "middle", fontSizeAxis, colourMuted, "", tickLabel(v, opt.Unit))
		}
	}

	// One group per bar: its tooltip, bar, label and value.
	rowH := (plotBottom - plotTop) / float64(n)
	barH := min(rowH*0.7, 18)
	for i, p := range s.Points {
		mid := plotTop + (float64(i)+0.5)*rowH
		c.raw("<g>")
		c.tooltip(cut(p.Label, maxTooltip) + ": " + values[i])
		c.raw("\n")
		end := plotLeft
		valueFill := colourText
		if math.IsNaN(p.Value) {
			valueFill = colourMuted
		} else {
			end = xOf(p.Value)
			c.f(`<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
				num(plotLeft), num(mid-barH/2), num(end-plotLeft), num(barH), palette[0].colour)
		}
		c.label(plotLeft-8, mid+4, "end", fontSize, colourText, "", labels[i])
		c.label(end+4, mid+4, "start", fontSizeAxis, valueFill, "", values[i])
		c.raw("</g>\n")
	}
}
