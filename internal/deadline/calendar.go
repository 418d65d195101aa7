package deadline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileFormat is the format marker of a calendar file (docs/deadlines.md, "Calendar files").
const FileFormat = "appealhub.calendar.v1"

// Holiday-on-weekend policies of a calendar file's holiday_on_weekend.
const (
	// WeekendHolidayNextWorkingDay: a public holiday that falls on a day off makes the next working
	// day a day off (Labour Code of Ukraine art. 67(3)).
	WeekendHolidayNextWorkingDay = "next_working_day"
	// WeekendHolidayNone: a public holiday that falls on a day off is not moved.
	WeekendHolidayNone = "none"
)

// Limits of a calendar file, so that every calendar has working days to count.
const (
	maxAnnualHolidays = 60
	maxDatedEntries   = 20000
	maxFileBytes      = 4 << 20
)

// file is the calendar file, YAML or JSON.
type file struct {
	Format           string          `yaml:"format"`
	Version          string          `yaml:"version"`
	Description      string          `yaml:"description"`
	TimeZone         string          `yaml:"time_zone"`
	WorkingDays      []string        `yaml:"working_days"`
	WorkingHours     *hoursEntry     `yaml:"working_hours"`
	HolidayOnWeekend string          `yaml:"holiday_on_weekend"`
	Holidays         []holidayEntry  `yaml:"holidays"`
	Transfers        []transferEntry `yaml:"transfers"`
	Rules            []ruleEntry     `yaml:"rules"`
}

type hoursEntry struct {
	Start string `yaml:"start"`
	End   string `yaml:"end"`
}

type holidayEntry struct {
	Name   string `yaml:"name"`
	Date   *Date  `yaml:"date"`
	Annual string `yaml:"annual"`
	From   *Date  `yaml:"from"`
	To     *Date  `yaml:"to"`
}

type transferEntry struct {
	Date    *Date  `yaml:"date"`
	Working *bool  `yaml:"working"`
	Reason  string `yaml:"reason"`
}

type ruleEntry struct {
	ID                     string `yaml:"id"`
	From                   *Date  `yaml:"from"`
	To                     *Date  `yaml:"to"`
	HolidaysAreWorkingDays bool   `yaml:"holidays_are_working_days"`
	Basis                  string `yaml:"basis"`
}

// Calendar is a working-day calendar: which days are working days, the working hours, public
// holidays and transfers with their effective dates, and effective-dated rules that suspend
// holidays (martial law). It is immutable and safe for concurrent use.
type Calendar struct {
	version     string
	description string
	loc         *time.Location
	workStart   ClockTime
	workEnd     ClockTime
	workdays    [7]bool
	moveWeekend bool
	dated       map[Date][]string
	annual      []annualHoliday
	transfers   map[Date]transfer
	rules       []Rule
	source      []byte
}

type annualHoliday struct {
	month    time.Month
	day      int
	name     string
	from, to Date // zero: unbounded
}

type transfer struct {
	working bool
	reason  string
}

// Rule is an effective-dated rule of a calendar.
type Rule struct {
	ID string
	// From and To bound the days the rule covers, both included; To is zero while the rule is in
	// force with no end date.
	From, To Date
	// HolidaysAreWorkingDays: public holidays on the days covered are working days, and none moves
	// a day off (martial law: Law of Ukraine No. 2136-IX art. 6(6)).
	HolidaysAreWorkingDays bool
	Basis                  string
}

// Covers reports whether d is within the rule's effective dates.
func (r Rule) Covers(d Date) bool {
	return !d.Before(r.From) && (r.To.IsZero() || !d.After(r.To))
}

// ParseError lists every problem of a calendar file, each with the path of its field.
type ParseError struct {
	Problems []string
}

func (e *ParseError) Error() string {
	return "calendar file: " + strings.Join(e.Problems, "; ")
}

