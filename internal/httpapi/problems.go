package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"appealhub/schemas"
)

// ProblemTypeBase prefixes a code to make a problem's type URI. It is an identifier: stable, and
// not required to resolve.
const ProblemTypeBase = "https://appealhub.example/problems/"

// ProblemContentType is the media type of every refusal (RFC 9457).
const ProblemContentType = "application/problem+json"

// problemSpec is how one code is answered.
type problemSpec struct {
	Code   schemas.Code
	Status int
	Title  string
	// RetryAfter, in seconds, is sent as the Retry-After header when > 0.
	RetryAfter int
}

// problemTable is THE mapping of problem codes to HTTP answers. Every code of schemas.Codes() is
// here exactly once, and documented in docs/errors.md (both checked by tests).
var problemTable = []problemSpec{
	{schemas.CodeMalformedJSON, http.StatusBadRequest, "Malformed JSON", 0},
	{schemas.CodeInvalidUTF8, http.StatusBadRequest, "Invalid UTF-8", 0},
	{schemas.CodeNULCharacter, http.StatusBadRequest, "NUL character", 0},
	{schemas.CodeDuplicateKey, http.StatusBadRequest, "Duplicate key", 0},
	{schemas.CodeSchemaViolation, http.StatusBadRequest, "Schema violation", 0},
	{schemas.CodeBodyTooLarge, http.StatusRequestEntityTooLarge, "Body too large", 0},
	{schemas.CodeUnsupportedMediaType, http.StatusUnsupportedMediaType, "Unsupported media type", 0},
	{schemas.CodeUnauthorized, http.StatusUnauthorized, "Unauthorized", 0},
	{schemas.CodeForbidden, http.StatusForbidden, "Forbidden", 0},
	{schemas.CodeNotFound, http.StatusNotFound, "Not found", 0},
	{schemas.CodeMethodNotAllowed, http.StatusMethodNotAllowed, "Method not allowed", 0},
	{schemas.CodeIdempotencyKeyMissing, http.StatusBadRequest, "Idempotency key missing", 0},
	{schemas.CodeIdempotencyKeyReused, http.StatusConflict, "Idempotency key reused", 0},
	{schemas.CodeUnknownAddressee, http.StatusUnprocessableEntity, "Unknown addressee", 0},
	{schemas.CodeAddresseeInactive, http.StatusUnprocessableEntity, "Addressee inactive", 0},
	{schemas.CodeRoutingUnavailable, http.StatusUnprocessableEntity, "Routing unavailable", 0},
	{schemas.CodeMalformedMessage, http.StatusBadRequest, "Malformed message", 0},
	{schemas.CodeVersionConflict, http.StatusPreconditionFailed, "Version conflict", 0},
	{schemas.CodeSignatureRequired, http.StatusUnprocessableEntity, "Signature required", 0},
	{schemas.CodeSignatureTooLarge, http.StatusRequestEntityTooLarge, "Signature too large", 0},
	{schemas.CodeSignatureMalformed, http.StatusUnprocessableEntity, "Signature malformed", 0},
	{schemas.CodeDigestMismatch, http.StatusUnprocessableEntity, "Digest mismatch", 0},
	{schemas.CodeSignerMismatch, http.StatusUnprocessableEntity, "Signer mismatch", 0},
	{schemas.CodeWeakAlgorithm, http.StatusUnprocessableEntity, "Weak algorithm", 0},
	{schemas.CodeUnsupportedAlgorithm, http.StatusUnprocessableEntity, "Unsupported algorithm", 0},
	{schemas.CodeBadKeyUsage, http.StatusUnprocessableEntity, "Bad key usage", 0},
	{schemas.CodeCertificateExpired, http.StatusUnprocessableEntity, "Certificate expired", 0},
	{schemas.CodeUntrustedChain, http.StatusUnprocessableEntity, "Untrusted chain", 0},
	{schemas.CodeCertificateRevoked, http.StatusUnprocessableEntity, "Certificate revoked", 0},
	{schemas.CodeRevocationUnknown, http.StatusServiceUnavailable, "Revocation unknown", 60},
	{schemas.CodeForwardTargetUnknown, http.StatusUnprocessableEntity, "Forward target unknown", 0},
	{schemas.CodeForwardTargetInactive, http.StatusUnprocessableEntity, "Forward target inactive", 0},
	{schemas.CodeForwardTargetDuplicate, http.StatusUnprocessableEntity, "Forward target duplicate", 0},
	{schemas.CodeForwardTargetForbidden, http.StatusUnprocessableEntity, "Forward target forbidden", 0},
	{schemas.CodeRateLimited, http.StatusTooManyRequests, "Rate limited", 10},
	{schemas.CodeShuttingDown, http.StatusServiceUnavailable, "Shutting down", 1},
	{schemas.CodeServiceUnavailable, http.StatusServiceUnavailable, "Service unavailable", 5},
	{schemas.CodeInternal, http.StatusInternalServerError, "Internal error", 0},
}

