package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/signature/signaturetest"
)

// TestVerifyGood verifies the OpenSSL signatures that must pass and checks the signer facts.
func TestVerifyGood(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc := p.Read(t, "doc.txt")
	now := time.Now()

	tests := []struct {
		name, sig, leaf, trust string
		content                []byte
		taxNumber, subject     string
		digest, algorithm      string
		revocation             RevocationStatus
	}{
		{name: "rsa-2048", sig: "rsa", leaf: "rsa", trust: "trust", content: doc, taxNumber: "1234567890",
			subject: "SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA", digest: DigestSHA256, algorithm: SignatureRSAPKCS1v15, revocation: RevocationGood},
		{name: "rsa-pss", sig: "rsa-pss", leaf: "rsa", trust: "trust", content: doc, taxNumber: "1234567890",
			digest: DigestSHA256, algorithm: SignatureRSAPSS, revocation: RevocationGood},
		{name: "ecdsa-p256", sig: "ec256", leaf: "ec256", trust: "trust", content: doc, taxNumber: "2345678901",
			subject: "SERIALNUMBER=TINUA-2345678901,CN=Lesia Ukrainka,C=UA", digest: DigestSHA256, algorithm: SignatureECDSAP256, revocation: RevocationGood},
		{name: "ecdsa-p256 attached, content given", sig: "ec256-attached", leaf: "ec256", trust: "trust", content: doc,
			taxNumber: "2345678901", digest: DigestSHA256, algorithm: SignatureECDSAP256, revocation: RevocationGood},
		{name: "ecdsa-p256 attached, no content given", sig: "ec256-attached", leaf: "ec256", trust: "trust",
			taxNumber: "2345678901", digest: DigestSHA256, algorithm: SignatureECDSAP256, revocation: RevocationGood},
		{name: "ecdsa-p256 subjectKeyIdentifier (-keyid)", sig: "ec256-keyid", leaf: "ec256", trust: "trust", content: doc,
			taxNumber: "2345678901", digest: DigestSHA256, algorithm: SignatureECDSAP256, revocation: RevocationGood},
		{name: "ecdsa-p384 sha384, DRFO extension", sig: "ec384", leaf: "ec384", trust: "trust", content: doc, taxNumber: "3456789012",
			subject: "CN=Ivan Franko,C=UA", digest: DigestSHA384, algorithm: SignatureECDSAP384, revocation: RevocationGood},
		{name: "intermediate from the trust directory", sig: "ec256-nointer", leaf: "ec256", trust: "trust-inter", content: doc,
			taxNumber: "2345678901", digest: DigestSHA256, algorithm: SignatureECDSAP256, revocation: RevocationUnchecked},
		{name: "intermediate in both", sig: "ec256", leaf: "ec256", trust: "trust-inter", content: doc,
			taxNumber: "2345678901", digest: DigestSHA256, algorithm: SignatureECDSAP256, revocation: RevocationUnchecked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := verifierOf(t, p, tt.trust).Verify(context.Background(), p.Sig(t, tt.sig), tt.content, now)
			require.NoError(t, err)
			leaf := p.Cert(t, tt.leaf)
			sum := sha256.Sum256(leaf.Raw)
			require.Equal(t, hex.EncodeToString(sum[:]), s.CertificateSHA256)
			require.Equal(t, leaf.SerialNumber.Text(16), s.SerialNumber)
			require.Equal(t, "CN=Test Qualified CA,O=Appeal Hub Test,C=UA", s.Issuer)
			require.True(t, leaf.NotBefore.Equal(s.NotBefore) && leaf.NotAfter.Equal(s.NotAfter))
			require.Equal(t, tt.taxNumber, s.TaxNumber)
			if tt.subject != "" {
				require.Equal(t, tt.subject, s.Subject)
			}
			require.Equal(t, tt.digest, s.DigestAlgorithm)
			require.Equal(t, tt.algorithm, s.SignatureAlgorithm)
			require.Equal(t, tt.revocation, s.Revocation)
			require.WithinDuration(t, now, s.ClaimedSigningTime, time.Hour, "OpenSSL puts the signing time in")
		})
	}
}