// Parse reads a calendar file (YAML, or JSON, which is YAML too) and checks it. Unknown keys,
// missing or malformed fields and contradictions (two transfers of one day, a transfer that does
// not change the day) are refused with a *ParseError naming every problem.
func Parse(data []byte) (*Calendar, error) {
	if len(data) > maxFileBytes {
		return nil, &ParseError{Problems: []string{fmt.Sprintf("larger than %d bytes", maxFileBytes)}}
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{Problems: []string{"empty"}}
		}
		return nil, &ParseError{Problems: []string{yamlProblem(err)}}
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &ParseError{Problems: []string{"more than one document"}}
	}
	c, problems := build(f)
	if len(problems) > 0 {
		return nil, &ParseError{Problems: problems}
	}
	c.source = bytes.Clone(data)
	return c, nil
}

func yamlProblem(err error) string {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

var weekdayNames = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// build checks f and makes the calendar, or returns every problem.
func build(f file) (*Calendar, []string) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	c := &Calendar{version: strings.TrimSpace(f.Version), description: f.Description,
		dated: map[Date][]string{}, transfers: map[Date]transfer{}}
	if f.Format != FileFormat {
		add("format: must be %q", FileFormat)
	}
	if c.version == "" || len(c.version) > 64 || strings.ContainsFunc(c.version, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		add("version: must be 1 to 64 printable characters without spaces")
	}
	if f.TimeZone == "" {
		add("time_zone: is required (e.g. Europe/Kyiv)")
	} else if loc, err := time.LoadLocation(f.TimeZone); err != nil {
		add("time_zone: unknown time zone %q", f.TimeZone)
	} else {
		c.loc = loc
	}
	if len(f.WorkingDays) == 0 {
		add("working_days: must name at least one day")
	}
	for i, name := range f.WorkingDays {
		wd, ok := weekdayNames[strings.ToLower(name)]
		switch {
		case !ok:
			add("working_days[%d]: %q is not a day of the week (monday … sunday)", i, name)
		case c.workdays[wd]:
			add("working_days[%d]: %s repeated", i, name)
		default:
			c.workdays[wd] = true
		}
	}
	if f.WorkingHours == nil {
		add("working_hours: is required (start and end, HH:MM)")
	} else {
		var err1, err2 error
		c.workStart, err1 = ParseClockTime(f.WorkingHours.Start)
		c.workEnd, err2 = ParseClockTime(f.WorkingHours.End)
		if err1 != nil {
			add("working_hours.start: %v", err1)
		}
		if err2 != nil {
			add("working_hours.end: %v", err2)
		}
		if err1 == nil && err2 == nil && c.workStart >= c.workEnd {
			add("working_hours: start must be before end")
		}
	}
	switch f.HolidayOnWeekend {
	case WeekendHolidayNextWorkingDay:
		c.moveWeekend = true
	case WeekendHolidayNone:
	default:
		add("holiday_on_weekend: must be %q or %q", WeekendHolidayNextWorkingDay, WeekendHolidayNone)
	}
	buildHolidays(c, f.Holidays, add)
	for i, t := range f.Transfers {
		p := fmt.Sprintf("transfers[%d]", i)
		if t.Date == nil {
			add("%s.date: is required", p)
			continue
		}
		if t.Working == nil {
			add("%s.working: is required (true: a day off made a working day; false: a working day made a day off)", p)
			continue
		}
		if strings.TrimSpace(t.Reason) == "" {
			add("%s.reason: is required", p)
		}
		if _, dup := c.transfers[*t.Date]; dup {
			add("%s.date: %s has another transfer", p, t.Date)
			continue
		}
		if *t.Working == c.workdays[t.Date.Weekday()] && len(c.dated[*t.Date]) == 0 && !c.annualOn(*t.Date) {
			add("%s: %s is a %s, already a %s", p, t.Date, t.Date.Weekday(), map[bool]string{true: "working day", false: "day off"}[*t.Working])
		}
		c.transfers[*t.Date] = transfer{working: *t.Working, reason: strings.TrimSpace(t.Reason)}
	}
	if len(f.Holidays)+len(f.Transfers) > maxDatedEntries {
		add("holidays and transfers: at most %d entries", maxDatedEntries)
	}
	ids := map[string]bool{}
	for i, r := range f.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		if r.ID == "" {
			add("%s.id: is required", p)
		} else if ids[r.ID] {
			add("%s.id: %q repeated", p, r.ID)
		}
		ids[r.ID] = true
		if r.From == nil {
			add("%s.from: is required", p)
			continue
		}
		rule := Rule{ID: r.ID, From: *r.From, HolidaysAreWorkingDays: r.HolidaysAreWorkingDays, Basis: strings.TrimSpace(r.Basis)}
		if r.To != nil {
			if r.To.Before(*r.From) {
				add("%s.to: before from", p)
			}
			rule.To = *r.To
		}
		if !r.HolidaysAreWorkingDays {
			add("%s: states no effect (holidays_are_working_days)", p)
		}
		if rule.Basis == "" {
			add("%s.basis: is required (the legal basis)", p)
		}
		c.rules = append(c.rules, rule)
	}
	return c, problems
}

