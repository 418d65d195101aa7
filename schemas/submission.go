package schemas

// This file is the one place in schemas that uses a module outside the standard library:
// github.com/santhosh-tekuri/jsonschema/v6 (JSON Schema draft 2020-12 validation). Keep it that way.

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// MaxJSONDepth is the deepest nesting of objects and arrays DecodeSubmission accepts; the top-level
// object is depth 1.
const MaxJSONDepth = 64

// maxFieldProblems bounds the field problems of one refusal, so that a body full of unknown keys
// cannot produce an answer larger than itself.
const maxFieldProblems = 1000

// maxJSONMembers bounds the elements of one array and the members of one object. No schema allows
// anywhere near as many; the token scan refuses more at once, so that a body of a million tiny
// elements costs a scan of its first thousand rather than a million schema problems.
const maxJSONMembers = 1000

// maxNumberLiteral bounds a number literal's length and exponent before it reaches the schema
// validator (which parses numbers as big.Rat): no field of a submission needs more.
const (
	maxNumberLiteral  = 64
	maxNumberExponent = 400
)

// SubmissionSchemaURL is the $id of the submission schema.
const SubmissionSchemaURL = "https://appealhub.example/schemas/submission.schema.json"

//go:embed submission.schema.json
var submissionSchemaJSON []byte

// SubmissionSchemaJSON returns a copy of the embedded submission schema
// (schemas/submission.schema.json).
func SubmissionSchemaJSON() []byte {
	return bytes.Clone(submissionSchemaJSON)
}

var submissionSchema struct {
	once sync.Once
	sch  *jsonschema.Schema
	raw  any // the schema document, to look up property names for hints
	err  error
}

// compiledSubmissionSchema compiles the embedded schema on first use; it is safe for concurrent use.
func compiledSubmissionSchema() (*jsonschema.Schema, any, error) {
	s := &submissionSchema
	s.once.Do(func() {
		raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(submissionSchemaJSON))
		if err != nil {
			s.err = fmt.Errorf("parse submission schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		c.AssertContent()
		// Agree with encoding/json and time.Time: what the schema accepts, Unmarshal must accept.
		c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: validateDateTime})
		c.RegisterContentEncoding(&jsonschema.Decoder{Name: "base64", Decode: decodeStrictBase64})
		if err := c.AddResource(SubmissionSchemaURL, raw); err != nil {
			s.err = fmt.Errorf("add submission schema: %w", err)
			return
		}
		sch, err := c.Compile(SubmissionSchemaURL)
		if err != nil {
			s.err = fmt.Errorf("compile submission schema: %w", err)
			return
		}
		s.sch, s.raw = sch, raw
	})
	return s.sch, s.raw, s.err
}

// validateDateTime accepts what time.Time's UnmarshalJSON accepts: RFC 3339 with an upper-case T
// and Z and no leap second.
func validateDateTime(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return errors.New("not an RFC 3339 date-time")
	}
	return nil
}

