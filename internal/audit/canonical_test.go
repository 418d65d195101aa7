package audit_test

import (
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"appealhub/internal/audit"
	"appealhub/internal/store"
)

var sampleEvent = store.ChainEvent{
	Seq:        42,
	TxID:       777,
	AppealID:   "0190f5a2-7c1e-7b3a-9f00-0123456789ab",
	DeliveryID: "0190f5a2-7c1e-7b3a-9f00-ba9876543210",
	Type:       "delivery_attempt_failed",
	Status:     "queued",
	Detail:     "HTTP 503 \"busy\"\n\tretry <later> & \\ \x01 Київ",
	CreatedAt:  time.Date(2026, 3, 1, 11, 30, 0, 123456000, time.FixedZone("EET", 2*3600)),
}

// TestCanonicalIsStable pins the encoding and the hash: a change here breaks every chain already
// sealed.
func TestCanonicalIsStable(t *testing.T) {
	t.Parallel()
	require.Equal(t,
		`{"appeal_id":"0190f5a2-7c1e-7b3a-9f00-0123456789ab","created_at":"2026-03-01T09:30:00.123456Z",`+
			`"delivery_id":"0190f5a2-7c1e-7b3a-9f00-ba9876543210",`+
			`"detail":"HTTP 503 \"busy\"\n\tretry <later> & \\ \u0001 Київ",`+
			`"seq":42,"status":"queued","type":"delivery_attempt_failed"}`,
		string(audit.Canonical(sampleEvent)))

	first := audit.LinkHash(nil, sampleEvent)
	// sha256sum of the encoding above.
	require.Equal(t, "ae795a5467aacce51012e6aa9c323334bfe89a7b1114a250c31aecb5c0e66c74", hex.EncodeToString(first))
	second := audit.LinkHash(first, sampleEvent)
	require.NotEqual(t, first, second, "the previous hash is covered")

	noDelivery := sampleEvent
	noDelivery.DeliveryID = ""
	require.Contains(t, string(audit.Canonical(noDelivery)), `"delivery_id":null`)

	other := sampleEvent
	other.TxID = 1
	require.Equal(t, audit.Canonical(sampleEvent), audit.Canonical(other), "the transaction id is not covered")
}

func TestCanonicalCoversEveryField(t *testing.T) {
	t.Parallel()
	base := audit.LinkHash(nil, sampleEvent)
	for name, change := range map[string]func(e *store.ChainEvent){
		"Seq":        func(e *store.ChainEvent) { e.Seq++ },
		"AppealID":   func(e *store.ChainEvent) { e.AppealID = "0190f5a2-7c1e-7b3a-9f00-0123456789ac" },
		"DeliveryID": func(e *store.ChainEvent) { e.DeliveryID = "" },
		"Type":       func(e *store.ChainEvent) { e.Type = "delivery_dead" },
		"Status":     func(e *store.ChainEvent) { e.Status = "dead" },
		"Detail":     func(e *store.ChainEvent) { e.Detail += " " },
		"CreatedAt":  func(e *store.ChainEvent) { e.CreatedAt = e.CreatedAt.Add(time.Microsecond) },
	} {
		e := sampleEvent
		change(&e)
		require.NotEqual(t, base, audit.LinkHash(nil, e), name)
	}
}

func TestCheckpointContent(t *testing.T) {
	t.Parallel()
	hash := make([]byte, 32)
	hash[31] = 0xff
	require.Equal(t,
		`{"created_at":"2026-03-01T09:30:00.000000Z","format":"appealhub.event_chain.checkpoint.v1",`+
			`"hash":"00000000000000000000000000000000000000000000000000000000000000ff","pos":7,"seq":9}`,
		string(audit.CheckpointContent(7, 9, hash, time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC))))
}

// FuzzCanonical checks that every event encodes to JSON that decodes back to the event.
func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), "0190f5a2-7c1e-7b3a-9f00-0123456789ab", "", "submission_accepted", "accepted", "", int64(0))
	f.Add(sampleEvent.Seq, sampleEvent.AppealID, sampleEvent.DeliveryID, sampleEvent.Type, sampleEvent.Status, sampleEvent.Detail,
		sampleEvent.CreatedAt.UnixMicro())
	f.Add(int64(-5), "\"", "\\", "\u2028", "\x7f", "\xff\xfe bad utf-8", int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, seq int64, appealID, deliveryID, typ, status, detail string, micros int64) {
		e := store.ChainEvent{Seq: seq, AppealID: appealID, DeliveryID: deliveryID, Type: typ, Status: status, Detail: detail,
			CreatedAt: time.UnixMicro(micros)}
		raw := audit.Canonical(e)
		var got struct {
			AppealID   string  `json:"appeal_id"`
			CreatedAt  string  `json:"created_at"`
			DeliveryID *string `json:"delivery_id"`
			Detail     string  `json:"detail"`
			Seq        int64   `json:"seq"`
			Status     string  `json:"status"`
			Type       string  `json:"type"`
		}
		require.NoError(t, json.Unmarshal(raw, &got), "%q", raw)
		require.True(t, utf8.Valid(raw))
		require.Equal(t, seq, got.Seq)
		require.Equal(t, deliveryID == "", got.DeliveryID == nil)
		for want, have := range map[string]string{appealID: got.AppealID, typ: got.Type, status: got.Status, detail: got.Detail} {
			if utf8.ValidString(want) {
				require.Equal(t, want, have)
			}
		}
		if e.CreatedAt.UTC().Year() >= 0 && e.CreatedAt.UTC().Year() <= 9999 {
			parsed, err := time.Parse(time.RFC3339Nano, got.CreatedAt)
			require.NoError(t, err)
			require.True(t, parsed.Equal(e.CreatedAt), "%s", got.CreatedAt)
		}
	})
}
