package sev1207_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

const deliveryID = "0190f5a0-0000-7000-8000-0000000000aa"

func kyiv(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Kyiv")
	require.NoError(t, err)
	return loc
}

func ptr[T any](v T) *T { return &v }

// wantMessages is what each accepted message of testdata/messages decodes to.
func wantMessages(t *testing.T) map[string]schemas.AuthorityMessage {
	t.Helper()
	loc := kyiv(t)
	return map[string]schemas.AuthorityMessage{
		"ack-1-delivered-bom.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000001", Of: deliveryID, Type: schemas.MsgDelivered,
			At: ptr(time.Date(2026, 3, 1, 8, 0, 5, 0, time.UTC)),
		},
		"ack-2-accepted.xml": { // a time without a zone is Kyiv time
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000002", Of: deliveryID, Type: schemas.MsgAccepted,
			At: ptr(time.Date(2026, 3, 1, 8, 1, 0, 0, time.UTC)),
		},
		"ack-3-registered-bom.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000003", Of: deliveryID, Type: schemas.MsgRegistered,
			At:                 ptr(time.Date(2026, 3, 2, 7, 15, 0, 0, time.UTC)),
			RegistrationNumber: "Вх-12/345-26", RegistrationDate: ptr(time.Date(2026, 3, 2, 0, 0, 0, 0, loc)),
		},
		"ack-3-registered-cp1251.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000004", Of: deliveryID, Type: schemas.MsgRegistered,
			At:                 ptr(time.Date(2026, 3, 2, 9, 16, 0, 0, time.UTC)),
			RegistrationNumber: "Ж-17/ї-ґ", RegistrationDate: ptr(time.Date(2026, 3, 2, 0, 0, 0, 0, loc)),
		},
		"ack-4-refused.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000005", Of: deliveryID, Type: schemas.MsgRefused,
			At:          ptr(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)),
			RefusalCode: schemas.RefusalNotOurAddressee,
			RefusalText: "Документ відхилено; Документ надійшов не за адресою: питання не належить до повноважень органу",
		},
		"ack-4-refused-cp1251.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000006", Of: deliveryID, Type: schemas.MsgRefused,
			At:          ptr(time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)),
			RefusalCode: schemas.RefusalSignatureMissingOrInvalid,
			RefusalText: "Відсутній або недійсний кваліфікований електронний підпис",
		},
		"answer-bom.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000010", Of: deliveryID, Type: schemas.MsgAnswered,
			At:   ptr(time.Date(2026, 3, 20, 14, 30, 0, 0, time.UTC)),
			Text: "Яму засипано 19.03.2026 & ділянку відремонтовано.",
			Documents: []schemas.AuthorityDocument{
				{
					FileName: "vidpovid.pdf", MediaType: "application/pdf", Content: []byte("%PDF-1.7 answer\n"),
					Signatures: []schemas.Signature{{Of: "vidpovid.pdf", Format: "cades-detached", Value: []byte("\x30\x82\x01\x00sig-over-501")}},
				},
				{FileName: "vidpovid.pdf.p7s", MediaType: "application/pkcs7-signature", Content: []byte("\x30\x82\x01\x00sig")},
			},
		},
		"answer-cp1251.xml": {
			MessageID: "5b0c2f3e-1111-4a00-8000-000000000011", Of: deliveryID, Type: schemas.MsgAnswered,
			At:   ptr(time.Date(2026, 3, 20, 14, 30, 0, 0, time.UTC)),
			Text: "Роз'яснено порядок: ґрунтовка, їжак, є",
			Documents: []schemas.AuthorityDocument{{
				FileName: "відповідь.docx", MediaType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
				Content: []byte("PK\x03\x04docx"),
			}},
		},
	}
}

