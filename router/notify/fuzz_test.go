package notify_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"appealhub/router/notify"
)

// FuzzVerify: whatever the headers and body, Verify never panics, never accepts what the secret
// did not sign, and always accepts what it did.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	f.Add(ts, notify.Sign([]byte("whsec_x"), ts, []byte(`{"event_id":1}`)), []byte(`{"event_id":1}`))
	f.Add("", "", []byte(nil))
	f.Add("-1", "v1=,v1=zz", []byte("{}"))
	f.Add("99999999999999999999", "v2=00", []byte("x"))
	f.Fuzz(func(t *testing.T, timestamp, signature string, body []byte) {
		secret := []byte("whsec_x")
		err := notify.Verify(secret, timestamp, signature, body, now, notify.DefaultTolerance)
		if err == nil && signature != notify.Sign(secret, timestamp, body) {
			// Accepted: one of the comma-separated values must be the signature itself.
			found := false
			for s := range strings.SplitSeq(signature, ",") {
				found = found || strings.TrimSpace(s) == notify.Sign(secret, timestamp, body)
			}
			if !found {
				t.Fatalf("accepted a signature the secret did not make: %q", signature)
			}
		}
		good := notify.Sign(secret, ts, body)
		if err := notify.Verify(secret, ts, good, body, now, notify.DefaultTolerance); err != nil {
			t.Fatalf("refused its own signature: %v", err)
		}
	})
}
