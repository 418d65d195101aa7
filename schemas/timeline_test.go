package schemas_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

func TestPortalStateOf(t *testing.T) {
	t.Parallel()
	reg := schemas.AuthorityEvent(schemas.MsgRegistered)
	tests := []struct {
		name             string
		typ              schemas.EventType
		status, previous schemas.DeliveryStatus
		want             schemas.PortalState // "": shows nothing
	}{
		{"Accepted", schemas.EventSubmissionAccepted, schemas.StatusAccepted, "", schemas.PortalAccepted},
		{"Queued", schemas.EventDeliveryQueued, schemas.StatusQueued, schemas.StatusAccepted, schemas.PortalSent},
		{"PushedWithoutNotice", schemas.EventDeliverySent, schemas.StatusSent, schemas.StatusQueued, ""},
		{"RetryScheduled", schemas.EventDeliveryAttempt, schemas.StatusQueued, schemas.StatusQueued, ""},
		{"InInbox", schemas.EventDeliveryInInbox, schemas.StatusQueued, schemas.StatusQueued, ""},
		{"Fetched", schemas.EventDeliveryFetched, schemas.StatusSent, schemas.StatusQueued, ""},
		{"PushedAndDelivered", schemas.EventDeliveryDelivered, schemas.StatusDelivered, schemas.StatusQueued, schemas.PortalDelivered},
		{"DeliveryNotice", schemas.AuthorityEvent(schemas.MsgDelivered), schemas.StatusDelivered, schemas.StatusSent, schemas.PortalDelivered},
		{"DeliveryNoticeAgain", schemas.AuthorityEvent(schemas.MsgDelivered), schemas.StatusDelivered, schemas.StatusDelivered, ""},
		{"Registered", reg, schemas.StatusRegistered, schemas.StatusDelivered, schemas.PortalRegistered},
		{"RegisteredAgain", reg, schemas.StatusRegistered, schemas.StatusRegistered, ""},
		{"StaleRegistration", reg, schemas.StatusAnswered, schemas.StatusAnswered, ""},
		{"Refused", schemas.AuthorityEvent(schemas.MsgRefused), schemas.StatusRefused, schemas.StatusDelivered, schemas.PortalRefused},
		{"Answered", schemas.AuthorityEvent(schemas.MsgAnswered), schemas.StatusAnswered, schemas.StatusRegistered, schemas.PortalAnswered},
		{"Forwarded", schemas.AuthorityEvent(schemas.MsgForwarded), schemas.StatusForwarded, schemas.StatusRegistered, schemas.PortalForwarded},
		{"Returned", schemas.AuthorityEvent(schemas.MsgReturned), schemas.StatusReturned, schemas.StatusRegistered, schemas.PortalReturned},
		{"NotConsidered", schemas.AuthorityEvent(schemas.MsgNotConsidered), schemas.StatusNotConsidered, schemas.StatusDelivered, schemas.PortalNotConsidered},
		{"Dead", schemas.EventDeliveryDead, schemas.StatusDead, schemas.StatusQueued, schemas.PortalNotDelivered},
		{"Extended", schemas.AuthorityEvent(schemas.MsgExtended), schemas.StatusRegistered, schemas.StatusRegistered, schemas.PortalExtended},
		{"Overdue", schemas.EventDeadlineOverdue, schemas.StatusRegistered, schemas.StatusRegistered, schemas.PortalOverdue},
		{"NoDeliveryNotice", schemas.EventDeliveryNoticeMissing, schemas.StatusSent, schemas.StatusSent, schemas.PortalUnconfirmed},
		{"InformativeStatus", schemas.AuthorityEvent(schemas.MsgStatus), schemas.StatusRegistered, schemas.StatusRegistered, ""},
		{"UnknownType", "something_new", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := schemas.PortalStateOf(tt.typ, tt.status, tt.previous)
			require.Equal(t, tt.want != "", ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestEveryPortalStateHasALabel(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range schemas.PortalStates() {
		require.NotEmpty(t, s.Label(), s)
		require.False(t, seen[s.Label()], "label %q twice", s.Label())
		seen[s.Label()] = true
	}
	require.Empty(t, schemas.PortalState("lost").Label())
}

func ExampleTimeline() {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := func(seq int64, typ schemas.EventType, status schemas.DeliveryStatus, delivery string) schemas.CaseEvent {
		return schemas.CaseEvent{Seq: seq, Type: typ, Status: status, DeliveryID: delivery, At: at.Add(time.Duration(seq) * time.Minute)}
	}
	events := []schemas.CaseEvent{
		ev(1, schemas.EventSubmissionAccepted, schemas.StatusAccepted, ""),
		ev(2, schemas.EventDeliveryQueued, schemas.StatusQueued, "d1"),
		ev(3, schemas.EventDeliveryAttempt, schemas.StatusQueued, "d1"),
		ev(4, schemas.EventDeliveryDelivered, schemas.StatusDelivered, "d1"),
		ev(5, schemas.AuthorityEvent(schemas.MsgRegistered), schemas.StatusRegistered, "d1"),
		ev(6, schemas.AuthorityEvent(schemas.MsgRegistered), schemas.StatusRegistered, "d1"),
	}
	for _, e := range schemas.Timeline(events) {
		fmt.Println(e.EventID, e.State, e.Label)
	}
	// Output:
	// 1 accepted Прийнято
	// 2 sent Надіслано
	// 4 delivered Доставлено
	// 5 registered Зареєстровано
}

func TestAccessCode(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 200 {
		c := schemas.NewAccessCode()
		require.Len(t, c, schemas.AccessCodeLength)
		for _, r := range c {
			require.True(t, strings.ContainsRune(schemas.AccessCodeAlphabet, r), "%q in %q", r, c)
		}
		require.False(t, seen[c])
		seen[c] = true
	}
	h := schemas.AccessCodeHash("case-1", "ABCDE23456")
	require.Len(t, h, 32)
	require.Equal(t, h, schemas.AccessCodeHash("case-1", "abcde-23456"), "case and hyphens do not matter")
	require.Equal(t, h, schemas.AccessCodeHash("case-1", " ABCDE 23456 "))
	require.NotEqual(t, h, schemas.AccessCodeHash("case-2", "ABCDE23456"), "salted by the case")
	require.NotEqual(t, h, schemas.AccessCodeHash("case-1", "ABCDE23457"))
}
