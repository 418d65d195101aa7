package schemas

// The hub's own JSON formats on the authority side: the delivery document the hub sends to an
// authority's document system (delivery.schema.json) and the messages the system sends back
// (authority-message.schema.json). Like submission.go, this file uses the JSON Schema validator.

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	// DeliverySchemaURL is the $id of the delivery document schema.
	DeliverySchemaURL = "https://appealhub.example/schemas/delivery.schema.json"
	// AuthorityMessageSchemaURL is the $id of the authority message schema.
	AuthorityMessageSchemaURL = "https://appealhub.example/schemas/authority-message.schema.json"

	// DeliveryFormat is the "format" of a delivery document.
	DeliveryFormat = "appealhub.delivery.v1"
	// AuthorityMessageFormat is the "format" of every authority message.
	AuthorityMessageFormat = "appealhub.message.v1"

	// MaxAuthorityMessages is the most messages one body may carry.
	MaxAuthorityMessages = 100
)

// Refusal codes: the closed list of grounds on which an authority may refuse to register an
// electronic document (Cabinet of Ministers resolution No. 55 of 17.01.2018, section II), as
// AuthorityMessage.RefusalCode of a MsgRefused message. The values are stored and shown: never
// rename one.
const (
	// RefusalWrongForm: the document is not in the prescribed form or format.
	RefusalWrongForm = "wrong_form"
	// RefusalNotOurAddressee: the document is not addressed to this authority.
	RefusalNotOurAddressee = "not_our_addressee"
	// RefusalDuplicate: the same document was received before.
	RefusalDuplicate = "duplicate"
	// RefusalCompositionMismatch: the composition of the document (its annexes) does not match.
	RefusalCompositionMismatch = "composition_mismatch"
	// RefusalRequisitesMismatch: the requisites of the document do not match.
	RefusalRequisitesMismatch = "requisites_mismatch"
	// RefusalSignatureMissingOrInvalid: the qualified electronic signature is missing or invalid.
	RefusalSignatureMissingOrInvalid = "signature_missing_or_invalid"
	// RefusalSealMissingOrInvalid: the qualified electronic seal is missing or invalid.
	RefusalSealMissingOrInvalid = "seal_missing_or_invalid"
	// RefusalSignerNotAuthorised: the signer has no authority to sign the document.
	RefusalSignerNotAuthorised = "signer_not_authorised"
	// RefusalSignatureNotVerifiable: the signature cannot be verified.
	RefusalSignatureNotVerifiable = "signature_not_verifiable"
	// RefusalNoQualifiedTimestamp: the qualified electronic timestamp is missing.
	RefusalNoQualifiedTimestamp = "no_qualified_timestamp"
	// RefusalUnreadableVisualForm: the visual form of the document cannot be read.
	RefusalUnreadableVisualForm = "unreadable_visual_form"
)

// RefusalCodes returns every refusal code, in the order of the resolution's list. The schema's
// enum of refusal_code is the same list (a test checks it).
func RefusalCodes() []string {
	return []string{
		RefusalWrongForm, RefusalNotOurAddressee, RefusalDuplicate, RefusalCompositionMismatch,
		RefusalRequisitesMismatch, RefusalSignatureMissingOrInvalid, RefusalSealMissingOrInvalid,
		RefusalSignerNotAuthorised, RefusalSignatureNotVerifiable, RefusalNoQualifiedTimestamp,
		RefusalUnreadableVisualForm,
	}
}

