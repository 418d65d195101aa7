package intake

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"appealhub/schemas"
)

// Verifier checks one detached signature over the exact bytes it signs, at the hub's time of
// receipt (router.NewSignatureVerifier builds it over internal/signature). A refusal is a
// *schemas.Error with a signature code and a Detail without personal data; any other error means
// the verifier could not answer (a context error, the external verifier down), and the submission
// is neither accepted nor refused. Check may block and must honour ctx; it is called concurrently.
type Verifier interface {
	Check(ctx context.Context, sig, content []byte, at time.Time) (schemas.Signer, error)
}

// SignaturePolicy is what intake requires of a submission's signatures.
type SignaturePolicy string

const (
	// PolicyRequired: the text and every attachment carry a cades-detached signature, and every
	// cades-detached signature is valid.
	PolicyRequired SignaturePolicy = "required"
	// PolicyOptional: every cades-detached signature present is valid; none is fine.
	PolicyOptional SignaturePolicy = "optional"
	// PolicyOff: signatures are not verified; they are stored and delivered as received. The zero
	// value means off.
	PolicyOff SignaturePolicy = "off"
)

// SignaturePolicies chooses the policy of a submission by its case kind, overridden per client.
type SignaturePolicies struct {
	// Appeal and InfoRequest are the policies of the two case kinds; empty means PolicyOff.
	Appeal, InfoRequest SignaturePolicy
	// Clients overrides them for the clients it names (by client id); an empty field of an
	// override keeps the case kind's policy.
	Clients map[string]ClientSignaturePolicies
}

// ClientSignaturePolicies is one client's override of SignaturePolicies.
type ClientSignaturePolicies struct {
	Appeal, InfoRequest SignaturePolicy
}

// For returns the policy of a submission of kind from clientID.
func (p SignaturePolicies) For(clientID string, kind schemas.CaseKind) SignaturePolicy {
	policy, override := p.Appeal, p.Clients[clientID].Appeal
	if kind == schemas.CaseInfoRequest {
		policy, override = p.InfoRequest, p.Clients[clientID].InfoRequest
	}
	if override != "" {
		policy = override
	}
	if policy == "" {
		return PolicyOff
	}
	return policy
}

// errNoVerifier is returned when a policy verifies and no Verifier was given (a wiring mistake).
var errNoVerifier = errors.New("verify signatures: no verifier configured")

// checkSignatures applies the policy of the submission: under required, the text and every
// attachment must carry a cades-detached signature; under required and optional, every
// cades-detached signature must sign the bytes its "of" names (the UTF-8 bytes of the text, or an
// attachment's decoded content) at the time of receipt at. It returns the verified signatures with
// their signers' facts, in submission order.
func (in *Intake) checkSignatures(ctx context.Context, clientID string, sub schemas.Submission, at time.Time) ([]schemas.VerifiedSignature, error) {
	policy := in.cfg.Signatures.For(clientID, sub.CaseKind)
	if policy == PolicyOff {
		return nil, nil
	}
	if in.cfg.Verifier == nil {
		return nil, errNoVerifier
	}
	if policy == PolicyRequired {
		if err := requireSignatures(sub); err != nil {
			return nil, err
		}
	}
	attachments := make(map[string][]byte, len(sub.Attachments))
	for _, a := range sub.Attachments {
		if a.ID != "" {
			attachments[a.ID] = a.Content
		}
	}
	var out []schemas.VerifiedSignature
	for i, sig := range sub.Signatures {
		if sig.Format != schemas.SignatureCAdESDetached {
			continue // kept and delivered as received
		}
		content := []byte(sub.Text)
		if sig.Of != schemas.SignatureOfText {
			content = attachments[sig.Of] // DecodeSubmission checked that the id exists
		}
		pointer := "/signatures/" + strconv.Itoa(i)
		facts, err := in.cfg.Verifier.Check(ctx, sig.Value, content, at)
		if e, refused := errors.AsType[*schemas.Error](err); refused {
			return nil, &schemas.Error{Code: e.Code, Detail: fmt.Sprintf("signature %s is refused: %s", pointer, e.Detail),
				Fields: []schemas.FieldProblem{{Pointer: pointer, Message: e.Detail}}, Err: err}
		}
		if err != nil {
			return nil, fmt.Errorf("verify signature %s: %w: %w", pointer, schemas.ErrUnavailable, err)
		}
		out = append(out, schemas.VerifiedSignature{Index: i, Of: sig.Of, Format: sig.Format, Signer: facts})
	}
	return out, nil
}

// requireSignatures refuses, with signature_required naming each unsigned part, a submission whose
// text or an attachment has no cades-detached signature. An attachment without an id cannot be
// signed.
func requireSignatures(sub schemas.Submission) error {
	signed := map[string]bool{}
	for _, sig := range sub.Signatures {
		if sig.Format == schemas.SignatureCAdESDetached {
			signed[sig.Of] = true
		}
	}
	var missing []schemas.FieldProblem
	if !signed[schemas.SignatureOfText] {
		missing = append(missing, schemas.FieldProblem{Pointer: "/text", Message: "has no cades-detached signature"})
	}
	for i, a := range sub.Attachments {
		switch {
		case a.ID == "":
			missing = append(missing, schemas.FieldProblem{Pointer: "/attachments/" + strconv.Itoa(i),
				Message: "has no id, so it cannot carry a signature"})
		case !signed[a.ID]:
			missing = append(missing, schemas.FieldProblem{Pointer: "/attachments/" + strconv.Itoa(i),
				Message: "has no cades-detached signature"})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &schemas.Error{Code: schemas.CodeSignatureRequired,
		Detail: "the text and every attachment must carry a valid cades-detached signature", Fields: missing}
}
