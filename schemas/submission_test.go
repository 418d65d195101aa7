package schemas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// minimal is the smallest valid submission; bad cases mutate a copy of it.
const minimal = `{"case_kind":"appeal","appeal_kind":"proposal","applicant":{"surname":"Коваль","name":"Олег"},` +
	`"addressees":["19863933"],"subject":"Тема","text":"Текст звернення."}`

// withMinimal decodes minimal into a map, applies f and encodes the result.
func withMinimal(t testing.TB, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(minimal), &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func applicant(m map[string]any) map[string]any { return m["applicant"].(map[string]any) }

func attachment(content []byte) map[string]any {
	return map[string]any{"file_name": "a.txt", "media_type": "text/plain", "content": base64.StdEncoding.EncodeToString(content)}
}

// loadTestdata returns every submission in testdata: each element of submissions.json and full.json.
func loadTestdata(t testing.TB) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	raw, err := os.ReadFile(filepath.Join("testdata", "submissions.json"))
	require.NoError(t, err)
	var list []json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &list))
	require.Len(t, list, 8)
	for i, s := range list {
		out[fmt.Sprintf("fixture-%d", i)] = s
	}
	full, err := os.ReadFile(filepath.Join("testdata", "full.json"))
	require.NoError(t, err)
	out["full"] = full
	return out
}

func TestDecodeSubmissionAcceptsFixtures(t *testing.T) {
	t.Parallel()
	for name, body := range loadTestdata(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sub, err := DecodeSubmission(body)
			require.NoError(t, err)
			require.NotEmpty(t, sub.CaseKind)
			require.NotEmpty(t, sub.Applicant.Surname)
			require.True(t, len(sub.Addressees) > 0 || (sub.Topic != "" && sub.Territory != ""))
		})
	}
}

func TestDecodeSubmissionFixtureContent(t *testing.T) {
	t.Parallel()
	data := loadTestdata(t)

	sub, err := DecodeSubmission(data["fixture-6"])
	require.NoError(t, err)
	require.Len(t, sub.Attachments, 1)
	require.Equal(t, "Довідка про трудовий стаж: 35 років 4 місяці.", string(sub.Attachments[0].Content))

	sub, err = DecodeSubmission(data["fixture-1"])
	require.NoError(t, err)
	require.Empty(t, sub.Addressees)
	require.Equal(t, "transport", sub.Topic)
	require.Equal(t, "UA05000000000000000", sub.Territory)

	sub, err = DecodeSubmission(data["full"])
	require.NoError(t, err)
	require.Equal(t, CaseInfoRequest, sub.CaseKind)
	require.True(t, sub.Urgent)
	require.Equal(t, 3, sub.CoSigners)
	require.Equal(t, "att-1", sub.Attachments[0].ID)
	require.Equal(t, int64(len(sub.Attachments[0].Content)), sub.Attachments[0].Size)
	require.Equal(t, []byte("\x30\x82\x01\x00sig"), sub.Signatures[0].Value)
	require.NotNil(t, sub.SubmittedAt)
	require.True(t, sub.SubmittedAt.Equal(time.Date(2026, 3, 1, 8, 15, 30, 123e6, time.UTC)))
}

func TestDecodeSubmissionGood(t *testing.T) {
	t.Parallel()
	content := []byte("hello")
	tests := []struct {
		name string
		body []byte
	}{
		{"minimal", []byte(minimal)},
		{"surrogate pair escape", []byte(strings.Replace(minimal, `"Тема"`, `"Тема \ud83d\ude00"`, 1))},
		{"text of exactly 100000 Cyrillic characters", withMinimal(t, func(m map[string]any) { m["text"] = strings.Repeat("ї", 100000) })},
		{"topic and territory with empty addressees", withMinimal(t, func(m map[string]any) {
			m["addressees"] = []any{}
			m["topic"] = "roads"
			m["territory"] = "UA46060250010015970"
		})},
		{"upper-case sha256 and matching size", withMinimal(t, func(m map[string]any) {
			a := attachment(content)
			a["size"] = len(content)
			a["sha256"] = strings.ToUpper(sha256Hex(content))
			m["attachments"] = []any{a}
		})},
		{"empty attachment", withMinimal(t, func(m map[string]any) {
			a := attachment(nil)
			a["size"] = 0
			m["attachments"] = []any{a}
		})},
		{"info request without appeal_kind", withMinimal(t, func(m map[string]any) {
			m["case_kind"] = "info_request"
			delete(m, "appeal_kind")
		})},
		{"co_signers at the bounds", withMinimal(t, func(m map[string]any) { m["co_signers"] = 100000 })},
		{"whitespace around tokens", []byte("\n\t " + strings.ReplaceAll(minimal, ",", " ,\r\n ") + " \n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeSubmission(tt.body)
			require.NoError(t, err)
		})
	}
}

