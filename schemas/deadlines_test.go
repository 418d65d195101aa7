package schemas_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// TestDeadlineFactsAsOf: the facts at an event leave out what the hub learnt after it, and keep
// what it learnt at the same moment (the event's own facts).
func TestDeadlineFactsAsOf(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(m int) *time.Time { x := t0.Add(time.Duration(m) * time.Minute); return &x }
	now := schemas.DeadlineFacts{DeliveryID: "d1", CaseKind: schemas.CaseAppeal, Status: schemas.StatusAnswered, StatusAt: *at(50),
		SentAt: at(1), DeliveredAt: at(2), Simple: true, SimpleAt: at(10),
		Extensions: []schemas.DeadlineExtension{{MessageID: "e1", ReceivedAt: *at(20)}, {MessageID: "e2", ReceivedAt: *at(30)}}}
	tests := []struct {
		name       string
		minute     int
		status     schemas.DeliveryStatus
		sent, dlv  bool
		simple     bool
		extensions []string
	}{
		{"queued before sending", 0, schemas.StatusQueued, false, false, false, nil},
		{"sent", 1, schemas.StatusSent, true, false, false, nil},
		{"delivered", 2, schemas.StatusDelivered, true, true, false, nil},
		{"registered as simple", 10, schemas.StatusRegistered, true, true, true, nil},
		{"first extension", 20, schemas.StatusRegistered, true, true, true, []string{"e1"}},
		{"between extensions", 25, "", true, true, true, []string{"e1"}},
		{"answered", 50, schemas.StatusAnswered, true, true, true, []string{"e1", "e2"}},
		// Moments from several processes: the status decides.
		{"sent, stamped after the delivery notice", 3, schemas.StatusSent, true, false, false, nil},
		{"delivered, stamped before the moment of delivery", 1, schemas.StatusDelivered, true, true, false, nil},
		{"refused before delivery", 1, schemas.StatusRefused, true, false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := now.AsOf(*at(tt.minute), tt.status)
			want := tt.status
			if want == "" {
				want = now.Status
				require.True(t, f.StatusAt.Equal(now.StatusAt), "status time kept")
			} else {
				require.True(t, f.StatusAt.Equal(*at(tt.minute)), "status time is the event's")
			}
			require.Equal(t, want, f.Status)
			require.Equal(t, tt.sent, f.SentAt != nil, "sent")
			require.Equal(t, tt.dlv, f.DeliveredAt != nil, "delivered")
			require.Equal(t, tt.simple, f.Simple, "simple")
			var ids []string
			for _, e := range f.Extensions {
				ids = append(ids, e.MessageID)
			}
			require.Equal(t, tt.extensions, ids)
		})
	}
	require.Len(t, now.Extensions, 2, "AsOf leaves the facts it was called on alone")
	require.True(t, now.Simple)
}
