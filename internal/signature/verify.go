package signature

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	// DefaultMaxSignatureBytes is the default Config.MaxSignatureBytes: 1 MiB.
	DefaultMaxSignatureBytes = 1 << 20
	// DefaultMaxCertificates is the default Config.MaxCertificates.
	DefaultMaxCertificates = 50
	// DefaultMaxCRLs is the default Config.MaxCRLs.
	DefaultMaxCRLs = 16
)

// Config configures a Verifier.
type Config struct {
	// TrustDir is the directory of trusted CA certificates and their CRLs (see docs/signatures.md):
	// files ending in .pem, .crt, .cer, .der (certificates, PEM or DER) and .crl (CRLs, PEM or DER),
	// PEM files may hold several blocks. Every certificate is a trust anchor and must be a CA
	// certificate. Required.
	TrustDir string
	// MaxSignatureBytes refuses bigger signatures with CodeTooLarge before parsing. Defaults to
	// DefaultMaxSignatureBytes (1 MiB).
	MaxSignatureBytes int
	// MaxCertificates refuses a SignedData with more certificates with CodeTooLarge before any is
	// parsed. Defaults to DefaultMaxCertificates (50).
	MaxCertificates int
	// MaxCRLs refuses a SignedData with more CRLs with CodeTooLarge. CRLs inside a signature are
	// otherwise ignored: only the trust directory's count. Defaults to DefaultMaxCRLs (16).
	MaxCRLs int
	// RequireCRL refuses, with CodeRevocationUnknown, a chain in which a certificate has no CRL from
	// its issuer in the trust directory that is current at the verification time. When false such
	// a signature is accepted and Signer.Revocation says "unchecked". Defaults to false.
	RequireCRL bool
	// External verifies DSTU 4145 signatures (any digest or signature algorithm in the
	// 1.2.804.2.1.1.1.1 arc). Defaults to nil: such signatures get CodeUnsupportedAlgorithm.
	External External
	// NowFunc gives the verification time when Verify is called with a zero time. Defaults to
	// time.Now.
	NowFunc func() time.Time
}

// WithDefaults returns a copy of c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	c.MaxSignatureBytes = cmp.Or(c.MaxSignatureBytes, DefaultMaxSignatureBytes)
	c.MaxCertificates = cmp.Or(c.MaxCertificates, DefaultMaxCertificates)
	c.MaxCRLs = cmp.Or(c.MaxCRLs, DefaultMaxCRLs)
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	return c
}

// validate reports every problem of a defaulted Config at once.
func (c Config) validate() error {
	var errs []error
	if c.TrustDir == "" {
		errs = append(errs, errors.New("trust_dir: required"))
	}
	if c.MaxSignatureBytes < 0 {
		errs = append(errs, errors.New("max_signature_bytes: must be > 0"))
	}
	if c.MaxCertificates < 0 {
		errs = append(errs, errors.New("max_certificates: must be > 0"))
	}
	if c.MaxCRLs < 0 {
		errs = append(errs, errors.New("max_crls: must be > 0"))
	}
	return errors.Join(errs...)
}

// External verifies signatures made with algorithms the hub does not implement: DSTU 4145 with the
// GOST 34.311 or Kupyna hashes of Ukrainian qualified signatures.
//
// Verify gets the whole signature as received, the signed content (the detached document, or the
// encapsulated content of an attached signature) and the verification time, and must perform every
// check the Verifier performs for RSA and ECDSA (see docs/signatures.md). The content is passed
// whole because the hub cannot compute these hashes. A refusal is returned as an *Error with one of
// the codes of this package; any other error means the verifier could not answer (unreachable,
// timeout) and is returned to the caller wrapped, with no code. Verify may block and must honour
// ctx; it is called concurrently.
type External interface {
	Verify(ctx context.Context, sig, content []byte, at time.Time) (Signer, error)
}

