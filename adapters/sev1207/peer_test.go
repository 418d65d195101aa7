package sev1207_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/adaptertest"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

// carried is every authority message type 1207 carries.
var carried = []schemas.AuthorityMessageType{
	schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgRegistered, schemas.MsgRefused, schemas.MsgAnswered,
}

// TestConforms runs the shared conformance suite with the adapter and its Peer.
func TestConforms(t *testing.T) {
	t.Parallel()

	raw, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", "submissions.json"))
	require.NoError(t, err)
	var subs adaptertest.Submissions
	require.NoError(t, json.Unmarshal(raw, &subs))
	a := newAdapter()
	adaptertest.Run(t, a, a.Peer("19863933"), subs,
		adaptertest.Features{Messages: carried, RegistrationInReply: true})
}

// peerMessages returns what the Peer writes for every carried type and for the replies.
func peerMessages(t *testing.T) map[string][]byte {
	t.Helper()
	p := newAdapter().Peer(authority)
	out := make(map[string][]byte)
	for _, typ := range carried {
		m := adaptertest.SampleMessage(typ)
		if typ == schemas.MsgAnswered {
			m.Documents[0].Signatures = []schemas.Signature{{Of: m.Documents[0].FileName, Format: "cades-detached", Value: []byte{0x30, 0x82, 1}}}
		}
		mt, body, err := p.EncodeMessages([]schemas.AuthorityMessage{m})
		require.NoError(t, err, typ)
		require.Equal(t, "application/xml", mt)
		out["peer-"+string(typ)] = body
	}
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	_, out["peer-reply-delivered"] = p.EncodeReply("d-1", adapters.Reply{Delivered: true})
	_, out["peer-reply-registered"] = p.EncodeReply("d-1", adapters.Reply{Delivered: true, RegistrationNumber: "01-12/345", RegisteredAt: &at, Reference: "d-1"})
	return out
}

// TestPeerMessagesValidate: what the Peer writes is valid 1207 by the project's XSD.
func TestPeerMessagesValidate(t *testing.T) {
	t.Parallel()
	validateXSD(t, ownXSD(t), peerMessages(t))
}

func TestPeerRoundTrip(t *testing.T) {
	t.Parallel()

	a := newAdapter()
	p := a.Peer(authority)
	for _, typ := range carried {
		want := adaptertest.SampleMessage(typ)
		if typ == schemas.MsgAnswered {
			want.Outcome = "" // 1207 has no place for the outcome of consideration
			want.Documents[0].Signatures = []schemas.Signature{{Of: want.Documents[0].FileName, Format: "cades-detached", Value: []byte{0x30, 0x82, 1}}}
		}
		if typ == schemas.MsgRegistered {
			d := time.Date(2026, 11, 28, 0, 0, 0, 0, kyiv(t)) // a registration date is a calendar date
			want.RegistrationDate = &d
		}
		_, body, err := p.EncodeMessages([]schemas.AuthorityMessage{want})
		require.NoError(t, err)
		got, err := a.DecodeMessage(body)
		require.NoError(t, err, "%s", body)
		require.Len(t, got, 1)
		requireMessage(t, want, got[0])
	}

	// A refusal with its own words keeps the ground's code and every word.
	at := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	refusal := schemas.AuthorityMessage{MessageID: "r-1", Of: deliveryID, Type: schemas.MsgRefused, At: &at,
		RefusalCode: schemas.RefusalDuplicate, RefusalText: "надійшов 27.11.2026 за № 5"}
	_, body, err := p.EncodeMessages([]schemas.AuthorityMessage{refusal})
	require.NoError(t, err)
	got, err := a.DecodeMessage(body)
	require.NoError(t, err)
	require.Equal(t, schemas.RefusalDuplicate, got[0].RefusalCode)
	require.Equal(t, schemas.RefusalText(schemas.RefusalDuplicate)+": надійшов 27.11.2026 за № 5", got[0].RefusalText)

	// The delivery the hub sent, as the authority reads it.
	sent, err := a.Encode(testDocument())
	require.NoError(t, err)
	rec, err := p.DecodeDelivery("application/xml", sent)
	require.NoError(t, err)
	require.Equal(t, deliveryID, rec.DeliveryID)
	require.Equal(t, authority, rec.Authority)
	require.Equal(t, "ZV-2026-00000001", rec.TrackingNumber)
	require.Equal(t, signedSubmission().Text, rec.Submission.Text)
	_, err = p.DecodeDelivery("application/json", sent)
	require.ErrorIs(t, err, sev1207.ErrNotSEV1207)

	mt, empty := p.EncodeReply("d-1", adapters.Reply{})
	require.Empty(t, empty, "not delivered: an empty body")
	rep, err := a.DecodeReply(mt, empty)
	require.NoError(t, err)
	require.Equal(t, adapters.Reply{}, rep)
}

func TestPeerEncodeErrors(t *testing.T) {
	t.Parallel()

	p := newAdapter().Peer(authority)
	at := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	ok := schemas.AuthorityMessage{MessageID: "m-1", Of: deliveryID, Type: schemas.MsgDelivered, At: &at}
	_, _, err := p.EncodeMessages([]schemas.AuthorityMessage{ok, ok})
	require.ErrorIs(t, err, sev1207.ErrUnsupported)
	_, _, err = p.EncodeMessages(nil)
	require.ErrorIs(t, err, sev1207.ErrUnsupported)
	for _, typ := range []schemas.AuthorityMessageType{schemas.MsgExtended, schemas.MsgForwarded, schemas.MsgReturned, schemas.MsgNotConsidered, schemas.MsgStatus} {
		_, _, err = p.EncodeMessages([]schemas.AuthorityMessage{adaptertest.SampleMessage(typ)})
		require.ErrorIs(t, err, sev1207.ErrUnsupported, typ)
	}
	for name, mutate := range map[string]func(*schemas.AuthorityMessage){
		"no message id":      func(m *schemas.AuthorityMessage) { m.MessageID = "" },
		"no of":              func(m *schemas.AuthorityMessage) { m.Of = "" },
		"no time":            func(m *schemas.AuthorityMessage) { m.At = nil },
		"registered no date": func(m *schemas.AuthorityMessage) { m.Type, m.RegistrationNumber = schemas.MsgRegistered, "1" },
		"refused no reason":  func(m *schemas.AuthorityMessage) { m.Type = schemas.MsgRefused },
		"control character":  func(m *schemas.AuthorityMessage) { m.Of = "d\x02" },
	} {
		m := ok
		mutate(&m)
		_, _, err := p.EncodeMessages([]schemas.AuthorityMessage{m})
		require.Error(t, err, name)
	}
}
