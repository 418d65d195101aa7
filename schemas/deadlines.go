package schemas

import (
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// DueKind names what a due date is for. The values are stored and shown: never rename one
// (docs/deadlines.md).
type DueKind string

const (
	// DueAnswer is the term of consideration: the authority answers by then.
	DueAnswer DueKind = "answer"
	// DueForward is the last moment an authority that is not competent may forward the case.
	DueForward DueKind = "forward"
	// DueExtensionNotice is the last moment an authority may announce an extension of the term of
	// a request for public information.
	DueExtensionNotice DueKind = "extension_notice"
	// DueDeliveryNotice is the last moment the authority's system may send its delivery notice
	// after the hub sent the document (resolution No. 55: 6 hours).
	DueDeliveryNotice DueKind = "delivery_notice"
)

// DueKinds lists every due kind.
func DueKinds() []DueKind {
	return []DueKind{DueAnswer, DueForward, DueExtensionNotice, DueDeliveryNotice}
}

// Alarmed reports whether passing a due date of this kind is a breach the hub reports (an
// overdue answer, a missing delivery notice). The other kinds are windows for an action that may
// never be needed (a forward, an extension).
func (k DueKind) Alarmed() bool { return k == DueAnswer || k == DueDeliveryNotice }

// DueState is where a due date stands. The values are shown: never rename one.
type DueState string

const (
	// DueOpen: not reached yet, or reached and not yet reported.
	DueOpen DueState = "open"
	// DueOverdue: passed with nothing done, and reported by the hub's overdue sweep.
	DueOverdue DueState = "overdue"
	// DueMet: the action it waits for came before it.
	DueMet DueState = "met"
	// DueMissed: the action it waits for came after it.
	DueMissed DueState = "missed"
	// DueClosed: the delivery ended another way (forwarded, refused, …): it no longer applies.
	DueClosed DueState = "closed"
)

// DueExplanation says how a due date was computed.
type DueExplanation struct {
	// Rule is the stable id of the rule applied (appeal.answer.month, info.answer.urgent, …;
	// docs/deadlines.md lists them).
	Rule string `json:"rule"`
	// Basis is the legal reference of the rule.
	Basis string `json:"basis"`
	// Start is the instant the term counts from.
	Start time.Time `json:"start"`
	// Term is the length of the term in words ("1 month", "5 working days", "48 hours").
	Term string `json:"term"`
	// CalendarVersion is the version of the working-day calendar used.
	CalendarVersion string `json:"calendar_version"`
	// Steps are the steps of the computation, in order, for people.
	Steps []string `json:"steps"`
}

// DueDate is one current due date of a delivery, as GET /v1/appeals/{id} shows it.
type DueDate struct {
	Kind  DueKind   `json:"kind"`
	DueAt time.Time `json:"due_at"`
	State DueState  `json:"state"`
	// OverdueSince is when the hub reported it overdue (state overdue, or missed after it).
	OverdueSince *time.Time `json:"overdue_since,omitempty"`
	// ClosedAt is when the action it waited for came, or the delivery ended.
	ClosedAt    *time.Time     `json:"closed_at,omitempty"`
	Explanation DueExplanation `json:"explanation"`
}

// OverdueFilter selects overdue due dates (GET /v1/overdue). Zero fields do not filter.
type OverdueFilter struct {
	Authority string
	Kind      DueKind
	// Limit is the most items returned (1 to MaxOverdueLimit).
	Limit int
	// After continues a listing after the item the cursor names (OverduePage.NextCursor).
	After *OverdueCursor
	// Now is the instant overdue is judged at.
	Now time.Time
}

// Limits of GET /v1/overdue.
const (
	DefaultOverdueLimit = 50
	MaxOverdueLimit     = 500
)

// OverdueCursor is the position of an item in the overdue listing (ordered by due date, then id).
type OverdueCursor struct {
	DueAt time.Time
	ID    int64
}

// String encodes the cursor as the opaque next_cursor of a page.
func (c OverdueCursor) String() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", c.DueAt.UnixMicro(), c.ID))
}

// ParseOverdueCursor decodes a cursor that OverdueCursor.String made.
func ParseOverdueCursor(s string) (OverdueCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(raw) <= 48 {
		var micros, id int64
		var rest string
		if n, _ := fmt.Sscanf(string(raw), "%d.%d%s", &micros, &id, &rest); n == 2 && id > 0 &&
			string(raw) == fmt.Sprintf("%d.%d", micros, id) {
			return OverdueCursor{DueAt: time.UnixMicro(micros).UTC(), ID: id}, nil
		}
	}
	return OverdueCursor{}, errors.New("not a cursor this listing gave")
}

