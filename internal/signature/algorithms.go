package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of CMS, CAdES and the algorithms the package knows.
var (
	oidData                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidAttrContentType       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCert       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertV2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA1                  = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidMD5                   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidSHA256                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidRSAEncryption         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidMD5WithRSA            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}
	oidSHA1WithRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidMGF1                  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidRSAPSS                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256WithRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey           = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA1         = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256       = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384       = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512       = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidUkrainianCryptography = asn1.ObjectIdentifier{1, 2, 804, 2, 1, 1, 1, 1} // DSTU 4145, GOST 34.311, Kupyna, …
)

// The stable names of the algorithms reported in Signer (persisted: never rename).
const (
	DigestSHA256 = "sha256"
	DigestSHA384 = "sha384"
	DigestSHA512 = "sha512"

	SignatureRSAPKCS1v15 = "rsa-pkcs1v15"
	SignatureRSAPSS      = "rsa-pss"
	SignatureECDSAP256   = "ecdsa-p256"
	SignatureECDSAP384   = "ecdsa-p384"
)

// algorithmIdentifier is a parsed AlgorithmIdentifier; params is the whole DER element of the
// parameters, nil when they are absent.
type algorithmIdentifier struct {
	oid    asn1.ObjectIdentifier
	params []byte
}

// paramsAbsentOrNull reports whether the parameters are absent or an ASN.1 NULL.
func (a algorithmIdentifier) paramsAbsentOrNull() bool {
	return a.params == nil || (len(a.params) == 2 && a.params[0] == 0x05 && a.params[1] == 0x00)
}

// isUkrainian reports whether oid is in the arc of the Ukrainian national algorithms
// (1.2.804.2.1.1.1.1: DSTU 4145 signatures, GOST 34.311 and Kupyna hashes).
func isUkrainian(oid asn1.ObjectIdentifier) bool {
	return len(oid) > len(oidUkrainianCryptography) && oid[:len(oidUkrainianCryptography)].Equal(oidUkrainianCryptography)
}

// digestAlgorithm resolves a digest AlgorithmIdentifier against the allow-list.
func digestAlgorithm(a algorithmIdentifier) (crypto.Hash, *Error) {
	switch {
	case a.oid.Equal(oidSHA256), a.oid.Equal(oidSHA384), a.oid.Equal(oidSHA512):
		if !a.paramsAbsentOrNull() {
			return 0, malformed("digest algorithm %s has parameters", a.oid)
		}
		return hashOf(a.oid), nil
	case a.oid.Equal(oidSHA1), a.oid.Equal(oidMD5):
		return 0, refuse(CodeWeakAlgorithm, "digest algorithm %s is not accepted", a.oid)
	default:
		return 0, refuse(CodeUnsupportedAlgorithm, "digest algorithm %s is not supported", a.oid)
	}
}

// hashOf maps an allowed digest OID to its hash; 0 for any other OID.
func hashOf(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// digestName is the stable name of an allowed hash.
func digestName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return DigestSHA256
	case crypto.SHA384:
		return DigestSHA384
	case crypto.SHA512:
		return DigestSHA512
	}
	return ""
}

// digestOID is the OID of an allowed hash.
func digestOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return oidSHA256
}

// signatureScheme is how a SignerInfo's signature value is checked.
type signatureScheme struct {
	rsa     bool // RSA (PKCS #1 v1.5 or PSS); else ECDSA
	pss     *rsa.PSSOptions
	hashOID asn1.ObjectIdentifier // the digest the algorithm names, nil when it names none
}

// signatureAlgorithm resolves a SignerInfo signatureAlgorithm against the allow-list. digest is the
// SignerInfo digestAlgorithm hash, which an algorithm that names its own hash must agree with.
func signatureAlgorithm(a algorithmIdentifier, digest crypto.Hash) (signatureScheme, *Error) {
	var s signatureScheme
	switch {
	case a.oid.Equal(oidRSAEncryption):
		s = signatureScheme{rsa: true}
	case a.oid.Equal(oidSHA256WithRSA):
		s = signatureScheme{rsa: true, hashOID: oidSHA256}
	case a.oid.Equal(oidSHA384WithRSA):
		s = signatureScheme{rsa: true, hashOID: oidSHA384}
	case a.oid.Equal(oidSHA512WithRSA):
		s = signatureScheme{rsa: true, hashOID: oidSHA512}
	case a.oid.Equal(oidECPublicKey):
		s = signatureScheme{}
	case a.oid.Equal(oidECDSAWithSHA256):
		s = signatureScheme{hashOID: oidSHA256}
	case a.oid.Equal(oidECDSAWithSHA384):
		s = signatureScheme{hashOID: oidSHA384}
	case a.oid.Equal(oidECDSAWithSHA512):
		s = signatureScheme{hashOID: oidSHA512}
	case a.oid.Equal(oidRSAPSS):
		opts, err := pssParameters(a.params, digest)
		if err != nil {
			return s, err
		}
		return signatureScheme{rsa: true, pss: opts}, nil
	case a.oid.Equal(oidSHA1WithRSA), a.oid.Equal(oidMD5WithRSA), a.oid.Equal(oidECDSAWithSHA1):
		return s, refuse(CodeWeakAlgorithm, "signature algorithm %s is not accepted", a.oid)
	default:
		return s, refuse(CodeUnsupportedAlgorithm, "signature algorithm %s is not supported", a.oid)
	}
	if !a.paramsAbsentOrNull() && !a.oid.Equal(oidECPublicKey) {
		return s, malformed("signature algorithm %s has unexpected parameters", a.oid)
	}
	if s.hashOID != nil && hashOf(s.hashOID) != digest {
		return s, malformed("signature algorithm %s does not use the digest algorithm of the signer", a.oid)
	}
	return s, nil
}