func buildHolidays(c *Calendar, entries []holidayEntry, add func(string, ...any)) {
	for i, h := range entries {
		p := fmt.Sprintf("holidays[%d]", i)
		name := strings.TrimSpace(h.Name)
		if name == "" {
			add("%s.name: is required", p)
		}
		if h.From != nil && h.To != nil && h.To.Before(*h.From) {
			add("%s.to: before from", p)
		}
		switch {
		case h.Date != nil && h.Annual != "":
			add("%s: give date or annual, not both", p)
		case h.Date != nil:
			if h.From != nil || h.To != nil {
				add("%s: from and to are for annual holidays", p)
			}
			c.dated[*h.Date] = append(c.dated[*h.Date], name)
		case h.Annual != "":
			t, err := time.Parse("01-02", h.Annual)
			if err != nil {
				add("%s.annual: %q must be MM-DD", p, h.Annual)
				continue
			}
			a := annualHoliday{month: t.Month(), day: t.Day(), name: name}
			if h.From != nil {
				a.from = *h.From
			}
			if h.To != nil {
				a.to = *h.To
			}
			c.annual = append(c.annual, a)
		default:
			add("%s: give date (YYYY-MM-DD) or annual (MM-DD)", p)
		}
	}
	if len(c.annual) > maxAnnualHolidays {
		add("holidays: at most %d annual holidays", maxAnnualHolidays)
	}
}

// Version is the calendar's version, as its file states it.
func (c *Calendar) Version() string { return c.version }

// Description is the file's description.
func (c *Calendar) Description() string { return c.description }

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// WorkingHours returns the start and end of the working day.
func (c *Calendar) WorkingHours() (start, end ClockTime) { return c.workStart, c.workEnd }

// Rules returns the calendar's effective-dated rules.
func (c *Calendar) Rules() []Rule { return slices.Clone(c.rules) }

// Source returns the file the calendar was parsed from, byte for byte.
func (c *Calendar) Source() []byte { return bytes.Clone(c.source) }

// Day is what a calendar says about one date.
type Day struct {
	Date    Date
	Working bool
	// Reason says why, when the day is not what its day of the week makes it, or is a holiday
	// that a rule keeps a working day.
	Reason string
}

