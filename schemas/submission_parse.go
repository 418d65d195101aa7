package schemas

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reads a submission body in one pass: parseJSON checks the syntax and what the token
// scan must refuse (duplicate keys, NUL escapes, depth, member counts, absurd numbers) while it
// builds the generic value the JSON Schema validates (the value jsonschema.UnmarshalJSON would
// build: objects, arrays, strings, json.Number, bool and nil), and fillSubmission then fills the
// Submission from that value as encoding/json would from the same bytes.

// parsed is what parseJSON learned beside the value.
type parsed struct {
	doc any
	// nonPlainNumbers are the pointers of numbers written with a fraction or an exponent.
	nonPlainNumbers []string
	// escapedSubmittedAt is true when the top-level submitted_at string was written with an
	// escape: time.Time's UnmarshalJSON reads the bytes as written, and refuses those.
	escapedSubmittedAt bool
}

// pathStep is one step of the path to the value being read: an object member or an array index.
type pathStep struct {
	key   string
	index int
	inArr bool
}

// jsonParser reads one JSON text.
type jsonParser struct {
	body       []byte
	pos        int
	path       []pathStep
	out        parsed
	bigNumbers []FieldProblem
}

// parseJSON reads body (valid UTF-8 without raw NUL bytes: checkEncoding ran first) once.
func parseJSON(body []byte) (parsed, error) {
	p := &jsonParser{body: body}
	p.skipSpace()
	doc, err := p.value()
	if err != nil {
		return parsed{}, err
	}
	p.skipSpace()
	if p.pos < len(p.body) {
		return parsed{}, p.malformed(errors.New("trailing data after the top-level value"))
	}
	if len(p.bigNumbers) > 0 {
		return parsed{}, schemaViolation(p.bigNumbers)
	}
	p.out.doc = doc
	return p.out, nil
}

// pointer returns the RFC 6901 pointer of the value being read.
func (p *jsonParser) pointer() string {
	var b strings.Builder
	for _, s := range p.path {
		b.WriteByte('/')
		if s.inArr {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(escapePointerToken(s.key))
		}
	}
	return b.String()
}

func (p *jsonParser) malformed(err error) error {
	return &Error{Code: CodeMalformedJSON, Detail: fmt.Sprintf("malformed JSON near byte offset %d", p.pos), Err: err}
}

func (p *jsonParser) unexpected() error {
	if p.pos >= len(p.body) {
		return p.malformed(errors.New("unexpected end of JSON input"))
	}
	return p.malformed(fmt.Errorf("invalid character %q", p.body[p.pos]))
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.body) {
		switch p.body[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value reads the value at p.pos (no leading space).
func (p *jsonParser) value() (any, error) {
	if p.pos >= len(p.body) {
		return nil, p.unexpected()
	}
	switch c := p.body[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, escaped, err := p.string()
		if err != nil {
			return nil, err
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, &Error{Code: CodeNULCharacter, Detail: "NUL character in a string", Fields: []FieldProblem{{Pointer: p.pointer(), Message: "contains a NUL character"}}}
		}
		if escaped && len(p.path) == 1 && !p.path[0].inArr && p.path[0].key == "submitted_at" {
			p.out.escapedSubmittedAt = true
		}
		return s, nil
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return nil, p.unexpected()
	}
}

func (p *jsonParser) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.body) || p.body[p.pos] != word[i] {
			return p.unexpected()
		}
		p.pos++
	}
	return nil
}

func (p *jsonParser) open() error {
	if len(p.path) >= MaxJSONDepth {
		return &Error{Code: CodeMalformedJSON, Detail: fmt.Sprintf("JSON nested deeper than %d levels", MaxJSONDepth)}
	}
	return nil
}

func (p *jsonParser) object() (any, error) {
	if err := p.open(); err != nil {
		return nil, err
	}
	p.pos++ // '{'
	m := make(map[string]any)
	p.skipSpace()
	if p.pos < len(p.body) && p.body[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.body) || p.body[p.pos] != '"' {
			return nil, p.unexpected()
		}
		key, _, err := p.string()
		if err != nil {
			return nil, err
		}
		if strings.IndexByte(key, 0) >= 0 {
			return nil, &Error{Code: CodeNULCharacter, Detail: "NUL character in a key", Fields: []FieldProblem{{Pointer: p.pointer(), Message: "has a key with a NUL character"}}}
		}
		if len(m) >= maxJSONMembers {
			return nil, schemaViolation([]FieldProblem{{Pointer: p.pointer(), Message: fmt.Sprintf("has more than %d members", maxJSONMembers)}})
		}
		p.path = append(p.path, pathStep{key: key})
		if _, dup := m[key]; dup {
			return nil, &Error{Code: CodeDuplicateKey, Detail: "a key appears twice in one object", Fields: []FieldProblem{{Pointer: p.pointer(), Message: "appears more than once"}}}
		}
		p.skipSpace()
		if p.pos >= len(p.body) || p.body[p.pos] != ':' {
			return nil, p.unexpected()
		}
		p.pos++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		m[key] = v
		p.skipSpace()
		if p.pos >= len(p.body) {
			return nil, p.unexpected()
		}
		switch p.body[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return m, nil
		default:
			return nil, p.unexpected()
		}
	}
}

