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
	// Before the system confirmed receipt (and after retries ran out), every message moves the
	// delivery; notices of delivery and acceptance only move it to delivered.
	exits := map[schemas.AuthorityMessageType]schemas.DeliveryStatus{
		schemas.MsgAnswered: schemas.StatusAnswered, schemas.MsgForwarded: schemas.StatusForwarded,
		schemas.MsgReturned: schemas.StatusReturned, schemas.MsgNotConsidered: schemas.StatusNotConsidered,
	}
	with := func(base map[schemas.AuthorityMessageType]schemas.DeliveryStatus, more map[schemas.AuthorityMessageType]schemas.DeliveryStatus) map[schemas.AuthorityMessageType]schemas.DeliveryStatus {
		out := map[schemas.AuthorityMessageType]schemas.DeliveryStatus{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	afterDelivered := with(exits, map[schemas.AuthorityMessageType]schemas.DeliveryStatus{
		schemas.MsgRegistered: schemas.StatusRegistered, schemas.MsgRefused: schemas.StatusRefused})
	pending := with(afterDelivered, map[schemas.AuthorityMessageType]schemas.DeliveryStatus{
		schemas.MsgDelivered: schemas.StatusDelivered, schemas.MsgAccepted: schemas.StatusDelivered})
	moves := map[schemas.DeliveryStatus]map[schemas.AuthorityMessageType]schemas.DeliveryStatus{
		schemas.StatusAccepted:   pending,
		schemas.StatusQueued:     pending,
		schemas.StatusSent:       pending,
		schemas.StatusDead:       pending,
		schemas.StatusDelivered:  afterDelivered,
		schemas.StatusRegistered: exits,
	}
	statuses := []schemas.DeliveryStatus{schemas.StatusAccepted, schemas.StatusQueued, schemas.StatusSent, schemas.StatusDead,
		schemas.StatusDelivered, schemas.StatusRegistered, schemas.StatusAnswered, schemas.StatusRefused, schemas.StatusForwarded,
		schemas.StatusReturned, schemas.StatusNotConsidered}
	types := []schemas.AuthorityMessageType{schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgRegistered, schemas.MsgRefused,
		schemas.MsgStatus, schemas.MsgExtended, schemas.MsgForwarded, schemas.MsgReturned, schemas.MsgNotConsidered, schemas.MsgAnswered}
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
