package deadline

import (
	"fmt"
	"time"

	"appealhub/schemas"
)

// Rule ids (schemas.DueExplanation.Rule). They are stored and shown: never rename one.
const (
	RuleAppealAnswer        = "appeal.answer.month"
	RuleAppealSimple        = "appeal.answer.simple"
	RuleAppealExtended      = "appeal.answer.extended"
	RuleAppealForward       = "appeal.forward"
	RuleInfoAnswer          = "info.answer"
	RuleInfoUrgent          = "info.answer.urgent"
	RuleInfoExtended        = "info.answer.extended"
	RuleInfoExtensionNotice = "info.extension_notice"
	RuleInfoForward         = "info.forward"
	RuleDeliveryNotice      = "delivery.notice"
)

// Legal bases of the rules.
const (
	lawAppeals = `Law of Ukraine "On Citizens' Appeals" No. 393/96-ВР`
	lawInfo    = `Law of Ukraine "On Access to Public Information" No. 2939-VI`
)

var bases = map[string]string{
	RuleAppealAnswer:        lawAppeals + ", art. 20: at most one month from receipt",
	RuleAppealSimple:        lawAppeals + ", art. 20: an appeal that needs no further study at once, at most 15 days from receipt",
	RuleAppealExtended:      lawAppeals + ", art. 20: the term the head of the body sets when a month is not enough, 45 days in total at most",
	RuleAppealForward:       lawAppeals + ", art. 7: an appeal outside the body's competence is forwarded to the competent body within 5 days",
	RuleInfoAnswer:          lawInfo + ", art. 20(1): at most 5 working days from receipt",
	RuleInfoUrgent:          lawInfo + ", art. 20(2): within 48 hours when the information is needed to protect life or liberty (an urgent request)",
	RuleInfoExtended:        lawInfo + ", art. 20(4): up to 20 working days for a large volume of information, if the requester is told within 5 working days of receipt",
	RuleInfoExtensionNotice: lawInfo + ", art. 20(4): an extension must be announced within 5 working days of receipt",
	RuleInfoForward:         lawInfo + ", art. 22(3): a request for information the body does not hold is forwarded within 5 working days of receipt",
	RuleDeliveryNotice:      "Cabinet of Ministers resolution No. 55 of 17.01.2018, section II: without a delivery notice within 6 hours the document counts as not received",
}

// Terms.
const (
	appealMonths          = 1
	appealSimpleDays      = 15
	appealMaxDays         = 45
	appealForwardDays     = 5
	infoWorkingDays       = 5
	infoUrgentHours       = 48
	infoMaxWorkingDays    = 20
	infoNoticeWorkingDays = 5
	infoForwardDays       = 5
	deliveryNoticeHours   = 6
)

// Facts are what the hub knows about one delivery that its due dates depend on.
type Facts = schemas.DeadlineFacts

// Extension is an authority's extension of the term of consideration.
type Extension = schemas.DeadlineExtension

// Due is one computed due date.
type Due struct {
	Kind        schemas.DueKind
	At          time.Time
	Explanation schemas.DueExplanation
	// ClosedAt is set when the action the due date waits for came, or the delivery ended; Met
	// then says whether it came before the due date (nil: the due date no longer applies).
	ClosedAt *time.Time
	Met      *bool
}

// Closed reports whether a delivery in status s is over: its due dates close.
func Closed(s schemas.DeliveryStatus) bool {
	switch s {
	case schemas.StatusAnswered, schemas.StatusRefused, schemas.StatusForwarded, schemas.StatusReturned,
		schemas.StatusNotConsidered, schemas.StatusDead:
		return true
	}
	return false
}

// ClosedStatuses lists the statuses for which Closed is true.
func ClosedStatuses() []schemas.DeliveryStatus {
	var out []schemas.DeliveryStatus
	for _, s := range schemas.DeliveryStatuses() {
		if Closed(s) {
			out = append(out, s)
		}
	}
	return out
}

