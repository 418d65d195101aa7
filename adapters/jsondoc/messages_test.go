package jsondoc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/schemas"
)

// badMessages is what each bad_* file of testdata/messages must be refused with.
var badMessages = map[string]struct {
	code     schemas.Code
	pointers []string
}{
	"bad_bom.json":                     {code: schemas.CodeMalformedJSON},
	"bad_invalid_utf8.json":            {code: schemas.CodeInvalidUTF8},
	"bad_duplicate_key.json":           {code: schemas.CodeDuplicateKey, pointers: []string{"/of"}},
	"bad_trailing_data.json":           {code: schemas.CodeMalformedJSON},
	"bad_array.json":                   {code: schemas.CodeSchemaViolation, pointers: []string{""}},
	"bad_unknown_type.json":            {code: schemas.CodeSchemaViolation, pointers: []string{"/type"}},
	"bad_registered_missing.json":      {code: schemas.CodeSchemaViolation, pointers: []string{"/registration_date"}},
	"bad_refusal_code.json":            {code: schemas.CodeSchemaViolation, pointers: []string{"/refusal_code"}},
	"bad_answer_refused_no_basis.json": {code: schemas.CodeSchemaViolation, pointers: []string{"/appeal_procedure", "/legal_basis"}},
	"bad_signature_of.json":            {code: schemas.CodeSchemaViolation, pointers: []string{"/documents/0/signatures/0/of"}},
	"bad_batch_duplicate_id.json":      {code: schemas.CodeSchemaViolation, pointers: []string{"/messages/1/message_id"}},
	"bad_case_mismatch.json":           {code: schemas.CodeSchemaViolation, pointers: []string{"/Format", "/format"}},
	"bad_forwarded_to.json":            {code: schemas.CodeSchemaViolation, pointers: []string{"/forwarded_to"}},
}

// TestDecodeMessagesTestdata runs every file of testdata/messages: ok_* decode and survive a round
// trip through EncodeMessages; bad_* are refused with the code and field pointers of badMessages.
func TestDecodeMessagesTestdata(t *testing.T) {
	t.Parallel()

	files := testdataFiles(t, "messages")
	for name := range badMessages {
		require.Contains(t, files, name, "badMessages names a missing file")
	}
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := jsondoc.New()
			msgs, err := a.DecodeMessages(jsondoc.MediaType, body)
			if strings.HasPrefix(name, "ok_") {
				require.NoError(t, err)
				require.NotEmpty(t, msgs)
				again, err := a.DecodeMessages(jsondoc.MediaType, jsondoc.EncodeMessages(msgs))
				require.NoError(t, err)
				requireMessagesEqual(t, msgs, again)
				return
			}
			want, ok := badMessages[name]
			require.True(t, ok, "add %s to badMessages", name)
			require.Nil(t, msgs)
			requireMessageError(t, err, want.code, want.pointers...)
		})
	}
}

func TestDecodeMessagesTestdataContent(t *testing.T) {
	t.Parallel()

	a := jsondoc.New()
	msgs, err := a.DecodeMessages(jsondoc.MediaType, testdataFile(t, "messages", "ok_registered.json"))
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, "sed-000102", m.MessageID)
	require.Equal(t, "0190f5a0-0000-7000-8000-0000000000aa", m.Of)
	require.Equal(t, schemas.MsgRegistered, m.Type)
	require.Equal(t, "01-12/345", m.RegistrationNumber)
	require.True(t, m.RegistrationDate.Equal(time.Date(2026, 3, 2, 7, 30, 0, 0, time.UTC)))
	require.Equal(t, "Загальний відділ", m.Registrar)

	msgs, err = a.DecodeMessages(jsondoc.MediaType, testdataFile(t, "messages", "ok_batch.json"))
	require.NoError(t, err)
	types := make([]schemas.AuthorityMessageType, 0, len(msgs))
	for _, m := range msgs {
		types = append(types, m.Type)
	}
	require.Equal(t, []schemas.AuthorityMessageType{schemas.MsgDelivered, schemas.MsgAccepted, schemas.MsgReturned, schemas.MsgNotConsidered}, types, "in order")

	msgs, err = a.DecodeMessages(jsondoc.MediaType, testdataFile(t, "messages", "ok_answered_documents.json"))
	require.NoError(t, err)
	require.Len(t, msgs[0].Documents, 2)
	doc := msgs[0].Documents[0]
	require.Equal(t, "відповідь.pdf", doc.FileName)
	require.True(t, strings.HasPrefix(string(doc.Content), "%PDF-1.7"), "content is base64-decoded")
	require.Len(t, doc.Signatures, 1)
	require.Equal(t, "cades-detached", doc.Signatures[0].Format)
}