// TestVerifyRefuses maps every bad signature to its code.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc := p.Read(t, "doc.txt")
	now := time.Now()
	trust := verifierOf(t, p, "trust")
	requireCRL := verifierOf(t, p, "trust", func(c *Config) { c.RequireCRL = true })
	requireCRLInter := verifierOf(t, p, "trust-inter", func(c *Config) { c.RequireCRL = true })
	small := verifierOf(t, p, "trust", func(c *Config) { c.MaxSignatureBytes = 512 })
	ec256, inter, substitute := p.Cert(t, "ec256"), p.Cert(t, "inter"), p.Cert(t, "substitute")
	good := p.Sig(t, "ec256")
	flipped := bytes.Clone(doc)
	flipped[3] ^= 0x01
	crlDER := p.Read(t, "trust/inter.crl")

	// Signatures the openssl command line cannot make, signed with the real ec256 key.
	mk := func(change func(c *crafted)) []byte {
		c := craft(t, p, "ec256", doc, now)
		change(c)
		return c.der(t)
	}
	type testCase struct {
		name    string
		v       *Verifier
		sig     []byte
		content []byte
		at      time.Time
		want    Code
	}
	tests := []testCase{
		// Content.
		{name: "flipped content byte", sig: good, content: flipped, want: CodeDigestMismatch},
		{name: "content of another appeal", sig: p.Sig(t, "ec256-doc2"), content: doc, want: CodeDigestMismatch},
		{name: "attached, other content given", sig: p.Sig(t, "ec256-attached"), content: flipped, want: CodeDigestMismatch},
		{name: "empty content", sig: good, content: []byte{}, want: CodeDigestMismatch},
		{name: "signature value by another key", sig: mk(func(c *crafted) { c.key = p.Key(t, "expired") }), want: CodeDigestMismatch},

		// Structure.
		{name: "no signed attributes (-noattr)", sig: p.Sig(t, "noattr"), want: CodeSignatureMalformed},
		{name: "no signing-certificate-v2 (no -cades)", sig: p.Sig(t, "nocades"), want: CodeSignatureMalformed},
		{name: "two signers", sig: p.Sig(t, "two-signers"), want: CodeSignatureMalformed},
		{name: "BER indefinite length", sig: indefinite(t, good), want: CodeSignatureMalformed},
		{name: "trailing data", sig: append(bytes.Clone(good), 0), want: CodeSignatureMalformed},
		{name: "truncated", sig: good[:len(good)-1], want: CodeSignatureMalformed},
		{name: "empty", sig: nil, want: CodeSignatureMalformed},
		{name: "PEM instead of DER", sig: []byte("-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n"), want: CodeSignatureMalformed},
		{name: "unsorted signed attributes, validly signed", sig: mk(func(c *crafted) { c.rawAttrs = c.unsortedAttrs() }),
			want: CodeSignatureMalformed},
		{name: "duplicate contentType attribute", sig: mk(func(c *crafted) { c.add(oidAttrContentType, marshalOID(oidData)) }),
			want: CodeSignatureMalformed},
		{name: "messageDigest with two values", sig: mk(func(c *crafted) {
			c.set(oidAttrMessageDigest, marshalOctetString(sha256Of(doc)), marshalOctetString([]byte{1}))
		}), want: CodeSignatureMalformed},
		{name: "contentType differs from eContentType", sig: mk(func(c *crafted) { c.set(oidAttrContentType, marshalOID(oidSignedData)) }),
			want: CodeSignatureMalformed},
		{name: "no contentType", sig: mk(func(c *crafted) { c.drop(oidAttrContentType) }), want: CodeSignatureMalformed},
		{name: "no messageDigest", sig: mk(func(c *crafted) { c.drop(oidAttrMessageDigest) }), want: CodeSignatureMalformed},
		{name: "signingTime without seconds", sig: mk(func(c *crafted) {
			c.set(oidAttrSigningTime, []byte{0x17, 0x0b, '2', '6', '0', '1', '0', '2', '1', '2', '0', '0', 'Z'})
		}), want: CodeSignatureMalformed},
		{name: "signer certificate missing", sig: mk(func(c *crafted) { c.certs = [][]byte{inter.Raw} }), want: CodeSignatureMalformed},

		// Resource limits.
		{name: "bigger than the limit", v: small, sig: good, want: CodeTooLarge},
		{name: "over 1 MiB", sig: make([]byte, DefaultMaxSignatureBytes+1), want: CodeTooLarge},
		{name: "51 certificates", sig: mk(func(c *crafted) {
			for i := 0; len(c.certs) < 51; i++ {
				c.certs = append(c.certs, append(bytes.Clone(inter.Raw[:len(inter.Raw)-1]), byte(i)))
			}
		}), want: CodeTooLarge},
		{name: "17 CRLs", sig: mk(func(c *crafted) {
			for i := range 17 {
				c.crls = append(c.crls, append(bytes.Clone(crlDER[:len(crlDER)-1]), byte(i)))
			}
		}), want: CodeTooLarge},

		// Signing certificate.
		{name: "substituted certificate, same key", sig: resign(t, good, [][]byte{substitute.Raw, inter.Raw}, substitute.RawIssuer, substitute.SerialNumber),
			want: CodeSignerMismatch},
		{name: "twin certificate, same issuer, serial and key (openssl -nocerts)", sig: p.Sig(t, "twin"), want: CodeSignerMismatch},
		{name: "ESS names another certificate", sig: mk(func(c *crafted) {
			c.set(oidAttrSigningCertV2, essV2(nil, sha256Of(inter.Raw), ec256.RawIssuer, ec256.SerialNumber))
		}), want: CodeSignerMismatch},
		{name: "ESS names another serial", sig: mk(func(c *crafted) {
			c.set(oidAttrSigningCertV2, essV2(nil, sha256Of(ec256.Raw), ec256.RawIssuer, big.NewInt(1)))
		}), want: CodeSignerMismatch},
		{name: "ESS names another issuer", sig: mk(func(c *crafted) {
			c.set(oidAttrSigningCertV2, essV2(nil, sha256Of(ec256.Raw), ec256.RawSubject, ec256.SerialNumber))
		}), want: CodeSignerMismatch},
		{name: "ESS v1 next to v2 names another certificate", sig: mk(func(c *crafted) { c.set(oidAttrSigningCert, essV1(inter)) }),
			want: CodeSignerMismatch},
		{name: "ESS v1 only (SHA-1)", sig: mk(func(c *crafted) {
			c.drop(oidAttrSigningCertV2)
			c.set(oidAttrSigningCert, essV1(ec256))
		}), want: CodeWeakAlgorithm},
		{name: "ESS v2 with SHA-1", sig: mk(func(c *crafted) {
			c.set(oidAttrSigningCertV2, essV2(oidSHA1, sha256Of(ec256.Raw), ec256.RawIssuer, ec256.SerialNumber))
		}), want: CodeWeakAlgorithm},

		// Algorithms.
		{name: "SHA-1 digest (-md sha1)", sig: p.Sig(t, "sha1"), want: CodeWeakAlgorithm},
		{name: "RSA-1024", sig: p.Sig(t, "rsa1024"), want: CodeWeakAlgorithm},
		{name: "MD5 digest", sig: mk(func(c *crafted) { c.digestAlg = algorithmIdentifier{oid: oidMD5} }), want: CodeWeakAlgorithm},
		{name: "SHA3-256 digest", sig: mk(func(c *crafted) {
			c.digestAlg = algorithmIdentifier{oid: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 8}}
		}), want: CodeUnsupportedAlgorithm},
		{name: "Ed25519 signature algorithm", sig: mk(func(c *crafted) { c.sigAlg = algorithmIdentifier{oid: asn1.ObjectIdentifier{1, 3, 101, 112}} }),
			want: CodeUnsupportedAlgorithm},
		{name: "P-521 key (openssl)", sig: p.Sig(t, "ec521"), want: CodeUnsupportedAlgorithm},
		{name: "OpenSSL signature relabelled DSTU, without external verifier", sig: signaturetest.RelabelDSTU(t, good),
			want: CodeUnsupportedAlgorithm},
		{name: "DSTU 4145 without external verifier", sig: mk(func(c *crafted) {
			c.digestAlg = algorithmIdentifier{oid: oidGOST34311}
			c.sigAlg = algorithmIdentifier{oid: oidDSTU4145}
		}), want: CodeUnsupportedAlgorithm},
		{name: "signature algorithm hash differs from digest", sig: mk(func(c *crafted) { c.sigAlg = algorithmIdentifier{oid: oidECDSAWithSHA384} }),
			want: CodeSignatureMalformed},
		{name: "RSA algorithm with ECDSA key", sig: mk(func(c *crafted) { c.sigAlg = algorithmIdentifier{oid: oidSHA256WithRSA} }),
			want: CodeSignatureMalformed},

		// Certificates.
		{name: "digitalSignature only", sig: p.Sig(t, "digsig"), want: CodeBadKeyUsage},
		{name: "TLS server certificate", sig: p.Sig(t, "tls"), want: CodeBadKeyUsage},
		{name: "expired", sig: p.Sig(t, "expired"), want: CodeCertificateExpired},
		{name: "expired, back-dated signingTime", sig: func() []byte {
			c := craft(t, p, "expired", doc, time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC))
			return c.der(t)
		}(), want: CodeCertificateExpired},
		{name: "not yet valid", sig: good, at: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), want: CodeCertificateExpired},
		{name: "leaf expired by the verification time", sig: good, at: now.AddDate(2, 0, 0), want: CodeCertificateExpired},
		{name: "attacker root bundled in the signature", sig: p.Sig(t, "attacker"), want: CodeUntrustedChain},
		{name: "intermediate nowhere", sig: p.Sig(t, "ec256-nointer"), want: CodeUntrustedChain},

		// Revocation.
		{name: "revoked", sig: p.Sig(t, "revoked"), want: CodeCertificateRevoked},
		{name: "revoked, CRL required", v: requireCRL, sig: p.Sig(t, "revoked"), want: CodeCertificateRevoked},
		{name: "revoked, CRL stale", sig: p.Sig(t, "revoked"), at: now.AddDate(0, 0, 45), want: CodeCertificateRevoked},
		{name: "CRL required, stale", v: requireCRL, sig: good, at: now.AddDate(0, 0, 45), want: CodeRevocationUnknown},
		{name: "CRL required, none", v: requireCRLInter, sig: good, want: CodeRevocationUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := tt.v
			if v == nil {
				v = trust
			}
			content := tt.content
			if content == nil {
				content = doc
			}
			at := tt.at
			if at.IsZero() {
				at = now
			}
			_, err := v.Verify(context.Background(), tt.sig, content, at)
			requireCode(t, tt.want, err)
			t.Log(err)
		})
	}
}

