package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// decodeSubmissionByPasses is the submission decoding DecodeSubmission replaced: the token scan,
// jsonschema.UnmarshalJSON and json.Decoder each reading the body. The one-pass reader must
// decide every body as it does.
func decodeSubmissionByPasses(body []byte) (Submission, error) {
	var sub Submission
	if err := checkEncoding(body); err != nil {
		return sub, err
	}
	scan, err := scanTokens(body)
	if err != nil {
		return sub, err
	}
	sch, raw, err := compiledSubmissionSchema()
	if err != nil {
		return sub, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return sub, &Error{Code: CodeMalformedJSON, Detail: "body is not valid JSON", Err: err}
	}
	var problems []FieldProblem
	if err := sch.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return sub, err
		}
		problems = flattenValidationError(verr, raw)
	}
	problems = append(problems, submissionRules(doc)...)
	if len(problems) > 0 {
		return sub, schemaViolation(problems)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sub); err != nil {
		problems := make([]FieldProblem, 0, len(scan.nonPlainNumbers))
		for _, p := range scan.nonPlainNumbers {
			problems = append(problems, FieldProblem{Pointer: p, Message: "must be written as a plain integer (no fraction or exponent)"})
		}
		if len(problems) == 0 {
			problems = append(problems, FieldProblem{Pointer: "", Message: "does not fit the submission type"})
		}
		return Submission{}, schemaViolation(problems)
	}
	return sub, nil
}

// requireSameDecision checks that DecodeSubmission and the reading by passes agree on body: the
// same submission, or refusals with the same code and fields.
func requireSameDecision(t *testing.T, body []byte) {
	t.Helper()
	got, gotErr := DecodeSubmission(body)
	want, wantErr := decodeSubmissionByPasses(body)
	if wantErr == nil {
		require.NoError(t, gotErr, "body %q", body)
		require.Equal(t, want, got, "body %q", body)
		return
	}
	require.Error(t, gotErr, "body %q: the reading by passes refused it: %v", body, wantErr)
	wantP, ok := errors.AsType[*Error](wantErr)
	require.True(t, ok, "reference error %T: %v", wantErr, wantErr)
	gotP, ok := errors.AsType[*Error](gotErr)
	require.True(t, ok, "error %T: %v", gotErr, gotErr)
	require.Equal(t, wantP.Code, gotP.Code, "body %q: %v vs %v", body, gotErr, wantErr)
	require.Equal(t, wantP.Fields, gotP.Fields, "body %q", body)
}

// decisionSeeds are bodies on every path of the reader: valid submissions, and each kind of refusal.
func decisionSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, b := range loadTestdata(t) {
		out = append(out, b)
	}
	m := minimal
	for _, s := range []string{
		m, " \n\t" + m + "\r\n", m + " x", m + "{}", m[:len(m)-1], "", " ", "null", "1", `"x"`, "[]", "{}", "[1,2,]", `{"a":1,}`,
		`{"a" 1}`, `{"a":1 "b":2}`, `{,}`, `[`, `{"a":`, `{"a":tru}`, `{"a":nul}`, `{"a":-}`, `{"a":01}`, `{"a":1.}`,
		`{"a":1e}`, `{"a":1e+}`, `{"a":-0.5e-3}`, `{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`,
		`{"a":1,"a":2}`, `{"b":{"a":1,"a":2}}`, `{"x/y~":{"k":1,"k":1}}`, `{"\u0000":1}`, `{"a":"\u0000"}`,
		`{"a":["ok","\u0000"]}`, `{"co_signers":1e400}`, `{"co_signers":1.0}`, `{"co_signers":1e3}`,
		`{"a":` + strings.Repeat("1", 70) + `}`, `{"a":1.` + strings.Repeat("1", 70) + `}`,
		strings.Repeat("[", 65) + strings.Repeat("]", 65), strings.Repeat("[", 64) + strings.Repeat("]", 64),
		strings.Replace(m, `"Тема"`, `"\ud800"`, 1), strings.Replace(m, `"Тема"`, `"\ud83d\ude00 \u00e9\n\"\\\/\b\f\r\t"`, 1),
		strings.Replace(m, `"Тема"`, `"\ud83dx"`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","co_signers":2.0`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","co_signers":20000000000000000000000`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","submitted_at":"2026-01-02T03:04:05Z"`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","submitted_at":"2026-01-02T03:04:05\u005a"`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","urgent":true,"urgency_reason":"x","collective":false,"topic_codes":[]`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","attachments":[]`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","unknown":1`, 1),
		strings.Replace(m, `"Олег"`, `"Олег","Name":"x"`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","attachments":[{"file_name":"a.txt","media_type":"text/plain","content":"aGk=","size":2}]`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","attachments":[{"file_name":"a.txt","media_type":"text/plain","content":"aGk=","size":3}]`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","attachments":[{"file_name":"a.txt","media_type":"text/plain","content":""}]`, 1),
		strings.Replace(m, `"Тема"`, `"Тема","attachments":[{"file_name":"a.txt","media_type":"text/plain","content":"aGk"}]`, 1),
	} {
		out = append(out, []byte(s))
	}
	return out
}

func TestDecodeSubmissionOnePassDecidesAsByPasses(t *testing.T) {
	for _, body := range decisionSeeds(t) {
		requireSameDecision(t, body)
	}
	many := `{"a":[` + strings.Repeat("1,", 1000) + `1]}`
	requireSameDecision(t, []byte(many))
	var members strings.Builder
	members.WriteString(`{`)
	for i := range 1001 {
		if i > 0 {
			members.WriteString(",")
		}
		members.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	members.WriteString(`}`)
	requireSameDecision(t, []byte(members.String()))
	requireSameDecision(t, []byte(withMinimal(t, func(m map[string]any) { m["subject"] = strings.Repeat("я", 10) })))
}

func FuzzDecodeSubmissionOnePass(f *testing.F) {
	for _, b := range decisionSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		requireSameDecision(t, body)
	})
}

// benchBody returns a valid submission of about size bytes: a text, and for sizes above 4 KiB an
// attachment of random-looking bytes.
func benchBody(b *testing.B, size int) []byte {
	b.Helper()
	body := withMinimal(b, func(m map[string]any) {
		m["text"] = strings.Repeat("Текст звернення. ", min(size, 2048)/32)
		if size > 4096 {
			content := make([]byte, (size-2048)*3/4)
			for i := range content {
				content[i] = byte(i*131 + i>>7)
			}
			att := attachment(content)
			sum := sha256.Sum256(content)
			att["size"] = len(content)
			att["sha256"] = hex.EncodeToString(sum[:])
			m["attachments"] = []any{att}
		}
	})
	_, err := DecodeSubmission(body)
	require.NoError(b, err)
	return body
}

// BenchmarkDecodeSubmission compares the one-pass reading with the reading by passes it replaced,
// on the same bodies in the same process.
func BenchmarkDecodeSubmission(b *testing.B) {
	for _, size := range []int{1024, 65536} {
		body := benchBody(b, size)
		for _, v := range []struct {
			name   string
			decode func([]byte) (Submission, error)
		}{{"one-pass", DecodeSubmission}, {"by-passes", decodeSubmissionByPasses}} {
			b.Run(fmt.Sprintf("%dB/%s", len(body), v.name), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.decode(body); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
