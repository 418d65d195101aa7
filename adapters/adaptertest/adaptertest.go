// Package adaptertest is the conformance suite every wire format and every transport of the hub
// must pass. A format is an adapters.Adapter (the hub's side) with its adapters.Peer (the
// authority's side); Run checks that they understand each other on every fixture submission and
// every authority message the format carries, and that neither panics on bad input. RunTransport
// checks a transport against a local HTTP server.
package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/schemas"
)

// Features says what a format carries, so the suite checks exactly that.
type Features struct {
	// Messages lists the authority message types the format carries back to the hub (the adapter
	// must then implement adapters.MessageDecoder). Empty: the format carries none.
	Messages []schemas.AuthorityMessageType
	// RegistrationInReply: a reply to a push can carry a registration number.
	RegistrationInReply bool
}

// Submissions returns the fixture submissions the suite encodes: the bodies as a portal sends them.
// The caller passes them in, from its own testdata.
type Submissions = []json.RawMessage

// Run checks adapter and peer against each other on every submission in subs.
func Run(t *testing.T, ad adapters.Adapter, peer adapters.Peer, subs Submissions, f Features) {
	t.Helper()
	require.NotEmpty(t, ad.Name(), "an adapter has a stable name")
	require.NotEmpty(t, ad.MediaType(), "an adapter has a media type")
	require.NotEmpty(t, subs, "the suite needs submissions")

	t.Run("EncodeCarriesTheDeliveryAndTheSubmission", func(t *testing.T) {
		for i, raw := range subs {
			doc := Document(t, i, raw)
			body, err := ad.Encode(doc)
			require.NoError(t, err, "submission %d", i)
			again, err := ad.Encode(doc)
			require.NoError(t, err)
			require.Equal(t, body, again, "encoding is deterministic")
			got, err := peer.DecodeDelivery(ad.MediaType(), body)
			require.NoError(t, err, "the peer reads what the adapter wrote (submission %d)", i)
			require.Equal(t, doc.DeliveryID, got.DeliveryID, "the delivery id is the idempotency key")
			require.Equal(t, doc.Authority, got.Authority)
			require.Equal(t, doc.TrackingNumber, got.TrackingNumber)
			require.Equal(t, doc.Submission.Subject, got.Submission.Subject)
			require.Equal(t, doc.Submission.Text, got.Submission.Text)
			require.Equal(t, doc.Submission.Applicant.Surname, got.Submission.Applicant.Surname)
			require.Len(t, got.Submission.Attachments, len(doc.Submission.Attachments))
			for j, a := range doc.Submission.Attachments {
				require.Equal(t, a.Content, got.Submission.Attachments[j].Content, "attachment bytes unchanged")
				require.Equal(t, a.FileName, got.Submission.Attachments[j].FileName)
			}
			require.Len(t, got.Submission.Signatures, len(doc.Submission.Signatures))
			for j, s := range doc.Submission.Signatures {
				require.Equal(t, s.Value, got.Submission.Signatures[j].Value, "signature bytes unchanged")
			}
		}
	})

	t.Run("RepliesRoundTrip", func(t *testing.T) {
		mt, body := peer.EncodeReply("0193a1b2-c3d4-7e5f-8a9b-000000000001", adapters.Reply{Delivered: true})
		r, err := ad.DecodeReply(mt, body)
		require.NoError(t, err)
		require.True(t, r.Delivered, "a receipt means delivered")
		r, err = ad.DecodeReply("", nil)
		require.NoError(t, err, "an empty 2xx body is accepted")
		require.False(t, r.Delivered, "an empty reply is sent, not delivered")
		if f.RegistrationInReply {
			at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			mt, body = peer.EncodeReply("0193a1b2-c3d4-7e5f-8a9b-000000000001", adapters.Reply{Delivered: true, RegistrationNumber: "01-12/345", RegisteredAt: &at})
			r, err = ad.DecodeReply(mt, body)
			require.NoError(t, err)
			require.Equal(t, "01-12/345", r.RegistrationNumber)
			require.NotNil(t, r.RegisteredAt)
			require.True(t, at.Equal(*r.RegisteredAt))
		}
	})

	t.Run("MessagesRoundTrip", func(t *testing.T) {
		dec, ok := ad.(adapters.MessageDecoder)
		if len(f.Messages) == 0 {
			return
		}
		require.True(t, ok, "a format that carries messages implements adapters.MessageDecoder")
		for _, typ := range f.Messages {
			m := SampleMessage(typ)
			mt, body, err := peer.EncodeMessages([]schemas.AuthorityMessage{m})
			require.NoError(t, err, string(typ))
			got, err := dec.DecodeMessages(mt, body)
			require.NoError(t, err, string(typ))
			require.Len(t, got, 1)
			require.Equal(t, m.Of, got[0].Of, string(typ))
			require.Equal(t, m.Type, got[0].Type)
			require.NotEmpty(t, got[0].MessageID)
			switch typ {
			case schemas.MsgRegistered:
				require.Equal(t, m.RegistrationNumber, got[0].RegistrationNumber)
				require.NotNil(t, got[0].RegistrationDate)
			case schemas.MsgRefused:
				require.NotEmpty(t, got[0].RefusalText)
			case schemas.MsgAnswered:
				require.Len(t, got[0].Documents, 1)
				require.Equal(t, m.Documents[0].Content, got[0].Documents[0].Content)
			}
		}
	})

	t.Run("BadInputIsAnErrorNotAPanic", func(t *testing.T) {
		bad := [][]byte{nil, {}, []byte("{"), []byte("<"), []byte("\xff\xfe"), bytes.Repeat([]byte("["), 10000),
			bytes.Repeat([]byte("<a>"), 10000), []byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`)}
		dec, _ := ad.(adapters.MessageDecoder)
		for _, b := range bad {
			require.NotPanics(t, func() { _, _ = ad.DecodeReply(ad.MediaType(), b) })
			require.NotPanics(t, func() { _, _ = peer.DecodeDelivery(ad.MediaType(), b) })
			if dec != nil {
				require.NotPanics(t, func() {
					_, err := dec.DecodeMessages(ad.MediaType(), b)
					require.Error(t, err, "%q is not a message", b)
				})
			}
		}
	})
}

// Document builds the i-th test delivery of a submission body.
func Document(t testing.TB, i int, raw json.RawMessage) adapters.Document {
	t.Helper()
	var sub schemas.Submission
	require.NoError(t, json.Unmarshal(raw, &sub))
	return adapters.Document{
		DeliveryID:     "0193a1b2-c3d4-7e5f-8a9b-0000000000" + twoDigits(i),
		AppealID:       "0193a1b2-c3d4-7e5f-8a9b-1000000000" + twoDigits(i),
		TrackingNumber: "ZV-2026-000000" + twoDigits(i),
		Authority:      "19863933",
		Attempt:        1,
		ReceivedAt:     time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Submission:     sub,
		Raw:            raw,
	}
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10%10), byte('0' + i%10)}) }

// SampleMessage returns a complete authority message of type typ about a test delivery.
func SampleMessage(typ schemas.AuthorityMessageType) schemas.AuthorityMessage {
	at := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	due := at.AddDate(0, 0, 45)
	m := schemas.AuthorityMessage{MessageID: "sample-" + string(typ), Of: "0193a1b2-c3d4-7e5f-8a9b-000000000001", Type: typ, At: &at}
	switch typ {
	case schemas.MsgRegistered:
		m.RegistrationNumber, m.RegistrationDate = "01-12/345", &at
	case schemas.MsgRefused:
		m.RefusalCode, m.RefusalText = schemas.RefusalNotOurAddressee, schemas.RefusalText(schemas.RefusalNotOurAddressee)
	case schemas.MsgExtended:
		m.NewDueDate, m.Reason = &due, "потрібне додаткове вивчення"
	case schemas.MsgForwarded:
		m.ForwardedTo, m.Reason = "92060091", "не належить до повноважень"
	case schemas.MsgAnswered:
		m.Outcome, m.Text = schemas.OutcomeExplained, "Надано роз'яснення."
		m.Documents = []schemas.AuthorityDocument{{FileName: "answer.txt", MediaType: "text/plain", Content: []byte("Відповідь на звернення.")}}
	case schemas.MsgReturned, schemas.MsgNotConsidered, schemas.MsgStatus:
		m.Reason = "причина"
	}
	return m
}

// RunTransport checks a transport against a local server: the idempotency key, the media type and
// the token reach the system; 2xx is success; 408, 429 and 5xx are transient; another 4xx is
// permanent; a system that does not answer in time is a transient failure; ctx cancels a send.
func RunTransport(t *testing.T, newTransport func(timeout time.Duration) adapters.Transport) {
	t.Helper()
	var status atomic.Int64
	var hang atomic.Bool
	var lastKey, lastType, lastAuth atomic.Value
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastKey.Store(r.Header.Get("Idempotency-Key"))
		lastType.Store(r.Header.Get("Content-Type"))
		lastAuth.Store(r.Header.Get("Authorization"))
		if hang.Load() {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"status":"delivered"}`))
	}))
	defer srv.Close()
	defer close(release) // runs before srv.Close, which waits for handlers
	tr := newTransport(300 * time.Millisecond)
	req := adapters.Request{Endpoint: srv.URL + "/documents", DeliveryID: "d-1", MediaType: "application/json",
		Body: []byte(`{}`), Token: "tok"}
	for _, tc := range []struct {
		status    int
		ok        bool
		permanent bool
	}{{200, true, false}, {201, true, false}, {202, true, false}, {408, false, false}, {429, false, false},
		{500, false, false}, {503, false, false}, {400, false, true}, {401, false, true}, {404, false, true}, {422, false, true}} {
		status.Store(int64(tc.status))
		resp, err := tr.Send(context.Background(), req)
		if tc.ok {
			require.NoError(t, err, "status %d", tc.status)
			require.Equal(t, tc.status, resp.Status)
		} else {
			require.Error(t, err, "status %d", tc.status)
			require.Equal(t, tc.permanent, adapters.IsPermanent(err), "status %d permanent", tc.status)
		}
		require.Equal(t, "d-1", lastKey.Load(), "Idempotency-Key is the delivery id")
		require.Equal(t, "application/json", lastType.Load())
		require.Equal(t, "Bearer tok", lastAuth.Load())
	}
	hang.Store(true)
	_, err := tr.Send(context.Background(), req)
	require.Error(t, err, "a system that does not answer in time")
	require.False(t, adapters.IsPermanent(err), "a timeout is transient")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = tr.Send(ctx, req)
	require.Error(t, err)
	require.True(t, errors.Is(err, context.Canceled) || !adapters.IsPermanent(err))
}