// Derive computes the due dates of a delivery from its facts: the delivery notice once it is
// sent; the answer, the forward and (requests for public information) the extension notice once
// it is delivered. It is deterministic: the same facts and calendar give the same due dates.
func (c *Calendar) Derive(f Facts) []Due {
	var out []Due
	if f.SentAt != nil {
		out = append(out, c.deliveryNotice(f))
	}
	delivered := f.DeliveredAt
	if delivered == nil && f.Status != "" && !f.Status.Pending() && f.Status != schemas.StatusSent && f.Status != schemas.StatusDead &&
		f.Status != schemas.StatusRefused && !f.StatusAt.IsZero() {
		// Further than delivered without a recorded moment of delivery: the status change stands in.
		delivered = &f.StatusAt
	}
	if delivered == nil {
		return out
	}
	s, startStep := c.start(*delivered)
	if f.CaseKind == schemas.CaseInfoRequest {
		answer, window := c.infoAnswer(f, s, startStep)
		out = append(out, answer, window, c.forward(f, s, startStep, RuleInfoForward))
	} else {
		out = append(out, c.appealAnswer(f, s, startStep), c.forward(f, s, startStep, RuleAppealForward))
	}
	return out
}

func (c *Calendar) newExplainer(steps ...string) *explainer {
	return &explainer{c: c, steps: steps}
}

func (c *Calendar) explanation(rule string, s time.Time, term string, x *explainer) schemas.DueExplanation {
	return schemas.DueExplanation{Rule: rule, Basis: bases[rule], Start: s, Term: term, CalendarVersion: c.version, Steps: x.steps}
}

func (c *Calendar) deliveryNotice(f Facts) Due {
	sent := *f.SentAt
	x := c.newExplainer(fmt.Sprintf("sent %s: the delivery notice is due within %d hours, counted on the clock", c.clock(sent), deliveryNoticeHours))
	due := x.hours(sent, deliveryNoticeHours, false)
	d := Due{Kind: schemas.DueDeliveryNotice, At: due,
		Explanation: c.explanation(RuleDeliveryNotice, sent, fmt.Sprintf("%d hours", deliveryNoticeHours), x)}
	switch {
	case f.DeliveredAt != nil:
		d.close(*f.DeliveredAt, true)
	case Closed(f.Status):
		d.close(f.StatusAt, false)
	}
	return d
}

func (c *Calendar) appealAnswer(f Facts, s time.Time, startStep string) Due {
	x := c.newExplainer(startStep)
	rule, term := RuleAppealAnswer, fmt.Sprintf("%d month", appealMonths)
	var due time.Time
	if f.Simple {
		rule, term = RuleAppealSimple, fmt.Sprintf("%d days", appealSimpleDays)
		x.add("the authority marked the appeal as needing no further study")
		due = x.calendarDays(s, appealSimpleDays)
	} else {
		due = x.months(s, appealMonths)
	}
	if len(f.Extensions) > 0 {
		maxDue := c.newExplainer().calendarDays(s, appealMaxDays)
		if extended, ok := c.extend(x, due, maxDue, f.Extensions, time.Time{}, fmt.Sprintf("%d days in total", appealMaxDays)); ok {
			due, rule, term = extended, RuleAppealExtended, fmt.Sprintf("extended, %d days at most", appealMaxDays)
		}
	}
	d := Due{Kind: schemas.DueAnswer, At: due, Explanation: c.explanation(rule, s, term, x)}
	d.closeAnswer(f)
	return d
}

