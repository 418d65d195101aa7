package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/router/tracker"
	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// cell is one cell of the table of docs/state_machine.md.
type cell struct {
	next    schemas.DeliveryStatus
	applied bool
}

// stateTable reads the table of docs/state_machine.md: status → message type → what happens.
func stateTable(t *testing.T) map[schemas.DeliveryStatus]map[schemas.AuthorityMessageType]cell {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "state_machine.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "<!-- state-table:begin -->")
	require.True(t, ok, "the table's begin marker")
	body, _, ok := strings.Cut(rest, "<!-- state-table:end -->")
	require.True(t, ok, "the table's end marker")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	require.Greater(t, len(lines), 2)
	split := func(line string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	header := split(lines[0])
	require.Equal(t, "status", header[0])
	var types []schemas.AuthorityMessageType
	for _, h := range header[1:] {
		types = append(types, schemas.AuthorityMessageType(h))
	}
	require.ElementsMatch(t, schemas.AuthorityMessageTypes(), types, "one column per message type")
	require.Len(t, types, len(schemas.AuthorityMessageTypes()), "no column twice")

	table := map[schemas.DeliveryStatus]map[schemas.AuthorityMessageType]cell{}
	for _, line := range lines[2:] {
		row := split(line)
		require.Len(t, row, len(header), "row %q", line)
		from := schemas.DeliveryStatus(row[0])
		require.NotContains(t, table, from, "status %s has one row", from)
		table[from] = map[schemas.AuthorityMessageType]cell{}
		for i, text := range row[1:] {
			var c cell
			switch {
			case text == "—":
				c = cell{next: from}
			case text == "recorded":
				c = cell{next: from, applied: true}
			case strings.HasPrefix(text, "→ "):
				c = cell{next: schemas.DeliveryStatus(strings.TrimPrefix(text, "→ ")), applied: true}
				require.Contains(t, schemas.DeliveryStatuses(), c.next, "%s + %s: a known status", from, types[i])
			default:
				t.Fatalf("%s + %s: cell %q is not →, recorded or —", from, types[i], text)
			}
			table[from][types[i]] = c
		}
	}
	var statuses []schemas.DeliveryStatus
	for s := range table {
		statuses = append(statuses, s)
	}
	require.ElementsMatch(t, schemas.DeliveryStatuses(), statuses, "one row per status")
	return table
}

// TestNextFollowsTheTable checks Next against every (status × message type) cell of
// docs/state_machine.md: the allowed moves, the recorded messages and everything that changes
// nothing.
func TestNextFollowsTheTable(t *testing.T) {
	t.Parallel()
	table := stateTable(t)
	pairs := 0
	for _, from := range schemas.DeliveryStatuses() {
		for _, typ := range schemas.AuthorityMessageTypes() {
			want := table[from][typ]
			got, applied := tracker.Next(from, schemas.AuthorityMessage{Type: typ})
			require.Equal(t, want.applied, applied, "%s + %s: applied", from, typ)
			require.Equal(t, want.next, got, "%s + %s: status after", from, typ)
			pairs++
		}
	}
	require.Equal(t, 11*10, pairs)
}

// TestNextDecisions spells out the decisions the table encodes, so that a change to the table is a
// change someone meant.
func TestNextDecisions(t *testing.T) {
	t.Parallel()
	next := func(from schemas.DeliveryStatus, typ schemas.AuthorityMessageType) string {
		to, applied := tracker.Next(from, schemas.AuthorityMessage{Type: typ})
		return fmt.Sprintf("%s %v", to, applied)
	}
	require.Equal(t, "answered true", next(schemas.StatusDelivered, schemas.MsgAnswered), "an answer may come before registration")
	require.Equal(t, "registered false", next(schemas.StatusRegistered, schemas.MsgRefused), "a registered appeal is not refused registration")
	require.Equal(t, "forwarded true", next(schemas.StatusRegistered, schemas.MsgForwarded), "a registered appeal may be forwarded")
	require.Equal(t, "refused false", next(schemas.StatusRefused, schemas.MsgAnswered), "a refused appeal is not answered")
	require.Equal(t, "answered false", next(schemas.StatusAnswered, schemas.MsgRegistered), "a late registration changes nothing")
	require.Equal(t, "delivered true", next(schemas.StatusDead, schemas.MsgStatus), "any message proves delivery")
	require.Equal(t, "registered true", next(schemas.StatusRegistered, schemas.MsgExtended), "an extension is recorded")
	require.Equal(t, "registered false", next(schemas.StatusRegistered, "archived"), "an unknown type changes nothing")
	require.Equal(t, "paused false", next("paused", schemas.MsgAnswered), "an unknown status is not open")
}

// FuzzNext: for any status and type, Next never leaves the known statuses from a known one, never
// moves a delivery backwards or out of a final state, and applying the same message again never
// moves it a second time.
func FuzzNext(f *testing.F) {
	for _, s := range schemas.DeliveryStatuses() {
		for _, typ := range schemas.AuthorityMessageTypes() {
			f.Add(string(s), string(typ))
		}
	}
	f.Add("", "")
	f.Add("registered", "REGISTERED")
	// The open statuses in the order a delivery passes them (dead is where sent is).
	order := map[schemas.DeliveryStatus]int{schemas.StatusAccepted: 0, schemas.StatusQueued: 1, schemas.StatusSent: 2,
		schemas.StatusDead: 2, schemas.StatusDelivered: 3, schemas.StatusRegistered: 4}
	open := slices.Collect(maps.Keys(order))
	f.Fuzz(func(t *testing.T, status, typ string) {
		from := schemas.DeliveryStatus(status)
		m := schemas.AuthorityMessage{Type: schemas.AuthorityMessageType(typ)}
		to, applied := tracker.Next(from, m)
		if !applied {
			require.Equal(t, from, to, "a message that does not apply changes nothing")
			return
		}
		require.Contains(t, open, from, "only an open status takes a message")
		require.Contains(t, schemas.DeliveryStatuses(), to)
		if slices.Contains(open, to) && to != from {
			require.Greater(t, order[to], order[from], "%s → %s goes forward", from, to)
			require.NotEqual(t, schemas.StatusDead, to)
		}
		again, _ := tracker.Next(to, m)
		require.Equal(t, to, again, "the same message again does not move %s", to)
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	date := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		m    schemas.AuthorityMessage
		want string // "" when valid, else a part of the detail
	}{
		{name: "delivered", m: schemas.AuthorityMessage{Type: schemas.MsgDelivered}},
		{name: "registered", m: schemas.AuthorityMessage{Type: schemas.MsgRegistered, RegistrationNumber: "01-12/345", RegistrationDate: &date}},
		{name: "registered without number", m: schemas.AuthorityMessage{Type: schemas.MsgRegistered, RegistrationNumber: " ", RegistrationDate: &date},
			want: "no registration_number"},
		{name: "registered without date", m: schemas.AuthorityMessage{Type: schemas.MsgRegistered, RegistrationNumber: "1"},
			want: "no registration_date"},
		{name: "refused with a ground", m: schemas.AuthorityMessage{Type: schemas.MsgRefused, RefusalCode: schemas.RefusalDuplicate}},
		{name: "refused in words", m: schemas.AuthorityMessage{Type: schemas.MsgRefused, RefusalText: "Не за адресою"}},
		{name: "refused without either", m: schemas.AuthorityMessage{Type: schemas.MsgRefused}, want: "no refusal_code or refusal_text"},
		{name: "refused on an unknown ground", m: schemas.AuthorityMessage{Type: schemas.MsgRefused, RefusalCode: "bored", RefusalText: "x"},
			want: "not a ground of resolution No. 55"},
		{name: "extended", m: schemas.AuthorityMessage{Type: schemas.MsgExtended, NewDueDate: &date}},
		{name: "extended without a date", m: schemas.AuthorityMessage{Type: schemas.MsgExtended, Reason: "складне"}, want: "no new_due_date"},
		{name: "forwarded", m: schemas.AuthorityMessage{Type: schemas.MsgForwarded, ForwardedTo: "12345678"}},
		{name: "forwarded nowhere", m: schemas.AuthorityMessage{Type: schemas.MsgForwarded}, want: "no forwarded_to"},
		{name: "forwarded to a bad code", m: schemas.AuthorityMessage{Type: schemas.MsgForwarded, ForwardedTo: "1234"}, want: "no forwarded_to"},
		{name: "answered without outcome", m: schemas.AuthorityMessage{Type: schemas.MsgAnswered, Text: "x"}},
		{name: "answered refused", m: schemas.AuthorityMessage{Type: schemas.MsgAnswered, Outcome: schemas.OutcomeRefused,
			LegalBasis: "ст. 8", AppealProcedure: "до суду"}},
		{name: "answered refused without basis", m: schemas.AuthorityMessage{Type: schemas.MsgAnswered, Outcome: schemas.OutcomeRefused},
			want: "no legal_basis, no appeal_procedure"},
		{name: "unknown outcome", m: schemas.AuthorityMessage{Type: schemas.MsgAnswered, Outcome: "maybe"}, want: "an unknown outcome"},
		{name: "unknown type", m: schemas.AuthorityMessage{Type: "archived"}, want: "an unknown type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.m.MessageID = "m-1"
			err := tracker.Validate(tc.m)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			perr, ok := errors.AsType[*schemas.Error](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, schemas.CodeSchemaViolation, perr.Code)
			require.Contains(t, perr.Detail, `message "m-1"`)
			require.Contains(t, perr.Detail, tc.want)
		})
	}
}

// fakeStore records calls and answers with err.
type fakeStore struct {
	calls int
	err   error
}

func (f *fakeStore) ApplyAuthorityMessages(_ context.Context, _ string, msgs []schemas.AuthorityMessage, _ time.Time,
	next func(schemas.DeliveryStatus, schemas.AuthorityMessage) (schemas.DeliveryStatus, bool)) ([]schemas.MessageResult, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := make([]schemas.MessageResult, len(msgs))
	for i, m := range msgs {
		st, applied := next(schemas.StatusDelivered, m)
		out[i] = schemas.MessageResult{MessageID: m.MessageID, Of: m.Of, Applied: applied, Status: st}
	}
	return out, nil
}

func TestApplyMapsRefusals(t *testing.T) {
	t.Parallel()
	const of = "0191d7a8-3c4e-7b02-8d55-6a1e9f0c2b77"
	ok := schemas.AuthorityMessage{MessageID: "m-1", Of: of, Type: schemas.MsgForwarded, ForwardedTo: "12345678", Reason: "не наша компетенція"}
	forward := &schemas.Error{Code: schemas.CodeForwardTargetInactive, Detail: `message "m-1": authority 12345678 is suspended`}
	tests := []struct {
		name      string
		msgs      []schemas.AuthorityMessage
		storeErr  error
		wantCode  schemas.Code
		wantStore int
	}{
		{name: "applied", msgs: []schemas.AuthorityMessage{ok}, wantStore: 1},
		{name: "not a delivery id", msgs: []schemas.AuthorityMessage{{MessageID: "m", Of: "x", Type: schemas.MsgDelivered}}, wantCode: schemas.CodeNotFound},
		{name: "invalid second message refuses the body before the store",
			msgs:     []schemas.AuthorityMessage{ok, {MessageID: "m-2", Of: of, Type: schemas.MsgExtended}},
			wantCode: schemas.CodeSchemaViolation},
		{name: "forward refused by the store", msgs: []schemas.AuthorityMessage{ok}, storeErr: fmt.Errorf("apply: %w", forward),
			wantCode: schemas.CodeForwardTargetInactive, wantStore: 1},
		{name: "not this authority's", msgs: []schemas.AuthorityMessage{ok}, storeErr: fmt.Errorf("x: %w", schemas.ErrNotFound),
			wantCode: schemas.CodeNotFound, wantStore: 1},
		{name: "id reused", msgs: []schemas.AuthorityMessage{ok}, storeErr: fmt.Errorf("x: %w", schemas.ErrConflict),
			wantCode: schemas.CodeIdempotencyKeyReused, wantStore: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &fakeStore{err: tc.storeErr}
			results, err := tracker.New(st, nil, nil).Apply(context.Background(), "11111111", tc.msgs)
			require.Equal(t, tc.wantStore, st.calls)
			if tc.wantCode == "" {
				require.NoError(t, err)
				require.Equal(t, []schemas.MessageResult{{MessageID: "m-1", Of: of, Applied: true, Status: schemas.StatusForwarded}}, results)
				return
			}
			perr, ok := errors.AsType[*schemas.Error](err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tc.wantCode, perr.Code)
		})
	}

	t.Run("database down", func(t *testing.T) {
		t.Parallel()
		_, err := tracker.New(&fakeStore{err: errors.New("connection refused")}, nil, nil).
			Apply(context.Background(), "11111111", []schemas.AuthorityMessage{ok})
		require.ErrorIs(t, err, schemas.ErrUnavailable)
	})
}