// refusalTexts are short Ukrainian wordings of the grounds (not the legal text).
var refusalTexts = map[string]string{
	RefusalWrongForm:                 "Документ надійшов не за встановленою формою (форматом)",
	RefusalNotOurAddressee:           "Документ надійшов не за адресою",
	RefusalDuplicate:                 "Документ уже надходив (дублювання)",
	RefusalCompositionMismatch:       "Склад документа (додатки) не відповідає зазначеному",
	RefusalRequisitesMismatch:        "Реквізити документа не відповідають встановленим",
	RefusalSignatureMissingOrInvalid: "Відсутній або недійсний кваліфікований електронний підпис",
	RefusalSealMissingOrInvalid:      "Відсутня або недійсна кваліфікована електронна печатка",
	RefusalSignerNotAuthorised:       "Підписувач не має повноважень на підписання документа",
	RefusalSignatureNotVerifiable:    "Неможливо перевірити електронний підпис",
	RefusalNoQualifiedTimestamp:      "Відсутня кваліфікована електронна позначка часу",
	RefusalUnreadableVisualForm:      "Неможливо прочитати візуальну форму документа",
}

// RefusalText returns a short Ukrainian wording of the refusal ground code, suitable as the
// refusal_text of a refused message, or "" for an unknown code.
func RefusalText(code string) string {
	return refusalTexts[code]
}

//go:embed delivery.schema.json
var deliverySchemaJSON []byte

//go:embed authority-message.schema.json
var authorityMessageSchemaJSON []byte

// DeliverySchemaJSON returns a copy of the embedded delivery document schema
// (schemas/delivery.schema.json).
func DeliverySchemaJSON() []byte {
	return bytes.Clone(deliverySchemaJSON)
}

// AuthorityMessageSchemaJSON returns a copy of the embedded authority message schema
// (schemas/authority-message.schema.json).
func AuthorityMessageSchemaJSON() []byte {
	return bytes.Clone(authorityMessageSchemaJSON)
}

// messageConditions adds the condition to "is required" problems raised by the per-type rules of
// authority-message.schema.json, keyed by the schema location of the rule.
var messageConditions = map[string]string{
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/0/then": "when type is registered",
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/1/then": "when type is refused",
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/2/then": "when type is extended",
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/3/then": "when type is forwarded",
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/4/then": "when type is answered",
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/5/then": "when type is answered and there is no text",
	AuthorityMessageSchemaURL + "#/$defs/message/allOf/6/then": "when type is answered with outcome refused",
}

// authoritySchemas holds the compiled delivery and message schemas.
var authoritySchemas struct {
	once     sync.Once
	delivery *jsonschema.Schema
	message  *jsonschema.Schema
	docs     map[string]any // schema documents by $id, to look up property names for hints
	err      error
}

// compiledAuthoritySchemas compiles the embedded schemas on first use; it is safe for concurrent
// use. The delivery schema refers to the submission schema, so that one is compiled in as well.
func compiledAuthoritySchemas() error {
	s := &authoritySchemas
	s.once.Do(func() {
		s.docs = make(map[string]any, 3)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		c.AssertContent()
		c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: validateDateTime})
		c.RegisterContentEncoding(&jsonschema.Decoder{Name: "base64", Decode: decodeStrictBase64})
		for url, body := range map[string][]byte{
			SubmissionSchemaURL:       submissionSchemaJSON,
			DeliverySchemaURL:         deliverySchemaJSON,
			AuthorityMessageSchemaURL: authorityMessageSchemaJSON,
		} {
			raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err != nil {
				s.err = fmt.Errorf("parse schema %s: %w", url, err)
				return
			}
			if err := c.AddResource(url, raw); err != nil {
				s.err = fmt.Errorf("add schema %s: %w", url, err)
				return
			}
			s.docs[url] = raw
		}
		var err error
		if s.delivery, err = c.Compile(DeliverySchemaURL); err != nil {
			s.err = fmt.Errorf("compile delivery schema: %w", err)
			return
		}
		if s.message, err = c.Compile(AuthorityMessageSchemaURL); err != nil {
			s.err = fmt.Errorf("compile authority message schema: %w", err)
		}
	})
	return s.err
}

