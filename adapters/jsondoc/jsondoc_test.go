package jsondoc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rawSubmission has whitespace and characters json.Marshal would escape (<, >, &): Encode must keep
// them byte for byte.
const rawSubmission = `{
  "case_kind": "appeal",
  "applicant": {"surname": "Коваленко", "name": "Олена"},
  "subject": "Яма",
  "text": "Прошу <усунути> яму & поруч"
}`

func testDocument() adapters.Document {
	return adapters.Document{
		DeliveryID:     "0190f5a0-0000-7000-8000-0000000000aa",
		AppealID:       "0190f5a0-0000-7000-8000-000000000001",
		TrackingNumber: "ZV-2026-00000001",
		Authority:      "66784279",
		Attempt:        2,
		ReceivedAt:     time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.FixedZone("EET", 2*3600)),
		Raw:            json.RawMessage(rawSubmission),
	}
}

func TestAdapterIdentity(t *testing.T) {
	t.Parallel()

	a := jsondoc.New()
	require.Equal(t, "json", a.Name())
	require.Equal(t, "application/json", a.MediaType())

	r := adapters.NewRegistry()
	require.NoError(t, r.Register(a))
	got, ok := r.Get("json")
	require.True(t, ok)
	require.Equal(t, a, got)
}

func TestEncode(t *testing.T) {
	t.Parallel()

	doc := testDocument()
	out, err := jsondoc.New().Encode(doc)
	require.NoError(t, err)
	require.True(t, json.Valid(out))
	require.True(t, strings.HasPrefix(string(out), `{"format":"appealhub.delivery.v1","delivery_id":"0190f5a0-0000-7000-8000-0000000000aa",`))
	require.True(t, strings.HasSuffix(string(out), `"submission":`+rawSubmission+`}`), "the raw submission is embedded verbatim:\n%s", out)
	require.Contains(t, string(out), `"received_at":"2026-03-01T10:00:00.123456Z"`, "received_at is written in UTC")

	env, err := jsondoc.DecodeDocument(out)
	require.NoError(t, err)
	require.Equal(t, jsondoc.Format, env.Format)
	require.Equal(t, doc.DeliveryID, env.DeliveryID)
	require.Equal(t, doc.AppealID, env.AppealID)
	require.Equal(t, doc.TrackingNumber, env.TrackingNumber)
	require.Equal(t, doc.Authority, env.Authority)
	require.Equal(t, doc.Attempt, env.Attempt)
	require.True(t, doc.ReceivedAt.Equal(env.ReceivedAt))
	require.Equal(t, rawSubmission, string(env.Submission))

	sub, err := env.DecodeSubmission()
	require.NoError(t, err)
	require.Equal(t, schemas.CaseAppeal, sub.CaseKind)
	require.Equal(t, "Прошу <усунути> яму & поруч", sub.Text)
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()

	tests := map[string]func(*adapters.Document){
		"empty delivery id":        func(d *adapters.Document) { d.DeliveryID = "" },
		"attempt zero":             func(d *adapters.Document) { d.Attempt = 0 },
		"zero received_at":         func(d *adapters.Document) { d.ReceivedAt = time.Time{} },
		"year beyond RFC 3339":     func(d *adapters.Document) { d.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"no raw submission":        func(d *adapters.Document) { d.Raw = nil },
		"blank raw submission":     func(d *adapters.Document) { d.Raw = json.RawMessage(" \n") },
		"raw array":                func(d *adapters.Document) { d.Raw = json.RawMessage(`[1]`) },
		"raw malformed":            func(d *adapters.Document) { d.Raw = json.RawMessage(`{"a":`) },
		"raw two values":           func(d *adapters.Document) { d.Raw = json.RawMessage(`{}{}`) },
		"raw invalid UTF-8":        func(d *adapters.Document) { d.Raw = json.RawMessage("{\"a\":\"\xff\"}") },
		"delivery id invalid UTF8": func(d *adapters.Document) { d.DeliveryID = "a\xffb" },
		"authority invalid UTF8":   func(d *adapters.Document) { d.Authority = "\xc3" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := testDocument()
			mutate(&doc)
			out, err := jsondoc.New().Encode(doc)
			require.Error(t, err)
			require.Nil(t, out)
			require.True(t, adapters.IsPermanent(err), "an encoding failure never heals: %v", err)
		})
	}
}

// TestDecodeDocumentTestdata runs every file of testdata/documents: ok_* must decode, bad_* must be
// refused with ErrInvalidDocument.
func TestDecodeDocumentTestdata(t *testing.T) {
	t.Parallel()

	files := testdataFiles(t, "documents")
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, err := jsondoc.DecodeDocument(body)
			if strings.HasPrefix(name, "ok_") {
				require.NoError(t, err)
				require.NotEmpty(t, env.DeliveryID)
				require.Equal(t, jsondoc.Format, env.Format)
				require.Contains(t, string(body), string(env.Submission), "submission is kept verbatim")
				_, err = env.DecodeSubmission()
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, jsondoc.ErrInvalidDocument)
			require.Equal(t, jsondoc.Envelope{}, env)
		})
	}
}

func TestDecodeDocumentMinimal(t *testing.T) {
	t.Parallel()

	env, err := jsondoc.DecodeDocument(testdataFile(t, "documents", "ok_minimal.json"))
	require.NoError(t, err)
	require.Equal(t, "d-2", env.DeliveryID)
	require.Equal(t, 3, env.Attempt)
	require.Empty(t, env.Authority)
	require.True(t, env.ReceivedAt.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)))
}

func TestDecodeSubmissionRefusesUnknownFields(t *testing.T) {
	t.Parallel()

	env := jsondoc.Envelope{Submission: json.RawMessage(`{"case_kind":"appeal","secret_field":1}`)}
	_, err := env.DecodeSubmission()
	require.ErrorContains(t, err, "secret_field")
}

