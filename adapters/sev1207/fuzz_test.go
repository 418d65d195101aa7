package sev1207_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

var knownTypes = map[schemas.AuthorityMessageType]bool{
	schemas.MsgDelivered: true, schemas.MsgAccepted: true, schemas.MsgRegistered: true,
	schemas.MsgRefused: true, schemas.MsgAnswered: true,
}

// FuzzDecodeMessage: DecodeMessage never panics; what it accepts is one message about a delivery
// (non-empty Of) of a known type; what it refuses wraps a sentinel and is permanent.
func FuzzDecodeMessage(f *testing.F) {
	for _, body := range messageFiles(f) {
		f.Add(body)
	}
	a := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := a.DecodeMessage(body)
		if err != nil {
			require.True(t, isSentinel(err), "%v", err)
			require.True(t, adapters.IsPermanent(err))
			require.Nil(t, msgs)
			return
		}
		require.Len(t, msgs, 1)
		m := msgs[0]
		require.NotEmpty(t, m.Of)
		require.NotEmpty(t, m.MessageID)
		require.True(t, knownTypes[m.Type], "type %q", m.Type)
		if m.Type == schemas.MsgRegistered {
			require.NotEmpty(t, m.RegistrationNumber)
			require.NotNil(t, m.RegistrationDate)
		}
	})
}

// FuzzDecodeReply: DecodeReply never panics; its errors wrap a sentinel and are never permanent;
// a registration number comes only with a delivered reply.
func FuzzDecodeReply(f *testing.F) {
	for _, body := range messageFiles(f) {
		f.Add("application/xml", body)
	}
	f.Add("", []byte{})
	f.Add("text/html", []byte("<html>502</html>"))
	f.Add("text/xml; charset=windows-1251", []byte("\xef\xbb\xbf  "))
	a := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, mediaType string, body []byte) {
		rep, err := a.DecodeReply(mediaType, body)
		if err != nil {
			require.True(t, isSentinel(err), "%v", err)
			require.False(t, adapters.IsPermanent(err))
			require.Equal(t, adapters.Reply{}, rep)
			return
		}
		if rep.RegistrationNumber != "" || rep.RegisteredAt != nil {
			require.True(t, rep.Delivered)
			require.NotEmpty(t, rep.RegistrationNumber)
			require.NotNil(t, rep.RegisteredAt)
		}
	})
}

// FuzzDecodeDocument: DecodeDocument never panics, and a document it accepts that Encode can
// write again comes back unchanged.
func FuzzDecodeDocument(f *testing.F) {
	golden, err := filepath.Glob(filepath.Join("testdata", "golden", "*.xml"))
	require.NoError(f, err)
	for _, p := range golden {
		body, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(body)
	}
	for _, body := range messageFiles(f) {
		f.Add(body)
	}
	a := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := a.DecodeDocument(body)
		if err != nil {
			require.True(t, isSentinel(err), "%v", err)
			require.True(t, adapters.IsPermanent(err))
			return
		}
		require.NotEmpty(t, doc.DeliveryID)
		out, err := a.Encode(doc)
		if err != nil {
			return // a hand-made document may hold what the hub never writes
		}
		again, err := a.DecodeDocument(out)
		require.NoError(t, err)
		requireSameDocument(t, doc, again)
	})
}