// ValidateDelivery checks that body is a delivery document as the hub sends it
// (schemas/delivery.schema.json), with the same strictness as DecodeSubmission: valid UTF-8, no
// NUL, well-formed, no duplicate key, then the schema (which includes the submission schema for
// "submission") and the submission's rules beside its schema. A refusal is an *Error with the same
// codes as DecodeSubmission; schema problems carry RFC 6901 pointers from the document root (e.g.
// "/submission/applicant/name"). It is safe for concurrent use.
func ValidateDelivery(body []byte) error {
	if err := checkEncoding(body); err != nil {
		return err
	}
	const detail = "the delivery document does not match the schema"
	if _, err := scanTokens(body); err != nil {
		return relabelViolation(err, detail)
	}
	if err := compiledAuthoritySchemas(); err != nil {
		return &Error{Code: CodeInternal, Detail: "delivery schema unavailable", Err: err}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil { // the scan accepted it, so this is not expected
		return &Error{Code: CodeMalformedJSON, Detail: "body is not valid JSON", Err: err}
	}
	problems, err := validateAgainst(authoritySchemas.delivery, doc)
	if err != nil {
		return err
	}
	if obj, ok := doc.(map[string]any); ok {
		for _, p := range submissionRules(obj["submission"]) {
			problems = append(problems, FieldProblem{Pointer: "/submission" + p.Pointer, Message: p.Message})
		}
	}
	if len(problems) > 0 {
		return violation(problems, detail)
	}
	return nil
}

// wireMessage is one authority message as it travels: the canonical type plus its format.
type wireMessage struct {
	Format string `json:"format"`
	AuthorityMessage
}

// wireBatch is the several-messages form of a body.
type wireBatch struct {
	Messages []wireMessage `json:"messages"`
}

// DecodeAuthorityMessages parses body strictly, validates it against
// schemas/authority-message.schema.json and the rules beside it, and returns its messages in order:
// one for a single message, up to MaxAuthorityMessages for {"messages": [...]}. It is safe for
// concurrent use.
//
// A refusal is an *Error whose Code says why, checked in this order:
//   - invalid_utf8: the body is not valid UTF-8, or a string escapes a lone UTF-16 surrogate;
//   - nul_character: a NUL character, raw or as \u0000 in any string or key;
//   - malformed_json: a syntax error, trailing data, or nesting deeper than MaxJSONDepth;
//   - duplicate_key: a key twice in one object, at any depth (Fields holds its pointer);
//   - schema_violation: unknown fields (names are case-sensitive), missing fields (including those
//     a message's type requires), wrong types, unknown type, outcome or refusal code, malformed
//     dates or base64; a message_id repeated in one body; two documents of one message with the
//     same file name; a signature whose "of" is not its document's file_name. Fields lists every
//     failing field (up to 1000) with its RFC 6901 pointer ("/messages/3/registration_date").
//
// Messages never repeat submitted values, which may be personal data.
func DecodeAuthorityMessages(body []byte) ([]AuthorityMessage, error) {
	if err := checkEncoding(body); err != nil {
		return nil, err
	}
	const detail = "the authority message does not match the schema"
	if _, err := scanTokens(body); err != nil {
		return nil, relabelViolation(err, detail)
	}
	if err := compiledAuthoritySchemas(); err != nil {
		return nil, &Error{Code: CodeInternal, Detail: "authority message schema unavailable", Err: err}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil { // the scan accepted it, so this is not expected
		return nil, &Error{Code: CodeMalformedJSON, Detail: "body is not valid JSON", Err: err}
	}
	problems, err := validateAgainst(authoritySchemas.message, doc)
	if err != nil {
		return nil, err
	}
	problems = append(problems, authorityMessageRules(doc)...)
	if len(problems) > 0 {
		return nil, violation(problems, detail)
	}

	var wire []wireMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	obj, _ := doc.(map[string]any)
	if _, batch := obj["messages"]; batch {
		var b wireBatch
		err = dec.Decode(&b)
		wire = b.Messages
	} else {
		var m wireMessage
		err = dec.Decode(&m)
		wire = []wireMessage{m}
	}
	if err != nil {
		// The schema accepted what the Go type cannot hold; not expected, but never a panic or a
		// half-decoded message.
		e := violation([]FieldProblem{{Pointer: "", Message: "does not fit the authority message type"}}, detail)
		e.Err = err
		return nil, e
	}
	out := make([]AuthorityMessage, len(wire))
	for i, w := range wire {
		out[i] = w.AuthorityMessage
	}
	return out, nil
}

// validateAgainst validates doc and flattens the failures into field problems, with conditions
// named for the per-type rules of authority messages.
func validateAgainst(sch *jsonschema.Schema, doc any) ([]FieldProblem, error) {
	err := sch.Validate(doc)
	if err == nil {
		return nil, nil
	}
	verr, ok := errors.AsType[*jsonschema.ValidationError](err)
	if !ok {
		return nil, &Error{Code: CodeInternal, Detail: "schema validation failed", Err: err}
	}
	var out []FieldProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		base, _, _ := strings.Cut(e.SchemaURL, "#")
		problems := leafProblems(e, authoritySchemas.docs[base])
		if cond, ok := messageConditions[e.SchemaURL]; ok {
			for i := range problems {
				problems[i].Message += " " + cond
			}
		}
		out = append(out, problems...)
	}
	walk(verr)
	return out, nil
}

// authorityMessageRules checks what the schema cannot say, on the generic document. It tolerates
// wrong types: the schema reports those.
func authorityMessageRules(doc any) []FieldProblem {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	list, batch := obj["messages"].([]any)
	if !batch {
		return messageRules(obj, "")
	}
	var problems []FieldProblem
	ids := make(map[string]bool, len(list))
	for i, item := range list {
		at := "/messages/" + strconv.Itoa(i)
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := m["message_id"].(string); ok {
			if ids[id] {
				problems = append(problems, FieldProblem{Pointer: at + "/message_id", Message: "is the message_id of an earlier message"})
			}
			ids[id] = true
		}
		problems = append(problems, messageRules(m, at)...)
	}
	return problems
}

// messageRules checks one message's documents: unique file names, and each signature inside the
// document it signs.
func messageRules(m map[string]any, at string) []FieldProblem {
	var problems []FieldProblem
	docs, _ := m["documents"].([]any)
	names := make(map[string]bool, len(docs))
	for i, d := range docs {
		doc, ok := d.(map[string]any)
		if !ok {
			continue
		}
		dat := at + "/documents/" + strconv.Itoa(i)
		name, hasName := doc["file_name"].(string)
		if hasName {
			if names[name] {
				problems = append(problems, FieldProblem{Pointer: dat + "/file_name", Message: "is the file name of an earlier document"})
			}
			names[name] = true
		}
		sigs, _ := doc["signatures"].([]any)
		for j, s := range sigs {
			sig, ok := s.(map[string]any)
			if !ok {
				continue
			}
			if of, ok := sig["of"].(string); ok && hasName && of != name {
				problems = append(problems, FieldProblem{Pointer: dat + "/signatures/" + strconv.Itoa(j) + "/of", Message: "must be the file_name of its document"})
			}
		}
	}
	return problems
}

// violation is a schema_violation refusal with detail, its problems sorted and bounded.
func violation(problems []FieldProblem, detail string) *Error {
	problems = sortProblems(problems)
	if len(problems) > maxFieldProblems {
		detail = fmt.Sprintf("%s (first %d of %d problems)", detail, maxFieldProblems, len(problems))
		problems = problems[:maxFieldProblems]
	}
	return &Error{Code: CodeSchemaViolation, Detail: detail, Fields: problems}
}

// relabelViolation gives a schema_violation from the token scan (numbers out of range), which
// speaks of the submission, the detail of the document at hand.
func relabelViolation(err error, detail string) error {
	if e, ok := errors.AsType[*Error](err); ok && e.Code == CodeSchemaViolation {
		e.Detail = strings.Replace(e.Detail, "the submission does not match the schema", detail, 1)
	}
	return err
}