// TestVerifyRevocationPolicy shows what RequireCRL changes for a good signature.
func TestVerifyRevocationPolicy(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc, sig, now := p.Read(t, "doc.txt"), p.Sig(t, "ec256"), time.Now()

	s, err := verifierOf(t, p, "trust", func(c *Config) { c.RequireCRL = true }).Verify(context.Background(), sig, doc, now)
	require.NoError(t, err)
	require.Equal(t, RevocationGood, s.Revocation)

	s, err = verifierOf(t, p, "trust").Verify(context.Background(), sig, doc, now.AddDate(0, 0, 45))
	require.NoError(t, err, "a stale CRL without RequireCRL")
	require.Equal(t, RevocationUnchecked, s.Revocation)
}

// TestVerifyCraftedRecipe guards the crafted and re-encoded cases: unchanged, they verify.
func TestVerifyCraftedRecipe(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc, now, v := p.Read(t, "doc.txt"), time.Now(), verifierOf(t, p, "trust")
	ec256, inter := p.Cert(t, "ec256"), p.Cert(t, "inter")

	_, err := v.Verify(context.Background(), craft(t, p, "ec256", doc, now).der(t), doc, now)
	require.NoError(t, err, "crafted")
	_, err = v.Verify(context.Background(), resign(t, p.Sig(t, "ec256"), [][]byte{ec256.Raw, inter.Raw}, ec256.RawIssuer, ec256.SerialNumber), doc, now)
	require.NoError(t, err, "re-encoded")

	c := craft(t, p, "ec256", doc, now)
	c.set(oidAttrSigningCert, essV1(ec256))
	c.set(oidAttrSigningCertV2, essV2(oidSHA512, sha512Of(ec256.Raw), ec256.RawIssuer, ec256.SerialNumber))
	_, err = v.Verify(context.Background(), c.der(t), doc, now)
	require.NoError(t, err, "ESS v2 with SHA-512 next to a matching v1")
}

