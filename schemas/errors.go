package schemas

import (
	"errors"
	"fmt"
)

// Code is a stable problem code. Codes are persisted, logged and shown to clients in
// application/problem+json bodies: never rename one, only add new ones. Every code is
// documented in docs/errors.md.
type Code string

// The problem codes. The HTTP status each one maps to lives in internal/httpapi.
const (
	// CodeMalformedJSON: the body is not one well-formed JSON value (syntax error, trailing data,
	// nesting deeper than MaxJSONDepth).
	CodeMalformedJSON Code = "malformed_json"
	// CodeInvalidUTF8: the body is not valid UTF-8, or a string escapes a lone UTF-16 surrogate.
	CodeInvalidUTF8 Code = "invalid_utf8"
	// CodeNULCharacter: a NUL character, raw or escaped as \u0000, in any string or key.
	CodeNULCharacter Code = "nul_character"
	// CodeDuplicateKey: the same key twice in one JSON object.
	CodeDuplicateKey Code = "duplicate_key"
	// CodeSchemaViolation: the document does not satisfy the schema or the rules beside it
	// (unknown, missing, mistyped or out-of-range fields).
	CodeSchemaViolation Code = "schema_violation"
	// CodeBodyTooLarge: the request body exceeds the configured limit.
	CodeBodyTooLarge Code = "body_too_large"
	// CodeUnsupportedMediaType: the request's Content-Type is not the one the endpoint takes.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeUnauthorized: no bearer token, or one that is unknown.
	CodeUnauthorized Code = "unauthorized"
	// CodeForbidden: the client is known but may not use this endpoint.
	CodeForbidden Code = "forbidden"
	// CodeNotFound: no such route, or no such resource visible to this client.
	CodeNotFound Code = "not_found"
	// CodeMethodNotAllowed: the route exists but not with this method.
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodeIdempotencyKeyMissing: the Idempotency-Key header is absent or malformed.
	CodeIdempotencyKeyMissing Code = "idempotency_key_missing"
	// CodeIdempotencyKeyReused: the Idempotency-Key was used before with another body.
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	// CodeUnknownAddressee: an addressee is not in the authority registry.
	CodeUnknownAddressee Code = "unknown_addressee"
	// CodeAddresseeInactive: an addressee exists but is suspended or closed.
	CodeAddresseeInactive Code = "addressee_inactive"
	// CodeRoutingUnavailable: no authority could be found for the topic and territory.
	CodeRoutingUnavailable Code = "routing_unavailable"
	// CodeMalformedMessage: a message from an authority's system is not acceptable in its format
	// (not well-formed, wrong standard or version, a DTD, too deep, not a known message).
	CodeMalformedMessage Code = "malformed_message"
	// CodeVersionConflict: the change names a version of the resource (If-Match, or a version
	// field) that is not its current one: someone changed it since it was read.
	CodeVersionConflict Code = "version_conflict"
	// CodeSignatureRequired: the policy requires a signature of the text and of every attachment,
	// and one of them has no cades-detached signature (an attachment without an id cannot have one).
	CodeSignatureRequired Code = "signature_required"
	// CodeSignatureTooLarge: a signature exceeds signatures.max_signature_bytes, or carries more
	// certificates or CRLs than the verifier takes.
	CodeSignatureTooLarge Code = "signature_too_large"
	// CodeSignatureMalformed: a signature is not one strict-DER CAdES-BES SignedData with one signer.
	CodeSignatureMalformed Code = "signature_malformed"
	// CodeDigestMismatch: a signature does not sign the bytes it is given for (changed content, or
	// another document's signature), or its value does not verify.
	CodeDigestMismatch Code = "digest_mismatch"
	// CodeSignerMismatch: a signature's signing-certificate attribute names another certificate than
	// the one it was made with.
	CodeSignerMismatch Code = "signer_mismatch"
	// CodeWeakAlgorithm: a signature uses a refused algorithm (SHA-1, MD5, RSA under 2048 bits).
	CodeWeakAlgorithm Code = "weak_algorithm"
	// CodeUnsupportedAlgorithm: a signature uses an algorithm the hub does not verify (DSTU 4145
	// without the external verifier, other curves, Ed25519, unknown OIDs).
	CodeUnsupportedAlgorithm Code = "unsupported_algorithm"
	// CodeBadKeyUsage: the signer certificate is not for signing documents (no nonRepudiation, a CA
	// or a TLS server certificate).
	CodeBadKeyUsage Code = "bad_key_usage"
	// CodeCertificateExpired: a certificate of the signer's chain is not valid when the hub received
	// the signature.
	CodeCertificateExpired Code = "certificate_expired"
	// CodeUntrustedChain: the signer certificate does not chain to a trusted certification authority.
	CodeUntrustedChain Code = "untrusted_chain"
	// CodeCertificateRevoked: a certificate of the signer's chain is revoked.
	CodeCertificateRevoked Code = "certificate_revoked"
	// CodeRevocationUnknown: CRLs are required and a certificate of the signer's chain has no current
	// one at the hub; retry later.
	CodeRevocationUnknown Code = "revocation_unknown"
	// CodeForwardTargetUnknown: a forwarded message names an authority that is not in the registry.
	CodeForwardTargetUnknown Code = "forward_target_unknown"
	// CodeForwardTargetInactive: a forwarded message names an authority that is suspended or closed,
	// or does not accept the case's kind.
	CodeForwardTargetInactive Code = "forward_target_inactive"
	// CodeForwardTargetDuplicate: a forwarded message names an authority that already has a delivery
	// of the case (the forwarding authority itself included).
	CodeForwardTargetDuplicate Code = "forward_target_duplicate"
	// CodeForwardTargetForbidden: a forwarded message names the authority the complaint is against,
	// which may not receive it.
	CodeForwardTargetForbidden Code = "forward_target_forbidden"
	// CodeShuttingDown: this hub process is draining before it stops; retry (another process).
	CodeShuttingDown Code = "shutting_down"
	// CodeRateLimited: the client sent more requests of this kind than the hub allows; retry after
	// the Retry-After header's seconds.
	CodeRateLimited Code = "rate_limited"
	// CodeServiceUnavailable: a dependency (database, broker) is down; retry later.
	CodeServiceUnavailable Code = "service_unavailable"
	// CodeInternal: an unexpected failure; the details are in the hub's log under the request id.
	CodeInternal Code = "internal"
)

