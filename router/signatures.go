package router

import (
	"context"
	"errors"
	"fmt"
	"go.uber.org/zap"
	"time"

	"appealhub/config"
	"appealhub/internal/signature"
	"appealhub/internal/signature/remote"
	"appealhub/router/intake"
	"appealhub/schemas"
)

var (
	_ intake.Verifier    = signatureChecker{}
	_ signature.External = (*remote.Client)(nil)
)

// NewSignatureVerifier builds intake's verifier of citizens' signatures, the one router.New gives
// intake: the signature library over the configured trust directory, with the external DSTU 4145
// verifier when its URL is set. Without a trust directory (every policy is off, which
// config.Validate ensures) there is none: it returns nil.
func NewSignatureVerifier(cfg config.Signatures) (intake.Verifier, error) {
	if cfg.TrustDir == "" {
		return nil, nil
	}
	sc := signature.Config{TrustDir: cfg.TrustDir, MaxSignatureBytes: cfg.MaxSignatureBytes, RequireCRL: cfg.RequireCRL}
	if cfg.External.URL != "" {
		ext, err := remote.New(remote.Config{URL: cfg.External.URL, Timeout: cfg.External.Timeout})
		if err != nil {
			return nil, fmt.Errorf("signatures.external: %w", err)
		}
		sc.External = ext
	}
	v, err := signature.New(sc)
	if err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	return signatureChecker{v: v}, nil
}

// signatureChecker is intake's Verifier over the signature library, in the hub's vocabulary: the
// signer's facts as schemas.Signer, a refusal as a *schemas.Error with its problem code and its
// reason as detail (wrapping the *signature.Error), and any other error (a context error, the
// external verifier down) unchanged.
type signatureChecker struct {
	v *signature.Verifier
}

// Reload reads the trust directory again (renewed CRLs, changed anchors).
func (c signatureChecker) Reload() error { return c.v.Reload() }

func (c signatureChecker) Check(ctx context.Context, sig, content []byte, at time.Time) (schemas.Signer, error) {
	s, err := c.v.Verify(ctx, sig, content, at)
	if err == nil {
		return signerFacts(s), nil
	}
	if e, ok := errors.AsType[*signature.Error](err); ok {
		return schemas.Signer{}, &schemas.Error{Code: problemCode(e.Code), Detail: e.Reason, Err: e}
	}
	return schemas.Signer{}, err
}

// problemCode is the public problem code of a refusal: the same word, except too_large, which is
// signature_too_large so that it is not confused with body_too_large.
func problemCode(c signature.Code) schemas.Code {
	if c == signature.CodeTooLarge {
		return schemas.CodeSignatureTooLarge
	}
	return schemas.Code(c)
}

// signerFacts gives the signer's facts in the vocabulary the store keeps and the adapters deliver.
func signerFacts(s signature.Signer) schemas.Signer {
	f := schemas.Signer{
		Subject:            s.Subject,
		Issuer:             s.Issuer,
		SerialNumber:       s.SerialNumber,
		NotBefore:          s.NotBefore.UTC(),
		NotAfter:           s.NotAfter.UTC(),
		TaxNumber:          s.TaxNumber,
		DigestAlgorithm:    s.DigestAlgorithm,
		SignatureAlgorithm: s.SignatureAlgorithm,
		CertificateSHA256:  s.CertificateSHA256,
		Revocation:         string(s.Revocation),
	}
	if !s.ClaimedSigningTime.IsZero() {
		t := s.ClaimedSigningTime.UTC()
		f.ClaimedSigningTime = &t
	}
	return f
}

// signaturePolicies gives intake the configured signature policies, with each client's override.
func signaturePolicies(cfg config.Config) intake.SignaturePolicies {
	p := intake.SignaturePolicies{
		Appeal:      intake.SignaturePolicy(cfg.Signatures.Policy.Appeal),
		InfoRequest: intake.SignaturePolicy(cfg.Signatures.Policy.InfoRequest),
		Clients:     map[string]intake.ClientSignaturePolicies{},
	}
	for _, c := range cfg.Clients {
		if c.SignaturePolicy != (config.ClientSignaturePolicy{}) {
			p.Clients[c.ID] = intake.ClientSignaturePolicies{Appeal: intake.SignaturePolicy(c.SignaturePolicy.Appeal),
				InfoRequest: intake.SignaturePolicy(c.SignaturePolicy.InfoRequest)}
		}
	}
	return p
}

// reloader is a verifier whose trust directory can be read again while the hub runs.
type reloader interface {
	Reload() error
}

// reloadTrustEvery reads the trust directory again every signatures.reload_interval, so that CRLs
// an operator renews take effect without a restart. A directory that fails to load (a half-copied
// file) is logged and the previous one stays in use.
func (h *Hub) reloadTrustEvery(ctx context.Context) {
	t := time.NewTicker(h.cfg.Signatures.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := h.trust.Reload(); err != nil {
			h.logger.Warn("reload signature trust directory failed; keeping the previous one", zap.Error(err))
			continue
		}
		h.logger.Debug("signature trust directory reloaded")
	}
}