// wantRefusals is the sentinel error each refused message of testdata/messages must wrap.
var wantRefusals = map[string]error{
	"bad_doctype.xml":                   sev1207.ErrDTD,
	"bad_billion_laughs.xml":            sev1207.ErrDTD,
	"bad_external_entity.xml":           sev1207.ErrDTD,
	"bad_entity_in_comment.xml":         sev1207.ErrDTD,
	"bad_standart.xml":                  sev1207.ErrNotSEV1207,
	"bad_version.xml":                   sev1207.ErrNotSEV1207,
	"bad_no_standart.xml":               sev1207.ErrNotSEV1207,
	"bad_root.xml":                      sev1207.ErrNotSEV1207,
	"bad_namespace.xml":                 sev1207.ErrNotSEV1207,
	"bad_html.xml":                      sev1207.ErrNotSEV1207,
	"bad_encoding_koi8.xml":             sev1207.ErrEncoding,
	"bad_bom_cp1251.xml":                sev1207.ErrEncoding,
	"bad_utf16.xml":                     sev1207.ErrEncoding,
	"bad_invalid_utf8.xml":              sev1207.ErrMalformed,
	"bad_truncated.xml":                 sev1207.ErrMalformed,
	"bad_two_roots.xml":                 sev1207.ErrMalformed,
	"bad_text_after_root.xml":           sev1207.ErrMalformed,
	"bad_unknown_entity.xml":            sev1207.ErrMalformed,
	"bad_late_declaration.xml":          sev1207.ErrMalformed,
	"bad_deep.xml":                      sev1207.ErrTooDeep,
	"bad_no_msg_id.xml":                 sev1207.ErrMalformed,
	"bad_msg_type.xml":                  sev1207.ErrMalformed,
	"bad_notice_without_ack.xml":        sev1207.ErrMalformed,
	"bad_ack_no_of.xml":                 sev1207.ErrMalformed,
	"bad_ack_type_5.xml":                sev1207.ErrUnsupported,
	"bad_ack_type_missing.xml":          sev1207.ErrMalformed,
	"bad_ack3_no_regnumber.xml":         sev1207.ErrMalformed,
	"bad_ack3_bad_regdate.xml":          sev1207.ErrMalformed,
	"bad_time.xml":                      sev1207.ErrMalformed,
	"bad_document_unrelated.xml":        sev1207.ErrUnsupported,
	"bad_document_signinfo_unknown.xml": sev1207.ErrMalformed,
	"bad_document_base64.xml":           sev1207.ErrMalformed,
	"bad_document_without_document.xml": sev1207.ErrMalformed,
}

var sentinels = []error{
	sev1207.ErrNotSEV1207, sev1207.ErrDTD, sev1207.ErrTooDeep, sev1207.ErrTooLarge,
	sev1207.ErrEncoding, sev1207.ErrMalformed, sev1207.ErrUnsupported,
}

func messageFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "messages", "*.xml"))
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

// TestDecodeMessageTestdata decodes every message of testdata/messages: each accepted one to its
// expected authority message, each refused one with its sentinel, permanently. Every file is in
// one of the two tables.
func TestDecodeMessageTestdata(t *testing.T) {
	t.Parallel()

	want := wantMessages(t)
	files := messageFiles(t)
	require.Len(t, files, len(want)+len(wantRefusals), "every testdata message has an expectation")
	a := newAdapter()
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := a.DecodeMessage(body)
			if sentinel, refused := wantRefusals[name]; refused {
				require.ErrorIs(t, err, sentinel)
				require.True(t, adapters.IsPermanent(err), "the same body never decodes: %v", err)
				require.Nil(t, got)
				for _, other := range sentinels {
					if other != sentinel {
						require.NotErrorIs(t, err, other, "exactly one sentinel: %v", err)
					}
				}
				return
			}
			w, ok := want[name]
			require.True(t, ok, "no expectation for %s", name)
			require.NoError(t, err)
			require.Len(t, got, 1)
			requireMessage(t, w, got[0])
		})
	}
}

// TestDecodeMessagesMediaType: the adapters.MessageDecoder form checks the media type first.
func TestDecodeMessagesMediaType(t *testing.T) {
	t.Parallel()

	a := newAdapter()
	body := messageFiles(t)["ack-1-delivered-bom.xml"]
	for _, mt := range []string{"", "application/xml", "text/xml; charset=utf-8", "application/vnd.sev+xml"} {
		got, err := a.DecodeMessages(mt, body)
		require.NoError(t, err, mt)
		require.Len(t, got, 1)
		require.Equal(t, schemas.MsgDelivered, got[0].Type)
	}
	for _, mt := range []string{"application/json", "text/html", "application/"} {
		_, err := a.DecodeMessages(mt, body)
		require.ErrorIs(t, err, sev1207.ErrNotSEV1207, mt)
		require.True(t, adapters.IsPermanent(err))
	}
}

// TestOwnMessagesValidate: every test message the decoder accepts is valid 1207 by the project's
// XSD, so the XSD describes what the hub accepts.
func TestOwnMessagesValidate(t *testing.T) {
	t.Parallel()

	ok := make(map[string][]byte)
	for name, body := range messageFiles(t) {
		if !strings.HasPrefix(name, "bad_") {
			ok[name] = body
		}
	}
	validateXSD(t, ownXSD(t), ok)
}