// Codes returns every problem code, in declaration order.
func Codes() []Code {
	return []Code{
		CodeMalformedJSON, CodeInvalidUTF8, CodeNULCharacter, CodeDuplicateKey, CodeSchemaViolation,
		CodeBodyTooLarge, CodeUnsupportedMediaType, CodeUnauthorized, CodeForbidden, CodeNotFound,
		CodeMethodNotAllowed, CodeIdempotencyKeyMissing, CodeIdempotencyKeyReused, CodeUnknownAddressee,
		CodeAddresseeInactive, CodeRoutingUnavailable, CodeMalformedMessage, CodeShuttingDown, CodeServiceUnavailable,
		CodeInternal, CodeVersionConflict, CodeRateLimited,
		CodeSignatureRequired, CodeSignatureTooLarge, CodeSignatureMalformed, CodeDigestMismatch, CodeSignerMismatch,
		CodeWeakAlgorithm, CodeUnsupportedAlgorithm, CodeBadKeyUsage, CodeCertificateExpired, CodeUntrustedChain,
		CodeCertificateRevoked, CodeRevocationUnknown,
		CodeForwardTargetUnknown, CodeForwardTargetInactive, CodeForwardTargetDuplicate, CodeForwardTargetForbidden,
	}
}

// ErrUnavailable is wrapped by lower layers when a dependency (the database, the broker) is down.
// The HTTP edge answers it with 503 service_unavailable.
var ErrUnavailable = errors.New("service unavailable")

// FieldProblem names one failing field of a document by its RFC 6901 JSON pointer
// (e.g. "/applicant/surname"; "" is the whole document).
type FieldProblem struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// Error is the typed error every layer returns for a refusal the client must see. Match it with
// errors.AsType[*schemas.Error]. Detail and the field messages are shown to the client: they must
// not carry internals.
type Error struct {
	// Code is the stable problem code.
	Code Code
	// Detail is a human-readable explanation for the client.
	Detail string
	// Fields lists the failing fields, if any.
	Fields []FieldProblem
	// Err is the wrapped cause (optional); it is never shown to the client.
	Err error
}

// Error implements error: "<code>: <detail>", then the field problems.
func (e *Error) Error() string {
	s := string(e.Code)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	for i, f := range e.Fields {
		if i == 0 {
			s += " ("
		} else {
			s += "; "
		}
		s += f.Pointer + " " + f.Message
		if i == len(e.Fields)-1 {
			s += ")"
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a detail formatted as fmt.Sprintf does. A %w verb
// in format also sets Err to the wrapped error(s).
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	e := &Error{Code: code, Detail: err.Error()}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		e.Err = u.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(u.Unwrap()...)
	}
	return e
}