// pssParameters parses RSASSA-PSS-params (RFC 4055) and requires the hash and the MGF1 hash to be the
// SignerInfo digest algorithm and the trailer field to be 1.
func pssParameters(params []byte, digest crypto.Hash) (*rsa.PSSOptions, *Error) {
	if params == nil {
		return nil, refuse(CodeWeakAlgorithm, "RSA-PSS without parameters uses SHA-1")
	}
	in := cryptobyte.String(params)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("RSA-PSS parameters are not a DER SEQUENCE")
	}
	var hashAlg, mgfAlg algorithmIdentifier
	var hasHash, hasMGF bool
	var hashField, mgfField cryptobyte.String
	salt, trailer := int64(20), int64(1)
	ok := seq.ReadOptionalASN1(&hashField, &hasHash, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
		seq.ReadOptionalASN1(&mgfField, &hasMGF, cbasn1.Tag(1).Constructed().ContextSpecific()) &&
		readOptionalExplicitInt(&seq, 2, &salt) && readOptionalExplicitInt(&seq, 3, &trailer) && seq.Empty()
	if ok && hasHash {
		hashAlg, ok = readAlgorithmIdentifier(&hashField)
		ok = ok && hashField.Empty()
	}
	if ok && hasMGF {
		mgfAlg, ok = readAlgorithmIdentifier(&mgfField)
		ok = ok && mgfField.Empty()
	}
	if !ok {
		return nil, malformed("RSA-PSS parameters are malformed")
	}
	if !hasHash || !hasMGF {
		return nil, refuse(CodeWeakAlgorithm, "RSA-PSS with the default SHA-1 hash or MGF1 is not accepted")
	}
	h, err := digestAlgorithm(hashAlg)
	if err != nil {
		return nil, err
	}
	if !mgfAlg.oid.Equal(oidMGF1) {
		return nil, refuse(CodeUnsupportedAlgorithm, "RSA-PSS mask generation %s is not supported", mgfAlg.oid)
	}
	mgfParams := cryptobyte.String(mgfAlg.params)
	mgfHash, ok := readAlgorithmIdentifier(&mgfParams)
	if !ok || !mgfParams.Empty() {
		return nil, malformed("RSA-PSS MGF1 parameters are malformed")
	}
	mh, err := digestAlgorithm(mgfHash)
	if err != nil {
		return nil, err
	}
	if h != digest || mh != digest {
		return nil, malformed("RSA-PSS hashes differ from the digest algorithm of the signer")
	}
	if trailer != 1 || salt < 0 || salt > 1024 {
		return nil, malformed("RSA-PSS salt length or trailer field is out of range")
	}
	return &rsa.PSSOptions{SaltLength: int(salt), Hash: h}, nil
}

// readOptionalExplicitInt reads an optional [tag] EXPLICIT INTEGER into out, leaving out unchanged
// when the field is absent.
func readOptionalExplicitInt(s *cryptobyte.String, tag uint8, out *int64) bool {
	var field cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&field, &present, cbasn1.Tag(tag).Constructed().ContextSpecific()) {
		return false
	}
	if !present {
		return true
	}
	return field.ReadASN1Integer(out) && field.Empty()
}

// checkSignerKey applies the key allow-list to the signer certificate: RSA of at least 2048 bits,
// ECDSA on P-256 or P-384. It returns the stable signature algorithm name for the scheme.
func checkSignerKey(cert *x509.Certificate, s signatureScheme) (string, *Error) {
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if !s.rsa {
			return "", malformed("an ECDSA signature algorithm with an RSA signer key")
		}
		if pub.N.BitLen() < 2048 {
			return "", refuse(CodeWeakAlgorithm, "RSA key of %d bits is under 2048", pub.N.BitLen())
		}
		if s.pss != nil {
			return SignatureRSAPSS, nil
		}
		return SignatureRSAPKCS1v15, nil
	case *ecdsa.PublicKey:
		if s.rsa {
			return "", malformed("an RSA signature algorithm with an ECDSA signer key")
		}
		switch pub.Curve {
		case elliptic.P256():
			return SignatureECDSAP256, nil
		case elliptic.P384():
			return SignatureECDSAP384, nil
		}
		return "", refuse(CodeUnsupportedAlgorithm, "ECDSA curve %s is not supported", pub.Curve.Params().Name)
	default:
		return "", refuse(CodeUnsupportedAlgorithm, "signer key algorithm %s is not supported", cert.PublicKeyAlgorithm)
	}
}

// checkCertificateSignatureAlgorithm refuses certificates signed with SHA-1 or MD5.
func checkCertificateSignatureAlgorithm(cert *x509.Certificate) *Error {
	switch cert.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
		return refuse(CodeWeakAlgorithm, "signer certificate is signed with %s", cert.SignatureAlgorithm)
	}
	return nil
}

// verifyValue checks a signature value over digest (the hash of the DER signed attributes).
func verifyValue(cert *x509.Certificate, s signatureScheme, h crypto.Hash, digest, sig []byte) bool {
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if s.pss != nil {
			return rsa.VerifyPSS(pub, h, digest, sig, s.pss) == nil
		}
		return rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig)
	}
	return false
}