func (p *jsonParser) array() (any, error) {
	if err := p.open(); err != nil {
		return nil, err
	}
	p.pos++ // '['
	a := make([]any, 0)
	p.skipSpace()
	if p.pos < len(p.body) && p.body[p.pos] == ']' {
		p.pos++
		return a, nil
	}
	for {
		p.skipSpace()
		if len(a) >= maxJSONMembers {
			return nil, schemaViolation([]FieldProblem{{Pointer: p.pointer(), Message: fmt.Sprintf("has more than %d items", maxJSONMembers)}})
		}
		p.path = append(p.path, pathStep{index: len(a), inArr: true})
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		a = append(a, v)
		p.skipSpace()
		if p.pos >= len(p.body) {
			return nil, p.unexpected()
		}
		switch p.body[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return a, nil
		default:
			return nil, p.unexpected()
		}
	}
}

// number reads a number literal as a json.Number and notes what the token scan notes of it.
func (p *jsonParser) number() (any, error) {
	b, start := p.body, p.pos
	i := start
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		p.pos = i
		return nil, p.unexpected()
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			p.pos = i
			return nil, p.unexpected()
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.pos = i
			return nil, p.unexpected()
		}
	}
	p.pos = i
	s := string(b[start:i])
	if !plainInteger(s) {
		ptr := p.pointer()
		if len(s) > maxNumberLiteral || hugeExponent(s) {
			p.bigNumbers = append(p.bigNumbers, FieldProblem{Pointer: ptr, Message: "number out of range"})
		}
		p.out.nonPlainNumbers = append(p.out.nonPlainNumbers, ptr)
	} else if len(s) > maxNumberLiteral {
		p.bigNumbers = append(p.bigNumbers, FieldProblem{Pointer: p.pointer(), Message: "number out of range"})
	}
	return json.Number(s), nil
}

// string reads a string literal at p.pos ('"') and unquotes it as encoding/json does; escaped
// tells whether it held an escape.
func (p *jsonParser) string() (s string, escaped bool, err error) {
	b := p.body
	start := p.pos + 1
	i := start
	for i < len(b) {
		c := b[i]
		if c == '"' {
			p.pos = i + 1
			return string(b[start:i]), false, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.pos = i
			return "", false, p.unexpected()
		}
		i++
	}
	if i >= len(b) {
		p.pos = i
		return "", false, p.unexpected()
	}
	// Slow path: escapes.
	out := make([]byte, 0, i-start+16)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return string(out), true, nil
		case c < 0x20:
			p.pos = i
			return "", false, p.unexpected()
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			p.pos = i + 1
			return "", false, p.unexpected()
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
			i += 2
		case 'b':
			out = append(out, '\b')
			i += 2
		case 'f':
			out = append(out, '\f')
			i += 2
		case 'n':
			out = append(out, '\n')
			i += 2
		case 'r':
			out = append(out, '\r')
			i += 2
		case 't':
			out = append(out, '\t')
			i += 2
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				p.pos = i + 2
				return "", false, p.malformed(errors.New("invalid \\u escape"))
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// As encoding/json: a valid pair is one rune, anything else U+FFFD.
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if r2, ok := hex4(b, i+2); ok {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
				}
				r = unicode.ReplacementChar
			}
			out = utf8.AppendRune(out, r)
		default:
			p.pos = i + 1
			return "", false, p.unexpected()
		}
	}
	p.pos = i
	return "", false, p.unexpected()
}

// fillSubmission fills a Submission from the parsed value of a body that the schema accepted, as
// json.Decoder with DisallowUnknownFields would from the same bytes: an error where it would
// fail (an integer written with a fraction or an exponent, a number too large for its field).
func fillSubmission(p parsed) (Submission, error) {
	var s Submission
	if _, ok := p.doc.(map[string]any); !ok {
		return s, errors.New("the submission is not a JSON object")
	}
	err := fillObject(p.doc, func(k string, v any) error {
		switch k {
		case "case_kind":
			return fillString(v, (*string)(&s.CaseKind))
		case "appeal_kind":
			return fillString(v, (*string)(&s.AppealKind))
		case "urgent":
			return fillBool(v, &s.Urgent)
		case "urgency_reason":
			return fillString(v, &s.UrgencyReason)
		case "applicant":
			return fillApplicant(v, &s.Applicant)
		case "collective":
			return fillBool(v, &s.Collective)
		case "co_signers":
			var n int64
			err := fillInt(v, &n)
			s.CoSigners = int(n)
			return err
		case "addressees":
			return fillStrings(v, &s.Addressees)
		case "topic":
			return fillString(v, &s.Topic)
		case "territory":
			return fillString(v, &s.Territory)
		case "subject":
			return fillString(v, &s.Subject)
		case "text":
			return fillString(v, &s.Text)
		case "topic_codes":
			return fillStrings(v, &s.TopicCodes)
		case "attachments":
			return fillList(v, &s.Attachments, fillAttachment)
		case "signatures":
			return fillList(v, &s.Signatures, fillSignature)
		case "repeat_of":
			return fillString(v, &s.RepeatOf)
		case "complaint_against":
			return fillString(v, &s.ComplaintAgainst)
		case "portal_submission_id":
			return fillString(v, &s.PortalSubmissionID)
		case "submitted_at":
			return fillTime(v, p.escapedSubmittedAt, &s.SubmittedAt)
		}
		return fmt.Errorf("unknown field %q", k)
	})
	if err != nil {
		return Submission{}, err
	}
	return s, nil
}

