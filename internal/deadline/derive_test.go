package deadline_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/clock"
	"appealhub/internal/deadline"
	"appealhub/schemas"
)

var kyiv = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Kyiv")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at is a wall-clock time in Kyiv: "2026-03-02 10:00".
func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, kyiv)
	if err != nil {
		panic(err)
	}
	return t
}

// rfc parses an RFC 3339 instant, in UTC.
func rfc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func dueOf(t *testing.T, dues []deadline.Due, kind schemas.DueKind) deadline.Due {
	t.Helper()
	for _, d := range dues {
		if d.Kind == kind {
			return d
		}
	}
	t.Fatalf("no %s due date in %v", kind, dues)
	return deadline.Due{}
}

// delivered are the facts of a delivery delivered at t (and sent then).
func delivered(kind schemas.CaseKind, t time.Time) deadline.Facts {
	return deadline.Facts{CaseKind: kind, Status: schemas.StatusDelivered, StatusAt: t, SentAt: &t, DeliveredAt: &t}
}

// TestAnswerDueDates is the table of answer terms: calendars with and without martial law,
// deliveries inside and outside working hours, month ends, holidays, transfers and the changes
// of the clocks on the last Sundays of March and October.
func TestAnswerDueDates(t *testing.T) {
	t.Parallel()
	p, m := peace(t), deadline.Default()
	for _, tc := range []struct {
		name  string
		cal   *deadline.Calendar
		facts deadline.Facts
		rule  string
		start string // RFC 3339
		due   string // RFC 3339
		steps []string
	}{
		{name: "appeal: a month, across the change to summer time", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-03-02 10:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-03-02T10:00:00+02:00", due: "2026-04-03T00:00:00+03:00",
			steps: []string{"within working hours", "1 month from 2026-03-02: the last day is 2026-04-02"}},
		{name: "appeal: after working hours on a Friday", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-03-27 19:30")),
			rule: deadline.RuleAppealAnswer, start: "2026-03-30T09:00:00+03:00", due: "2026-05-01T00:00:00+03:00",
			steps: []string{"after working hours (09:00–18:00): the term counts from the next working day's start, 2026-03-30 09:00 EEST"}},
		{name: "appeal: at the end of working hours", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-03-03 18:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-03-04T09:00:00+02:00", due: "2026-04-07T00:00:00+03:00"},
		{name: "appeal: before working hours", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-03-03 07:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-03-03T09:00:00+02:00", due: "2026-04-04T00:00:00+03:00",
			steps: []string{"before working hours (09:00–18:00): the term counts from 2026-03-03 09:00 EET"}},
		{name: "appeal: on a Sunday", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-03-01 12:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-03-02T09:00:00+02:00", due: "2026-04-03T00:00:00+03:00",
			steps: []string{"on a day that is not a working day (2026-03-01, Sunday)"}},
		{name: "appeal: on a holiday", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-01-01 12:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-01-05T09:00:00+02:00", due: "2026-02-06T00:00:00+02:00",
			steps: []string{"public holiday (Новий рік)"}},
		{name: "appeal: the holiday is a working day under martial law", cal: m, facts: delivered(schemas.CaseAppeal, at("2026-01-01 12:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-01-01T12:00:00+02:00", due: "2026-02-03T00:00:00+02:00"},
		{name: "appeal: the month ends on the 28th of February, a Saturday", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-01-30 10:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-01-30T10:00:00+02:00", due: "2026-03-03T00:00:00+02:00",
			steps: []string{"February 2026 has no day 30, so the last day is its last day, 2026-02-28",
				"not a working day: 2026-02-28, Saturday; 2026-03-01, Sunday; the last day moves to the next working day, 2026-03-02"}},
		{name: "appeal: a 31st into a 30-day month", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-03-31 10:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-03-31T10:00:00+03:00", due: "2026-05-01T00:00:00+03:00"},
		{name: "appeal: the last day is a day off for a holiday on Sunday", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-02-09 10:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-02-09T10:00:00+02:00", due: "2026-03-11T00:00:00+02:00",
			steps: []string{"2026-03-09, Monday: day off for the public holiday on 2026-03-08"}},
		{name: "appeal: no day off moves under martial law", cal: m, facts: delivered(schemas.CaseAppeal, at("2026-02-09 10:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-02-09T10:00:00+02:00", due: "2026-03-10T00:00:00+02:00"},
		{name: "appeal: the last day on the change to winter time", cal: p, facts: delivered(schemas.CaseAppeal, at("2026-09-25 10:00")),
			rule: deadline.RuleAppealAnswer, start: "2026-09-25T10:00:00+03:00", due: "2026-10-27T00:00:00+02:00"},
		{name: "appeal: simple, 15 days", cal: p, facts: func() deadline.Facts {
			f := delivered(schemas.CaseAppeal, at("2026-03-02 10:00"))
			f.Simple = true
			return f
		}(), rule: deadline.RuleAppealSimple, start: "2026-03-02T10:00:00+02:00", due: "2026-03-18T00:00:00+02:00",
			steps: []string{"marked the appeal as needing no further study", "15 calendar days counted from the day after 2026-03-02: the last day is 2026-03-17"}},
		{name: "appeal: simple, ending on a Saturday", cal: p, facts: func() deadline.Facts {
			f := delivered(schemas.CaseAppeal, at("2026-02-27 10:00"))
			f.Simple = true
			return f
		}(), rule: deadline.RuleAppealSimple, start: "2026-02-27T10:00:00+02:00", due: "2026-03-17T00:00:00+02:00"},
		{name: "info: 5 working days over a holiday and a transfer", cal: p, facts: delivered(schemas.CaseInfoRequest, at("2025-12-29 10:00")),
			rule: deadline.RuleInfoAnswer, start: "2025-12-29T10:00:00+02:00", due: "2026-01-08T00:00:00+02:00",
			steps: []string{"passing over 2026-01-01, Thursday: public holiday (Новий рік); 2026-01-02, Friday: transfer: made a day off"}},
		{name: "info: the same under martial law", cal: m, facts: delivered(schemas.CaseInfoRequest, at("2025-12-29 10:00")),
			rule: deadline.RuleInfoAnswer, start: "2025-12-29T10:00:00+02:00", due: "2026-01-06T00:00:00+02:00"},
		{name: "info: a Saturday made a working day counts", cal: p, facts: delivered(schemas.CaseInfoRequest, at("2026-01-08 10:00")),
			rule: deadline.RuleInfoAnswer, start: "2026-01-08T10:00:00+02:00", due: "2026-01-15T00:00:00+02:00"},
		{name: "info: delivered on the Saturday made a working day", cal: p, facts: delivered(schemas.CaseInfoRequest, at("2026-01-10 11:00")),
			rule: deadline.RuleInfoAnswer, start: "2026-01-10T11:00:00+02:00", due: "2026-01-17T00:00:00+02:00"},
		{name: "info: urgent, 48 hours", cal: p, facts: func() deadline.Facts {
			f := delivered(schemas.CaseInfoRequest, at("2026-03-24 10:00"))
			f.Urgent = true
			return f
		}(), rule: deadline.RuleInfoUrgent, start: "2026-03-24T10:00:00+02:00", due: "2026-03-26T10:00:00+02:00"},
		{name: "info: urgent, ending on the Sunday the clocks change", cal: p, facts: func() deadline.Facts {
			f := delivered(schemas.CaseInfoRequest, at("2026-03-27 10:00"))
			f.Urgent = true
			return f
		}(), rule: deadline.RuleInfoUrgent, start: "2026-03-27T10:00:00+02:00", due: "2026-03-31T00:00:00+03:00",
			steps: []string{"48 hours from 2026-03-27 10:00 EET: 2026-03-29 11:00 EEST", "2026-03-30"}},
		{name: "info: urgent, delivered on a Saturday", cal: p, facts: func() deadline.Facts {
			f := delivered(schemas.CaseInfoRequest, at("2026-03-28 12:00"))
			f.Urgent = true
			return f
		}(), rule: deadline.RuleInfoUrgent, start: "2026-03-30T09:00:00+03:00", due: "2026-04-01T09:00:00+03:00"},
		{name: "info: urgent is ignored for an appeal", cal: p, facts: func() deadline.Facts {
			f := delivered(schemas.CaseAppeal, at("2026-03-02 10:00"))
			f.Urgent = true
			return f
		}(), rule: deadline.RuleAppealAnswer, start: "2026-03-02T10:00:00+02:00", due: "2026-04-03T00:00:00+03:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := dueOf(t, tc.cal.Derive(tc.facts), schemas.DueAnswer)
			require.Equal(t, tc.rule, d.Explanation.Rule)
			require.Equal(t, rfc(tc.start), d.Explanation.Start.UTC(), "start %s", d.Explanation.Start)
			require.Equal(t, rfc(tc.due), d.At.UTC(), "due %s; steps:\n%s", d.At, strings.Join(d.Explanation.Steps, "\n"))
			require.Equal(t, tc.cal.Version(), d.Explanation.CalendarVersion)
			require.NotEmpty(t, d.Explanation.Basis)
			require.NotEmpty(t, d.Explanation.Term)
			steps := strings.Join(d.Explanation.Steps, "\n")
			for _, s := range tc.steps {
				require.Contains(t, steps, s)
			}
			require.Nil(t, d.ClosedAt)
		})
	}
}

func TestOtherDueDates(t *testing.T) {
	t.Parallel()
	p := peace(t)
	appeal := p.Derive(delivered(schemas.CaseAppeal, at("2026-03-27 19:30")))
	require.Len(t, appeal, 3)
	fwd := dueOf(t, appeal, schemas.DueForward)
	require.Equal(t, deadline.RuleAppealForward, fwd.Explanation.Rule)
	require.Equal(t, rfc("2026-04-07T00:00:00+03:00"), fwd.At.UTC(), "5 days from Monday 30 March end on Saturday 4 April: moved to Monday")

	info := p.Derive(delivered(schemas.CaseInfoRequest, at("2026-03-02 10:00")))
	require.Len(t, info, 4)
	fwd = dueOf(t, info, schemas.DueForward)
	require.Equal(t, deadline.RuleInfoForward, fwd.Explanation.Rule)
	require.Equal(t, rfc("2026-03-11T00:00:00+02:00"), fwd.At.UTC(), "5 working days pass over the day off of 9 March")
	notice := dueOf(t, info, schemas.DueExtensionNotice)
	require.Equal(t, deadline.RuleInfoExtensionNotice, notice.Explanation.Rule)
	require.Equal(t, fwd.At, notice.At)

	// The delivery notice: 6 hours on the clock, across both changes of the clocks.
	for sent, due := range map[string]string{
		"2026-03-29 01:30": "2026-03-29T08:30:00+03:00", // 6 elapsed hours: 08:30 summer time, not 07:30
		"2026-10-25 01:00": "2026-10-25T06:00:00+02:00", // the hour 03:00–04:00 is lived twice
		"2026-03-27 19:30": "2026-03-28T01:30:00+02:00", // not moved off the Saturday: it is an alarm, not a legal term
	} {
		s := at(sent)
		d := dueOf(t, p.Derive(deadline.Facts{CaseKind: schemas.CaseAppeal, Status: schemas.StatusSent, StatusAt: s, SentAt: &s}),
			schemas.DueDeliveryNotice)
		require.Equal(t, rfc(due), d.At.UTC(), sent)
		require.Equal(t, deadline.RuleDeliveryNotice, d.Explanation.Rule)
		require.True(t, s.Equal(d.Explanation.Start))
	}
	s := at("2026-03-02 10:00")
	only := p.Derive(deadline.Facts{CaseKind: schemas.CaseAppeal, Status: schemas.StatusSent, StatusAt: s, SentAt: &s})
	require.Len(t, only, 1, "a sent delivery has only its delivery notice due")
	require.Empty(t, p.Derive(deadline.Facts{CaseKind: schemas.CaseAppeal, Status: schemas.StatusQueued}))
	// Registered without a recorded moment of delivery: the status change stands in for it.
	reg := p.Derive(deadline.Facts{CaseKind: schemas.CaseAppeal, Status: schemas.StatusRegistered, StatusAt: s})
	require.Equal(t, rfc("2026-04-03T00:00:00+03:00"), dueOf(t, reg, schemas.DueAnswer).At.UTC())
}

func TestExtensions(t *testing.T) {
	t.Parallel()
	p := peace(t)
	ext := func(id, received, newDue string) deadline.Extension {
		return deadline.Extension{MessageID: id, ReceivedAt: at(received), NewDueDate: at(newDue)}
	}
	appeal := delivered(schemas.CaseAppeal, at("2026-03-02 10:00"))    // month: 2026-04-03T00:00+03:00
	info := delivered(schemas.CaseInfoRequest, at("2026-03-02 10:00")) // 5 working days: 2026-03-11T00:00+02:00
	for _, tc := range []struct {
		name  string
		base  deadline.Facts
		exts  []deadline.Extension
		rule  string
		due   string
		steps []string
	}{
		{name: "appeal: extended within 45 days", base: appeal, exts: []deadline.Extension{ext("e1", "2026-03-25 12:00", "2026-04-10 00:00")},
			rule: deadline.RuleAppealExtended, due: "2026-04-11T00:00:00+03:00"},
		{name: "appeal: extended beyond 45 days is limited", base: appeal, exts: []deadline.Extension{ext("e1", "2026-03-25 12:00", "2026-05-01 00:00")},
			rule: deadline.RuleAppealExtended, due: "2026-04-17T00:00:00+03:00",
			steps: []string{"beyond the limit of 45 days in total (2026-04-17T00:00:00+03:00): limited to it"}},
		{name: "appeal: an earlier date is no extension", base: appeal, exts: []deadline.Extension{ext("e1", "2026-03-10 12:00", "2026-03-20 00:00")},
			rule: deadline.RuleAppealAnswer, due: "2026-04-03T00:00:00+03:00", steps: []string{"not later than the current due date"}},
		{name: "appeal: extended twice", base: appeal, exts: []deadline.Extension{
			ext("e1", "2026-03-25 12:00", "2026-04-08 00:00"), ext("e2", "2026-04-06 12:00", "2026-04-11 00:00")},
			rule: deadline.RuleAppealExtended, due: "2026-04-15T00:00:00+03:00",
			steps: []string{"not a working day: 2026-04-11, Saturday; 2026-04-12, Sunday: public holiday (Великдень (Пасха)); 2026-04-13, Monday: day off"}},
		{name: "info: extension announced in time", base: info, exts: []deadline.Extension{ext("e1", "2026-03-05 12:00", "2026-03-20 00:00")},
			rule: deadline.RuleInfoExtended, due: "2026-03-21T00:00:00+02:00"},
		{name: "info: extension beyond 20 working days is limited", base: info, exts: []deadline.Extension{ext("e1", "2026-03-05 12:00", "2026-04-30 00:00")},
			rule: deadline.RuleInfoExtended, due: "2026-04-01T00:00:00+03:00", steps: []string{"20 working days"}},
		{name: "info: extension announced too late is not valid", base: info, exts: []deadline.Extension{ext("e1", "2026-03-11 00:00", "2026-03-20 00:00")},
			rule: deadline.RuleInfoAnswer, due: "2026-03-11T00:00:00+02:00",
			steps: []string{"after the time to announce an extension ended (2026-03-11 00:00 EET): not valid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.base
			f.Extensions = tc.exts
			dues := p.Derive(f)
			d := dueOf(t, dues, schemas.DueAnswer)
			require.Equal(t, tc.rule, d.Explanation.Rule)
			require.Equal(t, rfc(tc.due), d.At.UTC(), strings.Join(d.Explanation.Steps, "\n"))
			steps := strings.Join(d.Explanation.Steps, "\n")
			for _, s := range tc.steps {
				require.Contains(t, steps, s)
			}
			if f.CaseKind == schemas.CaseInfoRequest {
				window := dueOf(t, dues, schemas.DueExtensionNotice)
				if tc.rule == deadline.RuleInfoExtended {
					require.NotNil(t, window.ClosedAt, "an extension in time closes the window")
					require.True(t, *window.Met)
				} else {
					require.Nil(t, window.ClosedAt)
				}
			}
		})
	}
}

func TestClosures(t *testing.T) {
	t.Parallel()
	p := peace(t)
	d0 := at("2026-03-02 10:00")   // answer due 2026-04-03T00:00+03:00, forward 2026-03-11T00:00+02:00
	late := at("2026-03-02 17:00") // 7 hours after sending
	closeAs := func(status schemas.DeliveryStatus, when time.Time) map[schemas.DueKind]deadline.Due {
		f := delivered(schemas.CaseAppeal, d0)
		f.Status, f.StatusAt = status, when
		out := map[schemas.DueKind]deadline.Due{}
		for _, d := range p.Derive(f) {
			out[d.Kind] = d
		}
		return out
	}
	state := func(d deadline.Due) string {
		switch {
		case d.ClosedAt == nil:
			return "open"
		case d.Met == nil:
			return "closed"
		case *d.Met:
			return "met"
		default:
			return "missed"
		}
	}
	for _, tc := range []struct {
		status  schemas.DeliveryStatus
		when    time.Time
		answer  string
		forward string
	}{
		{schemas.StatusRegistered, at("2026-03-03 10:00"), "open", "open"},
		{schemas.StatusAnswered, at("2026-04-02 23:59"), "met", "closed"},
		{schemas.StatusAnswered, at("2026-04-03 00:00"), "missed", "closed"},
		{schemas.StatusNotConsidered, at("2026-03-10 10:00"), "met", "closed"},
		{schemas.StatusReturned, at("2026-03-10 10:00"), "met", "closed"},
		{schemas.StatusForwarded, at("2026-03-05 10:00"), "closed", "met"},
		{schemas.StatusForwarded, at("2026-03-12 10:00"), "closed", "missed"},
		{schemas.StatusRefused, at("2026-03-03 10:00"), "closed", "closed"},
	} {
		dues := closeAs(tc.status, tc.when)
		require.Equal(t, tc.answer, state(dues[schemas.DueAnswer]), "%s at %s: answer", tc.status, tc.when)
		require.Equal(t, tc.forward, state(dues[schemas.DueForward]), "%s at %s: forward", tc.status, tc.when)
		if tc.answer != "open" {
			require.Equal(t, tc.when, *dues[schemas.DueAnswer].ClosedAt)
		}
	}
	// The delivery notice: met when the notice came within 6 hours, missed after.
	f := deadline.Facts{CaseKind: schemas.CaseAppeal, Status: schemas.StatusDelivered, StatusAt: late, SentAt: &d0, DeliveredAt: &late}
	require.Equal(t, "missed", state(dueOf(t, p.Derive(f), schemas.DueDeliveryNotice)))
	soon := d0.Add(time.Hour)
	f.DeliveredAt = &soon
	require.Equal(t, "met", state(dueOf(t, p.Derive(f), schemas.DueDeliveryNotice)))
	require.True(t, deadline.Closed(schemas.StatusDead))
	require.False(t, deadline.Closed(schemas.StatusRegistered))
	require.Len(t, deadline.ClosedStatuses(), 6)
}

// TestDueDatesProperties checks, for deliveries at random instants of 2026–2027 on both
// calendars, what every due date must satisfy: the answer comes after its start; a term of days
// ends at midnight in Kyiv after a working day; an appeal's answer is due within 45 days and never
// before its forward; an extension never goes past the limit; the same facts give the same
// result.
func TestDueDatesProperties(t *testing.T) {
	t.Parallel()
	clk := clock.NewStub(at("2026-01-01 00:00"))
	rng := rand.New(rand.NewPCG(7, 2026))
	for _, c := range []*deadline.Calendar{peace(t), deadline.Default()} {
		for range 2000 {
			clk.Set(at("2026-01-01 00:00").Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour)))))
			now := clk.Now()
			kind := schemas.CaseAppeal
			if rng.IntN(2) == 0 {
				kind = schemas.CaseInfoRequest
			}
			f := delivered(kind, now)
			f.Urgent, f.Simple = rng.IntN(3) == 0, rng.IntN(3) == 0
			if rng.IntN(2) == 0 {
				f.Extensions = []deadline.Extension{{MessageID: "e", ReceivedAt: now.Add(time.Duration(rng.IntN(10*24)) * time.Hour),
					NewDueDate: now.Add(time.Duration(rng.IntN(90*24)) * time.Hour)}}
			}
			dues := c.Derive(f)
			require.Equal(t, dues, c.Derive(f), "deterministic")
			answer := dueOf(t, dues, schemas.DueAnswer)
			start := answer.Explanation.Start
			require.False(t, start.Before(now))
			require.True(t, answer.At.After(start), "%s: due %s before start %s", now, answer.At, start)
			require.True(t, c.IsWorkingDay(deadline.DateOf(start.In(kyiv))), "a term starts on a working day")
			if answer.Explanation.Rule != deadline.RuleInfoUrgent {
				local := answer.At.In(kyiv)
				require.Equal(t, 0, local.Hour()*60+local.Minute(), "%s: ends at midnight: %s", now, local)
				require.True(t, c.IsWorkingDay(deadline.DateOf(local.Add(-time.Hour))), "%s: the last day is a working day", now)
			}
			if kind == schemas.CaseAppeal {
				require.LessOrEqual(t, answer.At.Sub(start), 60*24*time.Hour, "45 days and the moves off days that are not working days")
				require.False(t, answer.At.Before(dueOf(t, dues, schemas.DueForward).At))
			} else {
				limit := c.AddWorkingDays(deadline.DateOf(start.In(kyiv)), 20).AddDays(1).At(0, kyiv)
				require.False(t, answer.At.After(limit), "%s: at most 20 working days", now)
			}
		}
	}
}