func TestDecodeMessagesMediaType(t *testing.T) {
	t.Parallel()

	body := testdataFile(t, "messages", "ok_delivered.json")
	for _, mt := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON; charset=UTF-8", "application/vnd.sed+json"} {
		msgs, err := jsondoc.New().DecodeMessages(mt, body)
		require.NoError(t, err, mt)
		require.Len(t, msgs, 1, mt)
	}
	for _, mt := range []string{"", " ", "application/xml", "text/plain", "text/json+json", "application/", "application/json; charset=windows-1251", "application/json; charset"} {
		msgs, err := jsondoc.New().DecodeMessages(mt, body)
		require.Nil(t, msgs, mt)
		requireMessageError(t, err, schemas.CodeUnsupportedMediaType)
	}
}

// TestDecodeMessagesTable checks the adapter hands on the codes and pointers of
// schemas.DecodeAuthorityMessages (whose own tests cover every rule).
func TestDecodeMessagesTable(t *testing.T) {
	t.Parallel()

	const head = `"format":"appealhub.message.v1","message_id":"m-1","of":"d-1"`
	tests := []struct {
		name     string
		body     string
		code     schemas.Code
		pointers []string
		want     []schemas.AuthorityMessage
	}{
		{name: "accepted", body: `{` + head + `,"type":"accepted"}`, want: []schemas.AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: schemas.MsgAccepted}}},
		{
			name: "refused",
			body: `{` + head + `,"type":"refused","refusal_code":"duplicate","refusal_text":"Дублювання"}`,
			want: []schemas.AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: schemas.MsgRefused, RefusalCode: schemas.RefusalDuplicate, RefusalText: "Дублювання"}},
		},
		{name: "empty", body: ``, code: schemas.CodeMalformedJSON},
		{name: "NUL", body: `{` + head + `,"type":"status","text":"\u0000"}`, code: schemas.CodeNULCharacter, pointers: []string{"/text"}},
		{name: "extended without reason", body: `{` + head + `,"type":"extended","new_due_date":"2026-04-15T00:00:00Z"}`, code: schemas.CodeSchemaViolation, pointers: []string{"/reason"}},
		{name: "answered without outcome", body: `{` + head + `,"type":"answered","text":"Відповідь"}`, code: schemas.CodeSchemaViolation, pointers: []string{"/outcome"}},
		{name: "batch of one bad", body: `{"messages":[{` + head + `,"type":"registered"}]}`, code: schemas.CodeSchemaViolation, pointers: []string{"/messages/0/registration_date", "/messages/0/registration_number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsondoc.New().DecodeMessages(jsondoc.MediaType, []byte(tt.body))
			if tt.code != "" {
				require.Nil(t, got)
				requireMessageError(t, err, tt.code, tt.pointers...)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// fullMessage sets every field of schemas.AuthorityMessage (a test fails when a new field is not
// set here), with characters json.Marshal would escape.
func fullMessage() schemas.AuthorityMessage {
	at := time.Date(2026, 3, 2, 9, 31, 0, 500, time.FixedZone("", 2*3600))
	reg := time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	due := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	return schemas.AuthorityMessage{
		MessageID:          "sed-<1>&",
		Of:                 "0190f5a0-0000-7000-8000-0000000000aa",
		Type:               schemas.MsgAnswered,
		At:                 &at,
		RegistrationNumber: "01-12/345",
		RegistrationDate:   &reg,
		RefusalCode:        schemas.RefusalWrongForm,
		RefusalText:        "<b>не за формою</b>",
		Registrar:          "Загальний відділ",
		NewDueDate:         &due,
		Reason:             "За належністю & вчасно",
		ForwardedTo:        "04012345",
		Outcome:            schemas.OutcomeRefused,
		LegalBasis:         "ст. 8 Закону",
		AppealProcedure:    "До суду",
		Text:               "Відповідь\n\u2028<>",
		Documents: []schemas.AuthorityDocument{{
			FileName:   "відповідь.pdf",
			MediaType:  "application/pdf",
			Content:    []byte("%PDF-1.7\n\x00\xff"),
			Signatures: []schemas.Signature{{Of: "відповідь.pdf", Format: "cades-detached", Value: []byte{0x30, 0x82, 0x01, 0x00}}},
		}},
		Simple: true,
	}
}

func TestEncodeMessagesRoundTrip(t *testing.T) {
	t.Parallel()

	full := fullMessage()
	v := reflect.ValueOf(full)
	for i := range v.NumField() {
		require.False(t, v.Field(i).IsZero(), "fullMessage leaves %s unset", v.Type().Field(i).Name)
	}

	registered := schemas.AuthorityMessage{MessageID: "m-2", Of: "d-2", Type: schemas.MsgRegistered, RegistrationNumber: "7", RegistrationDate: new(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))}
	delivered := schemas.AuthorityMessage{MessageID: "m-3", Of: "d-2", Type: schemas.MsgDelivered}
	many := make([]schemas.AuthorityMessage, schemas.MaxAuthorityMessages)
	for i := range many {
		many[i] = schemas.AuthorityMessage{MessageID: fmt.Sprintf("m-%d", i), Of: "d-1", Type: schemas.MsgAccepted}
	}
	for name, msgs := range map[string][]schemas.AuthorityMessage{
		"one full":  {full},
		"one short": {delivered},
		"several":   {full, registered, delivered},
		"the most":  many,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := jsondoc.EncodeMessages(msgs)
			got, err := jsondoc.New().DecodeMessages(jsondoc.MediaType, body)
			require.NoError(t, err, "%s", body)
			requireMessagesEqual(t, msgs, got)
			// The single-message form is used for exactly one message.
			require.Equal(t, len(msgs) != 1, strings.HasPrefix(string(body), `{"messages":[`), "%s", body)
		})
	}
}

