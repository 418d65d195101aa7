package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of every webhook POST.
const (
	// HeaderTimestamp is when the hub signed the request, in Unix seconds.
	HeaderTimestamp = "X-Appealhub-Timestamp"
	// HeaderSignature is "v1=" and the lower-case hex HMAC-SHA256 of timestamp + "." + body under
	// the client's secret. A receiver accepts any of several comma-separated signatures (for a
	// future second version or key).
	HeaderSignature = "X-Appealhub-Signature"
	// HeaderEventID repeats the body's event_id, the key to de-duplicate by.
	HeaderEventID = "X-Appealhub-Event-Id"
)

// DefaultTolerance is how far a webhook's timestamp may be from the receiver's clock before Verify
// refuses it: a replayed request older than that is refused even though its signature is good.
const DefaultTolerance = 5 * time.Minute

// signatureVersion prefixes each signature of HeaderSignature.
const signatureVersion = "v1="

// Errors of Verify.
var (
	ErrBadTimestamp = errors.New("webhook: timestamp missing, malformed or outside the tolerance")
	ErrBadSignature = errors.New("webhook: no valid signature")
)

// Sign returns the HeaderSignature value of body sent at timestamp (Unix seconds, as in
// HeaderTimestamp) under secret: "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return signatureVersion + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a webhook as a portal should: the timestamp is within tolerance of now (replay
// protection) and one of the v1 signatures of the signature header is body's under secret
// (compared in constant time). It is what docs/notifications.md shows receivers.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off", ErrBadTimestamp, d.Round(time.Second))
	}
	want := []byte(Sign(secret, timestamp, body))
	for s := range strings.SplitSeq(signature, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), want) {
			return nil
		}
	}
	return ErrBadSignature
}