var problemsByCode = func() map[schemas.Code]problemSpec {
	m := make(map[schemas.Code]problemSpec, len(problemTable))
	for _, p := range problemTable {
		m[p.Code] = p
	}
	return m
}()

// Problem is the RFC 9457 body of every refusal.
type Problem struct {
	Type      string                 `json:"type"`
	Title     string                 `json:"title"`
	Status    int                    `json:"status"`
	Code      schemas.Code           `json:"code"`
	Detail    string                 `json:"detail,omitempty"`
	Instance  string                 `json:"instance,omitempty"`
	RequestID string                 `json:"request_id,omitempty"`
	Errors    []schemas.FieldProblem `json:"errors,omitempty"`
}

// Generic details for problems whose cause must not be shown.
const (
	detailInternal    = "an unexpected error occurred; quote the request id when reporting it"
	detailUnavailable = "a service the hub depends on is unavailable; retry later"
)

// writeProblem answers r with the problem for code. Unknown codes are answered as internal.
func writeProblem(w http.ResponseWriter, r *http.Request, code schemas.Code, detail string, fields []schemas.FieldProblem) {
	spec, ok := problemsByCode[code]
	if !ok {
		spec, detail, fields = problemsByCode[schemas.CodeInternal], detailInternal, nil
	}
	p := Problem{
		Type:      ProblemTypeBase + string(spec.Code),
		Title:     spec.Title,
		Status:    spec.Status,
		Code:      spec.Code,
		Detail:    detail,
		Instance:  r.URL.Path,
		RequestID: infoFrom(r.Context()).id,
		Errors:    fields,
	}
	h := w.Header()
	switch spec.Code {
	case schemas.CodeUnauthorized:
		h.Set("WWW-Authenticate", "Bearer")
	}
	if spec.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(spec.RetryAfter))
	}
	writeJSON(w, spec.Status, ProblemContentType, p)
}

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil { // our own types only: cannot happen
		status, contentType = http.StatusInternalServerError, ProblemContentType
		body = []byte(`{"type":"` + ProblemTypeBase + `internal","title":"Internal error","status":500,"code":"internal"}`)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError answers r with the problem err stands for: a *schemas.Error with a known code as
// itself, an error wrapping schemas.ErrUnavailable (or a deadline) as service_unavailable, and
// anything else as internal with a generic detail; the last two are logged with the request id.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	log := h.logger.With(zap.String("request_id", infoFrom(r.Context()).id), zap.String("op", op))
	if perr, ok := errors.AsType[*schemas.Error](err); ok {
		if spec, known := problemsByCode[perr.Code]; known && spec.Code != schemas.CodeInternal {
			if spec.Status >= 500 {
				log.Warn("refused: dependency", zap.String("code", string(perr.Code)), zap.Error(err))
			}
			writeProblem(w, r, perr.Code, perr.Detail, perr.Fields)
			return
		}
	}
	switch {
	case errors.Is(err, schemas.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		log.Warn("dependency unavailable", zap.Error(err))
		writeProblem(w, r, schemas.CodeServiceUnavailable, detailUnavailable, nil)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		log.Info("request canceled by the client", zap.Error(err))
		writeProblem(w, r, schemas.CodeServiceUnavailable, "request canceled", nil)
	default:
		log.Error("unexpected error", zap.Error(err))
		writeProblem(w, r, schemas.CodeInternal, detailInternal, nil)
	}
}
