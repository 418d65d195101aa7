package signature

import (
	"bytes"
	"crypto"
	"crypto/sha1" //nolint:gosec // only to match an ESS signing-certificate v1 next to a v2
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// cadesAttributes are the interpreted signed attributes of a CAdES-BES SignerInfo.
type cadesAttributes struct {
	messageDigest []byte
	signingTime   time.Time // claimed by the signer, never trusted; zero when absent
	essV2, essV1  []byte    // the single value of signing-certificate-v2 / v1, nil when absent
}

// interpretAttributes checks the signed attributes every accepted signature carries: contentType
// equal to eContentType, which must be id-data, and messageDigest, each with one value. signingTime
// and the ESS attributes are read when present; checkESS decides about them.
func interpretAttributes(si *signerInfo, eContentType asn1.ObjectIdentifier) (*cadesAttributes, *Error) {
	if !si.hasSignedAttrs {
		return nil, malformed("no signed attributes: CAdES-BES requires them")
	}
	if !eContentType.Equal(oidData) {
		return nil, malformed("eContentType %s is not id-data", eContentType)
	}
	var out cadesAttributes
	v, err := singleValue(si, oidAttrContentType, "contentType", true)
	if err != nil {
		return nil, err
	}
	var ct asn1.ObjectIdentifier
	if s := cryptobyte.String(v); !s.ReadASN1ObjectIdentifier(&ct) || !s.Empty() || !ct.Equal(eContentType) {
		return nil, malformed("contentType attribute differs from eContentType")
	}
	if v, err = singleValue(si, oidAttrMessageDigest, "messageDigest", true); err != nil {
		return nil, err
	}
	if s := cryptobyte.String(v); !s.ReadASN1Bytes(&out.messageDigest, cbasn1.OCTET_STRING) || !s.Empty() {
		return nil, malformed("messageDigest attribute is not an OCTET STRING")
	}
	if v, err = singleValue(si, oidAttrSigningTime, "signingTime", false); err != nil {
		return nil, err
	}
	if v != nil {
		if out.signingTime, err = parseSigningTime(v); err != nil {
			return nil, err
		}
	}
	if out.essV2, err = singleValue(si, oidAttrSigningCertV2, "signing-certificate-v2", false); err != nil {
		return nil, err
	}
	if out.essV1, err = singleValue(si, oidAttrSigningCert, "signing-certificate", false); err != nil {
		return nil, err
	}
	return &out, nil
}

// singleValue returns the one value of the signed attribute oid, nil when it is absent and not
// required.
func singleValue(si *signerInfo, oid asn1.ObjectIdentifier, name string, required bool) ([]byte, *Error) {
	a := si.find(oid)
	switch {
	case a == nil && required:
		return nil, malformed("no %s signed attribute", name)
	case a == nil:
		return nil, nil
	case len(a.values) != 1:
		return nil, malformed("%s attribute has %d values", name, len(a.values))
	}
	return a.values[0], nil
}

// parseSigningTime parses the DER Time of a signingTime attribute: UTCTime YYMMDDHHMMSSZ for 1950
// to 2049, GeneralizedTime YYYYMMDDHHMMSSZ otherwise (RFC 5652 11.3).
func parseSigningTime(v []byte) (time.Time, *Error) {
	s := cryptobyte.String(v)
	var text cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&text, &tag) || !s.Empty() {
		return time.Time{}, malformed("signingTime is malformed")
	}
	var full string
	switch {
	case tag == cbasn1.UTCTime && len(text) == 13:
		century := "20"
		if text[0] >= '5' {
			century = "19"
		}
		full = century + string(text)
	case tag == cbasn1.GeneralizedTime && len(text) == 15:
		full = string(text)
	default:
		return time.Time{}, malformed("signingTime is not a DER UTCTime or GeneralizedTime")
	}
	t, err := time.Parse("20060102150405Z", full)
	if err != nil || t.Format("20060102150405Z") != full {
		return time.Time{}, malformed("signingTime is not a DER UTCTime or GeneralizedTime")
	}
	if tag == cbasn1.GeneralizedTime && t.Year() >= 1950 && t.Year() < 2050 {
		return time.Time{}, malformed("signingTime between 1950 and 2049 must be a UTCTime")
	}
	return t, nil
}

// essCertID is the first ESSCertID(v2) of a signing-certificate attribute: the signer's.
type essCertID struct {
	hash            crypto.Hash
	certHash        []byte
	hasIssuerSerial bool
	issuerNames     [][]byte // DER Names of the directoryName GeneralNames
	serial          *big.Int
}