// fakeExternal records its call and answers with signer and err.
type fakeExternal struct {
	signer       Signer
	err          error
	sig, content []byte
	at           time.Time
}

func (f *fakeExternal) Verify(ctx context.Context, sig, content []byte, at time.Time) (Signer, error) {
	f.sig, f.content, f.at = sig, content, at
	return f.signer, f.err
}

var (
	oidGOST34311 = asn1.ObjectIdentifier{1, 2, 804, 2, 1, 1, 1, 1, 2, 1}
	oidDSTU4145  = asn1.ObjectIdentifier{1, 2, 804, 2, 1, 1, 1, 1, 3, 1, 1}
)

// TestVerifyExternal hands DSTU 4145 signatures to the External verifier and passes its answer on.
func TestVerifyExternal(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc, now := p.Read(t, "doc.txt"), time.Now()
	c := craft(t, p, "ec256", doc, now)
	c.digestAlg = algorithmIdentifier{oid: oidGOST34311}
	c.sigAlg = algorithmIdentifier{oid: oidDSTU4145}
	c.attached = true
	dstu := c.der(t)

	want := Signer{Subject: "CN=Підписувач", TaxNumber: "1234567890", DigestAlgorithm: "gost34311", SignatureAlgorithm: "dstu4145"}
	fake := &fakeExternal{signer: want}
	v := verifierOf(t, p, "trust", func(c *Config) { c.External = fake })
	got, err := v.Verify(context.Background(), dstu, nil, now)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, dstu, fake.sig)
	require.Equal(t, doc, fake.content, "the encapsulated content")
	require.True(t, now.Equal(fake.at))

	fake.err = refuse(CodeCertificateRevoked, "revoked by OCSP")
	_, err = v.Verify(context.Background(), dstu, nil, now)
	requireCode(t, CodeCertificateRevoked, err)

	down := errors.New("connection refused")
	fake.err = down
	_, err = v.Verify(context.Background(), dstu, nil, now)
	require.ErrorIs(t, err, down)
	_, isRefusal := errors.AsType[*Error](err)
	require.False(t, isRefusal, "an unreachable verifier is not a refusal")

	_, err = v.Verify(context.Background(), p.Sig(t, "ec256"), doc, now)
	require.NoError(t, err, "RSA and ECDSA stay local")

	fake.err = nil
	relabelled := signaturetest.RelabelDSTU(t, p.Sig(t, "ec256"))
	_, err = v.Verify(context.Background(), relabelled, doc, now)
	require.NoError(t, err, "a detached signature in the DSTU arc goes to the external verifier")
	require.Equal(t, relabelled, fake.sig)
	require.Equal(t, doc, fake.content, "the detached content")
}

