// Package deadline computes the due dates of deliveries: the working-day Calendar (public
// holidays, transfers of working days and effective-dated rules such as martial law, working
// hours, a time zone), and the terms of the law that count on it. It is pure: no I/O, no clock;
// callers pass the facts and the instants.
//
// # Terms
//
// Calendar.Derive turns the facts of one delivery (case kind, urgency, the authority's "simple"
// mark and extensions, when it was sent and delivered, its status) into its due dates, each with
// a schemas.DueExplanation: the rule id, the legal basis, the start, the term, the calendar
// version and the steps of the computation. docs/deadlines.md states the rules:
//
//   - appeals (Law "On Citizens' Appeals" art. 20): one month, 15 days when the authority marks
//     the appeal simple, extendable to 45 days in total (a later extension is limited to 45 days);
//     forwarding within 5 days (art. 7);
//   - requests for public information (Law "On Access to Public Information" arts. 20, 22):
//     5 working days, 48 hours when urgent, extendable to 20 working days by an extension
//     announced within 5 working days; forwarding within 5 working days;
//   - a delivery notice within 6 hours of sending (resolution No. 55).
//
// Terms count from the moment of delivery, or from the start of the next working period when the
// delivery came outside working hours or on a day that is not a working day. Terms of days count
// from the next day (Civil Code art. 253); a term of months ends on the same day of the month, or
// on the month's last day (art. 254(3)); a last day that is not a working day moves to the next
// working day (art. 254(5)); a due date is the end of its last day in the calendar's time zone.
//
// # Calendars
//
// Parse reads a calendar file (YAML or JSON, format appealhub.calendar.v1); Default returns the
// calendar embedded in the binary (calendars/ua.yaml). A Calendar is immutable and safe for
// concurrent use.
package deadline
