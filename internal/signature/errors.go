package signature

import "fmt"

// Code is the stable reason a signature was refused. Codes are persisted and shown to clients as
// problem codes: never rename one, only add new ones. docs/signatures.md lists them with examples.
type Code string

// The refusal codes. Each *Error carries exactly one of them.
const (
	// CodeTooLarge: the signature is bigger than Config.MaxSignatureBytes, or its SignedData holds
	// more certificates or CRLs than Config.MaxCertificates or Config.MaxCRLs. Nothing expensive
	// was done.
	CodeTooLarge Code = "too_large"
	// CodeSignatureMalformed: the signature is not one strict-DER CMS SignedData with exactly one
	// SignerInfo and the CAdES-BES signed attributes (contentType = id-data, messageDigest,
	// signing-certificate-v2), or it is inconsistent (signer certificate missing, algorithm
	// parameters that do not fit, BER encodings, duplicate or unsorted signed attributes).
	CodeSignatureMalformed Code = "signature_malformed"
	// CodeDigestMismatch: the messageDigest attribute is not the hash of the content (a changed or
	// another document), or the signature value does not verify over the signed attributes with the
	// signer certificate's key.
	CodeDigestMismatch Code = "digest_mismatch"
	// CodeSignerMismatch: the ESS signing-certificate(-v2) attribute names another certificate than
	// the one the SignerInfo points at (a substituted certificate, even one with the same key).
	CodeSignerMismatch Code = "signer_mismatch"
	// CodeWeakAlgorithm: a known but refused algorithm: SHA-1 or MD5 digests (including an ESS
	// signing-certificate v1 attribute without v2, whose hash is SHA-1), RSA keys under 2048 bits,
	// a signer certificate signed with SHA-1 or MD5.
	CodeWeakAlgorithm Code = "weak_algorithm"
	// CodeUnsupportedAlgorithm: an algorithm outside the allow-list that is not known to be weak:
	// DSTU 4145 / GOST 34.311 / Kupyna when no external verifier is configured, other curves than
	// P-256 and P-384, Ed25519, DSA, SHA-224, SHA-3 and any unknown OID.
	CodeUnsupportedAlgorithm Code = "unsupported_algorithm"
	// CodeBadKeyUsage: the signer certificate may not make signatures of this kind: no keyUsage
	// contentCommitment (nonRepudiation), a CA certificate, or a TLS server certificate.
	CodeBadKeyUsage Code = "bad_key_usage"
	// CodeCertificateExpired: a certificate of the chain is not valid at the verification time
	// (expired or not yet valid). The signingTime attribute is never used for this.
	CodeCertificateExpired Code = "certificate_expired"
	// CodeUntrustedChain: no chain leads from the signer certificate to a certificate of the trust
	// directory. Certificates inside the signature are only ever intermediates, never anchors.
	CodeUntrustedChain Code = "untrusted_chain"
	// CodeCertificateRevoked: a certificate of the chain is listed, with a revocation time not after
	// the verification time, on a CRL of the trust directory signed by its issuer.
	CodeCertificateRevoked Code = "certificate_revoked"
	// CodeRevocationUnknown: Config.RequireCRL is set and a certificate of the chain has no CRL from
	// its issuer in the trust directory whose nextUpdate is at or after the verification time.
	CodeRevocationUnknown Code = "revocation_unknown"
)

// Codes returns every refusal code, in declaration order.
func Codes() []Code {
	return []Code{
		CodeTooLarge, CodeSignatureMalformed, CodeDigestMismatch, CodeSignerMismatch, CodeWeakAlgorithm,
		CodeUnsupportedAlgorithm, CodeBadKeyUsage, CodeCertificateExpired, CodeUntrustedChain,
		CodeCertificateRevoked, CodeRevocationUnknown,
	}
}

// Error is a refused signature. Match it with errors.AsType[*signature.Error] and branch on Code.
// Reason is a short English explanation that never contains personal data (no names, no tax
// numbers), so it may be logged and shown to the client. Err, when set, is the underlying error
// (for example the x509 chain error); its text may name certification authorities.
type Error struct {
	Code   Code
	Reason string
	Err    error
}

// Error returns "signature <code>: <reason>".
func (e *Error) Error() string {
	return fmt.Sprintf("signature %s: %s", e.Code, e.Reason)
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// refuse returns an *Error with code and a formatted reason.
func refuse(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// malformed returns a CodeSignatureMalformed *Error.
func malformed(format string, args ...any) *Error {
	return refuse(CodeSignatureMalformed, format, args...)
}