func fillApplicant(v any, a *Applicant) error {
	return fillObject(v, func(k string, v any) error {
		switch k {
		case "surname":
			return fillString(v, &a.Surname)
		case "name":
			return fillString(v, &a.Name)
		case "patronymic":
			return fillString(v, &a.Patronymic)
		case "address":
			return fillString(v, &a.Address)
		case "email":
			return fillString(v, &a.Email)
		case "phone":
			return fillString(v, &a.Phone)
		case "category":
			return fillString(v, &a.Category)
		}
		return fmt.Errorf("unknown field %q", k)
	})
}

func fillAttachment(v any, a *Attachment) error {
	return fillObject(v, func(k string, v any) error {
		switch k {
		case "id":
			return fillString(v, &a.ID)
		case "file_name":
			return fillString(v, &a.FileName)
		case "media_type":
			return fillString(v, &a.MediaType)
		case "size":
			return fillInt(v, &a.Size)
		case "sha256":
			return fillString(v, &a.SHA256)
		case "content":
			return fillBytes(v, &a.Content)
		}
		return fmt.Errorf("unknown field %q", k)
	})
}

func fillSignature(v any, s *Signature) error {
	return fillObject(v, func(k string, v any) error {
		switch k {
		case "of":
			return fillString(v, &s.Of)
		case "format":
			return fillString(v, &s.Format)
		case "value":
			return fillBytes(v, &s.Value)
		}
		return fmt.Errorf("unknown field %q", k)
	})
}

// fillObject calls field for each member of the JSON object v (null: none); an error names its key.
func fillObject(v any, field func(k string, v any) error) error {
	if v == nil {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("not an object")
	}
	for k, v := range obj {
		if err := field(k, v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// The fill helpers leave dst unchanged for null, as encoding/json does.

func fillString(v any, dst *string) error {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		*dst = v
		return nil
	default:
		return fmt.Errorf("cannot fill a string with %T", v)
	}
}

func fillBool(v any, dst *bool) error {
	switch v := v.(type) {
	case nil:
		return nil
	case bool:
		*dst = v
		return nil
	default:
		return fmt.Errorf("cannot fill a bool with %T", v)
	}
}

func fillInt(v any, dst *int64) error {
	switch v := v.(type) {
	case nil:
		return nil
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("number %s does not fit an integer: %w", v, err)
		}
		*dst = n
		return nil
	default:
		return fmt.Errorf("cannot fill an integer with %T", v)
	}
}

func fillBytes(v any, dst *[]byte) error {
	switch v := v.(type) {
	case nil:
		*dst = nil
		return nil
	case string:
		b := make([]byte, base64.StdEncoding.DecodedLen(len(v)))
		n, err := base64.StdEncoding.Decode(b, []byte(v))
		if err != nil {
			return fmt.Errorf("decode base64: %w", err)
		}
		*dst = b[:n]
		return nil
	default:
		return fmt.Errorf("cannot fill bytes with %T", v)
	}
}

func fillStrings(v any, dst *[]string) error {
	return fillList(v, dst, func(v any, s *string) error {
		if v == nil {
			return nil
		}
		return fillString(v, s)
	})
}

func fillList[T any](v any, dst *[]T, fill func(any, *T) error) error {
	switch v := v.(type) {
	case nil:
		*dst = nil
		return nil
	case []any:
		out := make([]T, len(v))
		for i, item := range v {
			if err := fill(item, &out[i]); err != nil {
				return fmt.Errorf("%d: %w", i, err)
			}
		}
		*dst = out
		return nil
	default:
		return fmt.Errorf("cannot fill a list with %T", v)
	}
}

func fillTime(v any, escaped bool, dst **time.Time) error {
	switch v := v.(type) {
	case nil:
		*dst = nil
		return nil
	case string:
		if escaped {
			return errors.New("a date-time written with escapes")
		}
		t := new(time.Time)
		if err := t.UnmarshalText([]byte(v)); err != nil {
			return err
		}
		*dst = t
		return nil
	default:
		return fmt.Errorf("cannot fill a time with %T", v)
	}
}