// OverdueItem is one overdue due date, with no personal data.
type OverdueItem struct {
	DeliveryID     string         `json:"delivery_id"`
	AppealID       string         `json:"appeal_id"`
	TrackingNumber string         `json:"tracking_number"`
	Authority      string         `json:"authority"`
	CaseKind       CaseKind       `json:"case_kind"`
	Status         DeliveryStatus `json:"status"`
	Kind           DueKind        `json:"kind"`
	DueAt          time.Time      `json:"due_at"`
	// LateSeconds is how late it is at the time of the listing.
	LateSeconds int64 `json:"late_seconds"`
	// ReportedAt is when the sweep reported it (absent until then).
	ReportedAt *time.Time `json:"reported_at,omitempty"`
	Rule       string     `json:"rule"`
	// Cursor is where a listing continues after this item (internal).
	Cursor OverdueCursor `json:"-"`
}

// OverduePage is one page of the overdue listing.
type OverduePage struct {
	Items []OverdueItem `json:"items"`
	// NextCursor continues the listing; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// DeadlineFacts are what the hub knows about one delivery that its due dates depend on: the store
// reads them, internal/deadline derives the due dates from them.
type DeadlineFacts struct {
	DeliveryID string
	AppealID   string
	Authority  string
	CaseKind   CaseKind
	// Urgent is the submission's urgent flag (requests for public information only).
	Urgent bool
	// Simple is set when the authority marked the appeal as needing no further study; SimpleAt is
	// when the hub received the first message that did (nil: not known).
	Simple   bool
	SimpleAt *time.Time
	Status   DeliveryStatus
	// StatusAt is when the delivery reached Status: its first event with that status (its last
	// change when it has none).
	StatusAt time.Time
	// SentAt is when the document left the hub for the authority's system; nil before.
	SentAt *time.Time
	// DeliveredAt is the moment of delivery (the delivery notice), or else the time of the
	// delivery's first event with a status that only a delivered document reaches (registered,
	// answered, …); nil before.
	DeliveredAt *time.Time
	// Extensions are the authority's extended messages, in the order the hub received them.
	Extensions []DeadlineExtension
}

// DeadlineExtension is an authority's extension of the term of consideration.
type DeadlineExtension struct {
	MessageID string
	// ReceivedAt is when the hub received the message (the time it was announced).
	ReceivedAt time.Time
	// NewDueDate is the new end of the term as the authority states it.
	NewDueDate time.Time
}

// AsOf returns the facts as they stood at an event of the delivery at t that left it in status
// s ("" leaves the status as it is): what the hub learnt after t (the moment of sending or of
// delivery, the simple mark, extensions) is left out. The hub stamps an event and the facts it
// records with the same moment, so the event's own facts are in. The status decides over the
// clock where they disagree (the moments of the delivery's events come from more than one
// process): an event before delivery (accepted, queued, sent) has no moment of delivery, an event
// only a delivered document reaches has one.
func (f DeadlineFacts) AsOf(t time.Time, s DeliveryStatus) DeadlineFacts {
	out := f
	if s != "" {
		out.Status, out.StatusAt = s, t
	}
	if out.SentAt != nil && out.SentAt.After(t) && !s.reachedDelivery() {
		out.SentAt = nil
	}
	if out.DeliveredAt != nil && (s.Pending() || s == StatusSent || out.DeliveredAt.After(t) && !s.reachedDelivery()) {
		out.DeliveredAt = nil
	}
	if out.SimpleAt != nil && out.SimpleAt.After(t) {
		out.Simple, out.SimpleAt = false, nil
	}
	out.Extensions = nil
	for _, e := range f.Extensions {
		if !e.ReceivedAt.After(t) {
			out.Extensions = append(out.Extensions, e)
		}
	}
	return out
}

// reachedDelivery is true of the statuses only a delivered document reaches.
func (s DeliveryStatus) reachedDelivery() bool {
	switch s {
	case StatusDelivered, StatusRegistered, StatusAnswered, StatusForwarded, StatusReturned, StatusNotConsidered:
		return true
	}
	return false
}

// StoredCalendar is one imported version of the working-day calendar.
type StoredCalendar struct {
	ID         int64 // 0: none is stored, the calendar embedded in the binary applies
	Version    string
	Source     []byte // the file, byte for byte
	SHA256     []byte
	ImportedAt time.Time
	ImportedBy string
}
