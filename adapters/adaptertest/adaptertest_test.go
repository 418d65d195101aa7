package adaptertest_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/adaptertest"
	"appealhub/adapters/httppush"
	"appealhub/adapters/jsondoc"
	"appealhub/schemas"
)

func fixtures(t *testing.T) adaptertest.Submissions {
	t.Helper()
	raw, err := os.ReadFile("testdata/submissions.json")
	require.NoError(t, err)
	var subs []json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &subs))
	return subs
}

// AllMessageTypes is every authority message type.
var allMessageTypes = []schemas.AuthorityMessageType{schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgRegistered,
	schemas.MsgRefused, schemas.MsgStatus, schemas.MsgExtended, schemas.MsgForwarded, schemas.MsgReturned,
	schemas.MsgNotConsidered, schemas.MsgAnswered}

func TestJSONConforms(t *testing.T) {
	adaptertest.Run(t, jsondoc.New(), jsondoc.Peer{}, fixtures(t),
		adaptertest.Features{Messages: allMessageTypes, RegistrationInReply: true})
}

func TestHTTPPushConforms(t *testing.T) {
	adaptertest.RunTransport(t, func(timeout time.Duration) adapters.Transport {
		return httppush.New(httppush.Config{Timeout: timeout, ConnectTimeout: timeout})
	})
}
