package jsondoc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
)

// FuzzDecodeDocument: DecodeDocument never panics, and whatever it accepts survives a round trip
// through Encode unchanged.
func FuzzDecodeDocument(f *testing.F) {
	for _, body := range testdataFiles(f, "documents") {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := jsondoc.DecodeDocument(body)
		if err != nil {
			require.ErrorIs(t, err, jsondoc.ErrInvalidDocument)
			return
		}
		require.NotEmpty(t, env.DeliveryID)
		require.Equal(t, jsondoc.Format, env.Format)
		if env.Attempt < 1 || env.ReceivedAt.IsZero() {
			return // Encode requires both; receivers need neither
		}
		out, err := jsondoc.New().Encode(adapters.Document{
			DeliveryID:     env.DeliveryID,
			AppealID:       env.AppealID,
			TrackingNumber: env.TrackingNumber,
			Authority:      env.Authority,
			Attempt:        env.Attempt,
			ReceivedAt:     env.ReceivedAt,
			Raw:            env.Submission,
		})
		if err != nil {
			y := env.ReceivedAt.UTC().Year()
			require.True(t, y < 0 || y > 9999, "Encode refused a decoded document: %v", err)
			return
		}
		again, err := jsondoc.DecodeDocument(out)
		require.NoError(t, err, "%s", out)
		require.True(t, env.ReceivedAt.Equal(again.ReceivedAt))
		again.ReceivedAt = env.ReceivedAt
		require.Equal(t, env, again)
	})
}

// FuzzDecodeReply: DecodeReply never panics, errors are never permanent, and what it accepts
// survives EncodeReply.
func FuzzDecodeReply(f *testing.F) {
	for _, body := range testdataFiles(f, "replies") {
		f.Add(jsondoc.MediaType, body)
	}
	f.Add("application/problem+json; charset=utf-8", []byte(`{"status":"accepted"}`))
	f.Add("text/plain", []byte("OK"))
	f.Fuzz(func(t *testing.T, mediaType string, body []byte) {
		a := jsondoc.New()
		rep, err := a.DecodeReply(mediaType, body)
		if err != nil {
			require.ErrorIs(t, err, jsondoc.ErrInvalidReply)
			require.False(t, adapters.IsPermanent(err))
			return
		}
		again, err := a.DecodeReply(jsondoc.MediaType, jsondoc.EncodeReply(rep))
		require.NoError(t, err)
		requireReplyEqual(t, rep, again)
	})
}

// FuzzEncode: Encode never panics, and what it produces DecodeDocument accepts with the same fields.
func FuzzEncode(f *testing.F) {
	f.Add("d-1", "a-1", "ZV-2026-00000001", "66784279", 1, int64(1772359200), []byte(rawSubmission))
	f.Add("", "", "", "", 0, int64(0), []byte(`{}`))
	f.Add("d\xff", "a", "t", "x", 1, int64(-62135596800), []byte(`[]`))
	f.Fuzz(func(t *testing.T, deliveryID, appealID, tracking, authority string, attempt int, unix int64, raw []byte) {
		doc := adapters.Document{
			DeliveryID:     deliveryID,
			AppealID:       appealID,
			TrackingNumber: tracking,
			Authority:      authority,
			Attempt:        attempt,
			ReceivedAt:     time.Unix(unix, 0),
			Raw:            json.RawMessage(raw),
		}
		out, err := jsondoc.New().Encode(doc)
		if err != nil {
			require.True(t, adapters.IsPermanent(err))
			return
		}
		env, err := jsondoc.DecodeDocument(out)
		require.NoError(t, err, "%s", out)
		require.Equal(t, deliveryID, env.DeliveryID)
		require.Equal(t, appealID, env.AppealID)
		require.Equal(t, tracking, env.TrackingNumber)
		require.Equal(t, authority, env.Authority)
		require.Equal(t, attempt, env.Attempt)
		require.True(t, doc.ReceivedAt.Equal(env.ReceivedAt))
		require.Contains(t, string(out), string(env.Submission))
	})
}
