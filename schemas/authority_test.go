package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// msg is one authority message with the given type and further members (a JSON fragment starting
// with a comma, or "").
func msg(typ, extra string) string {
	return `{"format":"appealhub.message.v1","message_id":"m-1","of":"d-1","type":"` + typ + `"` + extra + `}`
}

// batch wraps messages in {"messages":[…]}.
func batch(msgs ...string) string {
	return `{"messages":[` + strings.Join(msgs, ",") + `]}`
}

// pdf is a document member list: one file with one signature.
const pdf = `{"file_name":"answer.pdf","media_type":"application/pdf","content":"JVBERi0xLjcK",` +
	`"signatures":[{"of":"answer.pdf","format":"cades-detached","value":"MIIBAA=="}]}`

func TestDecodeAuthorityMessagesGood(t *testing.T) {
	t.Parallel()

	regDate := time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	due := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want []AuthorityMessage
	}{
		{
			name: "delivered",
			body: msg("delivered", `,"at":"2026-03-01T10:00:00Z"`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgDelivered, At: new(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))}},
		},
		{name: "accepted", body: msg("accepted", ""), want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgAccepted}}},
		{
			name: "registered",
			body: msg("registered", `,"registration_number":"01-12/345","registration_date":"2026-03-02T09:30:00+02:00","registrar":"Загальний відділ"`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgRegistered, RegistrationNumber: "01-12/345", RegistrationDate: &regDate, Registrar: "Загальний відділ"}},
		},
		{
			name: "refused",
			body: msg("refused", `,"refusal_code":"signature_not_verifiable","refusal_text":"Неможливо перевірити підпис"`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgRefused, RefusalCode: RefusalSignatureNotVerifiable, RefusalText: "Неможливо перевірити підпис"}},
		},
		{name: "status", body: msg("status", `,"text":"На розгляді"`), want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgStatus, Text: "На розгляді"}}},
		{
			name: "extended",
			body: msg("extended", `,"new_due_date":"2026-04-15T00:00:00Z","reason":"Потрібна перевірка"`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgExtended, NewDueDate: &due, Reason: "Потрібна перевірка"}},
		},
		{
			name: "forwarded",
			body: msg("forwarded", `,"forwarded_to":"04012345","reason":"За належністю"`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgForwarded, ForwardedTo: "04012345", Reason: "За належністю"}},
		},
		{name: "returned", body: msg("returned", `,"reason":"Не зазначено адресу"`), want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgReturned, Reason: "Не зазначено адресу"}}},
		{name: "not considered", body: msg("not_considered", ""), want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgNotConsidered}}},
		{
			name: "answered with text",
			body: msg("answered", `,"outcome":"satisfied","text":"Яму усунуто."`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgAnswered, Outcome: OutcomeSatisfied, Text: "Яму усунуто."}},
		},
		{
			name: "answered with a document only",
			body: msg("answered", `,"outcome":"explained","documents":[`+pdf+`]`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgAnswered, Outcome: OutcomeExplained, Documents: []AuthorityDocument{{
				FileName: "answer.pdf", MediaType: "application/pdf", Content: []byte("%PDF-1.7\n"),
				Signatures: []Signature{{Of: "answer.pdf", Format: "cades-detached", Value: []byte{0x30, 0x82, 0x01, 0x00}}},
			}}}},
		},
		{
			name: "answered refused",
			body: msg("answered", `,"outcome":"refused","text":"Відмовлено.","legal_basis":"ст. 7 Закону","appeal_procedure":"Оскаржити до суду"`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgAnswered, Outcome: OutcomeRefused, Text: "Відмовлено.", LegalBasis: "ст. 7 Закону", AppealProcedure: "Оскаржити до суду"}},
		},
		{
			name: "fields another type needs are kept",
			body: msg("delivered", `,"reason":"x","registrar":""`),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgDelivered, Reason: "x"}},
		},
		{
			name: "batch in order",
			body: batch(msg("delivered", ""), strings.Replace(msg("accepted", ""), `"m-1"`, `"m-2"`, 1)),
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgDelivered}, {MessageID: "m-2", Of: "d-1", Type: MsgAccepted}},
		},
		{
			name: "whitespace and escapes",
			body: " {\n\t\"format\" : \"appealhub.message.v1\", \"message_id\":\"m\\u002d1\", \"of\":\"d-1\", \"type\":\"status\", \"text\":\"\\u0422\\u0435\\u043a\\u0441\\u0442 <&>\"\n} \n",
			want: []AuthorityMessage{{MessageID: "m-1", Of: "d-1", Type: MsgStatus, Text: "Текст <&>"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeAuthorityMessages([]byte(tt.body))
			require.NoError(t, err)
			require.Len(t, got, len(tt.want))
			for i := range got {
				requireTimeEqual(t, tt.want[i].At, got[i].At)
				requireTimeEqual(t, tt.want[i].RegistrationDate, got[i].RegistrationDate)
				requireTimeEqual(t, tt.want[i].NewDueDate, got[i].NewDueDate)
				got[i].At, got[i].RegistrationDate, got[i].NewDueDate = nil, nil, nil
				tt.want[i].At, tt.want[i].RegistrationDate, tt.want[i].NewDueDate = nil, nil, nil
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func requireTimeEqual(t *testing.T, want, got *time.Time) {
	t.Helper()
	if want == nil {
		require.Nil(t, got)
		return
	}
	require.NotNil(t, got)
	require.True(t, want.Equal(*got), "got %v, want %v", got, want)
}

func TestDecodeAuthorityMessagesBatchLimit(t *testing.T) {
	t.Parallel()

	msgs := make([]string, MaxAuthorityMessages+1)
	for i := range msgs {
		msgs[i] = strings.Replace(msg("delivered", ""), `"m-1"`, fmt.Sprintf(`"m-%d"`, i), 1)
	}
	got, err := DecodeAuthorityMessages([]byte(batch(msgs[:MaxAuthorityMessages]...)))
	require.NoError(t, err)
	require.Len(t, got, MaxAuthorityMessages)
	require.Equal(t, "m-99", got[99].MessageID)

	_, err = DecodeAuthorityMessages([]byte(batch(msgs...)))
	requireProblem(t, err, CodeSchemaViolation, "/messages")
}

func TestDecodeAuthorityMessagesBad(t *testing.T) {
	t.Parallel()

	deep := strings.Repeat(`{"a":`, MaxJSONDepth+1) + "1" + strings.Repeat("}", MaxJSONDepth+1)
	tests := []struct {
		name     string
		body     string
		code     Code
		pointers []string // every field problem, sorted
		message  string   // part of the first problem's message, when set
	}{
		{name: "empty body", body: "", code: CodeMalformedJSON},
		{name: "invalid UTF-8", body: msg("status", ",\"text\":\"\xff\""), code: CodeInvalidUTF8},
		{name: "lone surrogate", body: msg("status", `,"text":"\udc00"`), code: CodeInvalidUTF8},
		{name: "raw NUL", body: msg("status", ",\"text\":\"a\x00\""), code: CodeNULCharacter},
		{name: "escaped NUL", body: msg("refused", `,"refusal_code":"duplicate","refusal_text":"a\u0000"`), code: CodeNULCharacter, pointers: []string{"/refusal_text"}},
		{name: "truncated", body: `{"format":"appealhub.message.v1"`, code: CodeMalformedJSON},
		{name: "trailing data", body: msg("delivered", "") + `{}`, code: CodeMalformedJSON},
		{name: "too deep", body: deep, code: CodeMalformedJSON},
		{name: "duplicate key", body: msg("delivered", `,"type":"accepted"`), code: CodeDuplicateKey, pointers: []string{"/type"}},
		{name: "duplicate key in a batch", body: batch(msg("delivered", `,"at":"2026-03-01T10:00:00Z","at":"2026-03-01T10:00:00Z"`)), code: CodeDuplicateKey, pointers: []string{"/messages/0/at"}},
		{name: "number out of range", body: `{"type":1e999}`, code: CodeSchemaViolation, pointers: []string{"/type"}},
		{name: "null", body: `null`, code: CodeSchemaViolation, pointers: []string{""}, message: "must be object"},
		{name: "array", body: `[` + msg("delivered", "") + `]`, code: CodeSchemaViolation, pointers: []string{""}, message: "must be object, not array"},
		{name: "missing everything", body: `{}`, code: CodeSchemaViolation, pointers: []string{"/format", "/message_id", "/of", "/type"}},
		{name: "wrong format", body: strings.Replace(msg("delivered", ""), ".v1", ".v2", 1), code: CodeSchemaViolation, pointers: []string{"/format"}, message: `must be "appealhub.message.v1"`},
		{name: "unknown type", body: msg("lost", ""), code: CodeSchemaViolation, pointers: []string{"/type"}, message: "must be one of"},
		{name: "field name case", body: strings.Replace(msg("delivered", ""), `"type"`, `"Type"`, 1), code: CodeSchemaViolation, pointers: []string{"/Type", "/type"}, message: `did you mean "type"?`},
		{name: "unknown field", body: msg("delivered", `,"comment":"x"`), code: CodeSchemaViolation, pointers: []string{"/comment"}, message: "is not a known field"},
		{name: "message id with a space", body: strings.Replace(msg("delivered", ""), `"m-1"`, `"m 1"`, 1), code: CodeSchemaViolation, pointers: []string{"/message_id"}, message: "printable ASCII"},
		{name: "empty of", body: strings.Replace(msg("delivered", ""), `"d-1"`, `""`, 1), code: CodeSchemaViolation, pointers: []string{"/of"}},
		{name: "bad at", body: msg("delivered", `,"at":"2026-03-01 10:00:00"`), code: CodeSchemaViolation, pointers: []string{"/at"}, message: "RFC 3339"},
		{name: "registered without number and date", body: msg("registered", ""), code: CodeSchemaViolation, pointers: []string{"/registration_date", "/registration_number"}, message: "is required when type is registered"},
		{name: "registered with a blank number", body: msg("registered", `,"registration_number":"  ","registration_date":"2026-03-02T09:30:00Z"`), code: CodeSchemaViolation, pointers: []string{"/registration_number"}, message: "non-blank"},
		{name: "registered with a date only", body: msg("registered", `,"registration_number":"1","registration_date":"2026-03-02"`), code: CodeSchemaViolation, pointers: []string{"/registration_date"}},
		{name: "refused without code and text", body: msg("refused", ""), code: CodeSchemaViolation, pointers: []string{"/refusal_code", "/refusal_text"}, message: "when type is refused"},
		{name: "refused on an unknown ground", body: msg("refused", `,"refusal_code":"too_long","refusal_text":"x"`), code: CodeSchemaViolation, pointers: []string{"/refusal_code"}, message: `"wrong_form"`},
		{name: "extended without date and reason", body: msg("extended", ""), code: CodeSchemaViolation, pointers: []string{"/new_due_date", "/reason"}, message: "when type is extended"},
		{name: "forwarded without reason", body: msg("forwarded", `,"forwarded_to":"04012345"`), code: CodeSchemaViolation, pointers: []string{"/reason"}, message: "when type is forwarded"},
		{name: "forwarded to 7 digits", body: msg("forwarded", `,"forwarded_to":"0401234","reason":"x"`), code: CodeSchemaViolation, pointers: []string{"/forwarded_to"}, message: "8-digit"},
		{name: "answered with nothing", body: msg("answered", ""), code: CodeSchemaViolation, pointers: []string{"/documents", "/outcome"}},
		{name: "answered without text or documents", body: msg("answered", `,"outcome":"satisfied"`), code: CodeSchemaViolation, pointers: []string{"/documents"}, message: "when type is answered and there is no text"},
		{name: "answered with no documents", body: msg("answered", `,"outcome":"satisfied","documents":[]`), code: CodeSchemaViolation, pointers: []string{"/documents"}, message: "at least 1"},
		{name: "answered with an unknown outcome", body: msg("answered", `,"outcome":"ignored","text":"x"`), code: CodeSchemaViolation, pointers: []string{"/outcome"}},
		{name: "refused answer without legal basis", body: msg("answered", `,"outcome":"refused","text":"Ні."`), code: CodeSchemaViolation, pointers: []string{"/appeal_procedure", "/legal_basis"}, message: "when type is answered with outcome refused"},
		{
			name:     "document with bad base64, path and media type",
			body:     msg("answered", `,"outcome":"satisfied","documents":[{"file_name":"../a.pdf","media_type":"application/pdf; q=1","content":"JVBE\nRi0xLjcK"}]`),
			code:     CodeSchemaViolation,
			pointers: []string{"/documents/0/content", "/documents/0/file_name", "/documents/0/media_type"},
		},
		{name: "document without content", body: msg("answered", `,"outcome":"satisfied","documents":[{"file_name":"a.pdf","media_type":"application/pdf"}]`), code: CodeSchemaViolation, pointers: []string{"/documents/0/content"}},
		{name: "document with empty content", body: msg("answered", `,"outcome":"satisfied","documents":[{"file_name":"a.pdf","media_type":"application/pdf","content":""}]`), code: CodeSchemaViolation, pointers: []string{"/documents/0/content"}},
		{name: "document named ..", body: msg("answered", `,"outcome":"satisfied","documents":[{"file_name":"..","media_type":"application/pdf","content":"JVBERi0xLjcK"}]`), code: CodeSchemaViolation, pointers: []string{"/documents/0/file_name"}},
		{name: "two documents with one name", body: msg("answered", `,"outcome":"satisfied","documents":[`+pdf+`,`+pdf+`]`), code: CodeSchemaViolation, pointers: []string{"/documents/1/file_name"}, message: "earlier document"},
		{name: "signature of another file", body: msg("answered", `,"outcome":"satisfied","documents":[`+strings.Replace(pdf, `"of":"answer.pdf"`, `"of":"other.pdf"`, 1)+`]`), code: CodeSchemaViolation, pointers: []string{"/documents/0/signatures/0/of"}},
		{name: "signature in an unknown format", body: msg("answered", `,"outcome":"satisfied","documents":[`+strings.Replace(pdf, "cades-detached", "pkcs7", 1)+`]`), code: CodeSchemaViolation, pointers: []string{"/documents/0/signatures/0/format"}},
		{name: "empty batch", body: batch(), code: CodeSchemaViolation, pointers: []string{"/messages"}},
		{name: "batch not an array", body: `{"messages":{}}`, code: CodeSchemaViolation, pointers: []string{"/messages"}},
		{name: "batch with a format", body: `{"format":"appealhub.message.v1","messages":[` + msg("delivered", "") + `]}`, code: CodeSchemaViolation, pointers: []string{"/format"}, message: "is not a known field"},
		{name: "batch repeats a message id", body: batch(msg("delivered", ""), msg("accepted", "")), code: CodeSchemaViolation, pointers: []string{"/messages/1/message_id"}, message: "earlier message"},
		{
			name:     "problems in several messages",
			body:     batch(msg("registered", ""), `{}`, `"x"`),
			code:     CodeSchemaViolation,
			pointers: []string{"/messages/0/registration_date", "/messages/0/registration_number", "/messages/1/format", "/messages/1/message_id", "/messages/1/of", "/messages/1/type", "/messages/2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeAuthorityMessages([]byte(tt.body))
			require.Nil(t, got)
			perr := requireProblem(t, err, tt.code, tt.pointers...)
			if tt.message != "" {
				require.Contains(t, perr.Fields[0].Message, tt.message)
			}
			if tt.code == CodeSchemaViolation {
				require.Equal(t, "the authority message does not match the schema", perr.Detail)
			}
		})
	}
}

// requireProblem checks that err is an *Error with code and exactly the field pointers given.
func requireProblem(t *testing.T, err error, code Code, pointers ...string) *Error {
	t.Helper()
	perr, ok := errors.AsType[*Error](err)
	require.True(t, ok, "want *Error, got %T: %v", err, err)
	require.Equal(t, code, perr.Code, "error: %v", err)
	got := make([]string, 0, len(perr.Fields))
	for _, f := range perr.Fields {
		got = append(got, f.Pointer)
		require.NotEmpty(t, f.Message)
	}
	if len(pointers) == 0 {
		pointers = []string{}
	}
	require.Equal(t, pointers, got, "error: %v", err)
	return perr
}

func TestDecodeAuthorityMessagesDoesNotEchoValues(t *testing.T) {
	t.Parallel()

	const secret = "Коваленко-Олена-380671234567"
	_, err := DecodeAuthorityMessages([]byte(batch(
		msg("refused", `,"refusal_code":"`+secret+`","refusal_text":"x"`),
		strings.Replace(msg("answered", `,"outcome":"`+secret+`","text":"x","`+secret+`":1`), `"m-1"`, `"m-2"`, 1),
	)))
	perr := requireProblem(t, err, CodeSchemaViolation, "/messages/0/refusal_code", "/messages/1/outcome", "/messages/1/"+secret)
	for _, f := range perr.Fields[:2] {
		require.NotContains(t, f.Message, secret)
	}
}

func TestDecodeAuthorityMessagesConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = DecodeAuthorityMessages([]byte(msg("delivered", "")))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestValidateDelivery(t *testing.T) {
	t.Parallel()

	sub := `{"case_kind":"appeal","appeal_kind":"proposal","applicant":{"surname":"Коваль","name":"Олег"},` +
		`"addressees":["19863933"],"subject":"Тема","text":"Текст звернення."}`
	doc := func(members string) string {
		return `{"format":"appealhub.delivery.v1","delivery_id":"0190f5a0-0000-7000-8000-0000000000aa",` +
			`"appeal_id":"0190f5a0-0000-7000-8000-000000000001","tracking_number":"ZV-2026-00000001","authority":"19863933",` +
			`"attempt":1,"received_at":"2026-03-01T10:00:00.123Z"` + members + `}`
	}
	require.NoError(t, ValidateDelivery([]byte(doc(`,"submission":`+sub))))

	tests := []struct {
		name     string
		body     string
		code     Code
		pointers []string
	}{
		{name: "not JSON", body: `<Header/>`, code: CodeMalformedJSON},
		{name: "duplicate key", body: doc(`,"attempt":2,"submission":` + sub), code: CodeDuplicateKey, pointers: []string{"/attempt"}},
		{name: "no submission", body: doc(""), code: CodeSchemaViolation, pointers: []string{"/submission"}},
		{name: "submission not an object", body: doc(`,"submission":"x"`), code: CodeSchemaViolation, pointers: []string{"/submission"}},
		{name: "submission breaks its schema", body: doc(`,"submission":` + strings.Replace(sub, `"name"`, `"Name"`, 1)), code: CodeSchemaViolation, pointers: []string{"/submission/applicant/Name", "/submission/applicant/name"}},
		{name: "submission breaks its rules", body: doc(`,"submission":` + strings.Replace(sub, `"addressees":["19863933"],`, "", 1)), code: CodeSchemaViolation, pointers: []string{"/submission/addressees"}},
		{name: "wrong format", body: strings.Replace(doc(`,"submission":`+sub), "delivery.v1", "delivery.v2", 1), code: CodeSchemaViolation, pointers: []string{"/format"}},
		{name: "attempt zero", body: strings.Replace(doc(`,"submission":`+sub), `"attempt":1`, `"attempt":0`, 1), code: CodeSchemaViolation, pointers: []string{"/attempt"}},
		{name: "authority not EDRPOU", body: strings.Replace(doc(`,"submission":`+sub), `"authority":"19863933"`, `"authority":"1986393"`, 1), code: CodeSchemaViolation, pointers: []string{"/authority"}},
		{name: "unknown member", body: doc(`,"submission":` + sub + `,"priority":1`), code: CodeSchemaViolation, pointers: []string{"/priority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			perr := requireProblem(t, ValidateDelivery([]byte(tt.body)), tt.code, tt.pointers...)
			if tt.code == CodeSchemaViolation {
				require.Equal(t, "the delivery document does not match the schema", perr.Detail)
			}
		})
	}
}

// TestAuthorityMessageSchemaMatchesTypes keeps the schema and the Go types in step: the properties
// of a message, a document and a signature are the JSON names of the Go fields, and every enum is
// the Go vocabulary.
func TestAuthorityMessageSchemaMatchesTypes(t *testing.T) {
	t.Parallel()

	var doc struct {
		Defs map[string]struct {
			Properties map[string]struct {
				Enum  []string `json:"enum"`
				Const string   `json:"const"`
			} `json:"properties"`
			Required []string `json:"required"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(AuthorityMessageSchemaJSON(), &doc))

	for def, typ := range map[string]reflect.Type{
		"message":   reflect.TypeFor[AuthorityMessage](),
		"document":  reflect.TypeFor[AuthorityDocument](),
		"signature": reflect.TypeFor[Signature](),
	} {
		want := jsonNames(typ)
		if def == "message" {
			want = append(want, "format")
		}
		props := doc.Defs[def].Properties
		got := make([]string, 0, len(props))
		for name := range props {
			got = append(got, name)
		}
		require.ElementsMatch(t, want, got, "$defs/%s", def)
		for _, name := range doc.Defs[def].Required {
			require.Contains(t, props, name, "$defs/%s requires an undeclared property", def)
		}
	}

	props := doc.Defs["message"].Properties
	require.Equal(t, AuthorityMessageFormat, props["format"].Const)
	require.Equal(t, RefusalCodes(), props["refusal_code"].Enum)
	require.Equal(t, []string{
		string(MsgDelivered), string(MsgAccepted), string(MsgRegistered), string(MsgRefused), string(MsgStatus),
		string(MsgExtended), string(MsgForwarded), string(MsgReturned), string(MsgNotConsidered), string(MsgAnswered),
	}, props["type"].Enum)
	require.Equal(t, []string{
		string(OutcomeSatisfied), string(OutcomePartiallySatisfied), string(OutcomeRefused), string(OutcomeExplained), string(OutcomeNotHeld),
	}, props["outcome"].Enum)

	var del struct {
		Properties map[string]struct {
			Const string `json:"const"`
			Ref   string `json:"$ref"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(DeliverySchemaJSON(), &del))
	require.Equal(t, DeliveryFormat, del.Properties["format"].Const)
	require.Equal(t, SubmissionSchemaURL, del.Properties["submission"].Ref)
}

// jsonNames returns the JSON member names of a struct type's fields.
func jsonNames(typ reflect.Type) []string {
	var names []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

func TestAuthoritySchemasCompileWithIDs(t *testing.T) {
	t.Parallel()
	require.NoError(t, compiledAuthoritySchemas())
	for url, body := range map[string][]byte{
		DeliverySchemaURL:         DeliverySchemaJSON(),
		AuthorityMessageSchemaURL: AuthorityMessageSchemaJSON(),
	} {
		var doc struct {
			ID     string `json:"$id"`
			Schema string `json:"$schema"`
		}
		require.NoError(t, json.Unmarshal(body, &doc))
		require.Equal(t, url, doc.ID)
		require.Equal(t, "https://json-schema.org/draft/2020-12/schema", doc.Schema)
	}
	// The getters return copies.
	b := DeliverySchemaJSON()
	b[0] = 'x'
	require.Equal(t, byte('{'), DeliverySchemaJSON()[0])
}

func TestAuthoritySchemaPatternsHaveMessages(t *testing.T) {
	t.Parallel()
	for _, body := range [][]byte{DeliverySchemaJSON(), AuthorityMessageSchemaJSON()} {
		var doc any
		require.NoError(t, json.Unmarshal(body, &doc))
		var patterns []string
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, c := range v {
					if p, ok := c.(string); ok && k == "pattern" {
						patterns = append(patterns, p)
					}
					walk(c)
				}
			case []any:
				for _, c := range v {
					walk(c)
				}
			}
		}
		walk(doc)
		require.NotEmpty(t, patterns)
		for _, p := range patterns {
			require.Contains(t, patternMessages, p, "a pattern without a message in words")
		}
	}
}

func TestMessageConditionsPointAtRules(t *testing.T) {
	t.Parallel()
	var doc struct {
		Defs struct {
			Message struct {
				AllOf []json.RawMessage `json:"allOf"`
			} `json:"message"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(AuthorityMessageSchemaJSON(), &doc))
	require.Len(t, messageConditions, len(doc.Defs.Message.AllOf), "one condition per per-type rule")
	for i := range doc.Defs.Message.AllOf {
		require.Contains(t, messageConditions, fmt.Sprintf("%s#/$defs/message/allOf/%d/then", AuthorityMessageSchemaURL, i))
	}
}

func TestRefusalCodes(t *testing.T) {
	t.Parallel()
	codes := RefusalCodes()
	require.Len(t, codes, 11, "the closed list of resolution No. 55 has 11 grounds")
	seen := make(map[string]bool)
	for _, c := range codes {
		require.False(t, seen[c], "duplicate refusal code %s", c)
		seen[c] = true
		require.Regexp(t, `^[a-z][a-z_]*$`, c)
		require.NotEmpty(t, RefusalText(c), c)
		// Every code is accepted, with its text as refusal_text.
		_, err := DecodeAuthorityMessages([]byte(msg("refused", `,"refusal_code":"`+c+`","refusal_text":"`+RefusalText(c)+`"`)))
		require.NoError(t, err, c)
	}
	require.Empty(t, RefusalText("too_long"))
	require.True(t, slices.Contains(codes, RefusalSealMissingOrInvalid))
}
