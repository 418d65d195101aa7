package tracker_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/router/tracker"
	"appealhub/schemas"
)

// TestNext covers every message type from every status: allowed moves go forward only, and
// everything else (stale, repeated, informative, after a final state) changes nothing.
func TestNext(t *testing.T) {
	t.Parallel()
	S := func(s schemas.DeliveryStatus) schemas.DeliveryStatus { return s }
	moves := map[schemas.DeliveryStatus]map[schemas.AuthorityMessageType]schemas.DeliveryStatus{
		schemas.StatusQueued: {
			schemas.MsgDelivered: S(schemas.StatusDelivered), schemas.MsgAccepted: S(schemas.StatusDelivered),
			schemas.MsgRegistered: S(schemas.StatusRegistered), schemas.MsgRefused: S(schemas.StatusRefused),
			schemas.MsgAnswered: S(schemas.StatusAnswered), schemas.MsgForwarded: S(schemas.StatusForwarded),
			schemas.MsgReturned: S(schemas.StatusReturned), schemas.MsgNotConsidered: S(schemas.StatusNotConsidered),
		},
		schemas.StatusSent: {
			schemas.MsgDelivered: S(schemas.StatusDelivered), schemas.MsgAccepted: S(schemas.StatusDelivered),
			schemas.MsgRegistered: S(schemas.StatusRegistered), schemas.MsgRefused: S(schemas.StatusRefused),
			schemas.MsgAnswered: S(schemas.StatusAnswered), schemas.MsgForwarded: S(schemas.StatusForwarded),
			schemas.MsgReturned: S(schemas.StatusReturned), schemas.MsgNotConsidered: S(schemas.StatusNotConsidered),
		},
		schemas.StatusDead: {
			schemas.MsgDelivered: S(schemas.StatusDelivered), schemas.MsgAccepted: S(schemas.StatusDelivered),
			schemas.MsgRegistered: S(schemas.StatusRegistered), schemas.MsgRefused: S(schemas.StatusRefused),
			schemas.MsgAnswered: S(schemas.StatusAnswered), schemas.MsgForwarded: S(schemas.StatusForwarded),
			schemas.MsgReturned: S(schemas.StatusReturned), schemas.MsgNotConsidered: S(schemas.StatusNotConsidered),
		},
		schemas.StatusDelivered: {
			schemas.MsgRegistered: S(schemas.StatusRegistered), schemas.MsgRefused: S(schemas.StatusRefused),
			schemas.MsgAnswered: S(schemas.StatusAnswered), schemas.MsgForwarded: S(schemas.StatusForwarded),
			schemas.MsgReturned: S(schemas.StatusReturned), schemas.MsgNotConsidered: S(schemas.StatusNotConsidered),
		},
		schemas.StatusRegistered: {
			schemas.MsgAnswered: S(schemas.StatusAnswered), schemas.MsgForwarded: S(schemas.StatusForwarded),
			schemas.MsgReturned: S(schemas.StatusReturned), schemas.MsgNotConsidered: S(schemas.StatusNotConsidered),
		},
	}
	statuses := []schemas.DeliveryStatus{schemas.StatusAccepted, schemas.StatusQueued, schemas.StatusSent, schemas.StatusDead,
		schemas.StatusDelivered, schemas.StatusRegistered, schemas.StatusAnswered, schemas.StatusRefused, schemas.StatusForwarded,
		schemas.StatusReturned, schemas.StatusNotConsidered}
	types := []schemas.AuthorityMessageType{schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgRegistered, schemas.MsgRefused,
		schemas.MsgStatus, schemas.MsgExtended, schemas.MsgForwarded, schemas.MsgReturned, schemas.MsgNotConsidered, schemas.MsgAnswered}
	moves[schemas.StatusAccepted] = moves[schemas.StatusQueued]
	for _, from := range statuses {
		for _, typ := range types {
			want, allowed := moves[from][typ]
			got, changed := tracker.Next(from, schemas.AuthorityMessage{Type: typ})
			if allowed {
				require.True(t, changed, "%s + %s", from, typ)
				require.Equal(t, want, got, "%s + %s", from, typ)
			} else {
				require.False(t, changed, "%s + %s must change nothing", from, typ)
				require.Equal(t, from, got)
			}
		}
	}
}
