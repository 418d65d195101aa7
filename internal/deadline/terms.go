package deadline

import (
	"fmt"
	"strings"
	"time"
)

// explainer collects the steps of one computation.
type explainer struct {
	c     *Calendar
	steps []string
}

func (x *explainer) add(format string, args ...any) {
	x.steps = append(x.steps, fmt.Sprintf(format, args...))
}

// clock formats t in the calendar's time zone for people.
func (c *Calendar) clock(t time.Time) string { return t.In(c.loc).Format("2006-01-02 15:04 MST") }

// Start is the instant a term counts from for something delivered at t: t itself during working
// hours of a working day, otherwise the start of the next working period (the same day's start
// before working hours, else the next working day's start).
func (c *Calendar) Start(t time.Time) time.Time {
	s, _ := c.start(t)
	return s
}

func (c *Calendar) start(t time.Time) (time.Time, string) {
	local := t.In(c.loc)
	d := DateOf(local)
	hours := fmt.Sprintf("%s–%s", c.workStart, c.workEnd)
	day := c.DayInfo(d)
	if day.Working {
		ws, we := d.At(c.workStart, c.loc), d.At(c.workEnd, c.loc)
		switch {
		case !local.Before(ws) && local.Before(we):
			return t, fmt.Sprintf("delivered %s, within working hours (%s): the term counts from then", c.clock(t), hours)
		case local.Before(ws):
			return ws, fmt.Sprintf("delivered %s, before working hours (%s): the term counts from %s", c.clock(t), hours, c.clock(ws))
		}
	}
	next, _ := c.WorkingDayOnOrAfter(d.AddDays(1))
	s := next.At(c.workStart, c.loc)
	why := "after working hours (" + hours + ")"
	if !day.Working {
		why = "on a day that is not a working day (" + describe(day) + ")"
	}
	return s, fmt.Sprintf("delivered %s, %s: the term counts from the next working day's start, %s", c.clock(t), why, c.clock(s))
}

// describe names a day that is not a working day, or why it is one.
func describe(d Day) string {
	if d.Reason != "" {
		return d.Date.String() + ", " + d.Date.Weekday().String() + ": " + d.Reason
	}
	return d.Date.String() + ", " + d.Date.Weekday().String()
}

// endOfDay is the end of d (the next day's midnight) in the calendar's zone.
func (c *Calendar) endOfDay(d Date) time.Time { return d.AddDays(1).At(0, c.loc) }

// onWorkingDay moves a last day that is not a working day to the next working day (Civil Code of
// Ukraine art. 254(5)) and returns the end of that day.
func (x *explainer) onWorkingDay(last Date) time.Time {
	day, skipped := x.c.WorkingDayOnOrAfter(last)
	if len(skipped) > 0 {
		parts := make([]string, len(skipped))
		for i, s := range skipped {
			parts[i] = describe(s)
		}
		x.add("not a working day: %s; the last day moves to the next working day, %s (Civil Code art. 254(5))",
			strings.Join(parts, "; "), day)
	}
	end := x.c.endOfDay(day)
	x.add("due by the end of %s: %s", day, end.Format(time.RFC3339))
	return end
}

// calendarDays is a term of n calendar days from s: the days count from the day after s's date
// (Civil Code art. 253), the last day moves off a day that is not a working day.
func (x *explainer) calendarDays(s time.Time, n int) time.Time {
	d0 := DateOf(s.In(x.c.loc))
	last := d0.AddDays(n)
	x.add("%d calendar days counted from the day after %s: the last day is %s", n, d0, last)
	return x.onWorkingDay(last)
}

// months is a term of n months from s: it ends on the same day of the month n months after s's
// date, or that month's last day (Civil Code art. 254(3)).
func (x *explainer) months(s time.Time, n int) time.Time {
	d0 := DateOf(s.In(x.c.loc))
	last := d0.AddMonths(n)
	if last.Day != d0.Day {
		x.add("%d month from %s: %s has no day %d, so the last day is its last day, %s", n, d0,
			time.Date(last.Year, last.Month, 1, 0, 0, 0, 0, time.UTC).Format("January 2006"), d0.Day, last)
	} else {
		x.add("%d month from %s: the last day is %s", n, d0, last)
	}
	return x.onWorkingDay(last)
}

// workingDays is a term of n working days from s: the n-th working day after s's date.
func (x *explainer) workingDays(s time.Time, n int) time.Time {
	d0 := DateOf(s.In(x.c.loc))
	last := x.c.AddWorkingDays(d0, n)
	var skipped []string
	for d := d0.AddDays(1); d.Before(last); d = d.AddDays(1) {
		if day := x.c.DayInfo(d); !day.Working {
			skipped = append(skipped, describe(day))
		}
	}
	if len(skipped) > 0 {
		x.add("%d working days counted from the day after %s, passing over %s: the last day is %s", n, d0,
			strings.Join(skipped, "; "), last)
	} else {
		x.add("%d working days counted from the day after %s: the last day is %s", n, d0, last)
	}
	end := x.c.endOfDay(last)
	x.add("due by the end of %s: %s", last, end.Format(time.RFC3339))
	return end
}

// AddWorkingDays returns the n-th working day after d.
func (c *Calendar) AddWorkingDays(d Date, n int) Date {
	for range n {
		d, _ = c.WorkingDayOnOrAfter(d.AddDays(1))
	}
	return d
}

// hours is a term of n elapsed hours from s (a change of the clocks in between makes the wall
// time of the end an hour earlier or later). With move, an end on a day that is not a working day
// moves to the end of the next working day.
func (x *explainer) hours(s time.Time, n int, move bool) time.Time {
	end := s.Add(time.Duration(n) * time.Hour)
	x.add("%d hours from %s: %s", n, x.c.clock(s), x.c.clock(end))
	if !move {
		x.add("due at %s", end.Format(time.RFC3339))
		return end
	}
	last := DateOf(end.In(x.c.loc))
	if x.c.IsWorkingDay(last) {
		x.add("due at %s", end.In(x.c.loc).Format(time.RFC3339))
		return end
	}
	return x.onWorkingDay(last)
}
