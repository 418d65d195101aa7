// Package jsondoc is the hub's own JSON document format (registry name "json", media type
// application/json): the delivery envelope the hub pushes to a document system, its strict decoder
// for receivers (DecodeDocument), and the system's reply.
//
// A delivery travels as
//
//	{"format":"appealhub.delivery.v1","delivery_id":"…","appeal_id":"…","tracking_number":"…",
//	 "authority":"…","attempt":1,"received_at":"2026-01-02T03:04:05Z","submission":{…}}
//
// where submission is the portal's submission byte for byte (never re-encoded, so whatever the
// citizen signed stays intact). When the hub verified signatures of the submission, the envelope
// also carries "verified_signatures": for each, its index in submission.signatures, its "of" and
// format, and the signer's facts (docs/signatures.md):
//
//	"verified_signatures":[{"index":0,"of":"text","format":"cades-detached","signer":{"subject":"…",…}}]
//
// placed before "submission". The system answers a push with an empty body (received, not yet
// confirmed: the delivery is "sent") or with
//
//	{"status":"delivered"|"accepted","registration_number":"…","registered_at":"…","reference":"…"}
//
// where "delivered" is a receipt (the delivery is "delivered") and "accepted" means the system took
// the document for processing and will confirm receipt later (the delivery stays "sent").
//
// Later the system reports what became of the delivery with authority messages (delivered,
// registered, refused, answered, …) that Adapter.DecodeMessages reads and EncodeMessages writes:
//
//	{"format":"appealhub.message.v1","message_id":"…","of":"<delivery_id>","type":"registered",
//	 "registration_number":"01-12/345","registration_date":"2026-03-02T09:30:00+02:00"}
//
// or several in one body as {"messages":[…]}. The JSON Schemas of both directions are
// schemas/delivery.schema.json and schemas/authority-message.schema.json.
package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"appealhub/adapters"
	"appealhub/schemas"
)

const (
	// Name is the adapter's stable registry name.
	Name = "json"
	// MediaType is the Content-Type of encoded documents and of replies.
	MediaType = "application/json"
	// Format is the value of the envelope's "format" field.
	Format = "appealhub.delivery.v1"

	// StatusDelivered in a reply is a receipt: the system confirms it holds the document.
	StatusDelivered = "delivered"
	// StatusAccepted in a reply means the system took the document but has not confirmed receipt.
	StatusAccepted = "accepted"
)

// ErrInvalidDocument is wrapped by every DecodeDocument error.
var ErrInvalidDocument = errors.New("invalid delivery document")

// ErrInvalidReply is wrapped by every DecodeReply error.
var ErrInvalidReply = errors.New("invalid reply")

// Adapter is the JSON format. The zero value is ready to use; it holds no state, so one value is
// safe for concurrent use by any number of goroutines.
type Adapter struct{}

var _ adapters.Adapter = Adapter{}

// New returns the JSON adapter.
func New() Adapter { return Adapter{} }

// Name returns "json".
func (Adapter) Name() string { return Name }

// MediaType returns "application/json".
func (Adapter) MediaType() string { return MediaType }

// EncodesRawSubmission reports true: Encode reads the submission only from Document.Raw (embedded
// verbatim), never from Document.Submission, so a caller need not decode the stored body for it.
func (Adapter) EncodesRawSubmission() bool { return true }

// Envelope is a decoded delivery document, as a receiving system sees it.
type Envelope struct {
	Format         string    `json:"format"`
	DeliveryID     string    `json:"delivery_id"`
	AppealID       string    `json:"appeal_id"`
	TrackingNumber string    `json:"tracking_number"`
	Authority      string    `json:"authority"`
	Attempt        int       `json:"attempt"`
	ReceivedAt     time.Time `json:"received_at"`
	// VerifiedSignatures are the submission's signatures the hub verified, with their signers'
	// facts; absent when none was verified.
	VerifiedSignatures []schemas.VerifiedSignature `json:"verified_signatures,omitempty"`
	// Submission is the portal's submission exactly as it appears in the document.
	Submission json.RawMessage `json:"submission"`
}

// DecodeSubmission decodes the envelope's submission into the canonical type. Unknown fields are
// refused.
func (e Envelope) DecodeSubmission() (schemas.Submission, error) {
	var s schemas.Submission
	dec := json.NewDecoder(bytes.NewReader(e.Submission))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return schemas.Submission{}, fmt.Errorf("decode submission: %w", err)
	}
	return s, nil
}