// checkESS binds the signer certificate to the signed attributes (CAdES-BES): the
// signing-certificate-v2 attribute must be present, hash the certificate with SHA-256/384/512 and
// name its issuer and serial when it names any. A v1 attribute alone (SHA-1) is weak; a v1 next to
// a v2 must match too.
func checkESS(attrs *cadesAttributes, cert *x509.Certificate) *Error {
	if attrs.essV2 == nil {
		if attrs.essV1 != nil {
			return refuse(CodeWeakAlgorithm, "only an ESS signing-certificate v1 attribute, which hashes with SHA-1")
		}
		return malformed("no ESS signing-certificate-v2 signed attribute: not CAdES-BES")
	}
	id, err := parseSigningCertificate(attrs.essV2, true)
	if err != nil {
		return err
	}
	if err := id.match(cert); err != nil {
		return err
	}
	if attrs.essV1 != nil {
		id, err := parseSigningCertificate(attrs.essV1, false)
		if err != nil {
			return err
		}
		return id.match(cert)
	}
	return nil
}

// parseSigningCertificate parses SigningCertificateV2 (v2) or SigningCertificate (RFC 5035) and
// returns its first certificate identifier.
func parseSigningCertificate(v []byte, v2 bool) (essCertID, *Error) {
	var id essCertID
	s := cryptobyte.String(v)
	var sc, certs, first cryptobyte.String
	if !s.ReadASN1(&sc, cbasn1.SEQUENCE) || !s.Empty() || !sc.ReadASN1(&certs, cbasn1.SEQUENCE) ||
		!certs.ReadASN1(&first, cbasn1.SEQUENCE) {
		return id, malformed("ESS signing-certificate attribute is malformed")
	}
	if !sc.Empty() && (!sc.SkipASN1(cbasn1.SEQUENCE) || !sc.Empty()) { // policies
		return id, malformed("ESS signing-certificate attribute is malformed")
	}
	id.hash = crypto.SHA1
	if v2 {
		id.hash = crypto.SHA256 // the DEFAULT
		if first.PeekASN1Tag(cbasn1.SEQUENCE) {
			alg, ok := readAlgorithmIdentifier(&first)
			if !ok {
				return id, malformed("ESS certificate hash algorithm is malformed")
			}
			h, err := digestAlgorithm(alg)
			if err != nil {
				err.Reason = "ESS signing-certificate-v2: " + err.Reason
				return id, err
			}
			id.hash = h
		}
	}
	if !first.ReadASN1Bytes(&id.certHash, cbasn1.OCTET_STRING) {
		return id, malformed("ESS certificate hash is malformed")
	}
	if !first.Empty() {
		if err := id.parseIssuerSerial(&first); err != nil {
			return id, err
		}
	}
	if !first.Empty() {
		return id, malformed("ESS certificate identifier has trailing data")
	}
	return id, nil
}

// parseIssuerSerial parses IssuerSerial: GeneralNames, serial number and an optional issuerUID.
func (id *essCertID) parseIssuerSerial(s *cryptobyte.String) *Error {
	var is, names cryptobyte.String
	id.serial = new(big.Int)
	if !s.ReadASN1(&is, cbasn1.SEQUENCE) || !is.ReadASN1(&names, cbasn1.SEQUENCE) || !is.ReadASN1Integer(id.serial) {
		return malformed("ESS issuerSerial is malformed")
	}
	if !is.Empty() && (!is.SkipASN1(cbasn1.BIT_STRING) || !is.Empty()) {
		return malformed("ESS issuerSerial is malformed")
	}
	directoryName := cbasn1.Tag(4).Constructed().ContextSpecific()
	for !names.Empty() {
		var name cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&name, &tag) {
			return malformed("ESS issuerSerial names are malformed")
		}
		if tag != directoryName {
			continue
		}
		var dn cryptobyte.String
		if !name.ReadASN1Element(&dn, cbasn1.SEQUENCE) || !name.Empty() {
			return malformed("ESS issuerSerial directoryName is malformed")
		}
		id.issuerNames = append(id.issuerNames, dn)
	}
	id.hasIssuerSerial = true
	return nil
}

// match reports whether the identifier names cert.
func (id essCertID) match(cert *x509.Certificate) *Error {
	var sum []byte
	if id.hash == crypto.SHA1 {
		s := sha1.Sum(cert.Raw) //nolint:gosec // matching a v1 attribute, never trusted alone
		sum = s[:]
	} else {
		h := id.hash.New()
		h.Write(cert.Raw)
		sum = h.Sum(nil)
	}
	if !bytes.Equal(sum, id.certHash) {
		return refuse(CodeSignerMismatch, "the ESS signing-certificate attribute names another certificate")
	}
	if !id.hasIssuerSerial {
		return nil
	}
	if id.serial.Cmp(cert.SerialNumber) != 0 {
		return refuse(CodeSignerMismatch, "the ESS signing-certificate serial number differs from the signer's")
	}
	for _, n := range id.issuerNames {
		if bytes.Equal(n, cert.RawIssuer) {
			return nil
		}
	}
	return refuse(CodeSignerMismatch, "the ESS signing-certificate issuer differs from the signer's")
}
