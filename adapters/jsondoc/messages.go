package jsondoc

// Authority messages: what a document system sends to the hub in this format
// (POST /v1/authorities/{code}/messages), one message
//
//	{"format":"appealhub.message.v1","message_id":"…","of":"<delivery_id>","type":"registered",
//	 "registration_number":"01-12/345","registration_date":"2026-03-02T09:30:00+02:00"}
//
// or several, {"messages":[…]} (at most schemas.MaxAuthorityMessages). The schema is
// schemas/authority-message.schema.json; schemas.DecodeAuthorityMessages is the strict decoder.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"appealhub/adapters"
	"appealhub/schemas"
)

// MessageFormat is the "format" of every authority message.
const MessageFormat = schemas.AuthorityMessageFormat

// ErrInvalidMessage is wrapped by every DecodeMessages error, beside the *schemas.Error that says
// why.
var ErrInvalidMessage = errors.New("invalid authority message")

var _ adapters.MessageDecoder = Adapter{}

// DecodeMessages decodes what a document system sent to the hub: mediaType must be
// application/json (or a +json type), with no charset parameter or charset=utf-8; an empty media
// type is refused. The body is decoded by schemas.DecodeAuthorityMessages, strictly: unknown or
// duplicate fields, a missing field a message's type requires, an unknown refusal code and the like
// refuse the whole body. Every error wraps ErrInvalidMessage and a *schemas.Error (match it with
// errors.AsType) whose Code is unsupported_media_type for a wrong media type, else one of those of
// schemas.DecodeAuthorityMessages, with RFC 6901 pointers to the failing fields. It is pure, never
// panics and is safe for concurrent use.
func (Adapter) DecodeMessages(mediaType string, body []byte) ([]schemas.AuthorityMessage, error) {
	if err := checkMessageMediaType(mediaType); err != nil {
		return nil, fmt.Errorf("decode json authority messages: %w: %w", ErrInvalidMessage, err)
	}
	msgs, err := schemas.DecodeAuthorityMessages(body)
	if err != nil {
		return nil, fmt.Errorf("decode json authority messages: %w: %w", ErrInvalidMessage, err)
	}
	return msgs, nil
}

func checkMessageMediaType(mediaType string) error {
	if strings.TrimSpace(mediaType) == "" {
		return &schemas.Error{Code: schemas.CodeUnsupportedMediaType, Detail: "no media type: send application/json"}
	}
	mt, params, err := mime.ParseMediaType(mediaType)
	if err != nil {
		return &schemas.Error{Code: schemas.CodeUnsupportedMediaType, Detail: "malformed media type: send application/json", Err: err}
	}
	if mt != MediaType && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return &schemas.Error{Code: schemas.CodeUnsupportedMediaType, Detail: fmt.Sprintf("media type %q: send application/json", mt)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &schemas.Error{Code: schemas.CodeUnsupportedMediaType, Detail: fmt.Sprintf("charset %q: send UTF-8", cs)}
	}
	return nil
}

// wireMessage is the wire shape of one message, in the order the fields are written. Times are
// written as strings so that encoding never fails, whatever the year.
type wireMessage struct {
	Format             string                       `json:"format"`
	MessageID          string                       `json:"message_id"`
	Of                 string                       `json:"of"`
	Type               schemas.AuthorityMessageType `json:"type"`
	At                 *string                      `json:"at,omitempty"`
	RegistrationNumber string                       `json:"registration_number,omitempty"`
	RegistrationDate   *string                      `json:"registration_date,omitempty"`
	RefusalCode        string                       `json:"refusal_code,omitempty"`
	RefusalText        string                       `json:"refusal_text,omitempty"`
	Registrar          string                       `json:"registrar,omitempty"`
	NewDueDate         *string                      `json:"new_due_date,omitempty"`
	Reason             string                       `json:"reason,omitempty"`
	ForwardedTo        string                       `json:"forwarded_to,omitempty"`
	Outcome            schemas.AnswerOutcome        `json:"outcome,omitempty"`
	LegalBasis         string                       `json:"legal_basis,omitempty"`
	AppealProcedure    string                       `json:"appeal_procedure,omitempty"`
	Text               string                       `json:"text,omitempty"`
	Documents          []schemas.AuthorityDocument  `json:"documents,omitempty"`
	Simple             bool                         `json:"simple,omitempty"`
}

func formatTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format(time.RFC3339Nano)
	return &s
}

func toWire(m schemas.AuthorityMessage) wireMessage {
	return wireMessage{
		Format:             MessageFormat,
		MessageID:          m.MessageID,
		Of:                 m.Of,
		Type:               m.Type,
		At:                 formatTime(m.At),
		RegistrationNumber: m.RegistrationNumber,
		RegistrationDate:   formatTime(m.RegistrationDate),
		RefusalCode:        m.RefusalCode,
		RefusalText:        m.RefusalText,
		Registrar:          m.Registrar,
		NewDueDate:         formatTime(m.NewDueDate),
		Reason:             m.Reason,
		ForwardedTo:        m.ForwardedTo,
		Outcome:            m.Outcome,
		LegalBasis:         m.LegalBasis,
		AppealProcedure:    m.AppealProcedure,
		Text:               m.Text,
		Documents:          m.Documents,
		Simple:             m.Simple,
	}
}

// EncodeMessages renders msgs as a document system sends them, the inverse of DecodeMessages: one
// message as a single object, any other number as {"messages":[…]}. Empty fields are left out,
// times keep their offsets, and nothing is HTML-escaped. It does not validate: for any msgs that
// DecodeMessages returned, decoding the result gives msgs back, but other values (an unknown type,
// a missing required field, more than schemas.MaxAuthorityMessages) give a body DecodeMessages
// refuses. The sandbox and tests use it; it never fails.
func EncodeMessages(msgs []schemas.AuthorityMessage) []byte {
	var v any
	if len(msgs) == 1 {
		v = toWire(msgs[0])
	} else {
		wire := make([]wireMessage, len(msgs))
		for i, m := range msgs {
			wire[i] = toWire(m)
		}
		v = struct {
			Messages []wireMessage `json:"messages"`
		}{wire}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // strings, string pointers and byte slices cannot fail to marshal
	return bytes.TrimRight(buf.Bytes(), "\n")
}