// Signer is what a verified signature says about its signer. Subject, Issuer and TaxNumber are
// personal data: never log them.
type Signer struct {
	// Subject is the signer certificate's subject, RFC 2253-like ("SERIALNUMBER=TINUA-…,CN=…").
	Subject string `json:"subject"`
	// Issuer is the signer certificate's issuer, in the same form.
	Issuer string `json:"issuer"`
	// SerialNumber is the signer certificate's serial number in lower-case hex.
	SerialNumber string    `json:"serial_number"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	// TaxNumber is the РНОКПП (10 digits) the certificate carries, "" when it carries none.
	TaxNumber string `json:"tax_number,omitempty"`
	// DigestAlgorithm is DigestSHA256, DigestSHA384 or DigestSHA512 (or the external verifier's name).
	DigestAlgorithm string `json:"digest_algorithm"`
	// SignatureAlgorithm is SignatureRSAPKCS1v15, SignatureRSAPSS, SignatureECDSAP256 or
	// SignatureECDSAP384 (or the external verifier's name).
	SignatureAlgorithm string `json:"signature_algorithm"`
	// CertificateSHA256 is the SHA-256 of the signer certificate's DER, lower-case hex.
	CertificateSHA256 string `json:"certificate_sha256"`
	// ClaimedSigningTime is the signingTime attribute: what the signer claims, never used for any
	// check. Zero when absent.
	ClaimedSigningTime time.Time `json:"claimed_signing_time,omitzero"`
	// Revocation says whether every certificate of the chain was checked against a current CRL.
	Revocation RevocationStatus `json:"revocation"`
}

// Verifier checks detached or attached CAdES-BES signatures (CMS SignedData) against a trust
// directory. It is safe for concurrent use; Reload swaps the trust directory under running calls.
type Verifier struct {
	cfg    Config
	trust  atomic.Pointer[trustStore]
	chains chainCache
}

// New returns a Verifier for cfg (defaults applied) with the trust directory loaded.
func New(cfg Config) (*Verifier, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("signature config: %w", err)
	}
	v := &Verifier{cfg: cfg}
	if err := v.Reload(); err != nil {
		return nil, err
	}
	return v, nil
}

// Reload reads the trust directory again (new anchors, fresh CRLs) and swaps it in. On error the
// loaded directory stays in use.
func (v *Verifier) Reload() error {
	ts, err := loadTrustDir(v.cfg.TrustDir)
	if err != nil {
		return fmt.Errorf("load trust directory: %w", err)
	}
	v.trust.Store(ts)
	return nil
}

// Verify checks that sig, a DER CMS SignedData with one signer, signs content and was made with a
// certificate that chains to the trust directory and is valid, unrevoked and fit for signing at
// at: the time the hub received the signature (zero means Config.NowFunc()). content is the
// detached document; for an attached signature it may be nil, else it must equal the encapsulated
// content. A refused signature returns an *Error with its Code; ctx errors and an External that
// cannot answer return other errors.
func (v *Verifier) Verify(ctx context.Context, sig, content []byte, at time.Time) (Signer, error) {
	if err := ctx.Err(); err != nil {
		return Signer{}, fmt.Errorf("verify signature: %w", err)
	}
	if at.IsZero() {
		at = v.cfg.NowFunc()
	}
	if len(sig) > v.cfg.MaxSignatureBytes {
		return Signer{}, refuse(CodeTooLarge, "signature of %d bytes exceeds %d", len(sig), v.cfg.MaxSignatureBytes)
	}
	sd, perr := parseSignedData(sig, limits{maxCertificates: v.cfg.MaxCertificates, maxCRLs: v.cfg.MaxCRLs})
	if perr != nil {
		return Signer{}, perr
	}
	si := &sd.signer
	attrs, perr := interpretAttributes(si, sd.eContentType)
	if perr != nil {
		return Signer{}, perr
	}
	if sd.attached {
		if content != nil && !bytes.Equal(content, sd.eContent) {
			return Signer{}, refuse(CodeDigestMismatch, "the content differs from the encapsulated content")
		}
		content = sd.eContent
	}
	if isUkrainian(si.digestAlg.oid) || isUkrainian(si.signatureAlg.oid) {
		return v.verifyExternal(ctx, sig, content, at)
	}
	s, perr := v.verify(sd, attrs, content, at)
	if perr != nil {
		return Signer{}, perr
	}
	return s, nil
}

// verifyExternal hands a DSTU 4145 signature to the External verifier.
func (v *Verifier) verifyExternal(ctx context.Context, sig, content []byte, at time.Time) (Signer, error) {
	if v.cfg.External == nil {
		return Signer{}, refuse(CodeUnsupportedAlgorithm, "DSTU 4145 signatures need the external verifier, which is not configured")
	}
	s, err := v.cfg.External.Verify(ctx, sig, content, at)
	if err != nil {
		if _, ok := errors.AsType[*Error](err); ok {
			return Signer{}, err
		}
		return Signer{}, fmt.Errorf("external signature verifier: %w", err)
	}
	return s, nil
}

// verify runs the checks of an RSA or ECDSA signature, cheapest first.
func (v *Verifier) verify(sd *signedData, attrs *cadesAttributes, content []byte, at time.Time) (Signer, *Error) {
	si := &sd.signer
	h, err := digestAlgorithm(si.digestAlg)
	if err != nil {
		return Signer{}, err
	}
	scheme, err := signatureAlgorithm(si.signatureAlg, h)
	if err != nil {
		return Signer{}, err
	}
	d := h.New()
	d.Write(content)
	if !bytes.Equal(d.Sum(nil), attrs.messageDigest) {
		return Signer{}, refuse(CodeDigestMismatch, "messageDigest is not the %s of the content", digestName(h))
	}

	certs, err := parseCertificates(sd.certificates)
	if err != nil {
		return Signer{}, err
	}
	leaf := findSigner(si, certs)
	if leaf == nil {
		return Signer{}, malformed("the signer certificate is not in SignedData")
	}
	sigName, err := checkSignerKey(leaf, scheme)
	if err != nil {
		return Signer{}, err
	}
	if err := checkCertificateSignatureAlgorithm(leaf); err != nil {
		return Signer{}, err
	}
	d = h.New()
	d.Write(si.signedAttrsDER)
	if !verifyValue(leaf, scheme, h, d.Sum(nil), si.signatureValue) {
		return Signer{}, refuse(CodeDigestMismatch, "the signature value does not verify over the signed attributes")
	}
	if err := checkESS(attrs, leaf); err != nil {
		return Signer{}, err
	}
	if err := checkKeyUsage(leaf); err != nil {
		return Signer{}, err
	}
	if at.Before(leaf.NotBefore) || at.After(leaf.NotAfter) {
		return Signer{}, refuse(CodeCertificateExpired, "the signer certificate is not valid at %s", at.UTC().Format(time.RFC3339))
	}
	revocation, err := v.checkChain(leaf, certs, at)
	if err != nil {
		return Signer{}, err
	}
	sum := sha256.Sum256(leaf.Raw)
	return Signer{
		Subject:            leaf.Subject.String(),
		Issuer:             leaf.Issuer.String(),
		SerialNumber:       leaf.SerialNumber.Text(16),
		NotBefore:          leaf.NotBefore,
		NotAfter:           leaf.NotAfter,
		TaxNumber:          taxNumber(leaf),
		DigestAlgorithm:    digestName(h),
		SignatureAlgorithm: sigName,
		CertificateSHA256:  hex.EncodeToString(sum[:]),
		ClaimedSigningTime: attrs.signingTime,
		Revocation:         revocation,
	}, nil
}

// parseCertificates parses the certificates of SignedData.
func parseCertificates(ders [][]byte) ([]*x509.Certificate, *Error) {
	certs := make([]*x509.Certificate, 0, len(ders))
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, &Error{Code: CodeSignatureMalformed, Reason: "a certificate in SignedData does not parse", Err: err}
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// findSigner returns the certificate the SignerInfo identifies, or nil.
func findSigner(si *signerInfo, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if si.issuer != nil && bytes.Equal(c.RawIssuer, si.issuer) && c.SerialNumber.Cmp(si.serial) == 0 ||
			si.subjectKeyID != nil && bytes.Equal(c.SubjectKeyId, si.subjectKeyID) {
			return c
		}
	}
	return nil
}

// checkKeyUsage requires an end-entity certificate with keyUsage contentCommitment
// (nonRepudiation) that is not a TLS server certificate.
func checkKeyUsage(c *x509.Certificate) *Error {
	switch {
	case c.IsCA:
		return refuse(CodeBadKeyUsage, "the signer certificate is a CA certificate")
	case c.KeyUsage&x509.KeyUsageContentCommitment == 0:
		return refuse(CodeBadKeyUsage, "the signer certificate's key usage lacks contentCommitment (nonRepudiation)")
	case slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth):
		return refuse(CodeBadKeyUsage, "the signer certificate is a TLS server certificate")
	}
	return nil
}

// checkChain builds the chains from leaf to an anchor of the trust directory at time at (the
// certificates of the signature serve as intermediates only) and checks revocation. The first chain
// that passes wins.
func (v *Verifier) checkChain(leaf *x509.Certificate, certs []*x509.Certificate, at time.Time) (RevocationStatus, *Error) {
	ts := v.trust.Load()
	key := chainKey(leaf, certs)
	if chains := v.chains.get(ts, key, at); len(chains) > 0 {
		if status, err := ts.firstUnrevoked(chains, at, v.cfg.RequireCRL); err == nil {
			return status, nil
		}
		// None of the remembered chains passes: build them all again, as without the cache.
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs {
		if c != leaf {
			intermediates.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         ts.roots,
		Intermediates: intermediates,
		CurrentTime:   at,
		// Without it x509 demands serverAuth; key usage is checked by checkKeyUsage.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		if ie, ok := errors.AsType[x509.CertificateInvalidError](err); ok && ie.Reason == x509.Expired {
			return "", &Error{Code: CodeCertificateExpired, Reason: "a certificate of the chain is not valid at the verification time", Err: err}
		}
		return "", &Error{Code: CodeUntrustedChain, Reason: "no chain to a trusted certification authority", Err: err}
	}
	v.chains.put(ts, key, chains)
	return ts.firstUnrevoked(chains, at, v.cfg.RequireCRL)
}

// firstUnrevoked returns the revocation status of the first chain none of whose certificates is
// revoked at at, or the refusal of the first chain.
func (ts *trustStore) firstUnrevoked(chains [][]*x509.Certificate, at time.Time, requireCRL bool) (RevocationStatus, *Error) {
	var first *Error
	for _, chain := range chains {
		status, err := ts.checkRevocation(chain, at, requireCRL)
		if err == nil {
			return status, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", first
}
