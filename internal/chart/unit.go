package chart

import (
	"math"
	"strconv"
	"strings"
)

// Unit says what a chart's values are, how they are formatted and how the axis is divided.
type Unit int

const (
	// UnitCount: counts. Formatted as whole numbers with a space between thousands ("12 345"; a
	// fraction keeps up to two decimals); the axis steps are whole numbers.
	UnitCount Unit = iota
	// UnitPercent: percentages on a 0–100 scale (not 0–1). Formatted with up to one decimal
	// ("87.5 %"); the axis runs from 0 to 100, further only if a value is above 100.
	UnitPercent
	// UnitDuration: durations in seconds. Formatted with the two largest units ("3 d 4 h",
	// "2 h 5 min", "45 s"); the axis steps are whole seconds, minutes, hours or days.
	UnitDuration
)

// String returns the unit's name: "count", "percent" or "duration".
func (u Unit) String() string {
	switch u {
	case UnitPercent:
		return "percent"
	case UnitDuration:
		return "duration"
	default:
		return "count"
	}
}

// Format formats v in the unit, as the chart's tooltips and axis do. NaN is "no data".
func (u Unit) Format(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	if math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch u {
	case UnitPercent:
		return decimal(v, 1) + " %"
	case UnitDuration:
		return formatDuration(v)
	default:
		return groupThousands(decimal(v, 2))
	}
}

// decimal formats v with at most prec decimals, trailing zeros dropped.
func decimal(v float64, prec int) string {
	s := strconv.FormatFloat(clean(v), 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// groupThousands puts a space between the thousands of the integer part of a formatted number.
func groupThousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) <= 4 { // "1234" reads better than "1 234"
		return sign + s
	}
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}

const (
	minute = 60.0
	hour   = 60 * minute
	day    = 24 * hour
)

// formatDuration formats seconds with the two largest units, the smaller one rounded: 273600 →
// "3 d 4 h", 7500 → "2 h 5 min", 59.6 → "1 min", 0.4 → "0.4 s".
func formatDuration(sec float64) string {
	sign := ""
	if sec < 0 {
		sign, sec = "-", -sec
	}
	pairs := []struct {
		big, small         float64
		bigName, smallName string
	}{
		{day, hour, "d", "h"},
		{hour, minute, "h", "min"},
		{minute, 1, "min", "s"},
	}
	for _, p := range pairs {
		rounded := math.Round(sec/p.small) * p.small
		if rounded < p.big {
			continue
		}
		n := math.Round(rounded / p.small) // whole small units
		per := math.Round(p.big / p.small)
		bigN, smallN := math.Floor(n/per), math.Mod(n, per)
		s := sign + strconv.FormatFloat(bigN, 'f', 0, 64) + " " + p.bigName
		if smallN != 0 {
			s += " " + strconv.FormatFloat(smallN, 'f', 0, 64) + " " + p.smallName
		}
		return s
	}
	if sec < 1 {
		return sign + decimal(sec, 1) + " s"
	}
	return sign + decimal(math.Round(sec), 0) + " s"
}
