package signature

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// fuzzSeeds returns signatures made by Sign with g and small variants of them (no certificates, so
// that the fuzzer minimizes quickly; no signed attributes; two signers; RSA-PSS parameters). More
// seeds, made by OpenSSL, are in testdata/fuzz/FuzzParse.
func fuzzSeeds(tb testing.TB, g *goPKI, content []byte) [][]byte {
	tb.Helper()
	attached, detached := g.sign(tb, content), g.sign(tb, content, Detached())
	pss := cryptobyte.NewBuilder(nil)
	pss.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(marshalAlgorithm(algorithmIdentifier{oid: oidSHA256})) })
		b.AddASN1(tagCtx1, func(b *cryptobyte.Builder) {
			b.AddBytes(marshalAlgorithm(algorithmIdentifier{oid: oidMGF1, params: marshalAlgorithm(algorithmIdentifier{oid: oidSHA256})}))
		})
		b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddASN1Int64(32) })
	})
	return [][]byte{
		attached,
		detached,
		reencode(tb, detached, func(s *signedDataSpec) { s.certificates = nil }),
		reencode(tb, attached, func(s *signedDataSpec) { s.certificates, s.signers[0].signedAttrs = nil, nil }),
		reencode(tb, detached, func(s *signedDataSpec) { s.certificates, s.signers = nil, append(s.signers, s.signers[0]) }),
		reencode(tb, detached, func(s *signedDataSpec) {
			s.certificates = nil
			s.signers[0].signatureAlg = algorithmIdentifier{oid: oidRSAPSS, params: pss.BytesOrPanic()}
		}),
	}
}

// FuzzParse feeds the parsers that run before any cryptography: the strict DER CMS parser, the
// signed attributes, the algorithm identifiers and the ESS attributes. Any input is either accepted
// or refused with an *Error, never a panic.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds(f, newECDSAGoPKI(f), []byte("receipt")) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := parseSignedData(data, limits{maxCertificates: DefaultMaxCertificates, maxCRLs: DefaultMaxCRLs})
		if err != nil {
			require.Contains(t, []Code{CodeSignatureMalformed, CodeTooLarge}, err.Code)
			return
		}
		require.LessOrEqual(t, len(sd.certificates), DefaultMaxCertificates)
		si := &sd.signer
		attrs, err := interpretAttributes(si, sd.eContentType)
		if err != nil {
			require.Equal(t, CodeSignatureMalformed, err.Code)
			return
		}
		require.Equal(t, byte(0x31), si.signedAttrsDER[0])
		if h, err := digestAlgorithm(si.digestAlg); err == nil {
			_, _ = signatureAlgorithm(si.signatureAlg, h)
		}
		if attrs.essV2 != nil {
			_, _ = parseSigningCertificate(attrs.essV2, true)
		}
		if attrs.essV1 != nil {
			_, _ = parseSigningCertificate(attrs.essV1, false)
		}
	})
}

// FuzzVerify runs the whole verification on mutated signatures of a Go-made PKI: no panic, and
// every failure is an *Error (a refusal), never anything else.
func FuzzVerify(f *testing.F) {
	g := newECDSAGoPKI(f)
	v := g.verifier(f)
	content := []byte("appeal text")
	for _, seed := range fuzzSeeds(f, g, content) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := v.Verify(context.Background(), data, content, g.at)
		if err != nil {
			_, ok := errors.AsType[*Error](err)
			require.True(t, ok, "not a refusal: %v", err)
			return
		}
		require.Len(t, s.CertificateSHA256, 64)
		require.Equal(t, "1234567890", s.TaxNumber)
	})
}
