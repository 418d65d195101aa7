// Package httpapi is the hub's HTTP edge: the portal API (POST /v1/appeals, GET /v1/appeals/{id}),
// the health endpoints (/livez, /readyz), bearer-token authentication, request ids, one log line
// per request, panic recovery, and every refusal as an RFC 9457 application/problem+json body
// with a stable code (see problems.go and docs/errors.md).
//
// It imports the standard library, zap and appealhub/schemas only. It declares the ports it
// calls (Authenticator, Submitter, CaseReader, Readiness); the wiring package satisfies them. It
// never decodes a submission itself: the Submitter validates the body with
// schemas.DecodeSubmission and returns *schemas.Error refusals, which are mapped here to statuses.
//
// # Problem types
//
// Every problem body has type "https://appealhub.example/problems/<code>" (ProblemTypeBase plus
// the code), the code's title and HTTP status, the code itself, a detail for the client, the
// request path as instance, the request id, and for field problems an errors list of
// {pointer, message}. The type URIs are identifiers and stay stable; they need not resolve.
package httpapi
