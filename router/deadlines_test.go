package router_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/clock"
	"appealhub/internal/deadline"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/router"
	"appealhub/schemas"
)

// TestDeadlinesThroughARunningHub: a hub on a stub clock delivers an appeal to a push system;
// the delivery gets its answer due date with its explanation; a new calendar version moves it;
// when the clock passes it, the sweep reports it once and operators see it in /v1/overdue.
func TestDeadlinesThroughARunningHub(t *testing.T) {
	t.Parallel()
	const opToken = "operator-token"
	code := validCode("1200011")
	sys := newRecordingSystem(t, sandbox.Options{Name: "deadlines"})
	env := hubtest.NewEnv(t, map[string]string{code: sys.srv.URL + "/documents/" + code}, func(c *config.Config) {
		c.Audit.SealInterval = 20 * time.Millisecond
		c.Deadlines.KeepInterval = 20 * time.Millisecond
		c.Deadlines.SweepInterval = 20 * time.Millisecond
		c.Clients = append(c.Clients, config.Client{ID: "ops", Kind: config.ClientOperator, TokenSHA256: sha256Hex(opToken)})
	})
	kyiv, err := time.LoadLocation("Europe/Kyiv")
	require.NoError(t, err)
	stub := clock.NewStub(time.Date(2026, 3, 2, 10, 0, 0, 0, kyiv)) // a Monday, within working hours
	_, url := startHub(t, env, stub, 200*time.Millisecond)
	receipt := env.MustSubmit(t, url, "deadline-1", hubtest.Submission(1, 800, code))
	api := newAPICheck(t, loadOpenAPI(t), url) // every answer below is validated against the document

	getCase := func() schemas.Case {
		resp := api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + receipt.ID, token: env.Token, status: http.StatusOK})
		return decodeCase(t, resp.Body)
	}
	dueOf := func(c schemas.Case, kind schemas.DueKind) *schemas.DueDate {
		for i, d := range c.Deliveries[0].Due {
			if d.Kind == kind {
				return &c.Deliveries[0].Due[i]
			}
		}
		return nil
	}
	eventsOf := func(c schemas.Case, typ schemas.EventType) []schemas.Event {
		var out []schemas.Event
		for _, e := range c.Events {
			if e.Type == typ {
				out = append(out, e)
			}
		}
		return out
	}

	// Delivered at the stub's 10:00: a month, to the end of Thursday 2 April (summer time by then).
	var c schemas.Case
	waitFor(t, 30*time.Second, "the answer due date", func() bool {
		c = getCase()
		return dueOf(c, schemas.DueAnswer) != nil
	})
	require.Equal(t, schemas.StatusDelivered, c.Deliveries[0].Status)
	answer := dueOf(c, schemas.DueAnswer)
	require.True(t, time.Date(2026, 4, 3, 0, 0, 0, 0, kyiv).Equal(answer.DueAt), "due %s", answer.DueAt)
	require.Equal(t, schemas.DueOpen, answer.State)
	require.Equal(t, deadline.RuleAppealAnswer, answer.Explanation.Rule)
	require.Equal(t, "ua-2026.1", answer.Explanation.CalendarVersion)
	require.True(t, stub.Now().Equal(answer.Explanation.Start), "the term counts from the delivery")
	require.Contains(t, answer.Explanation.Basis, "art. 20")
	require.NotEmpty(t, answer.Explanation.Steps)
	require.NotNil(t, dueOf(c, schemas.DueForward))
	require.Equal(t, schemas.DueMet, dueOf(c, schemas.DueDeliveryNotice).State, "the push was answered with a delivery notice")
	waitFor(t, 30*time.Second, "the deadline_set event", func() bool { return len(eventsOf(getCase(), schemas.EventDeadlineSet)) == 1 })

	// A calendar without martial law and with a holiday on 2 April: the last day moves to Friday 3 April.
	src := []byte(`format: appealhub.calendar.v1
version: test-2026.2
time_zone: Europe/Kyiv
working_days: [monday, tuesday, wednesday, thursday, friday]
working_hours: {start: "09:00", end: "18:00"}
holiday_on_weekend: next_working_day
holidays:
  - {name: Test holiday, date: 2026-04-02}
`)
	imp, err := router.ImportCalendar(context.Background(), env.Store, src, "test", stub.Now())
	require.NoError(t, err)
	require.True(t, imp.Imported)
	require.Equal(t, 1, imp.Changed)
	c = getCase()
	answer = dueOf(c, schemas.DueAnswer)
	require.True(t, time.Date(2026, 4, 4, 0, 0, 0, 0, kyiv).Equal(answer.DueAt), "due %s", answer.DueAt)
	require.Equal(t, "test-2026.2", answer.Explanation.CalendarVersion)
	require.Len(t, eventsOf(c, schemas.EventDeadlineRecomputed), 1)

	// Nothing is overdue before the due date; a minute after it, the sweep reports it once.
	overdue := func() schemas.OverduePage {
		resp := api.do(t, call{method: http.MethodGet, path: "/v1/overdue?kind=answer&authority=" + code, token: opToken, status: http.StatusOK})
		var p schemas.OverduePage
		require.NoError(t, json.Unmarshal(resp.Body, &p))
		return p
	}
	require.Empty(t, overdue().Items)
	stub.Set(answer.DueAt.Add(time.Minute))
	waitFor(t, 30*time.Second, "the deadline_overdue event", func() bool { return len(eventsOf(getCase(), schemas.EventDeadlineOverdue)) > 0 })
	page := overdue()
	require.Len(t, page.Items, 1)
	it := page.Items[0]
	require.Equal(t, receipt.TrackingNumber, it.TrackingNumber)
	require.Equal(t, code, it.Authority)
	require.Equal(t, c.Deliveries[0].ID, it.DeliveryID)
	require.Equal(t, int64(60), it.LateSeconds)
	require.NotNil(t, it.ReportedAt)
	require.Empty(t, page.NextCursor)
	c = getCase()
	require.Equal(t, schemas.DueOverdue, dueOf(c, schemas.DueAnswer).State)
	require.True(t, it.ReportedAt.Equal(*dueOf(c, schemas.DueAnswer).OverdueSince))
	require.Len(t, eventsOf(c, schemas.EventDeadlineOverdue), 1)
}

