package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"

	"appealhub/internal/store"
)

// timeLayout is how canonical encodings write instants: UTC, always six fractional digits.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// CheckpointFormat names the format of the checkpoint content that is signed.
const CheckpointFormat = "appealhub.event_chain.checkpoint.v1"

// Canonical returns the canonical encoding of an event: a JSON object (RFC 8785 style: keys in
// byte order, no white space, strings escaped minimally) with exactly these members:
//
//	appeal_id    string, the UUID in lower case
//	created_at   string, UTC, RFC 3339 with exactly six fractional digits ("2026-03-01T09:30:00.000000Z")
//	delivery_id  string, or null when the event concerns no delivery
//	detail       string
//	seq          integer
//	status       string
//	type         string
//
// In strings, '"' and '\' are escaped with a backslash, U+0008, U+0009, U+000A, U+000C and U+000D
// as \b \t \n \f \r, other code points below U+0020 as \u00XX (lower-case hex); everything else
// is written as UTF-8. A byte that is not valid UTF-8 (PostgreSQL's UTF8 encoding never stores
// one) is written as U+FFFD. The transaction id is not part of the encoding. The encoding never
// changes: a new one would need a new format marker in the chain.
func Canonical(e store.ChainEvent) []byte {
	b := make([]byte, 0, 192+len(e.Detail))
	b = append(b, `{"appeal_id":`...)
	b = appendString(b, e.AppealID)
	b = append(b, `,"created_at":`...)
	b = appendString(b, e.CreatedAt.UTC().Format(timeLayout))
	b = append(b, `,"delivery_id":`...)
	if e.DeliveryID == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, e.DeliveryID)
	}
	b = append(b, `,"detail":`...)
	b = appendString(b, e.Detail)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"status":`...)
	b = appendString(b, e.Status)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	return append(b, '}')
}

// LinkHash is the hash of the link that seals e after a link whose hash is prev:
// SHA-256(prev ‖ Canonical(e)), prev being empty for the first link. It is a store.HashFunc.
func LinkHash(prev []byte, e store.ChainEvent) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(Canonical(e))
	return h.Sum(nil)
}

var _ store.HashFunc = LinkHash

// CheckpointContent returns the bytes a checkpoint's signature covers, a canonical JSON object
// like Canonical's:
//
//	{"created_at":"…","format":"appealhub.event_chain.checkpoint.v1","hash":"<64 hex digits>","pos":N,"seq":N}
func CheckpointContent(pos, seq int64, hash []byte, createdAt time.Time) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"created_at":`...)
	b = appendString(b, createdAt.UTC().Format(timeLayout))
	b = append(b, `,"format":`...)
	b = appendString(b, CheckpointFormat)
	b = append(b, `,"hash":`...)
	b = appendString(b, hex.EncodeToString(hash))
	b = append(b, `,"pos":`...)
	b = strconv.AppendInt(b, pos, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a canonical JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, r) // utf8.RuneError (U+FFFD) for an invalid byte
		i += size
	}
	return append(b, '"')
}