// infoAnswer is the answer to a request for public information, and the window in which its
// extension must be announced.
func (c *Calendar) infoAnswer(f Facts, s time.Time, startStep string) (answer, window Due) {
	w := c.newExplainer(startStep)
	windowEnd := w.workingDays(s, infoNoticeWorkingDays)
	window = Due{Kind: schemas.DueExtensionNotice, At: windowEnd,
		Explanation: c.explanation(RuleInfoExtensionNotice, s, fmt.Sprintf("%d working days", infoNoticeWorkingDays), w)}

	x := c.newExplainer(startStep)
	rule, term := RuleInfoAnswer, fmt.Sprintf("%d working days", infoWorkingDays)
	var due time.Time
	if f.Urgent {
		rule, term = RuleInfoUrgent, fmt.Sprintf("%d hours", infoUrgentHours)
		x.add("the request is urgent")
		due = x.hours(s, infoUrgentHours, true)
	} else {
		due = x.workingDays(s, infoWorkingDays)
	}
	if len(f.Extensions) > 0 {
		maxDue := c.newExplainer().workingDays(s, infoMaxWorkingDays)
		if extended, ok := c.extend(x, due, maxDue, f.Extensions, windowEnd, fmt.Sprintf("%d working days", infoMaxWorkingDays)); ok {
			due, rule, term = extended, RuleInfoExtended, fmt.Sprintf("extended, %d working days at most", infoMaxWorkingDays)
		}
	}
	answer = Due{Kind: schemas.DueAnswer, At: due, Explanation: c.explanation(rule, s, term, x)}
	answer.closeAnswer(f)
	for _, e := range f.Extensions {
		if e.ReceivedAt.Before(windowEnd) {
			window.close(e.ReceivedAt, true)
			break
		}
	}
	if window.ClosedAt == nil && Closed(f.Status) {
		window.close(f.StatusAt, false)
	}
	return answer, window
}

// extend applies the authority's extensions to due, in order: each one received before
// windowEnd (zero: no window) that sets a later end, limited to maxDue. It reports whether any
// applied.
func (c *Calendar) extend(x *explainer, due, maxDue time.Time, exts []Extension, windowEnd time.Time, limit string) (time.Time, bool) {
	applied := false
	for _, e := range exts {
		if !windowEnd.IsZero() && !e.ReceivedAt.Before(windowEnd) {
			x.add("extension %s received %s, after the time to announce an extension ended (%s): not valid",
				e.MessageID, c.clock(e.ReceivedAt), c.clock(windowEnd))
			continue
		}
		last := DateOf(e.NewDueDate.In(c.loc))
		x.add("extension %s received %s sets the last day to %s", e.MessageID, c.clock(e.ReceivedAt), last)
		sub := c.newExplainer()
		end := sub.onWorkingDay(last)
		if !end.After(due) {
			x.add("that is not later than the current due date %s: no extension", due.Format(time.RFC3339))
			continue
		}
		x.steps = append(x.steps, sub.steps...)
		if end.After(maxDue) {
			x.add("that is beyond the limit of %s (%s): limited to it", limit, maxDue.Format(time.RFC3339))
			end = maxDue
		}
		due, applied = end, true
	}
	return due, applied
}

func (c *Calendar) forward(f Facts, s time.Time, startStep, rule string) Due {
	x := c.newExplainer(startStep)
	var due time.Time
	var term string
	if rule == RuleInfoForward {
		due, term = x.workingDays(s, infoForwardDays), fmt.Sprintf("%d working days", infoForwardDays)
	} else {
		due, term = x.calendarDays(s, appealForwardDays), fmt.Sprintf("%d days", appealForwardDays)
	}
	d := Due{Kind: schemas.DueForward, At: due, Explanation: c.explanation(rule, s, term, x)}
	if Closed(f.Status) {
		d.close(f.StatusAt, f.Status == schemas.StatusForwarded)
	}
	return d
}

// closeAnswer closes an answer due date when the delivery is over: an answer, a return or a
// decision not to consider it settle the term (met or missed); a forward, a refused registration
// or a dead delivery end it without settling it.
func (d *Due) closeAnswer(f Facts) {
	if !Closed(f.Status) {
		return
	}
	settles := f.Status == schemas.StatusAnswered || f.Status == schemas.StatusReturned || f.Status == schemas.StatusNotConsidered
	d.close(f.StatusAt, settles)
}

// close closes d at t; when settles, Met says whether t came before the due date.
func (d *Due) close(t time.Time, settles bool) {
	d.ClosedAt = &t
	if settles {
		met := t.Before(d.At)
		d.Met = &met
	}
}