func TestDecodeLimits(t *testing.T) {
	t.Parallel()

	ack := messageFiles(t)["ack-1-delivered-bom.xml"]
	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		a := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: int64(len(ack) - 1)})
		_, err := a.DecodeMessage(ack)
		require.ErrorIs(t, err, sev1207.ErrTooLarge)
		require.True(t, adapters.IsPermanent(err))
		_, err = a.DecodeReply("application/xml", ack)
		require.ErrorIs(t, err, sev1207.ErrTooLarge)

		a = sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: int64(len(ack))})
		_, err = a.DecodeMessage(ack)
		require.NoError(t, err, "a body of exactly the limit is accepted")
	})
	t.Run("depth", func(t *testing.T) {
		t.Parallel()
		// Header/Expansion/StaticExpansion/SignInfo/SignData is 5 deep.
		body := strings.Replace(string(ack), "</Header>", `<Expansion organization="x" exp_ver="1"><StaticExpansion><SignInfo docTransfer_idnumber="1"><SignData>AA==</SignData></SignInfo></StaticExpansion></Expansion></Header>`, 1)
		a := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxDepth: 5})
		_, err := a.DecodeMessage([]byte(body))
		require.NoError(t, err, "5 levels with MaxDepth 5")
		a = sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxDepth: 4})
		_, err = a.DecodeMessage([]byte(body))
		require.ErrorIs(t, err, sev1207.ErrTooDeep)
	})
	t.Run("deep beyond the default", func(t *testing.T) {
		t.Parallel()
		deep := strings.Repeat("<n>", 100_000) + strings.Repeat("</n>", 100_000)
		body := strings.Replace(string(ack), "</Header>", deep+"</Header>", 1)
		_, err := newAdapter().DecodeMessage([]byte(body))
		require.ErrorIs(t, err, sev1207.ErrTooDeep)
		require.ErrorContains(t, err, "deeper than 64")
	})
}

// TestDecodeWindows1251 builds a notice from scratch in windows-1251 and checks every Cyrillic
// letter of Ukrainian survives.
func TestDecodeWindows1251(t *testing.T) {
	t.Parallel()

	const letters = "АБВГҐДЕЄЖЗИІЇЙКЛМНОПРСТУФХЦЧШЩЬЮЯабвгґдеєжзиіїйклмнопрстуфхцчшщьюя’"
	utf8Body := `<?xml version="1.0" encoding="windows-1251"?>` + "\n" +
		`<Header standart="1207" version="1.5" charset="windows-1251" time="2026-03-02T09:16:00Z" msg_type="0" msg_id="n-1" from_org_id="66784279" from_organization="О" from_sys_id="s" from_system="С" to_org_id="43210987" to_organization="Х" to_sys_id="h" to_system="h">` +
		`<Acknowledgement msg_id="` + deliveryID + `" ack_type="4"><AckResult errorcode="0" errortext="` + letters + `"/></Acknowledgement></Header>`
	body := toWindows1251(t, utf8Body)
	require.NotEqual(t, utf8Body, string(body))

	got, err := newAdapter().DecodeMessage(body)
	require.NoError(t, err)
	require.Equal(t, letters, got[0].RefusalText)

	// The same bytes declared as UTF-8 (or not declared) are not valid UTF-8.
	asUTF8 := bytes.Replace(body, []byte(`encoding="windows-1251"`), []byte(`encoding="UTF-8"`), 1)
	_, err = newAdapter().DecodeMessage(asUTF8)
	require.ErrorIs(t, err, sev1207.ErrMalformed)
}

// toWindows1251 encodes s (Ukrainian text) in windows-1251 with a table of its own, so the test
// does not rely on the decoder's library to make its input.
func toWindows1251(t *testing.T, s string) []byte {
	t.Helper()
	special := map[rune]byte{'Ґ': 0xA5, 'ґ': 0xB4, 'Є': 0xAA, 'є': 0xBA, 'І': 0xB2, 'і': 0xB3, 'Ї': 0xAF, 'ї': 0xBF, '’': 0x92}
	var out []byte
	for _, r := range s {
		switch {
		case r < 0x80:
			out = append(out, byte(r))
		case r >= 'А' && r <= 'я':
			out = append(out, byte(0xC0+(r-'А')))
		default:
			b, ok := special[r]
			require.True(t, ok, "no windows-1251 byte for %q", r)
			out = append(out, b)
		}
	}
	return out
}

