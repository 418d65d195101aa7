package deadline_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/deadline"
)

// peace is a test calendar: the holidays of Ukraine with martial law ended on 2025-12-31, and
// two transfers in January 2026.
func peace(t testing.TB) *deadline.Calendar {
	t.Helper()
	raw, err := os.ReadFile("testdata/peace.yaml")
	require.NoError(t, err)
	c, err := deadline.Parse(raw)
	require.NoError(t, err)
	return c
}

func date(s string) deadline.Date {
	d, err := deadline.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestDefaultCalendar(t *testing.T) {
	t.Parallel()
	c := deadline.Default()
	require.Equal(t, "ua-2026.1", c.Version())
	require.Equal(t, "Europe/Kyiv", c.Location().String())
	start, end := c.WorkingHours()
	require.Equal(t, "09:00–18:00", start.String()+"–"+end.String())
	require.Equal(t, deadline.DefaultSource(), c.Source())
	rules := c.Rules()
	require.Len(t, rules, 1)
	require.Equal(t, "martial_law", rules[0].ID)
	require.True(t, rules[0].To.IsZero(), "martial law has no end date yet")
	require.Contains(t, rules[0].Basis, "2136-IX")

	// Every public holiday of 2026 and 2027 is known, and under martial law is a working day when
	// it falls on a weekday.
	for _, s := range []string{"2026-01-01", "2026-03-08", "2026-04-12", "2026-05-01", "2026-05-08", "2026-05-31",
		"2026-06-28", "2026-07-15", "2026-08-24", "2026-10-01", "2026-12-25",
		"2027-01-01", "2027-03-08", "2027-05-01", "2027-05-02", "2027-05-08", "2027-06-20",
		"2027-06-28", "2027-07-15", "2027-08-24", "2027-10-01", "2027-12-25"} {
		d := date(s)
		day := c.DayInfo(d)
		require.Contains(t, day.Reason, "public holiday", s)
		require.Contains(t, day.Reason, "martial_law", s)
		weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
		require.Equal(t, !weekend, day.Working, s)
	}
	// No compensating day off under martial law: 2026-03-08 is a Sunday, 2026-03-09 an ordinary Monday.
	require.Equal(t, deadline.Day{Date: date("2026-03-09"), Working: true}, c.DayInfo(date("2026-03-09")))
	require.Equal(t, deadline.Day{Date: date("2026-01-07"), Working: true}, c.DayInfo(date("2026-01-07")), "no Julian Christmas since 2024")
}

func TestDayInfo(t *testing.T) {
	t.Parallel()
	c := peace(t)
	for _, tc := range []struct {
		date    string
		working bool
		reason  string
	}{
		{"2026-03-04", true, ""},
		{"2026-03-07", false, ""}, // Saturday
		{"2026-01-01", false, "public holiday (Новий рік)"},
		{"2026-01-02", false, "transfer: made a day off"},
		{"2026-01-10", true, "transfer: made a working day"},
		{"2026-03-09", false, "day off for the public holiday on 2026-03-08 (Міжнародний жіночий день), Labour Code art. 67(3)"},
		{"2026-03-10", true, ""},
		{"2026-04-13", false, "day off for the public holiday on 2026-04-12 (Великдень (Пасха))"},
		{"2026-06-29", false, "day off for the public holiday on 2026-06-28"},
		{"2026-12-25", false, "public holiday (Різдво Христове)"},
		// The martial-law rule covers 2025: the holiday is a working day, and moves nothing.
		{"2025-12-25", true, "public holiday (Різдво Христове), not a day off under rule martial_law"},
		{"2025-03-10", true, ""}, // 2025-03-08 was a Saturday
		// The Julian Christmas ended with 2023 (and was not a day off under martial law).
		{"2023-01-07", false, "not a day off under rule martial_law"}, // a Saturday anyway
		{"2022-01-07", false, "public holiday (Різдво Христове (за юліанським календарем))"},
		{"2026-01-07", true, ""},
	} {
		day := c.DayInfo(date(tc.date))
		require.Equal(t, tc.working, day.Working, tc.date)
		if tc.reason == "" {
			require.Empty(t, day.Reason, tc.date)
		} else {
			require.Contains(t, day.Reason, tc.reason, tc.date)
		}
	}
}

func TestWorkingDayArithmetic(t *testing.T) {
	t.Parallel()
	c := peace(t)
	require.Equal(t, date("2026-01-07"), c.AddWorkingDays(date("2025-12-31"), 3), "skips the holiday, the transfer and the weekend")
	require.Equal(t, date("2026-01-12"), c.AddWorkingDays(date("2026-01-08"), 3), "counts the Saturday made a working day")
	d, skipped := c.WorkingDayOnOrAfter(date("2026-03-07"))
	require.Equal(t, date("2026-03-10"), d)
	require.Len(t, skipped, 3)
	require.Equal(t, date("2026-02-28"), date("2026-01-31").AddMonths(1))
	require.Equal(t, date("2028-02-29"), date("2028-01-31").AddMonths(1))
	require.Equal(t, date("2027-01-31"), date("2026-12-31").AddMonths(1))
	require.Equal(t, date("2026-04-30"), date("2026-03-31").AddMonths(1))
	require.Equal(t, date("2026-03-01"), date("2026-02-14").AddDays(15))
}

func TestParseJSON(t *testing.T) {
	t.Parallel()
	c, err := deadline.Parse([]byte(`{"format":"appealhub.calendar.v1","version":"json-1","time_zone":"Europe/Kyiv",
		"working_days":["monday","tuesday","wednesday","thursday","friday","saturday"],
		"working_hours":{"start":"08:00","end":"17:00"},"holiday_on_weekend":"none",
		"holidays":[{"name":"New Year","date":"2026-01-01"}]}`))
	require.NoError(t, err)
	require.Equal(t, "json-1", c.Version())
	require.True(t, c.IsWorkingDay(date("2026-01-03")), "Saturday is a working day in this calendar")
	require.False(t, c.IsWorkingDay(date("2026-01-01")))
}

func TestParseRefusals(t *testing.T) {
	t.Parallel()
	valid := `format: appealhub.calendar.v1
version: v1
time_zone: Europe/Kyiv
working_days: [monday, tuesday, wednesday, thursday, friday]
working_hours: {start: "09:00", end: "18:00"}
holiday_on_weekend: none
`
	for name, tc := range map[string]struct {
		body string
		want []string
	}{
		"empty":           {"", []string{"empty"}},
		"not yaml":        {"{", []string{"calendar file"}},
		"unknown key":     {valid + "holidayz: []\n", []string{"holidayz"}},
		"two documents":   {valid + "---\n" + valid, []string{"more than one document"}},
		"wrong format":    {strings.Replace(valid, "appealhub.calendar.v1", "v2", 1), []string{`format: must be "appealhub.calendar.v1"`}},
		"no version":      {strings.Replace(valid, "version: v1", "version: ' '", 1), []string{"version:"}},
		"spaced version":  {strings.Replace(valid, "version: v1", "version: a b", 1), []string{"version:"}},
		"unknown zone":    {strings.Replace(valid, "Europe/Kyiv", "Europe/Atlantis", 1), []string{"time_zone: unknown"}},
		"unknown weekday": {strings.Replace(valid, "friday]", "fryday]", 1), []string{"working_days[4]"}},
		"no working days": {strings.Replace(valid, "[monday, tuesday, wednesday, thursday, friday]", "[]", 1), []string{"working_days: must name"}},
		"repeated day":    {strings.Replace(valid, "friday]", "monday]", 1), []string{"working_days[4]: monday repeated"}},
		"bad hours":       {strings.Replace(valid, `end: "18:00"`, `end: "8"`, 1), []string{"working_hours.end"}},
		"hours reversed":  {strings.Replace(valid, `start: "09:00"`, `start: "19:00"`, 1), []string{"working_hours: start must be before end"}},
		"bad policy":      {strings.Replace(valid, "holiday_on_weekend: none", "holiday_on_weekend: monday", 1), []string{"holiday_on_weekend"}},
		"bad date":        {valid + "holidays: [{name: X, date: 2026-02-30}]\n", []string{"2026-02-30"}},
		"bad annual":      {valid + "holidays: [{name: X, annual: '13-01'}]\n", []string{"holidays[0].annual"}},
		"date and annual": {valid + "holidays: [{name: X, date: 2026-01-01, annual: '01-01'}]\n", []string{"holidays[0]: give date or annual, not both"}},
		"nameless":        {valid + "holidays: [{date: 2026-01-01}]\n", []string{"holidays[0].name"}},
		"neither":         {valid + "holidays: [{name: X}]\n", []string{"holidays[0]: give date"}},
		"to before from":  {valid + "holidays: [{name: X, annual: '01-01', from: 2026-01-01, to: 2025-01-01}]\n", []string{"holidays[0].to"}},
		"useless transfer": {valid + "transfers: [{date: 2026-01-05, working: true, reason: x}]\n",
			[]string{"transfers[0]: 2026-01-05 is a Monday, already a working day"}},
		"transfer twice": {valid + "transfers: [{date: 2026-01-03, working: true, reason: x}, {date: 2026-01-03, working: true, reason: y}]\n",
			[]string{"transfers[1].date: 2026-01-03 has another transfer"}},
		"transfer without working": {valid + "transfers: [{date: 2026-01-03, reason: x}]\n", []string{"transfers[0].working"}},
		"rule without effect":      {valid + "rules: [{id: r, from: 2026-01-01, basis: b}]\n", []string{"rules[0]: states no effect"}},
		"rule without basis":       {valid + "rules: [{id: r, from: 2026-01-01, holidays_are_working_days: true}]\n", []string{"rules[0].basis"}},
		"rule without from":        {valid + "rules: [{id: r, holidays_are_working_days: true, basis: b}]\n", []string{"rules[0].from"}},
		"rule repeated": {valid + "rules: [{id: r, from: 2026-01-01, holidays_are_working_days: true, basis: b}, {id: r, from: 2027-01-01, holidays_are_working_days: true, basis: b}]\n",
			[]string{`rules[1].id: "r" repeated`}},
		"several problems": {strings.Replace(strings.Replace(valid, "Europe/Kyiv", "Nowhere", 1), "version: v1", "version: ''", 1),
			[]string{"version:", "time_zone:"}},
	} {
		_, err := deadline.Parse([]byte(tc.body))
		require.Error(t, err, name)
		perr, ok := err.(*deadline.ParseError)
		require.True(t, ok, "%s: %T", name, err)
		for _, w := range tc.want {
			require.Contains(t, perr.Error(), w, name)
		}
	}
	_, err := deadline.Parse([]byte(valid))
	require.NoError(t, err)
}

func FuzzParse(f *testing.F) {
	f.Add(deadline.DefaultSource())
	raw, err := os.ReadFile("testdata/peace.yaml")
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte(`{"format":"appealhub.calendar.v1","version":"j","time_zone":"UTC","working_days":["monday"],"working_hours":{"start":"00:00","end":"24:00"},"holiday_on_weekend":"none"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := deadline.Parse(data)
		if err != nil {
			require.IsType(t, &deadline.ParseError{}, err)
			return
		}
		again, err := deadline.Parse(c.Source())
		require.NoError(t, err)
		require.Equal(t, c.Version(), again.Version())
		// A parsed calendar always finds a working day, and counting never panics.
		d, _ := c.WorkingDayOnOrAfter(date("2026-01-01"))
		require.True(t, c.IsWorkingDay(d))
		_ = c.Derive(deadline.Facts{DeliveredAt: new(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))})
	})
}
