package notify_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/router/notify"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec_test")
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"event_id":7}`)
	sig := notify.Sign(secret, ts, body)
	require.Regexp(t, `^v1=[0-9a-f]{64}$`, sig)

	tests := []struct {
		name          string
		ts, sig, body string
		at            time.Time
		want          error
	}{
		{"Good", ts, sig, string(body), now, nil},
		{"GoodAmongOthers", ts, "v1=00, " + sig, string(body), now, nil},
		{"WithinTolerance", ts, sig, string(body), now.Add(4 * time.Minute), nil},
		{"ChangedBody", ts, sig, `{"event_id":8}`, now, notify.ErrBadSignature},
		{"OtherSecret", ts, notify.Sign([]byte("other"), ts, body), string(body), now, notify.ErrBadSignature},
		{"TimestampNotSigned", strconv.FormatInt(now.Unix()+1, 10), sig, string(body), now, notify.ErrBadSignature},
		{"Replayed", ts, sig, string(body), now.Add(6 * time.Minute), notify.ErrBadTimestamp},
		{"FromTheFuture", ts, sig, string(body), now.Add(-6 * time.Minute), notify.ErrBadTimestamp},
		{"NoTimestamp", "", sig, string(body), now, notify.ErrBadTimestamp},
		{"NoSignature", ts, "", string(body), now, notify.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := notify.Verify(secret, tt.ts, tt.sig, []byte(tt.body), tt.at, notify.DefaultTolerance)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func ExampleSign() {
	body := []byte(`{"event_id":42,"state":"registered"}`)
	fmt.Println(notify.Sign([]byte("whsec_example"), "1772442000", body))
	// Output: v1=a53b82865492c8454be61f10cd889f475aa517783a6186c917ea6620e5d83ab5
}