func TestDecodeSubmissionBad(t *testing.T) {
	t.Parallel()
	nested := func(depth int) []byte {
		return withMinimalRaw(`"topic_codes":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1))
	}
	tests := []struct {
		name     string
		body     []byte
		code     Code
		pointers []string // exact set of pointers, when not nil
	}{
		// encoding
		{"invalid UTF-8 in a value", []byte(strings.Replace(minimal, "Тема", "Т\xffма", 1)), CodeInvalidUTF8, nil},
		{"invalid UTF-8 in a key", []byte(strings.Replace(minimal, `"subject"`, "\"sub\xc3ject\"", 1)), CodeInvalidUTF8, nil},
		{"truncated UTF-8 sequence at the end", append([]byte(minimal), 0xd0), CodeInvalidUTF8, nil},
		{"lone high surrogate escape", []byte(strings.Replace(minimal, `"Тема"`, `"\ud800"`, 1)), CodeInvalidUTF8, nil},
		{"lone low surrogate escape", []byte(strings.Replace(minimal, `"Тема"`, `"\udc00x"`, 1)), CodeInvalidUTF8, nil},
		{"high surrogate then a non-surrogate escape", []byte(strings.Replace(minimal, `"Тема"`, `"\ud800\u0041"`, 1)), CodeInvalidUTF8, nil},
		{"raw NUL byte", []byte(strings.Replace(minimal, "Тема", "Те\x00ма", 1)), CodeNULCharacter, nil},
		{"escaped NUL in a value", []byte(strings.Replace(minimal, "Тема", `Те\u0000ма`, 1)), CodeNULCharacter, []string{"/subject"}},
		{"escaped NUL in a nested key", []byte(strings.Replace(minimal, `"name"`, `"na\u0000me"`, 1)), CodeNULCharacter, []string{"/applicant"}},
		// syntax
		{"empty body", nil, CodeMalformedJSON, nil},
		{"whitespace only", []byte(" \n"), CodeMalformedJSON, nil},
		{"truncated object", []byte(minimal[:len(minimal)-1]), CodeMalformedJSON, nil},
		{"missing value", []byte(`{"case_kind":}`), CodeMalformedJSON, nil},
		{"trailing comma", []byte(strings.Replace(minimal, `"Олег"}`, `"Олег",}`, 1)), CodeMalformedJSON, nil},
		{"second value after the object", []byte(minimal + ` {}`), CodeMalformedJSON, nil},
		{"garbage after the object", []byte(minimal + `x`), CodeMalformedJSON, nil},
		{"single quotes", []byte(`{'case_kind':'appeal'}`), CodeMalformedJSON, nil},
		{"nesting 65 deep", nested(65), CodeMalformedJSON, nil},
		{"very deep nesting", []byte(strings.Repeat("[", 100000)), CodeMalformedJSON, nil},
		// duplicates
		{"duplicate top-level key", []byte(strings.Replace(minimal, `"subject":"Тема"`, `"subject":"Тема","subject":"Інша"`, 1)), CodeDuplicateKey, []string{"/subject"}},
		{"duplicate nested key", []byte(strings.Replace(minimal, `"name":"Олег"`, `"name":"Олег","name":"Ігор"`, 1)), CodeDuplicateKey, []string{"/applicant/name"}},
		{"duplicate key inside an array element", withMinimalRaw(`"attachments":[{"file_name":"a","file_name":"b"}]`), CodeDuplicateKey, []string{"/attachments/0/file_name"}},
		{"duplicate key needing pointer escapes", withMinimalRaw(`"a/b~c":1,"a/b~c":2`), CodeDuplicateKey, []string{"/a~1b~0c"}},
		// schema
		{"nesting 64 deep is syntax-valid but not schema-valid", nested(64), CodeSchemaViolation, nil},
		{"an array of 1,001 members", withMinimalRaw(`"topic_codes":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 1001), ",") + `]`), CodeSchemaViolation, nil},
		{"an object of 1,001 members", withMinimalRaw(`"extra":{` + func() string {
			var b strings.Builder
			for i := range 1001 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"k%d":1`, i)
			}
			return b.String()
		}() + `}`), CodeSchemaViolation, nil},
		{"not an object", []byte(`[]`), CodeSchemaViolation, []string{""}},
		{"null", []byte(`null`), CodeSchemaViolation, []string{""}},
		{"key differing only in case", []byte(strings.Replace(minimal, `"subject"`, `"Subject"`, 1)), CodeSchemaViolation, []string{"/Subject", "/subject"}},
		{"nested key differing only in case", []byte(strings.Replace(minimal, `"surname"`, `"SURNAME"`, 1)), CodeSchemaViolation, []string{"/applicant/SURNAME", "/applicant/surname"}},
		{"unknown field", withMinimal(t, func(m map[string]any) { m["authority_id"] = "A" }), CodeSchemaViolation, []string{"/authority_id"}},
		{"unknown nested field", withMinimal(t, func(m map[string]any) { applicant(m)["passport"] = "X" }), CodeSchemaViolation, []string{"/applicant/passport"}},
		{"missing text", withMinimal(t, func(m map[string]any) { delete(m, "text") }), CodeSchemaViolation, []string{"/text"}},
		{"missing applicant fields", withMinimal(t, func(m map[string]any) { m["applicant"] = map[string]any{} }), CodeSchemaViolation, []string{"/applicant/name", "/applicant/surname"}},
		{"empty surname", withMinimal(t, func(m map[string]any) { applicant(m)["surname"] = "" }), CodeSchemaViolation, []string{"/applicant/surname"}},
		{"blank subject", withMinimal(t, func(m map[string]any) { m["subject"] = " \t " }), CodeSchemaViolation, []string{"/subject"}},
		{"wrong type", withMinimal(t, func(m map[string]any) { m["co_signers"] = "3" }), CodeSchemaViolation, []string{"/co_signers"}},
		{"wrong type bool", withMinimal(t, func(m map[string]any) { m["urgent"] = "yes" }), CodeSchemaViolation, []string{"/urgent"}},
		{"negative co_signers", withMinimal(t, func(m map[string]any) { m["co_signers"] = -1 }), CodeSchemaViolation, []string{"/co_signers"}},
		{"too many co_signers", withMinimal(t, func(m map[string]any) { m["co_signers"] = 100001 }), CodeSchemaViolation, []string{"/co_signers"}},
		{"fractional co_signers", withMinimal(t, func(m map[string]any) { m["co_signers"] = 1.5 }), CodeSchemaViolation, []string{"/co_signers"}},
		{"integer with a fraction", withMinimalRaw(`"co_signers":1.0`), CodeSchemaViolation, []string{"/co_signers"}},
		{"integer with an exponent", withMinimalRaw(`"co_signers":1e3`), CodeSchemaViolation, []string{"/co_signers"}},
		{"1e400", withMinimalRaw(`"co_signers":1e400`), CodeSchemaViolation, []string{"/co_signers"}},
		{"huge exponent", withMinimalRaw(`"co_signers":1e1000000000`), CodeSchemaViolation, []string{"/co_signers"}},
		{"huge negative exponent", withMinimalRaw(`"urgent":-1e-1000000000`), CodeSchemaViolation, []string{"/urgent"}},
		{"very long integer", withMinimalRaw(`"co_signers":` + strings.Repeat("9", 100)), CodeSchemaViolation, []string{"/co_signers"}},
		{"bad case_kind", withMinimal(t, func(m map[string]any) { m["case_kind"] = "petition" }), CodeSchemaViolation, []string{"/case_kind"}},
		{"appeal without appeal_kind", withMinimal(t, func(m map[string]any) { delete(m, "appeal_kind") }), CodeSchemaViolation, []string{"/appeal_kind"}},
		{"bad appeal_kind", withMinimal(t, func(m map[string]any) { m["appeal_kind"] = "petition" }), CodeSchemaViolation, []string{"/appeal_kind"}},
		{"info request with appeal_kind", withMinimal(t, func(m map[string]any) { m["case_kind"] = "info_request" }), CodeSchemaViolation, []string{"/appeal_kind"}},
		{"urgent without reason", withMinimal(t, func(m map[string]any) { m["urgent"] = true }), CodeSchemaViolation, []string{"/urgency_reason"}},
		{"addressee not 8 digits", withMinimal(t, func(m map[string]any) { m["addressees"] = []any{"19863933", "1986393"} }), CodeSchemaViolation, []string{"/addressees/1"}},
		{"repeated addressee", withMinimal(t, func(m map[string]any) { m["addressees"] = []any{"19863933", "19863933"} }), CodeSchemaViolation, []string{"/addressees"}},
		{"too many addressees", withMinimal(t, func(m map[string]any) {
			var a []any
			for i := range 51 {
				a = append(a, fmt.Sprintf("%08d", i))
			}
			m["addressees"] = a
		}), CodeSchemaViolation, []string{"/addressees"}},
		{"no addressees and no topic", withMinimal(t, func(m map[string]any) { delete(m, "addressees") }), CodeSchemaViolation, []string{"/addressees"}},
		{"empty addressees and topic only", withMinimal(t, func(m map[string]any) { m["addressees"] = []any{}; m["topic"] = "roads" }), CodeSchemaViolation, []string{"/addressees"}},
		{"bad territory", withMinimal(t, func(m map[string]any) { m["territory"] = "UA123" }), CodeSchemaViolation, []string{"/territory"}},
		{"bad topic code", withMinimal(t, func(m map[string]any) { m["topic_codes"] = []any{"Roads"} }), CodeSchemaViolation, []string{"/topic_codes/0"}},
		{"text too long", withMinimal(t, func(m map[string]any) { m["text"] = strings.Repeat("ї", 100001) }), CodeSchemaViolation, []string{"/text"}},
		{"subject too long", withMinimal(t, func(m map[string]any) { m["subject"] = strings.Repeat("a", 1001) }), CodeSchemaViolation, []string{"/subject"}},
		{"surname too long", withMinimal(t, func(m map[string]any) { applicant(m)["surname"] = strings.Repeat("a", 201) }), CodeSchemaViolation, []string{"/applicant/surname"}},
		{"bad email", withMinimal(t, func(m map[string]any) { applicant(m)["email"] = "not-an-email" }), CodeSchemaViolation, []string{"/applicant/email"}},
		{"bad date-time", withMinimal(t, func(m map[string]any) { m["submitted_at"] = "2026-13-01T00:00:00Z" }), CodeSchemaViolation, []string{"/submitted_at"}},
		{"lower-case date-time separator", withMinimal(t, func(m map[string]any) { m["submitted_at"] = "2026-01-01t00:00:00z" }), CodeSchemaViolation, []string{"/submitted_at"}},
		{"leap second", withMinimal(t, func(m map[string]any) { m["submitted_at"] = "2016-12-31T23:59:60Z" }), CodeSchemaViolation, []string{"/submitted_at"}},
		{"attachment without content", withMinimal(t, func(m map[string]any) {
			m["attachments"] = []any{map[string]any{"file_name": "a.txt", "media_type": "text/plain"}}
		}), CodeSchemaViolation, []string{"/attachments/0/content"}},
		{"attachment content not base64", withMinimal(t, func(m map[string]any) {
			a := attachment(nil)
			a["content"] = "not base64!"
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/content"}},
		{"attachment content with a line break", withMinimal(t, func(m map[string]any) {
			a := attachment(nil)
			a["content"] = "aGVs\nbG8="
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/content"}},
		{"attachment size mismatch", withMinimal(t, func(m map[string]any) {
			a := attachment([]byte("hello"))
			a["size"] = 6
			m["attachments"] = []any{attachment([]byte("ok")), a}
		}), CodeSchemaViolation, []string{"/attachments/1/size"}},
		{"attachment sha256 mismatch", withMinimal(t, func(m map[string]any) {
			a := attachment([]byte("hello"))
			a["sha256"] = sha256Hex([]byte("hellO"))
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/sha256"}},
		{"attachment sha256 not hex", withMinimal(t, func(m map[string]any) {
			a := attachment([]byte("hello"))
			a["sha256"] = strings.Repeat("g", 64)
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/sha256"}},
		{"negative attachment size", withMinimal(t, func(m map[string]any) {
			a := attachment(nil)
			a["size"] = -1
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/size"}},
		{"file name with a path", withMinimal(t, func(m map[string]any) {
			a := attachment(nil)
			a["file_name"] = "../etc/passwd"
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/file_name"}},
		{"file name dot-dot", withMinimal(t, func(m map[string]any) {
			a := attachment(nil)
			a["file_name"] = ".."
			m["attachments"] = []any{a}
		}), CodeSchemaViolation, []string{"/attachments/0/file_name"}},
		{"repeated attachment id", withMinimal(t, func(m map[string]any) {
			a, b := attachment(nil), attachment(nil)
			a["id"], b["id"] = "x", "x"
			m["attachments"] = []any{a, b}
		}), CodeSchemaViolation, []string{"/attachments/1/id"}},
		{"bad signature format", withMinimal(t, func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"of": "text", "format": "pgp", "value": "QUJDRA=="}}
		}), CodeSchemaViolation, []string{"/signatures/0/format"}},
		{"signature of an unknown document", withMinimal(t, func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"of": "att-9", "format": "cades-detached", "value": "QUJDRA=="}}
		}), CodeSchemaViolation, []string{"/signatures/0/of"}},
		{"signature without value", withMinimal(t, func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"of": "text", "format": "cades-detached"}}
		}), CodeSchemaViolation, []string{"/signatures/0/value"}},
		{"every failing field is listed", withMinimal(t, func(m map[string]any) {
			delete(m, "text")
			m["case_kind"] = 7
			applicant(m)["Name"] = "x"
			m["addressees"] = []any{"1", "19863933"}
			m["co_signers"] = -5
			m["signatures"] = []any{map[string]any{"of": "text", "format": "cades-detached", "value": "%%%%"}}
		}), CodeSchemaViolation, []string{
			"/addressees/0", "/applicant/Name", "/case_kind", "/co_signers", "/signatures/0/value", "/text",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sub, err := DecodeSubmission(tt.body)
			require.Error(t, err)
			require.Zero(t, sub)
			perr, ok := errors.AsType[*Error](err)
			require.True(t, ok, "want *Error, got %T", err)
			require.Equal(t, tt.code, perr.Code, "error: %v", err)
			require.NotEmpty(t, perr.Detail)
			if tt.pointers != nil {
				var got []string
				for _, f := range perr.Fields {
					require.NotEmpty(t, f.Message)
					got = append(got, f.Pointer)
				}
				got = slices.Compact(got)
				require.Equal(t, tt.pointers, got, "error: %v", err)
			}
			if tt.code == CodeSchemaViolation {
				require.NotEmpty(t, perr.Fields)
			}
		})
	}
}

// withMinimalRaw inserts raw members into minimal, after its opening brace.
func withMinimalRaw(members string) []byte {
	return []byte("{" + members + "," + minimal[1:])
}

func TestDecodeSubmissionMessages(t *testing.T) {
	t.Parallel()
	_, err := DecodeSubmission([]byte(strings.Replace(minimal, `"surname"`, `"Surname"`, 1)))
	perr, ok := errors.AsType[*Error](err)
	require.True(t, ok)
	require.Equal(t, []FieldProblem{
		{Pointer: "/applicant/Surname", Message: `is not a known field; did you mean "surname"? (names are case-sensitive)`},
		{Pointer: "/applicant/surname", Message: "is required"},
	}, perr.Fields)

	// Messages never echo the submitted value: it may be personal data.
	secret := "Секретенко-1"
	_, err = DecodeSubmission(withMinimal(t, func(m map[string]any) {
		applicant(m)["phone"] = secret
		applicant(m)["email"] = secret
		m["addressees"] = []any{secret}
		m["case_kind"] = secret
	}))
	perr, ok = errors.AsType[*Error](err)
	require.True(t, ok)
	require.Len(t, perr.Fields, 4, "fields: %v", perr.Fields)
	require.NotContains(t, perr.Error(), secret)
}

func TestSchemaPatternsHaveMessages(t *testing.T) {
	t.Parallel()
	var doc any
	require.NoError(t, json.Unmarshal(SubmissionSchemaJSON(), &doc))
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
		require.Contains(t, patternMessages, p)
	}
}

func TestDecodeSubmissionConcurrent(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = DecodeSubmission([]byte(minimal))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestErrorType(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	e := Errorf(CodeUnknownAddressee, "addressee %s is not registered: %w", "12345678", cause)
	require.Equal(t, CodeUnknownAddressee, e.Code)
	require.ErrorIs(t, e, cause)
	require.Equal(t, "unknown_addressee: addressee 12345678 is not registered: boom: boom", e.Error())

	e = Errorf(CodeNotFound, "no case %q", "x")
	require.NoError(t, e.Unwrap())
	require.Equal(t, `not_found: no case "x"`, e.Error())

	e = &Error{Code: CodeSchemaViolation, Detail: "bad", Fields: []FieldProblem{{"/a", "is required"}, {"/b", "is bad"}}}
	require.Equal(t, "schema_violation: bad (/a is required; /b is bad)", e.Error())

	wrapped := fmt.Errorf("store appeal: %w", Errorf(CodeIdempotencyKeyReused, "reused"))
	got, ok := errors.AsType[*Error](wrapped)
	require.True(t, ok)
	require.Equal(t, CodeIdempotencyKeyReused, got.Code)

	down := fmt.Errorf("begin tx: %w", ErrUnavailable)
	require.ErrorIs(t, down, ErrUnavailable)
}

func TestCodesUnique(t *testing.T) {
	t.Parallel()
	seen := make(map[Code]bool)
	for _, c := range Codes() {
		require.False(t, seen[c], "duplicate code %s", c)
		require.Regexp(t, `^[a-z][a-z0-9_]*$`, string(c))
		seen[c] = true
	}
	require.Len(t, seen, 38, "a new code must be added to Codes(), the httpapi table and docs/errors.md")
}

func FuzzDecodeSubmission(f *testing.F) {
	for _, body := range loadTestdata(f) {
		f.Add(body)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"co_signers":1e400}`))
	f.Add([]byte(strings.Replace(minimal, `"Тема"`, `"\ud800"`, 1)))
	f.Fuzz(func(t *testing.T, body []byte) {
		sub, err := DecodeSubmission(body)
		if err != nil {
			perr, ok := errors.AsType[*Error](err)
			require.True(t, ok, "want *Error, got %T: %v", err, err)
			require.NotEqual(t, CodeInternal, perr.Code, "error: %v", err)
			return
		}
		// Anything accepted re-validates, and means the same thing.
		again, err := json.Marshal(sub)
		require.NoError(t, err)
		sub2, err := DecodeSubmission(again)
		require.NoError(t, err, "re-encoded: %s", again)
		again2, err := json.Marshal(sub2)
		require.NoError(t, err)
		require.True(t, bytes.Equal(again, again2))
	})
}
