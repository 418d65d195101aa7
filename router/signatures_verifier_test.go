package router_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/signature"
	"appealhub/internal/signature/signaturetest"
	"appealhub/router"
	"appealhub/schemas"
)

// TestSignatureProblemCodes: every refusal code of the library is a public problem code of the same
// word, but too_large, which is signature_too_large.
func TestSignatureProblemCodes(t *testing.T) {
	t.Parallel()
	for _, c := range signature.Codes() {
		pc := router.SignatureProblemCode(c)
		require.True(t, slices.Contains(schemas.Codes(), pc), "%s is not a problem code", pc)
		if c != signature.CodeTooLarge {
			require.Equal(t, string(c), string(pc))
		}
	}
	require.Equal(t, schemas.CodeSignatureTooLarge, router.SignatureProblemCode(signature.CodeTooLarge))
}

// TestSignatureVerifier: the verifier the hub gives intake answers the library's facts and refusals
// in the schemas vocabulary; without a trust directory there is none.
func TestSignatureVerifier(t *testing.T) {
	t.Parallel()
	none, err := router.NewSignatureVerifier(config.Default().Signatures)
	require.NoError(t, err)
	require.Nil(t, none)
	_, err = router.NewSignatureVerifier(config.Signatures{TrustDir: t.TempDir()})
	require.ErrorContains(t, err, "holds no certificate")
	_, err = router.NewSignatureVerifier(config.Signatures{TrustDir: t.TempDir(), External: config.ExternalVerifier{URL: "verifier:8443"}})
	require.ErrorContains(t, err, "signatures.external")

	p := signaturetest.New(t)
	doc, now := p.Doc(t), time.Now()
	lib, err := signature.New(signature.Config{TrustDir: p.Path("trust")})
	require.NoError(t, err)
	want, err := lib.Verify(context.Background(), p.Sig(t, "ec384"), doc, now)
	require.NoError(t, err)
	v, err := router.NewSignatureVerifier(config.Signatures{TrustDir: p.Path("trust"), MaxSignatureBytes: 4096})
	require.NoError(t, err)
	facts, err := v.Check(context.Background(), p.Sig(t, "ec384"), doc, now)
	require.NoError(t, err)
	require.Equal(t, router.SignerFacts(want), facts)
	require.Equal(t, "3456789012", facts.TaxNumber)
	require.Equal(t, signature.DigestSHA384, facts.DigestAlgorithm)
	require.Equal(t, schemas.RevocationGood, facts.Revocation)
	require.NotNil(t, facts.ClaimedSigningTime)
	require.True(t, want.ClaimedSigningTime.Equal(*facts.ClaimedSigningTime))
	require.True(t, want.NotBefore.Equal(facts.NotBefore) && want.NotAfter.Equal(facts.NotAfter))
	require.Nil(t, router.SignerFacts(signature.Signer{}).ClaimedSigningTime, "absent without signingTime")

	_, err = v.Check(context.Background(), p.Sig(t, "revoked"), doc, now)
	e, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "a *schemas.Error, got %v", err)
	require.Equal(t, schemas.CodeCertificateRevoked, e.Code)
	require.Equal(t, "a certificate of the chain is revoked (CRL inter.crl)", e.Detail)
	_, isLibrary := errors.AsType[*signature.Error](err)
	require.True(t, isLibrary, "the library's refusal stays reachable")

	_, err = v.Check(context.Background(), make([]byte, 4097), doc, now)
	e, ok = errors.AsType[*schemas.Error](err)
	require.True(t, ok)
	require.Equal(t, schemas.CodeSignatureTooLarge, e.Code, "max_signature_bytes applies")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = v.Check(ctx, p.Sig(t, "ec256"), doc, now)
	require.ErrorIs(t, err, context.Canceled)
	_, refused := errors.AsType[*schemas.Error](err)
	require.False(t, refused, "a cancelled context is not a refusal")
}
