package receipt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"appealhub/internal/audit"
	"appealhub/internal/clock"
)

// CheckpointSignerPrefix starts the signer name of checkpoints the hub identity signed; the SHA-256
// of the hub certificate's DER (hex) follows.
const CheckpointSignerPrefix = "x509-sha256:"

// Compile-time checks that the hub identity plugs into the event chain's checkpoints.
var (
	_ audit.Signer   = (*CheckpointSigner)(nil)
	_ audit.Verifier = (*CheckpointVerifier)(nil)
)

// CheckpointSigner signs event chain checkpoints (audit.Signer) with the hub identity: a detached
// CMS SignedData (CAdES-BES) over the checkpoint content. The signer it names is
// CheckpointSignerPrefix followed by the certificate's SHA-256.
type CheckpointSigner struct {
	id    *Identity
	clock clock.Clock
}

// NewCheckpointSigner returns a checkpoint signer for id; c dates the signatures (nil: real).
func NewCheckpointSigner(id *Identity, c clock.Clock) *CheckpointSigner {
	return &CheckpointSigner{id: id, clock: clock.OrReal(c)}
}

// Sign signs a checkpoint's content.
func (s *CheckpointSigner) Sign(ctx context.Context, content []byte) ([]byte, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("sign checkpoint: %w", err)
	}
	sig, err := s.id.Sign(content, s.clock.Now(), true)
	if err != nil {
		return nil, "", fmt.Errorf("sign checkpoint: %w", err)
	}
	return sig, CheckpointSignerPrefix + s.id.CertificateSHA256(), nil
}

// CheckpointVerifier checks checkpoint signatures (audit.Verifier) made by a CheckpointSigner
// against the hub's CA.
type CheckpointVerifier struct {
	v *Verifier
}

// NewCheckpointVerifier returns a checkpoint verifier that trusts v's CAs.
func NewCheckpointVerifier(v *Verifier) *CheckpointVerifier { return &CheckpointVerifier{v: v} }

// Verify checks that sig is a valid detached signature over content by the certificate signer
// names. The certificate must be valid at the checkpoint's own created_at (what the hub claimed
// when it signed: without a time-stamp nothing better is known), so that checkpoints keep
// verifying after the certificate expires.
func (c *CheckpointVerifier) Verify(ctx context.Context, content, sig []byte, signer string) error {
	var cp struct {
		CreatedAt time.Time `json:"created_at"`
	}
	if err := json.Unmarshal(content, &cp); err != nil {
		return fmt.Errorf("read checkpoint content: %w", err)
	}
	s, err := c.v.VerifyDetached(ctx, sig, content, cp.CreatedAt)
	if err != nil {
		return err
	}
	if want, ok := strings.CutPrefix(signer, CheckpointSignerPrefix); !ok || want != s.CertificateSHA256 {
		return fmt.Errorf("%w: signed by certificate %s, not by %q", ErrInvalid, s.CertificateSHA256, signer)
	}
	return nil
}