// Encode renders doc as a delivery envelope. doc.Raw is embedded verbatim. Every error is marked
// adapters.Permanent: the same Document can never be encoded.
func (Adapter) Encode(doc adapters.Document) ([]byte, error) {
	out, err := encode(doc)
	if err != nil {
		return nil, adapters.Permanent(fmt.Errorf("encode json delivery %q: %w", doc.DeliveryID, err))
	}
	return out, nil
}

// header is the envelope without its submission; the submission is spliced in as raw bytes
// because json.Marshal would compact and HTML-escape a json.RawMessage.
type header struct {
	Format         string `json:"format"`
	DeliveryID     string `json:"delivery_id"`
	AppealID       string `json:"appeal_id"`
	TrackingNumber string `json:"tracking_number"`
	Authority      string `json:"authority"`
	Attempt        int    `json:"attempt"`
	ReceivedAt     string `json:"received_at"`
	// VerifiedSignatures are the signer facts, next to the submission whose signatures they describe.
	VerifiedSignatures []schemas.VerifiedSignature `json:"verified_signatures,omitempty"`
}

func encode(doc adapters.Document) ([]byte, error) {
	switch {
	case doc.DeliveryID == "":
		return nil, errors.New("empty delivery id")
	case doc.Attempt < 1:
		return nil, fmt.Errorf("attempt %d: must be >= 1", doc.Attempt)
	case doc.ReceivedAt.IsZero():
		return nil, errors.New("zero received_at")
	case doc.ReceivedAt.UTC().Year() < 0 || doc.ReceivedAt.UTC().Year() > 9999:
		return nil, fmt.Errorf("received_at year %d: outside RFC 3339", doc.ReceivedAt.UTC().Year())
	}
	for name, v := range map[string]string{
		"delivery_id": doc.DeliveryID, "appeal_id": doc.AppealID,
		"tracking_number": doc.TrackingNumber, "authority": doc.Authority,
	} {
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s: invalid UTF-8", name)
		}
	}
	raw := bytes.TrimSpace(doc.Raw)
	switch {
	case len(raw) == 0:
		return nil, errors.New("no raw submission")
	case raw[0] != '{' || !json.Valid(raw):
		return nil, errors.New("raw submission is not a JSON object")
	case !utf8.Valid(raw):
		return nil, errors.New("raw submission is not valid UTF-8")
	}

	var buf bytes.Buffer
	buf.Grow(len(raw) + 256)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(header{
		Format:         Format,
		DeliveryID:     doc.DeliveryID,
		AppealID:       doc.AppealID,
		TrackingNumber: doc.TrackingNumber,
		Authority:      doc.Authority,
		Attempt:        doc.Attempt,
		ReceivedAt:     doc.ReceivedAt.UTC().Format(time.RFC3339Nano),

		VerifiedSignatures: doc.Signatures,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal header: %w", err)
	}
	// buf ends with "}\n": replace it with the submission member.
	out := buf.Bytes()
	out = bytes.TrimRight(out, "\n")
	out = out[:len(out)-1]
	out = append(out, `,"submission":`...)
	out = append(out, raw...)
	out = append(out, '}')
	return out, nil
}

// DecodeDocument decodes a delivery envelope strictly, as a receiving system should: the body must
// be valid UTF-8 holding exactly one JSON object whose members are the envelope's own fields,
// spelled exactly, each at most once; format must be "appealhub.delivery.v1", delivery_id must be
// non-empty and submission must be a JSON object. Every error wraps ErrInvalidDocument. It never
// panics and is safe for concurrent use.
func DecodeDocument(body []byte) (Envelope, error) {
	env, err := decodeDocument(body)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	return env, nil
}

