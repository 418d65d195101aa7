package receipt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"appealhub/schemas"
)

// Format names the format of the receipt content; a new format gets a new name.
const Format = "appealhub.receipt.v1"

// timeLayout writes every instant of a receipt: UTC, exactly six fractional digits (as the event
// chain does).
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Content is what a receipt says: the JSON object the hub signs. docs/receipts.md describes every
// member. Canonical gives the bytes that are signed.
type Content struct {
	Format   string               `json:"format"`
	ID       string               `json:"id"`
	Evidence schemas.EvidenceType `json:"evidence"`
	Hub      Hub                  `json:"hub"`
	// IssuedAt is when the hub signed the receipt; EventTime when what it attests happened (the
	// submission received, the delivery made, the registration reported).
	IssuedAt       string `json:"issued_at"`
	EventTime      string `json:"event_time"`
	AppealID       string `json:"appeal_id"`
	TrackingNumber string `json:"tracking_number"`
	// Chain is the link of the event chain that seals the event the receipt attests.
	Chain ChainRef `json:"chain"`
	// SubmissionSHA256 and Documents: submission_acceptance only.
	SubmissionSHA256 string     `json:"submission_sha256,omitempty"`
	Documents        []Document `json:"documents,omitempty"`
	// DeliveryID and Authority: delivery and registration.
	DeliveryID string `json:"delivery_id,omitempty"`
	Authority  string `json:"authority,omitempty"`
	// Registration: registration only.
	Registration *Registration `json:"registration,omitempty"`
}

// Hub is the hub's identity (configuration identity.code, name, system_id).
type Hub struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	SystemID string `json:"system_id"`
}

// ChainRef names a link of the event chain (docs/adr/0004-event-hash-chain.md).
type ChainRef struct {
	Pos      int64  `json:"pos"`
	Seq      int64  `json:"seq"`
	Hash     string `json:"hash"`                // hex
	PrevHash string `json:"prev_hash,omitempty"` // hex; absent for the first link
}

// Document is the digest of one document of a submission: the appeal's text ("text": its UTF-8
// bytes) or an attachment (its id, or "/attachments/<index>" when it has none: its decoded content).
type Document struct {
	ID        string `json:"id"`
	MediaType string `json:"media_type,omitempty"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
}

// Registration is the authority's registration as its system reported it.
type Registration struct {
	Number    string `json:"number"`
	Date      string `json:"date,omitempty"`
	MessageID string `json:"message_id"`
}

// Canonical returns the bytes of c that the hub signs: canonical JSON in the style of RFC 8785,
// as the event chain encodes events: object members sorted by name (byte order), no white space,
// integers in decimal, strings with '"' and '\' escaped, U+0008, U+0009, U+000A, U+000C and U+000D
// as \b \t \n \f \r, other code points below U+0020 as \u00xx (lower-case hex), everything else as
// UTF-8. Members that do not apply are left out.
func Canonical(c Content) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode receipt content: %w", err)
	}
	return canonicalize(raw)
}

// canonicalize re-encodes a JSON document canonically (integers only: no fraction or exponent).
func canonicalize(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	return appendCanonical(nil, v)
}

func appendCanonical(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case json.Number:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("canonical JSON: %s is not an integer", v)
		}
		return strconv.AppendInt(b, n, 10), nil
	case string:
		return appendQuoted(b, v), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendCanonical(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendQuoted(b, k), ':')
			var err error
			if b, err = appendCanonical(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	default:
		return nil, fmt.Errorf("canonical JSON: unexpected %T", v)
	}
}

// shortEscapes are the control characters with a two-character escape.
var shortEscapes = map[rune]byte{'\b': 'b', '\t': 't', '\n': 'n', '\f': 'f', '\r': 'r'}

// appendQuoted appends s as a canonical JSON string (an invalid byte becomes U+FFFD).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b = append(b, '\\', byte(r))
		} else if esc, ok := shortEscapes[r]; ok {
			b = append(b, '\\', esc)
		} else if r < 0x20 {
			b = fmt.Appendf(b, `\u%04x`, r)
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// ParseContent decodes receipt content and checks that it is in this package's Format.
func ParseContent(data []byte) (Content, error) {
	var c Content
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("not a receipt: %w", err)
	}
	if c.Format != Format {
		return c, fmt.Errorf("not a receipt: format %q, want %q", c.Format, Format)
	}
	return c, nil
}

// formatTime writes an instant as receipts do.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// storedSubmission is the part of a stored submission a receipt states digests of. The body was
// validated at intake; a light decode keeps old bodies readable whatever the schema becomes.
type storedSubmission struct {
	Text        *string `json:"text"`
	Attachments []struct {
		ID        string `json:"id"`
		MediaType string `json:"media_type"`
		Content   []byte `json:"content"`
	} `json:"attachments"`
}

// documentsOf returns the digests of a stored submission's documents: the text, then every
// attachment in order.
func documentsOf(body []byte) ([]Document, error) {
	var sub storedSubmission
	if err := json.Unmarshal(body, &sub); err != nil {
		return nil, fmt.Errorf("decode the stored submission: %w", err)
	}
	if sub.Text == nil {
		return nil, errors.New("decode the stored submission: it has no text")
	}
	docs := []Document{{ID: "text", SHA256: sha256Hex([]byte(*sub.Text)), Size: int64(len(*sub.Text))}}
	for i, a := range sub.Attachments {
		id := a.ID
		if id == "" {
			id = "/attachments/" + strconv.Itoa(i)
		}
		docs = append(docs, Document{ID: id, MediaType: a.MediaType, SHA256: sha256Hex(a.Content), Size: int64(len(a.Content))})
	}
	return docs, nil
}