// decodeStrictBase64 accepts canonical padded standard base64 only: no line breaks (which
// encoding/base64 would skip) and no stray bits in the last character.
func decodeStrictBase64(s string) ([]byte, error) {
	if strings.IndexByte(s, '\r') >= 0 || strings.IndexByte(s, '\n') >= 0 {
		return nil, errors.New("line break in base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// DecodeSubmission parses body strictly, validates it against schemas/submission.schema.json and
// the rules beside it, and returns the submission. It is safe for concurrent use.
//
// A refusal is an *Error whose Code says why, checked in this order:
//   - invalid_utf8: the body is not valid UTF-8, or a string escapes a lone UTF-16 surrogate;
//   - nul_character: a NUL character, raw or as \u0000 in any string or key;
//   - malformed_json: a syntax error, trailing data, or nesting deeper than MaxJSONDepth;
//   - duplicate_key: a key twice in one object, at any depth (Fields holds its pointer);
//   - schema_violation: unknown fields (names are case-sensitive), missing fields, wrong types,
//     values out of range, numbers too large to be meaningful; neither addressees nor topic and
//     territory; an attachment whose size or sha256 does not match its content. Fields lists every
//     failing field (up to 1000) with its RFC 6901 pointer.
//
// After the encoding check the body is parsed once (submission_parse.go): the value the schema
// validates is the value the submission is filled from, so what was validated is what is returned.
func DecodeSubmission(body []byte) (Submission, error) {
	var sub Submission
	if err := checkEncoding(body); err != nil {
		return sub, err
	}
	scan, err := parseJSON(body)
	if err != nil {
		return sub, err
	}
	sch, raw, err := compiledSubmissionSchema()
	if err != nil {
		return sub, &Error{Code: CodeInternal, Detail: "submission schema unavailable", Err: err}
	}
	doc := scan.doc
	var problems []FieldProblem
	if err := sch.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return sub, &Error{Code: CodeInternal, Detail: "schema validation failed", Err: err}
		}
		problems = flattenValidationError(verr, raw)
	}
	problems = append(problems, submissionRules(doc)...)
	if len(problems) > 0 {
		return sub, schemaViolation(problems)
	}

	sub, err = fillSubmission(scan)
	if err != nil {
		// The schema accepted a value that the submission type cannot hold: an integer written
		// with a fraction or an exponent (1.0, 1e3).
		problems := make([]FieldProblem, 0, len(scan.nonPlainNumbers))
		for _, p := range scan.nonPlainNumbers {
			problems = append(problems, FieldProblem{Pointer: p, Message: "must be written as a plain integer (no fraction or exponent)"})
		}
		if len(problems) == 0 {
			problems = append(problems, FieldProblem{Pointer: "", Message: "does not fit the submission type"})
		}
		e := schemaViolation(problems)
		e.Err = err
		return Submission{}, e
	}
	return sub, nil
}

func schemaViolation(problems []FieldProblem) *Error {
	problems = sortProblems(problems)
	detail := "the submission does not match the schema"
	if len(problems) > maxFieldProblems {
		detail = fmt.Sprintf("%s (first %d of %d problems)", detail, maxFieldProblems, len(problems))
		problems = problems[:maxFieldProblems]
	}
	return &Error{Code: CodeSchemaViolation, Detail: detail, Fields: problems}
}

// checkEncoding refuses invalid UTF-8, raw NUL bytes and escaped lone surrogates, which
// encoding/json would silently replace with U+FFFD.
func checkEncoding(body []byte) error {
	if !utf8.Valid(body) {
		return &Error{Code: CodeInvalidUTF8, Detail: "body is not valid UTF-8"}
	}
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return &Error{Code: CodeNULCharacter, Detail: fmt.Sprintf("NUL character at byte offset %d", i)}
	}
	inString := false
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !inString {
			if c == '"' {
				inString = true
			}
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(body) {
				return nil // truncated: the token scan reports it
			}
			if body[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(body, i+2)
			if !ok {
				return nil // bad escape: the token scan reports it
			}
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if i+12 <= len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
					if lo, ok := hex4(body, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 11
						continue
					}
				}
				return &Error{Code: CodeInvalidUTF8, Detail: fmt.Sprintf("lone UTF-16 surrogate escape at byte offset %d", i)}
			case r >= 0xDC00 && r <= 0xDFFF:
				return &Error{Code: CodeInvalidUTF8, Detail: fmt.Sprintf("lone UTF-16 surrogate escape at byte offset %d", i)}
			}
			i += 5
		}
	}
	return nil
}

// hex4 parses the four hex digits at body[at:at+4].
func hex4(body []byte, at int) (rune, bool) {
	if at+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// scanResult is what the token scan learned beside refusals.
type scanResult struct {
	// nonPlainNumbers are the pointers of numbers written with a fraction or an exponent.
	nonPlainNumbers []string
}

// scanFrame is one open object or array during the token scan.
type scanFrame struct {
	object    bool
	pointer   string
	keys      map[string]struct{}
	expectKey bool
	key       string
	index     int
}

// childPointer returns the pointer of the next value inside f and advances f.
func (f *scanFrame) childPointer() string {
	if f.object {
		f.expectKey = true
		return f.pointer + "/" + escapePointerToken(f.key)
	}
	p := f.pointer + "/" + strconv.Itoa(f.index)
	f.index++
	return p
}

// scanTokens walks the JSON tokens of body once: syntax, trailing data, depth, duplicate keys,
// NUL escapes and absurd numbers.
func scanTokens(body []byte) (scanResult, error) {
	var res scanResult
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*scanFrame
	var bigNumbers []FieldProblem
	malformed := func(err error) error {
		return &Error{Code: CodeMalformedJSON, Detail: fmt.Sprintf("malformed JSON near byte offset %d", dec.InputOffset()), Err: err}
	}
	for started := false; !started || len(stack) > 0; started = true {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return res, malformed(err)
		}
		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			key, _ := tok.(string) // the decoder only yields a string here
			ptr := top.pointer + "/" + escapePointerToken(key)
			if strings.IndexByte(key, 0) >= 0 {
				return res, &Error{Code: CodeNULCharacter, Detail: "NUL character in a key", Fields: []FieldProblem{{Pointer: top.pointer, Message: "has a key with a NUL character"}}}
			}
			if len(top.keys) >= maxJSONMembers {
				return res, schemaViolation([]FieldProblem{{Pointer: top.pointer, Message: fmt.Sprintf("has more than %d members", maxJSONMembers)}})
			}
			if _, dup := top.keys[key]; dup {
				return res, &Error{Code: CodeDuplicateKey, Detail: "a key appears twice in one object", Fields: []FieldProblem{{Pointer: ptr, Message: "appears more than once"}}}
			}
			top.keys[key] = struct{}{}
			top.key, top.expectKey = key, false
			continue
		}
		if d, ok := tok.(json.Delim); ok && d == ']' {
			stack = stack[:len(stack)-1]
			continue
		}
		ptr := ""
		if top != nil {
			ptr = top.childPointer()
			if !top.object && top.index > maxJSONMembers {
				return res, schemaViolation([]FieldProblem{{Pointer: top.pointer, Message: fmt.Sprintf("has more than %d items", maxJSONMembers)}})
			}
		}
		switch v := tok.(type) {
		case json.Delim: // '{' or '['
			if len(stack) >= MaxJSONDepth {
				return res, &Error{Code: CodeMalformedJSON, Detail: fmt.Sprintf("JSON nested deeper than %d levels", MaxJSONDepth)}
			}
			f := &scanFrame{object: v == '{', pointer: ptr, expectKey: v == '{'}
			if f.object {
				f.keys = make(map[string]struct{})
			}
			stack = append(stack, f)
		case string:
			if strings.IndexByte(v, 0) >= 0 {
				return res, &Error{Code: CodeNULCharacter, Detail: "NUL character in a string", Fields: []FieldProblem{{Pointer: ptr, Message: "contains a NUL character"}}}
			}
		case json.Number:
			s := string(v)
			if !plainInteger(s) {
				if len(s) > maxNumberLiteral || hugeExponent(s) {
					bigNumbers = append(bigNumbers, FieldProblem{Pointer: ptr, Message: "number out of range"})
				}
				res.nonPlainNumbers = append(res.nonPlainNumbers, ptr)
			} else if len(s) > maxNumberLiteral {
				bigNumbers = append(bigNumbers, FieldProblem{Pointer: ptr, Message: "number out of range"})
			}
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("trailing data after the top-level value")
		}
		return res, malformed(err)
	}
	if len(bigNumbers) > 0 {
		return res, schemaViolation(bigNumbers)
	}
	return res, nil
}