// TestNotificationDueDateIsTheOneInForceAtTheEvent: a notification made late, after the term was
// extended, still carries the due date its event had; none before delivery.
func TestNotificationDueDateIsTheOneInForceAtTheEvent(t *testing.T) {
	t.Parallel()
	delivered := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // Monday, 11:00 in Kyiv
	extendedAt := delivered.Add(72 * time.Hour)
	newDue := time.Date(2026, 4, 10, 21, 0, 0, 0, time.UTC)
	sent := delivered.Add(-time.Minute)
	facts := schemas.DeadlineFacts{DeliveryID: "d1", CaseKind: schemas.CaseAppeal, Status: schemas.StatusRegistered,
		StatusAt: extendedAt, SentAt: &sent, DeliveredAt: &delivered,
		Extensions: []schemas.DeadlineExtension{{MessageID: "x", ReceivedAt: extendedAt, NewDueDate: newDue}}}
	due := func(at time.Time, s schemas.DeliveryStatus) *time.Time {
		t.Helper()
		got, err := router.DueAsOf(schemas.NotificationSource{Deadline: &facts,
			Event: schemas.CaseEvent{DeliveryID: "d1", Status: s, At: at}})
		require.NoError(t, err)
		return got
	}
	require.Nil(t, due(sent, schemas.StatusSent), "no answer due date before delivery")
	month := due(delivered, schemas.StatusDelivered)
	require.NotNil(t, month)
	require.True(t, month.After(delivered.AddDate(0, 0, 27)) && month.Before(delivered.AddDate(0, 0, 33)), "a month: %s", month)
	registered := due(delivered.Add(time.Hour), schemas.StatusRegistered)
	require.NotNil(t, registered)
	require.True(t, registered.Equal(*month), "registered before the extension: %s", registered)
	extended := due(extendedAt, schemas.StatusRegistered)
	require.NotNil(t, extended)
	require.False(t, extended.Equal(*month), "the extension moved it")
	require.True(t, extended.After(*month), "extended to %s", extended)
	none, err := router.DueAsOf(schemas.NotificationSource{Event: schemas.CaseEvent{At: delivered}})
	require.NoError(t, err)
	require.Nil(t, none, "an event of the case as a whole")
}
