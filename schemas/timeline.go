package schemas

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// PortalState is what the portal and the citizen are shown of a case, in the vocabulary of
// resolution No. 55 (Надіслано, Доставлено, Зареєстровано, Відмова у реєстрації) and of the
// consideration that follows. The values are stored, sent and shown: never rename one.
type PortalState string

const (
	// PortalAccepted: the hub accepted the submission (Прийнято).
	PortalAccepted PortalState = "accepted"
	// PortalSent: the hub sent the appeal to the authority (Надіслано): its first delivery attempt
	// is under way.
	PortalSent PortalState = "sent"
	// PortalDelivered: the appeal is in the authority's document system (Доставлено).
	PortalDelivered PortalState = "delivered"
	// PortalRegistered: the authority registered the appeal (Зареєстровано).
	PortalRegistered PortalState = "registered"
	// PortalRefused: the authority refused to register it, on a ground of the closed list
	// (Відмова у реєстрації).
	PortalRefused PortalState = "refused"
	// PortalAnswered: the authority considered the appeal and answered (Розглянуто).
	PortalAnswered PortalState = "answered"
	// PortalForwarded: the authority sent the appeal on to the competent authority (Переслано).
	PortalForwarded PortalState = "forwarded"
	// PortalReturned: returned to the applicant, for insufficient data (Повернуто).
	PortalReturned PortalState = "returned"
	// PortalNotConsidered: not considered (anonymous, a repeat) (Не розглядається).
	PortalNotConsidered PortalState = "not_considered"
	// PortalNotDelivered: the hub could not deliver the appeal (Не доставлено).
	PortalNotDelivered PortalState = "not_delivered"
	// PortalExtended: the authority extended the term of consideration (Строк розгляду продовжено).
	PortalExtended PortalState = "extended"
	// PortalOverdue: the term of consideration has passed without an answer (Строк розгляду
	// порушено).
	PortalOverdue PortalState = "overdue"
	// PortalUnconfirmed: no delivery notice came within 6 hours of sending (Доставку не
	// підтверджено).
	PortalUnconfirmed PortalState = "unconfirmed"
)

var portalLabels = map[PortalState]string{
	PortalAccepted:      "Прийнято",
	PortalSent:          "Надіслано",
	PortalDelivered:     "Доставлено",
	PortalRegistered:    "Зареєстровано",
	PortalRefused:       "Відмова у реєстрації",
	PortalAnswered:      "Розглянуто",
	PortalForwarded:     "Переслано",
	PortalReturned:      "Повернуто",
	PortalNotConsidered: "Не розглядається",
	PortalNotDelivered:  "Не доставлено",
	PortalExtended:      "Строк розгляду продовжено",
	PortalOverdue:       "Строк розгляду порушено",
	PortalUnconfirmed:   "Доставку не підтверджено",
}

// PortalStates returns every portal state, in the order a case usually passes them.
func PortalStates() []PortalState {
	return []PortalState{PortalAccepted, PortalSent, PortalDelivered, PortalRegistered, PortalRefused, PortalAnswered,
		PortalForwarded, PortalReturned, PortalNotConsidered, PortalNotDelivered, PortalExtended, PortalOverdue,
		PortalUnconfirmed}
}

// Label returns the Ukrainian name of s as the portal shows it ("" for an unknown state).
func (s PortalState) Label() string { return portalLabels[s] }

// statusStates is the portal state a delivery in each status shows.
var statusStates = map[DeliveryStatus]PortalState{
	StatusQueued:        PortalSent,
	StatusSent:          PortalSent,
	StatusDelivered:     PortalDelivered,
	StatusRegistered:    PortalRegistered,
	StatusRefused:       PortalRefused,
	StatusAnswered:      PortalAnswered,
	StatusForwarded:     PortalForwarded,
	StatusReturned:      PortalReturned,
	StatusNotConsidered: PortalNotConsidered,
	StatusDead:          PortalNotDelivered,
}

// noticeStates are the event types shown whatever they do to the delivery's status: they tell
// something besides it (a new term, a missed one).
var noticeStates = map[EventType]PortalState{
	AuthorityEvent(MsgExtended): PortalExtended,
	EventDeadlineOverdue:        PortalOverdue,
	EventDeliveryNoticeMissing:  PortalUnconfirmed,
}

// CaseEvent is one event of a case's timeline with what the portal vocabulary needs to show it.
type CaseEvent struct {
	CaseID         string
	TrackingNumber string
	Seq            int64
	Type           EventType
	// Status is the status of the event's delivery after the event; "" for an event of the case
	// as a whole.
	Status     DeliveryStatus
	DeliveryID string // "" for an event of the case as a whole
	Authority  string
	// AuthorityName is the name of the authority in the registry.
	AuthorityName string
	At            time.Time
	// DueAt is the delivery's due date when one is known.
	DueAt *time.Time
}

// NotificationFormat is the format marker of a notification's body.
const NotificationFormat = "appealhub.notification.v1"