// TestVerifyContext refuses to work on a cancelled context.
func TestVerifyContext(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := verifierOf(t, p, "trust").Verify(ctx, p.Sig(t, "ec256"), p.Read(t, "doc.txt"), time.Now())
	require.ErrorIs(t, err, context.Canceled)
}

// TestVerifyZeroTime takes the time from Config.NowFunc.
func TestVerifyZeroTime(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	later := time.Now().AddDate(2, 0, 0)
	v := verifierOf(t, p, "trust", func(c *Config) { c.NowFunc = func() time.Time { return later } })
	_, err := v.Verify(context.Background(), p.Sig(t, "ec256"), p.Read(t, "doc.txt"), time.Time{})
	requireCode(t, CodeCertificateExpired, err)
}

// TestSignerJSON pins the JSON names of the signer facts, which are stored.
func TestSignerJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out, err := json.Marshal(Signer{Subject: "CN=A", Issuer: "CN=B", SerialNumber: "1f", NotBefore: at, NotAfter: at, TaxNumber: "1234567890",
		DigestAlgorithm: DigestSHA256, SignatureAlgorithm: SignatureECDSAP256, CertificateSHA256: "ab", Revocation: RevocationGood})
	require.NoError(t, err)
	require.JSONEq(t, `{"subject":"CN=A","issuer":"CN=B","serial_number":"1f","not_before":"2026-01-02T03:04:05Z",
		"not_after":"2026-01-02T03:04:05Z","tax_number":"1234567890","digest_algorithm":"sha256",
		"signature_algorithm":"ecdsa-p256","certificate_sha256":"ab","revocation":"good"}`, string(out))
}

