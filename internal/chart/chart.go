package chart

import (
	"errors"
	"fmt"
	"math"
)

// Point is one value of a series, with the label it is drawn against (a date, a topic, an
// authority's name). Value is in the chart's Unit; NaN means "no value".
type Point struct {
	Label string
	Value float64
}

// Series is a named list of points. The name is shown in the legend and the tooltips; it may be
// empty for a chart of one series.
type Series struct {
	Name   string
	Points []Point
}

// Limits of a chart's data; more is refused with ErrTooMany.
const (
	// MaxSeries is the most series a line chart draws: the size of the palette.
	MaxSeries = 8
	// MaxPoints is the most points in one series of a line chart.
	MaxPoints = 1000
	// MaxBars is the most bars in a bar chart.
	MaxBars = 200
	// MaxValue is the largest value a chart accepts, in any unit.
	MaxValue = 1e15
)

// Defaults and bounds of Options.
const (
	// DefaultWidth is the width of a chart, in pixels, when Options.Width is 0.
	DefaultWidth = 640
	// DefaultHeight is the height of a line chart, in pixels, when Options.Height is 0. A bar chart
	// with Height 0 is as tall as its bars need.
	DefaultHeight = 320
	// DefaultMaxLabel is the number of runes of a label drawn before it is cut with "…", when
	// Options.MaxLabel is 0.
	DefaultMaxLabel = 24
	// MinWidth and MinHeight are the smallest size drawn; a smaller Width or Height is raised to it.
	MinWidth  = 240
	MinHeight = 160
	// MaxSize is the largest width or height drawn; a larger one is lowered to it.
	MaxSize = 4096
	// maxTooltip is the number of runes of a label kept in a tooltip.
	maxTooltip = 200
)

var (
	// ErrValue is returned for a negative, infinite or too large (> MaxValue) value.
	ErrValue = errors.New("chart: value out of range")
	// ErrShape is returned when the series of a line chart do not all have as many points as the
	// first one, whose labels they share.
	ErrShape = errors.New("chart: series of different lengths")
	// ErrTooMany is returned for more than MaxSeries series, MaxPoints points or MaxBars bars.
	ErrTooMany = errors.New("chart: too many series or points")
)

// Options shape a chart. The zero value is a count chart of the default size without a title.
type Options struct {
	// Title is drawn at the top and is the chart's accessible name. Defaults to none (the
	// accessible name is then "Chart").
	Title string
	// Unit formats the values, the axis and the tooltips. Defaults to UnitCount.
	Unit Unit
	// Width and Height are the chart's size in pixels, clamped to [MinWidth|MinHeight, MaxSize].
	// Width defaults to DefaultWidth; Height defaults to DefaultHeight for a line chart and to the
	// height its bars need for a bar chart.
	Width, Height int
	// MaxLabel is the number of runes of a label, series name or title drawn before it is cut
	// with "…". Defaults to DefaultMaxLabel.
	MaxLabel int
}

// withDefaults returns a filled copy of o; autoHeight is the height used when o.Height is 0.
func (o Options) withDefaults(autoHeight int) Options {
	if o.Width == 0 {
		o.Width = DefaultWidth
	}
	if o.Height == 0 {
		o.Height = autoHeight
	}
	o.Width = min(max(o.Width, MinWidth), MaxSize)
	o.Height = min(max(o.Height, MinHeight), MaxSize)
	if o.MaxLabel <= 0 {
		o.MaxLabel = DefaultMaxLabel
	}
	o.MaxLabel = max(o.MaxLabel, 2)
	return o
}

// checkValue reports whether v is drawable: NaN (no value) or a finite value in [0, MaxValue].
func checkValue(v float64) error {
	if math.IsNaN(v) {
		return nil
	}
	if math.IsInf(v, 0) || v < 0 || v > MaxValue {
		return fmt.Errorf("%w: %v", ErrValue, v)
	}
	return nil
}

// clean returns v with -0 turned into 0, so that it never prints as "-0".
func clean(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}