// plainInteger reports whether s is a JSON number without fraction or exponent.
func plainInteger(s string) bool {
	return !strings.ContainsAny(s, ".eE")
}

// hugeExponent reports whether the number literal s has an exponent beyond ±maxNumberExponent.
func hugeExponent(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
	return err != nil || e > maxNumberExponent || e < -maxNumberExponent
}

// escapePointerToken escapes one RFC 6901 reference token.
func escapePointerToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func joinPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointerToken(t))
	}
	return b.String()
}

// submissionRules checks what the schema cannot say, on the generic document. It tolerates wrong
// types: the schema reports those.
func submissionRules(doc any) []FieldProblem {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	var problems []FieldProblem

	addressees, _ := obj["addressees"].([]any)
	_, hasTopic := obj["topic"]
	_, hasTerritory := obj["territory"]
	if len(addressees) == 0 && !(hasTopic && hasTerritory) {
		problems = append(problems, FieldProblem{Pointer: "/addressees", Message: "give at least one addressee, or both topic and territory"})
	}

	ids := make(map[string]bool)
	attachments, _ := obj["attachments"].([]any)
	for i, a := range attachments {
		att, ok := a.(map[string]any)
		if !ok {
			continue
		}
		at := "/attachments/" + strconv.Itoa(i)
		if id, ok := att["id"].(string); ok {
			if ids[id] {
				problems = append(problems, FieldProblem{Pointer: at + "/id", Message: "is the id of an earlier attachment"})
			}
			ids[id] = true
		}
		content, ok := att["content"].(string)
		if !ok {
			continue
		}
		data, err := decodeStrictBase64(content)
		if err != nil {
			continue
		}
		if n, ok := att["size"].(json.Number); ok {
			if size, err := n.Int64(); err == nil && size != int64(len(data)) {
				problems = append(problems, FieldProblem{Pointer: at + "/size", Message: fmt.Sprintf("is %d but the content has %d bytes", size, len(data))})
			}
		}
		if sum, ok := att["sha256"].(string); ok && len(sum) == 64 {
			if !strings.EqualFold(sum, sha256Hex(data)) {
				problems = append(problems, FieldProblem{Pointer: at + "/sha256", Message: "does not match the SHA-256 of the content"})
			}
		}
	}

	signatures, _ := obj["signatures"].([]any)
	for i, s := range signatures {
		sig, ok := s.(map[string]any)
		if !ok {
			continue
		}
		of, ok := sig["of"].(string)
		if ok && of != "text" && !ids[of] {
			problems = append(problems, FieldProblem{Pointer: "/signatures/" + strconv.Itoa(i) + "/of", Message: `must be "text" or the id of an attachment`})
		}
	}
	return problems
}
