// Package adapters defines how the hub talks to an authority's document system: an Adapter turns a
// delivery into the authority's wire format and reads what the system answers, a Transport moves the
// encoded bytes, and a Registry finds adapters by their stable name.
//
// Formats and transports are kept apart so that any format can travel over any transport: the
// delivery worker calls Adapter.Encode, hands the bytes to a Transport, then gives the response to
// Adapter.DecodeReply. Adding a format is one new package under adapters/ plus one Register call in
// the wiring; nothing in the router changes.
//
// Optional capabilities (health checks, decoding inbound authority messages, pull-mode inboxes) are
// expressed as further small interfaces that an adapter may also implement and that callers discover
// by type assertion, so that the Adapter interface itself stays small and stable.
package adapters

import (
	"context"
	"encoding/json"
	"time"

	"appealhub/schemas"
)

// Document is what one delivery carries to one authority.
type Document struct {
	// DeliveryID is the idempotency key the authority sees; it is stable across retries.
	DeliveryID string
	// AppealID is the hub's id of the case.
	AppealID string
	// TrackingNumber is the human case number, e.g. ZV-2026-00012345.
	TrackingNumber string
	// Authority is the EDRPOU code of the recipient.
	Authority string
	// Attempt is the 1-based number of this attempt.
	Attempt int
	// ReceivedAt is when the hub accepted the submission.
	ReceivedAt time.Time
	// Submission is the decoded submission, for formats that map it field by field.
	Submission schemas.Submission
	// Raw is the submission exactly as received from the portal. Formats that carry the submission
	// as JSON embed these bytes verbatim: signed bytes are never re-encoded.
	Raw json.RawMessage
	// Signatures are the submission's signatures the hub verified at intake, with their signers'
	// facts; Index points into Submission.Signatures, whose bytes formats deliver unchanged.
	// Formats with a place for the facts carry them.
	Signatures []schemas.VerifiedSignature
}

// Reply is what an authority's system answered to a push.
type Reply struct {
	// Delivered reports that the system confirmed receipt (a receipt in the reply): the delivery
	// becomes "delivered". False means the bytes were accepted but not yet confirmed: "sent", until
	// the system's delivery notice arrives.
	Delivered bool
	// RegistrationNumber is the system's registration number, when it registered at once.
	RegistrationNumber string
	// RegisteredAt is when the system registered the document, when it says so.
	RegisteredAt *time.Time
	// Reference is the system's own id of the document, if any.
	Reference string
}

// Adapter encodes deliveries into an authority's wire format and decodes its replies.
//
// Encode and DecodeReply are pure: they do no I/O, never block, and are safe for concurrent use by
// any number of goroutines, so one Adapter value serves every authority that uses its format. They
// must never panic, whatever the input (they are fuzzed). They take no context because they never
// wait on anything.
type Adapter interface {
	// Name returns the stable registry name, e.g. "json". It is stored with each authority and must
	// never change once released.
	Name() string
	// MediaType returns the Content-Type of encoded documents, e.g. "application/json".
	MediaType() string
	// Encode renders doc in the wire format. An error means this Document can never be encoded:
	// callers treat every Encode error as permanent (adapters wrap them with Permanent as well).
	Encode(doc Document) ([]byte, error)
	// DecodeReply reads the body of a successful (2xx) answer to a push, whose Content-Type was
	// mediaType (possibly empty or with parameters). An empty body is a valid reply meaning "sent,
	// not confirmed". An error means the reply could not be understood; it is not permanent (the
	// push is retried under the same delivery id) unless wrapped with Permanent.
	DecodeReply(mediaType string, body []byte) (Reply, error)
}

// Request is one encoded document on its way to an authority's system.
type Request struct {
	// Endpoint is where the document goes, e.g. an https URL for HTTP push.
	Endpoint string
	// DeliveryID is sent as the idempotency key (the Idempotency-Key header for HTTP).
	DeliveryID string
	// MediaType is the Content-Type of Body (Adapter.MediaType).
	MediaType string
	// Body is the encoded document (Adapter.Encode).
	Body []byte
	// Token, when set, is sent as a bearer credential.
	Token string
	// TLSClient, when set, names the client certificate (a configured TLS client) the transport
	// presents to the system (mTLS). Empty: no client certificate.
	TLSClient string
	// Headers are extra headers to send, e.g. traceparent. They cannot replace the headers the
	// transport sets itself (content type, idempotency key, authorization).
	Headers map[string]string
}

// Response is what an authority's system answered.
type Response struct {
	Status    int
	MediaType string
	Body      []byte
}

// Transport moves encoded bytes to an authority's system; it knows nothing of formats.
//
// Send blocks until the system has answered, the transport's own timeout has passed, or ctx is done,
// whichever comes first; it returns promptly after ctx is cancelled, with an error that wraps
// ctx.Err(). It is safe for concurrent use. A nil error means the system accepted the document (a
// 2xx answer for HTTP). An error wrapped with Permanent means retrying cannot help (the delivery
// goes to the dead letters); any other error is transient and the delivery is retried with the same
// DeliveryID, so the same document may reach the system more than once, always under the same key.
type Transport interface {
	Send(ctx context.Context, req Request) (Response, error)
}

// MessageDecoder is an optional capability of an Adapter, found by type assertion: decoding what an
// authority's system sends to the hub (POST /v1/authorities/{code}/messages) into authority
// messages. Like Encode it is pure, safe for concurrent use and must never panic; an error means the
// body is not an acceptable message (the caller answers 400 and stores nothing).
type MessageDecoder interface {
	DecodeMessages(mediaType string, body []byte) ([]schemas.AuthorityMessage, error)
}

// Received is a delivery as an authority's system reads it from the wire.
type Received struct {
	DeliveryID     string
	Authority      string
	TrackingNumber string
	Submission     schemas.Submission
}

// Peer is the authority's side of a wire format: how a document system reads what the hub sends
// and how it answers. The sandbox and the conformance kit speak every format through its Peer, and
// the conformance suite (adapters/adaptertest) checks an Adapter against its Peer. Like the Adapter,
// a Peer is pure, safe for concurrent use and never panics.
type Peer interface {
	// DecodeDelivery reads a document the hub sent (pushed, or fetched from the inbox).
	DecodeDelivery(mediaType string, body []byte) (Received, error)
	// EncodeReply writes the synchronous answer to the pushed document whose delivery id is of.
	EncodeReply(of string, r Reply) (mediaType string, body []byte)
	// EncodeMessages writes authority messages as the system sends them to the hub.
	EncodeMessages(msgs []schemas.AuthorityMessage) (mediaType string, body []byte, err error)
}