func TestDecodeReply(t *testing.T) {
	t.Parallel()

	files := messageFiles(t)
	loc := kyiv(t)
	tests := []struct {
		name      string
		mediaType string
		body      []byte
		want      adapters.Reply
		wantErr   error
	}{
		{name: "empty body", mediaType: "application/xml", want: adapters.Reply{}},
		{name: "blank body with any type", mediaType: "text/html", body: []byte(" \r\n"), want: adapters.Reply{}},
		{name: "only a byte-order mark", mediaType: "application/xml", body: []byte("\xef\xbb\xbf\n"), want: adapters.Reply{}},
		{name: "delivered", mediaType: "application/xml", body: files["ack-1-delivered-bom.xml"], want: adapters.Reply{Delivered: true}},
		{name: "accepted", mediaType: "text/xml; charset=utf-8", body: files["ack-2-accepted.xml"], want: adapters.Reply{Delivered: true}},
		{
			name: "registered: the notice's time on the registration date", mediaType: "", body: files["ack-3-registered-cp1251.xml"],
			want: adapters.Reply{Delivered: true, RegistrationNumber: "Ж-17/ї-ґ", RegisteredAt: ptr(time.Date(2026, 3, 2, 9, 16, 0, 0, time.UTC))},
		},
		{
			name: "registered: a notice made on another day", mediaType: "",
			body: bytes.Replace(files["ack-3-registered-cp1251.xml"], []byte(`time="2026-03-02T09:16:00Z"`), []byte(`time="2026-03-05T09:16:00Z"`), 1),
			want: adapters.Reply{Delivered: true, RegistrationNumber: "Ж-17/ї-ґ", RegisteredAt: ptr(time.Date(2026, 3, 2, 0, 0, 0, 0, loc))},
		},
		{name: "refused still proves delivery", mediaType: "application/xml", body: files["ack-4-refused.xml"], want: adapters.Reply{Delivered: true}},
		{name: "html error page", mediaType: "text/html", body: []byte("<html>ok</html>"), wantErr: sev1207.ErrNotSEV1207},
		{name: "html served as xml", mediaType: "application/xml", body: files["bad_html.xml"], wantErr: sev1207.ErrNotSEV1207},
		{name: "an answer is not a reply", mediaType: "application/xml", body: files["answer-bom.xml"], wantErr: sev1207.ErrUnsupported},
		{name: "truncated", mediaType: "application/xml", body: files["bad_truncated.xml"], wantErr: sev1207.ErrMalformed},
		{name: "doctype", mediaType: "application/xml", body: files["bad_doctype.xml"], wantErr: sev1207.ErrDTD},
		{name: "ack type 5", mediaType: "application/xml", body: files["bad_ack_type_5.xml"], wantErr: sev1207.ErrUnsupported},
	}
	a := newAdapter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := a.DecodeReply(tt.mediaType, tt.body)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.False(t, adapters.IsPermanent(err), "a reply we cannot read is retried under the same msg_id")
				require.Equal(t, adapters.Reply{}, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want.Delivered, got.Delivered)
			require.Equal(t, tt.want.RegistrationNumber, got.RegistrationNumber)
			if tt.want.RegisteredAt == nil {
				require.Nil(t, got.RegisteredAt)
			} else {
				require.NotNil(t, got.RegisteredAt)
				require.True(t, tt.want.RegisteredAt.Equal(*got.RegisteredAt))
			}
		})
	}
}

// TestDecodeNeverPanicsOnPrefixes decodes every prefix of every test message: truncation at any
// byte is an error with a sentinel, never a panic or a success of the wrong kind.
func TestDecodeNeverPanicsOnPrefixes(t *testing.T) {
	t.Parallel()

	a := newAdapter()
	for name, body := range messageFiles(t) {
		for n := 0; n < len(body); n++ {
			msgs, err := a.DecodeMessage(body[:n])
			if err == nil {
				require.Len(t, msgs, 1, "%s[:%d]", name, n)
				if !strings.HasPrefix(name, "bad_") { // some bad ones hold a good message first
					// Only a cut inside trailing white space still holds the whole message.
					require.Empty(t, bytes.TrimSpace(body[n:]), "%s[:%d] decoded", name, n)
				}
				continue
			}
			require.True(t, isSentinel(err), "%s[:%d]: %v", name, n, err)
		}
	}
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func requireMessage(t *testing.T, want, got schemas.AuthorityMessage) {
	t.Helper()
	requireTime(t, want.At, got.At, "at")
	requireTime(t, want.RegistrationDate, got.RegistrationDate, "registration_date")
	want.At, got.At, want.RegistrationDate, got.RegistrationDate = nil, nil, nil, nil
	require.Equal(t, want, got)
}

func requireTime(t *testing.T, want, got *time.Time, what string) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, what)
		return
	}
	require.NotNil(t, got, what)
	require.True(t, want.Equal(*got), "%s: got %v, want %v", what, got, want)
}
