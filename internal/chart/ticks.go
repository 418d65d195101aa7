package chart

import "math"

// targetIntervals is the number of intervals an axis aims at; it gets at most this many.
const targetIntervals = 6

// durationSteps are the axis steps of UnitDuration up to 30 days, in seconds; beyond, the step is
// 1, 2 or 5 × 10^n days.
var durationSteps = []float64{
	1, 2, 5, 10, 15, 30,
	minute, 2 * minute, 5 * minute, 10 * minute, 15 * minute, 30 * minute,
	hour, 2 * hour, 3 * hour, 6 * hour, 12 * hour,
	day, 2 * day, 5 * day, 7 * day, 14 * day, 30 * day,
}

// axis returns the step and the top of an axis from 0 that shows every value up to maxValue in
// unit u: top is a multiple of step and at least maxValue (and at least one step), and there are
// at most targetIntervals steps. maxValue is finite and non-negative.
func axis(maxValue float64, u Unit) (step, top float64) {
	switch u {
	case UnitPercent:
		if maxValue <= 100 {
			return 20, 100
		}
		step = niceStep(maxValue/targetIntervals, 1)
	case UnitDuration:
		step = durationStep(maxValue / targetIntervals)
	default:
		step = niceStep(maxValue/targetIntervals, 1)
	}
	n := math.Ceil(maxValue/step - 1e-9)
	if n < 1 {
		n = 1
	}
	return step, n * step
}

// tickLabel formats the value of a tick: as the unit does, but 0 of a duration is "0".
func tickLabel(v float64, u Unit) string {
	if v == 0 && u == UnitDuration {
		return "0"
	}
	return u.Format(v)
}

// ticks returns the tick values of an axis: 0, step, 2·step, … top.
func ticks(step, top float64) []float64 {
	n := int(math.Round(top / step))
	out := make([]float64, 0, n+1)
	for i := 0; i <= n; i++ {
		out = append(out, float64(i)*step)
	}
	return out
}

// niceStep returns the smallest 1, 2 or 5 × 10^n that is at least raw and at least minStep.
func niceStep(raw, minStep float64) float64 {
	if raw <= minStep {
		return minStep
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if s := m * mag; s >= raw*(1-1e-12) {
			return s
		}
	}
	return 10 * mag
}

// durationStep returns the smallest duration step that is at least raw seconds.
func durationStep(raw float64) float64 {
	for _, s := range durationSteps {
		if s >= raw {
			return s
		}
	}
	return niceStep(raw/day, 1) * day
}