// TestCodes checks that the codes are unique and lower-case snake words.
func TestCodes(t *testing.T) {
	t.Parallel()
	seen := map[Code]bool{}
	for _, c := range Codes() {
		require.Regexp(t, `^[a-z]+(_[a-z]+)*$`, string(c))
		require.False(t, seen[c], "duplicate %s", c)
		seen[c] = true
	}
	require.Len(t, seen, 11)
}

func sha512Of(data []byte) []byte {
	d := crypto.SHA512.New()
	d.Write(data)
	return d.Sum(nil)
}

// TestVerifyGoPKI covers certificates OpenSSL's test PKI does not have, made with crypto/x509.
func TestVerifyGoPKI(t *testing.T) {
	t.Parallel()
	content := []byte("appeal")
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name   string
		key    crypto.Signer
		change func(root, leaf *x509.Certificate)
		want   Code
	}{
		{name: "good", key: p256},
		{name: "root expired before the leaf", key: p256, change: func(root, _ *x509.Certificate) {
			root.NotAfter = root.NotBefore.AddDate(1, 0, 0).Add(-time.Hour)
		}, want: CodeCertificateExpired},
		{name: "CA certificate as signer", key: p256, change: func(_, leaf *x509.Certificate) {
			leaf.IsCA = true
			leaf.KeyUsage |= x509.KeyUsageCertSign
		}, want: CodeBadKeyUsage},
		{name: "no key usage extension", key: p256, change: func(_, leaf *x509.Certificate) { leaf.KeyUsage = 0 }, want: CodeBadKeyUsage},
		{name: "TLS server EKU next to nonRepudiation", key: p256, change: func(_, leaf *x509.Certificate) {
			leaf.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}, want: CodeBadKeyUsage},
		{name: "P-521 key", key: p521, want: CodeUnsupportedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var change []func(root, leaf *x509.Certificate)
			if tt.change != nil {
				change = append(change, tt.change)
			}
			g := newGoPKI(t, tt.key, change...)
			c := craftWith(t, g.leaf, g.key, [][]byte{g.leaf.Raw}, content, g.at)
			if tt.key == p521 {
				c.hash, c.digestAlg, c.sigAlg = crypto.SHA512, algorithmIdentifier{oid: oidSHA512}, algorithmIdentifier{oid: oidECDSAWithSHA512}
				c.set(oidAttrMessageDigest, marshalOctetString(sha512Of(content)))
			}
			_, err := g.verifier(t).Verify(context.Background(), c.der(t), content, g.at)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			requireCode(t, tt.want, err)
			t.Log(err)
		})
	}
}