// DayInfo says whether d is a working day, and why when it is not the usual for its weekday.
func (c *Calendar) DayInfo(d Date) Day {
	if t, ok := c.transfers[d]; ok {
		what := "made a day off"
		if t.working {
			what = "made a working day"
		}
		return Day{Date: d, Working: t.working, Reason: fmt.Sprintf("transfer: %s (%s)", what, t.reason)}
	}
	if names := c.holidaysOn(d); len(names) > 0 {
		list := strings.Join(names, ", ")
		if r, ok := c.suspension(d); ok {
			day := Day{Date: d, Working: c.workdays[d.Weekday()]}
			day.Reason = fmt.Sprintf("public holiday (%s), not a day off under rule %s", list, r.ID)
			return day
		}
		return Day{Date: d, Working: false, Reason: "public holiday (" + list + ")"}
	}
	if c.workdays[d.Weekday()] {
		if name, from, ok := c.compensation(d); ok {
			return Day{Date: d, Working: false, Reason: fmt.Sprintf("day off for the public holiday on %s (%s), Labour Code art. 67(3)", from, name)}
		}
		return Day{Date: d, Working: true}
	}
	return Day{Date: d, Working: false}
}

// IsWorkingDay reports whether d is a working day.
func (c *Calendar) IsWorkingDay(d Date) bool { return c.DayInfo(d).Working }

// holidaysOn returns the names of the public holidays on d.
func (c *Calendar) holidaysOn(d Date) []string {
	names := slices.Clone(c.dated[d])
	for _, a := range c.annual {
		if a.month == d.Month && a.day == d.Day && (a.from.IsZero() || !d.Before(a.from)) && (a.to.IsZero() || !d.After(a.to)) {
			names = append(names, a.name)
		}
	}
	return names
}

func (c *Calendar) annualOn(d Date) bool {
	for _, a := range c.annual {
		if a.month == d.Month && a.day == d.Day {
			return true
		}
	}
	return false
}

// suspension returns the rule that makes the holidays on d working days, if any.
func (c *Calendar) suspension(d Date) (Rule, bool) {
	for _, r := range c.rules {
		if r.HolidaysAreWorkingDays && r.Covers(d) {
			return r, true
		}
	}
	return Rule{}, false
}

// dayOffHoliday reports whether d is a public holiday that is a day off (not suspended, not
// transferred).
func (c *Calendar) dayOffHoliday(d Date) bool {
	if _, ok := c.transfers[d]; ok {
		return false
	}
	if len(c.holidaysOn(d)) == 0 {
		return false
	}
	_, suspended := c.suspension(d)
	return !suspended
}

// compensation reports whether d, a usual working day, is the day off that a public holiday on a
// preceding day off moves to (Labour Code art. 67(3)): walking the week before d, each such
// holiday takes the first usual working day after it that is not itself a holiday or transferred.
func (c *Calendar) compensation(d Date) (name string, from Date, ok bool) {
	if !c.moveWeekend {
		return "", Date{}, false
	}
	type owed struct {
		date Date
		name string
	}
	var pending []owed
	for x := d.AddDays(-14); !x.After(d); x = x.AddDays(1) {
		_, transferred := c.transfers[x]
		usual := c.workdays[x.Weekday()]
		switch {
		case !usual && c.dayOffHoliday(x):
			pending = append(pending, owed{x, strings.Join(c.holidaysOn(x), ", ")})
		case usual && !transferred && len(c.holidaysOn(x)) == 0 && len(pending) > 0:
			if x == d {
				return pending[0].name, pending[0].date, true
			}
			pending = pending[1:]
		}
	}
	return "", Date{}, false
}

// maxScan bounds a search for a working day; a calendar that passed Parse always has one sooner.
const maxScan = 3 * 366

// WorkingDayOnOrAfter returns the first working day on or after d, and the days it passed over.
func (c *Calendar) WorkingDayOnOrAfter(d Date) (Date, []Day) {
	var skipped []Day
	for range maxScan {
		day := c.DayInfo(d)
		if day.Working {
			return d, skipped
		}
		skipped = append(skipped, day)
		d = d.AddDays(1)
	}
	return d, skipped
}

// WorkingDays returns the days of [from, to] with what the calendar says about each.
func (c *Calendar) WorkingDays(from, to Date) []Day {
	var out []Day
	for d := from; !d.After(to) && len(out) <= maxScan; d = d.AddDays(1) {
		out = append(out, c.DayInfo(d))
	}
	return out
}