func TestDecodeReply(t *testing.T) {
	t.Parallel()

	registered := time.Date(2026, 3, 1, 8, 5, 0, 0, time.UTC)
	tests := []struct {
		name      string
		mediaType string
		body      string
		want      adapters.Reply
		wantErr   string
	}{
		{name: "empty body", mediaType: "application/json", body: "", want: adapters.Reply{}},
		{name: "blank body with any type", mediaType: "text/html", body: " \r\n", want: adapters.Reply{}},
		{name: "delivered", mediaType: "application/json", body: `{"status":"delivered"}`, want: adapters.Reply{Delivered: true}},
		{
			name: "delivered and registered", mediaType: "application/json; charset=utf-8",
			body: `{"status":"delivered","registration_number":"01-12/345","registered_at":"2026-03-01T10:05:00+02:00","reference":"doc-77"}`,
			want: adapters.Reply{Delivered: true, RegistrationNumber: "01-12/345", RegisteredAt: &registered, Reference: "doc-77"},
		},
		{name: "accepted is sent", mediaType: "", body: `{"status":"accepted","reference":"q-1"}`, want: adapters.Reply{Reference: "q-1"}},
		{name: "json suffix type", mediaType: "application/vnd.dms+json", body: `{"status":"delivered"}`, want: adapters.Reply{Delivered: true}},
		{name: "unknown members ignored", mediaType: "application/json", body: `{"status":"delivered","x":[{}]}`, want: adapters.Reply{Delivered: true}},
		{name: "empty registered_at", mediaType: "application/json", body: `{"status":"delivered","registered_at":""}`, want: adapters.Reply{Delivered: true}},
		{name: "html", mediaType: "text/html", body: `<html>ok</html>`, wantErr: "not JSON"},
		{name: "bad media type", mediaType: "application/", body: `{"status":"delivered"}`, wantErr: "media type"},
		{name: "unknown status", mediaType: "application/json", body: `{"status":"registered"}`, wantErr: "unknown status"},
		{name: "status case", mediaType: "application/json", body: `{"status":"Delivered"}`, wantErr: "unknown status"},
		{name: "missing status", mediaType: "application/json", body: `{}`, wantErr: "missing status"},
		{name: "null", mediaType: "application/json", body: `null`, wantErr: "not a JSON object"},
		{name: "array", mediaType: "application/json", body: `[{"status":"delivered"}]`, wantErr: "not a JSON object"},
		{name: "truncated", mediaType: "application/json", body: `{"status":"deliv`, wantErr: "unexpected end"},
		{name: "wrong type", mediaType: "application/json", body: `{"status":1}`, wantErr: "cannot unmarshal"},
		{name: "bad time", mediaType: "application/json", body: `{"status":"delivered","registered_at":"01.03.2026"}`, wantErr: "registered_at"},
		{name: "invalid UTF-8", mediaType: "application/json", body: "{\"status\":\"delivered\",\"reference\":\"\xff\"}", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsondoc.New().DecodeReply(tt.mediaType, []byte(tt.body))
			if tt.wantErr != "" {
				require.ErrorIs(t, err, jsondoc.ErrInvalidReply)
				require.ErrorContains(t, err, tt.wantErr)
				require.False(t, adapters.IsPermanent(err), "a reply we cannot read is retried")
				require.Equal(t, adapters.Reply{}, got)
				return
			}
			require.NoError(t, err)
			requireReplyEqual(t, tt.want, got)
		})
	}
}

func TestDecodeReplyTestdata(t *testing.T) {
	t.Parallel()

	for name, body := range testdataFiles(t, "replies") {
		_, err := jsondoc.New().DecodeReply(jsondoc.MediaType, body)
		if strings.HasPrefix(name, "ok_") {
			require.NoError(t, err, name)
		} else {
			require.ErrorIs(t, err, jsondoc.ErrInvalidReply, name)
		}
	}
}

func TestEncodeReplyRoundTrip(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.FixedZone("", 2*3600))
	for _, rep := range []adapters.Reply{
		{},
		{Delivered: true},
		{Delivered: true, RegistrationNumber: "01-12/345", RegisteredAt: &at, Reference: "<doc & 1>"},
	} {
		body := jsondoc.EncodeReply(rep)
		got, err := jsondoc.New().DecodeReply(jsondoc.MediaType, body)
		require.NoError(t, err, "%s", body)
		requireReplyEqual(t, rep, got)
	}
	require.JSONEq(t, `{"status":"accepted"}`, string(jsondoc.EncodeReply(adapters.Reply{})))
	require.Contains(t, string(jsondoc.EncodeReply(adapters.Reply{Reference: "<&>"})), `"<&>"`, "no HTML escaping")
}

func requireReplyEqual(t *testing.T, want, got adapters.Reply) {
	t.Helper()
	require.Equal(t, want.Delivered, got.Delivered)
	require.Equal(t, want.RegistrationNumber, got.RegistrationNumber)
	require.Equal(t, want.Reference, got.Reference)
	if want.RegisteredAt == nil {
		require.Nil(t, got.RegisteredAt)
		return
	}
	require.NotNil(t, got.RegisteredAt)
	require.True(t, want.RegisteredAt.Equal(*got.RegisteredAt), "registered_at %v, want %v", got.RegisteredAt, want.RegisteredAt)
}

func testdataFiles(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	require.NoError(tb, err)
	require.NotEmpty(tb, paths)
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		body, err := os.ReadFile(p)
		require.NoError(tb, err)
		files[filepath.Base(p)] = body
	}
	return files
}

func testdataFile(tb testing.TB, dir, name string) []byte {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", dir, name))
	require.NoError(tb, err)
	return body
}