// PortalEvent is one entry of a case's timeline as the portal and the citizen see it
// (GET /v1/appeals/{id}/events, GET /v1/track/{tracking_number}), and the body of a portal
// notification (then with Format set). It carries no personal data. The JSON names are sent:
// never rename one.
type PortalEvent struct {
	// Format is NotificationFormat in a notification, absent in a timeline.
	Format string `json:"format,omitempty"`
	// EventID is the event's number: unique, stable, and increasing along each delivery's events.
	// A portal de-duplicates notifications by it and orders a delivery's entries by it.
	EventID        int64  `json:"event_id"`
	CaseID         string `json:"case_id,omitempty"`
	TrackingNumber string `json:"tracking_number"`
	// DeliveryID, Authority and AuthorityName name the delivery the entry is about; absent for an
	// entry about the case as a whole.
	DeliveryID    string      `json:"delivery_id,omitempty"`
	Authority     string      `json:"authority,omitempty"`
	AuthorityName string      `json:"authority_name,omitempty"`
	State         PortalState `json:"state"`
	// Label is State's Ukrainian name.
	Label string    `json:"label"`
	At    time.Time `json:"at"`
	// DueAt is the delivery's due date, when one is known.
	DueAt *time.Time `json:"due_at,omitempty"`
}

// PortalStateOf returns the state an event of type t shows, given its delivery's status after it
// (status) and before it (previous: the status of the delivery's previous event, "" when there is
// none), or false when the event shows nothing new. The acceptance of the submission and the
// notices (an extension of the term, a term missed) are always shown; any other event when it moves
// its delivery to another portal state: a queued delivery pushed to the authority's system shows
// nothing (it was "sent" already), nor does a registration notice repeated.
func PortalStateOf(t EventType, status, previous DeliveryStatus) (PortalState, bool) {
	if t == EventSubmissionAccepted {
		return PortalAccepted, true
	}
	if s, ok := noticeStates[t]; ok {
		return s, true
	}
	s, ok := statusStates[status]
	if !ok || s == statusStates[previous] {
		return "", false
	}
	return s, true
}

// PortalEventOf returns the entry e shows (see PortalStateOf), or false.
func PortalEventOf(e CaseEvent, previous DeliveryStatus) (PortalEvent, bool) {
	s, ok := PortalStateOf(e.Type, e.Status, previous)
	if !ok {
		return PortalEvent{}, false
	}
	return PortalEvent{EventID: e.Seq, CaseID: e.CaseID, TrackingNumber: e.TrackingNumber, DeliveryID: e.DeliveryID,
		Authority: e.Authority, AuthorityName: e.AuthorityName, State: s, Label: s.Label(), At: e.At.UTC(), DueAt: e.DueAt}, true
}

// Timeline returns the entries a case's events show, the events given in seq order.
func Timeline(events []CaseEvent) []PortalEvent {
	out := []PortalEvent{}
	previous := map[string]DeliveryStatus{}
	for _, e := range events {
		if p, ok := PortalEventOf(e, previous[e.DeliveryID]); ok {
			out = append(out, p)
		}
		if e.DeliveryID != "" {
			previous[e.DeliveryID] = e.Status
		}
	}
	return out
}

// Tracking is what a citizen sees of a case with its tracking number and access code
// (GET /v1/track/{tracking_number}): its kind, when the hub received it, and its timeline. It
// carries no personal data.
type Tracking struct {
	TrackingNumber string        `json:"tracking_number"`
	CaseKind       CaseKind      `json:"case_kind"`
	ReceivedAt     time.Time     `json:"received_at"`
	Events         []PortalEvent `json:"events"`
}

// AccessCodeAlphabet is the alphabet of access codes: digits and capital Latin letters without
// the ones that are easily confused (0 O, 1 I L).
const AccessCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// AccessCodeLength is the number of characters of an access code (about 49.5 bits).
const AccessCodeLength = 10

// NewAccessCode returns a random access code of AccessCodeLength characters of
// AccessCodeAlphabet. It panics only when the system's random source fails.
func NewAccessCode() string {
	b := make([]byte, AccessCodeLength)
	for i := range b {
		b[i] = AccessCodeAlphabet[randIndex(len(AccessCodeAlphabet))]
	}
	return string(b)
}

// randIndex returns a uniform random number in [0, n), n < 256, by rejection sampling.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("schemas: random source failed: " + err.Error())
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

// NormalizeAccessCode returns code as it is hashed: upper case, without spaces and hyphens (a
// citizen may type "abcde-fghjk").
func NormalizeAccessCode(code string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(code))
}

// AccessCodeHash returns what the hub stores of a case's access code: SHA-256 over the case id and
// the normalised code, so that equal codes of two cases hash apart.
func AccessCodeHash(caseID, code string) []byte {
	h := sha256.New()
	h.Write([]byte("appealhub-access-code\x00" + caseID + "\x00" + NormalizeAccessCode(code)))
	return h.Sum(nil)
}