func TestEncodeMessagesShape(t *testing.T) {
	t.Parallel()

	body := jsondoc.EncodeMessages([]schemas.AuthorityMessage{{
		MessageID: "m-1", Of: "d-1", Type: schemas.MsgRegistered, RegistrationNumber: "01-12/345",
		RegistrationDate: new(time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("", 2*3600))),
	}})
	require.Equal(t, `{"format":"appealhub.message.v1","message_id":"m-1","of":"d-1","type":"registered",`+
		`"registration_number":"01-12/345","registration_date":"2026-03-02T09:30:00+02:00"}`, string(body),
		"format first, empty fields left out, the offset kept")

	require.Equal(t, `{"messages":[]}`, string(jsondoc.EncodeMessages(nil)))
	_, err := jsondoc.New().DecodeMessages(jsondoc.MediaType, jsondoc.EncodeMessages(nil))
	requireMessageError(t, err, schemas.CodeSchemaViolation, "/messages")

	full := string(jsondoc.EncodeMessages([]schemas.AuthorityMessage{fullMessage()}))
	require.Contains(t, full, `"sed-<1>&"`, "no HTML escaping")

	// A year outside RFC 3339 cannot fail the encoding; the result is refused on decoding.
	far := schemas.AuthorityMessage{MessageID: "m", Of: "d", Type: schemas.MsgDelivered, At: new(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}
	_, err = jsondoc.New().DecodeMessages(jsondoc.MediaType, jsondoc.EncodeMessages([]schemas.AuthorityMessage{far}))
	requireMessageError(t, err, schemas.CodeSchemaViolation, "/at")
}

// TestEncodeValidatesAgainstDeliverySchema: every delivery document Encode writes, for every fixture
// submission, validates against schemas/delivery.schema.json.
func TestEncodeValidatesAgainstDeliverySchema(t *testing.T) {
	t.Parallel()

	raw, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", "submissions.json"))
	require.NoError(t, err)
	var subs []json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &subs))
	require.NotEmpty(t, subs)
	full, err := os.ReadFile(filepath.Join("..", "..", "schemas", "testdata", "full.json"))
	require.NoError(t, err)
	subs = append(subs, full)

	for i, sub := range subs {
		_, err := schemas.DecodeSubmission(sub)
		require.NoError(t, err, "fixture %d is a valid submission", i)
		for _, attempt := range []int{1, 7} {
			doc := testDocument()
			doc.Raw = sub
			doc.Attempt = attempt
			body, err := jsondoc.New().Encode(doc)
			require.NoError(t, err)
			require.NoError(t, schemas.ValidateDelivery(body), "fixture %d attempt %d:\n%s", i, attempt, body)
		}
	}

	// The check can fail: what the hub must never send is refused.
	doc := testDocument()
	doc.Authority = "ministry"
	body, err := jsondoc.New().Encode(doc)
	require.NoError(t, err)
	perr, ok := errors.AsType[*schemas.Error](schemas.ValidateDelivery(body))
	require.True(t, ok)
	require.Equal(t, schemas.CodeSchemaViolation, perr.Code)
	require.Equal(t, "/authority", perr.Fields[0].Pointer)
}