func decodeDocument(body []byte) (Envelope, error) {
	if !utf8.Valid(body) {
		return Envelope{}, errors.New("invalid UTF-8")
	}
	var env Envelope
	fields := map[string]any{
		"format":          &env.Format,
		"delivery_id":     &env.DeliveryID,
		"appeal_id":       &env.AppealID,
		"tracking_number": &env.TrackingNumber,
		"authority":       &env.Authority,
		"attempt":         &env.Attempt,
		"received_at":     &env.ReceivedAt,
		"submission":      &env.Submission,

		"verified_signatures": &env.VerifiedSignatures,
	}
	seen := make(map[string]bool, len(fields))

	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return Envelope{}, fmt.Errorf("read document: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return Envelope{}, errors.New("document is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Envelope{}, fmt.Errorf("read member name: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return Envelope{}, errors.New("member name is not a string")
		}
		target, known := fields[key]
		if !known {
			return Envelope{}, fmt.Errorf("unknown field %q", key)
		}
		if seen[key] {
			return Envelope{}, fmt.Errorf("duplicate field %q", key)
		}
		seen[key] = true
		if err := dec.Decode(target); err != nil {
			return Envelope{}, fmt.Errorf("field %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return Envelope{}, fmt.Errorf("read document end: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Envelope{}, errors.New("data after the document")
	}

	switch {
	case env.Format != Format:
		return Envelope{}, fmt.Errorf("format %q: want %q", env.Format, Format)
	case env.DeliveryID == "":
		return Envelope{}, errors.New("missing delivery_id")
	case env.Attempt < 0:
		return Envelope{}, fmt.Errorf("attempt %d: must not be negative", env.Attempt)
	}
	for i, v := range env.VerifiedSignatures {
		if v.Index < 0 || v.Of == "" {
			return Envelope{}, fmt.Errorf("verified_signatures[%d]: needs an index of at least 0 and an of", i)
		}
	}
	env.Submission = bytes.TrimSpace(env.Submission)
	if len(env.Submission) == 0 || env.Submission[0] != '{' {
		return Envelope{}, errors.New("submission is missing or not a JSON object")
	}
	return env, nil
}

// replyBody is the wire shape of a reply.
type replyBody struct {
	Status             string  `json:"status"`
	RegistrationNumber string  `json:"registration_number,omitempty"`
	RegisteredAt       *string `json:"registered_at,omitempty"`
	Reference          string  `json:"reference,omitempty"`
}

// DecodeReply reads a system's answer to a push. An empty (or all-whitespace) body is Reply{}: sent,
// not delivered. Otherwise mediaType, when given, must be JSON (application/json or a +json type),
// and the body a JSON object with status "delivered" (Delivered is true) or "accepted"; an optional
// registered_at must be RFC 3339. Unknown members are ignored. Every error wraps ErrInvalidReply
// and is not permanent.
func (Adapter) DecodeReply(mediaType string, body []byte) (adapters.Reply, error) {
	rep, err := decodeReply(mediaType, body)
	if err != nil {
		return adapters.Reply{}, fmt.Errorf("decode json reply: %w: %w", ErrInvalidReply, err)
	}
	return rep, nil
}

func decodeReply(mediaType string, body []byte) (adapters.Reply, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return adapters.Reply{}, nil
	}
	if mediaType != "" {
		mt, _, err := mime.ParseMediaType(mediaType)
		if err != nil {
			return adapters.Reply{}, fmt.Errorf("media type: %w", err)
		}
		if mt != MediaType && !strings.HasSuffix(mt, "+json") {
			return adapters.Reply{}, fmt.Errorf("media type %q is not JSON", mt)
		}
	}
	if !utf8.Valid(body) {
		return adapters.Reply{}, errors.New("invalid UTF-8")
	}
	if body[0] != '{' {
		return adapters.Reply{}, errors.New("reply is not a JSON object")
	}
	var rb replyBody
	if err := json.Unmarshal(body, &rb); err != nil {
		return adapters.Reply{}, err
	}
	var rep adapters.Reply
	switch rb.Status {
	case StatusDelivered:
		rep.Delivered = true
	case StatusAccepted:
	case "":
		return adapters.Reply{}, errors.New("missing status")
	default:
		return adapters.Reply{}, fmt.Errorf("unknown status %q", rb.Status)
	}
	rep.RegistrationNumber = rb.RegistrationNumber
	rep.Reference = rb.Reference
	if rb.RegisteredAt != nil && *rb.RegisteredAt != "" {
		at, err := time.Parse(time.RFC3339Nano, *rb.RegisteredAt)
		if err != nil {
			return adapters.Reply{}, fmt.Errorf("registered_at: %w", err)
		}
		rep.RegisteredAt = &at
	}
	return rep, nil
}

// EncodeReply renders rep as a system's reply body, the inverse of DecodeReply: status "delivered"
// when rep.Delivered, else "accepted". Receivers (the sandbox, test systems) use it.
func EncodeReply(rep adapters.Reply) []byte {
	rb := replyBody{
		Status:             StatusAccepted,
		RegistrationNumber: rep.RegistrationNumber,
		Reference:          rep.Reference,
	}
	if rep.Delivered {
		rb.Status = StatusDelivered
	}
	if rep.RegisteredAt != nil {
		at := rep.RegisteredAt.Format(time.RFC3339Nano)
		rb.RegisteredAt = &at
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(rb) // strings and a string pointer cannot fail to marshal
	return bytes.TrimRight(buf.Bytes(), "\n")
}