// FuzzDecodeMessages: DecodeMessages never panics; every refusal is an ErrInvalidMessage carrying a
// known, non-internal *schemas.Error; whatever it accepts is 1 to MaxAuthorityMessages messages of
// known types that survive EncodeMessages unchanged.
func FuzzDecodeMessages(f *testing.F) {
	for _, body := range testdataFiles(f, "messages") {
		f.Add(jsondoc.MediaType, body)
	}
	f.Add("application/json; charset=utf-8", jsondoc.EncodeMessages([]schemas.AuthorityMessage{fullMessage()}))
	f.Add("text/plain", []byte(`{}`))
	f.Add(jsondoc.MediaType, []byte(`{"messages":[{"type":1e999}]}`))
	known := map[schemas.AuthorityMessageType]bool{
		schemas.MsgDelivered: true, schemas.MsgAccepted: true, schemas.MsgRegistered: true, schemas.MsgRefused: true,
		schemas.MsgStatus: true, schemas.MsgExtended: true, schemas.MsgForwarded: true, schemas.MsgReturned: true,
		schemas.MsgNotConsidered: true, schemas.MsgAnswered: true,
	}
	codes := make(map[schemas.Code]bool)
	for _, c := range schemas.Codes() {
		codes[c] = true
	}
	f.Fuzz(func(t *testing.T, mediaType string, body []byte) {
		a := jsondoc.New()
		msgs, err := a.DecodeMessages(mediaType, body)
		if err != nil {
			require.ErrorIs(t, err, jsondoc.ErrInvalidMessage)
			perr, ok := errors.AsType[*schemas.Error](err)
			require.True(t, ok, "want *schemas.Error: %v", err)
			require.True(t, codes[perr.Code], "unknown code %q", perr.Code)
			require.NotEqual(t, schemas.CodeInternal, perr.Code, "%v", err)
			require.Nil(t, msgs)
			return
		}
		require.NotEmpty(t, msgs)
		require.LessOrEqual(t, len(msgs), schemas.MaxAuthorityMessages)
		for _, m := range msgs {
			require.True(t, known[m.Type], "type %q", m.Type)
			require.NotEmpty(t, m.MessageID)
			require.NotEmpty(t, m.Of)
		}
		again, err := a.DecodeMessages(jsondoc.MediaType, jsondoc.EncodeMessages(msgs))
		require.NoError(t, err)
		requireMessagesEqual(t, msgs, again)
	})
}

// requireMessageError checks that err wraps ErrInvalidMessage and a *schemas.Error with code and
// exactly the field pointers given.
func requireMessageError(t *testing.T, err error, code schemas.Code, pointers ...string) {
	t.Helper()
	require.ErrorIs(t, err, jsondoc.ErrInvalidMessage)
	require.False(t, adapters.IsPermanent(err))
	perr, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "want *schemas.Error, got %T: %v", err, err)
	require.Equal(t, code, perr.Code, "error: %v", err)
	got := make([]string, 0, len(perr.Fields))
	for _, f := range perr.Fields {
		got = append(got, f.Pointer)
	}
	if pointers == nil {
		pointers = []string{}
	}
	require.Equal(t, pointers, got, "error: %v", err)
}

// requireMessagesEqual compares messages, their times by instant (an offset of +00:00 comes back as
// Z, which is the same instant in another *time.Location).
func requireMessagesEqual(t *testing.T, want, got []schemas.AuthorityMessage) {
	t.Helper()
	require.Equal(t, normalizeTimes(want), normalizeTimes(got))
}

func normalizeTimes(msgs []schemas.AuthorityMessage) []schemas.AuthorityMessage {
	out := make([]schemas.AuthorityMessage, len(msgs))
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		return new(p.UTC())
	}
	for i, m := range msgs {
		m.At, m.RegistrationDate, m.NewDueDate = utc(m.At), utc(m.RegistrationDate), utc(m.NewDueDate)
		out[i] = m
	}
	return out
}
