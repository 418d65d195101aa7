package signature

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The parser reads CMS (RFC 5652) with cryptobyte, which accepts DER only: definite, minimal
// lengths, minimal integers and OIDs, primitive OCTET STRINGs. Every structure must end where its
// length says. Byte slices in the parsed values alias the input.

// limits bound the work the parser does before anything expensive.
type limits struct {
	maxCertificates int
	maxCRLs         int
}

// signedData is a parsed ContentInfo holding a SignedData with exactly one SignerInfo.
type signedData struct {
	eContentType asn1.ObjectIdentifier
	eContent     []byte // the encapsulated content; nil when detached
	attached     bool
	certificates [][]byte // DER of each certificate, not yet parsed
	signer       signerInfo
}

// signerInfo is a parsed SignerInfo.
type signerInfo struct {
	issuer          []byte   // DER Name of issuerAndSerialNumber; nil with a subjectKeyIdentifier
	serial          *big.Int // with issuer
	subjectKeyID    []byte   // with version 3
	digestAlg       algorithmIdentifier
	signedAttrsDER  []byte // the SET OF Attribute as signed: tag 0x31, DER
	signedAttrs     []attribute
	signatureAlg    algorithmIdentifier
	signatureValue  []byte
	hasSignedAttrs  bool
	hasUnsignedAttr bool
}

// attribute is one Attribute: its type and the whole DER element of each value.
type attribute struct {
	oid    asn1.ObjectIdentifier
	values [][]byte
}

// Context-specific tags: [0] and [1] constructed (explicit tags, implicit SETs), [0] primitive
// (subjectKeyIdentifier).
var (
	tagCtx0 = cbasn1.Tag(0).Constructed().ContextSpecific()
	tagCtx1 = cbasn1.Tag(1).Constructed().ContextSpecific()
	tagSKI  = cbasn1.Tag(0).ContextSpecific()
)

// parseSignedData parses a DER ContentInfo of type signed-data. Any error is an *Error with
// CodeSignatureMalformed or CodeTooLarge.
func parseSignedData(der []byte, lim limits) (*signedData, *Error) {
	in := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var contentType asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("not one DER ContentInfo (BER, indefinite length or trailing data)")
	}
	if !ci.ReadASN1ObjectIdentifier(&contentType) || !ci.ReadASN1(&content, tagCtx0) || !ci.Empty() {
		return nil, malformed("ContentInfo is malformed")
	}
	if !contentType.Equal(oidSignedData) {
		return nil, malformed("content type %s is not signed-data", contentType)
	}
	if !content.ReadASN1(&sd, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("SignedData is not a DER SEQUENCE")
	}

	out := &signedData{}
	var version int64
	var digestAlgs, encap, certs, crls, signerInfos cryptobyte.String
	var hasCerts, hasCRLs bool
	if !sd.ReadASN1Integer(&version) || !sd.ReadASN1(&digestAlgs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!sd.ReadOptionalASN1(&certs, &hasCerts, tagCtx0) || !sd.ReadOptionalASN1(&crls, &hasCRLs, tagCtx1) ||
		!sd.ReadASN1(&signerInfos, cbasn1.SET) || !sd.Empty() {
		return nil, malformed("SignedData is malformed")
	}
	if version < 1 || version > 5 {
		return nil, malformed("SignedData version %d is unknown", version)
	}
	for !digestAlgs.Empty() {
		if _, ok := readAlgorithmIdentifier(&digestAlgs); !ok {
			return nil, malformed("SignedData digestAlgorithms is malformed")
		}
	}
	if err := out.parseEncapsulated(encap); err != nil {
		return nil, err
	}

	// Count before parsing anything: a signature with thousands of certificates is refused cheaply.
	for n := 0; !certs.Empty(); n++ {
		if n == lim.maxCertificates {
			return nil, refuse(CodeTooLarge, "more than %d certificates in SignedData", lim.maxCertificates)
		}
		var cert cryptobyte.String
		var tag cbasn1.Tag
		if !certs.ReadAnyASN1Element(&cert, &tag) {
			return nil, malformed("SignedData certificates are malformed")
		}
		if tag != cbasn1.SEQUENCE {
			return nil, malformed("SignedData holds a certificate choice other than an X.509 certificate")
		}
		out.certificates = append(out.certificates, cert)
	}
	for n := 0; !crls.Empty(); n++ {
		if n == lim.maxCRLs {
			return nil, refuse(CodeTooLarge, "more than %d CRLs in SignedData", lim.maxCRLs)
		}
		var crl cryptobyte.String
		var tag cbasn1.Tag
		if !crls.ReadAnyASN1Element(&crl, &tag) {
			return nil, malformed("SignedData crls are malformed")
		}
	}

	var first cryptobyte.String
	if !signerInfos.ReadASN1(&first, cbasn1.SEQUENCE) {
		return nil, malformed("SignedData has no SignerInfo")
	}
	if n := 1 + countElements(signerInfos); n != 1 {
		return nil, malformed("SignedData has %d SignerInfos; exactly one is accepted", n)
	}
	si, err := parseSignerInfo(first)
	if err != nil {
		return nil, err
	}
	out.signer = *si
	return out, nil
}

// parseEncapsulated parses EncapsulatedContentInfo.
func (sd *signedData) parseEncapsulated(encap cryptobyte.String) *Error {
	var eContent cryptobyte.String
	if !encap.ReadASN1ObjectIdentifier(&sd.eContentType) ||
		!encap.ReadOptionalASN1(&eContent, &sd.attached, tagCtx0) || !encap.Empty() {
		return malformed("EncapsulatedContentInfo is malformed")
	}
	if sd.attached {
		var octets cryptobyte.String
		if !eContent.ReadASN1(&octets, cbasn1.OCTET_STRING) || !eContent.Empty() {
			return malformed("eContent is not one primitive OCTET STRING")
		}
		sd.eContent = octets
		if sd.eContent == nil {
			sd.eContent = []byte{}
		}
	}
	return nil
}

// countElements counts the DER elements of s, or returns -1 when s is not a sequence of them.
func countElements(s cryptobyte.String) int {
	n := 0
	for ; !s.Empty(); n++ {
		var element cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&element, &tag) {
			return -1
		}
	}
	return n
}

// parseSignerInfo parses the content of one SignerInfo SEQUENCE.
func parseSignerInfo(s cryptobyte.String) (*signerInfo, *Error) {
	si := &signerInfo{}
	var version int64
	if !s.ReadASN1Integer(&version) {
		return nil, malformed("SignerInfo version is malformed")
	}
	switch {
	case version == 1 && s.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, issuer cryptobyte.String
		si.serial = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.serial) || !ias.Empty() {
			return nil, malformed("SignerInfo issuerAndSerialNumber is malformed")
		}
		si.issuer = issuer
	case version == 3 && s.PeekASN1Tag(tagSKI):
		var ski cryptobyte.String
		if !s.ReadASN1(&ski, tagSKI) || len(ski) == 0 {
			return nil, malformed("SignerInfo subjectKeyIdentifier is malformed")
		}
		si.subjectKeyID = ski
	default:
		return nil, malformed("SignerInfo version %d does not fit its signer identifier", version)
	}
	var ok bool
	if si.digestAlg, ok = readAlgorithmIdentifier(&s); !ok {
		return nil, malformed("SignerInfo digestAlgorithm is malformed")
	}
	if s.PeekASN1Tag(tagCtx0) {
		var element cryptobyte.String
		if !s.ReadASN1Element(&element, tagCtx0) {
			return nil, malformed("SignerInfo signedAttrs are malformed")
		}
		attrs, err := parseSignedAttributes(element)
		if err != nil {
			return nil, err
		}
		si.hasSignedAttrs = true
		si.signedAttrs = attrs
		si.signedAttrsDER = append([]byte{byte(cbasn1.SET)}, element[1:]...)
	}
	var sig cryptobyte.String
	if si.signatureAlg, ok = readAlgorithmIdentifier(&s); !ok || !s.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, malformed("SignerInfo signature is malformed")
	}
	si.signatureValue = sig
	if s.PeekASN1Tag(tagCtx1) {
		var unsigned cryptobyte.String
		if !s.ReadASN1(&unsigned, tagCtx1) {
			return nil, malformed("SignerInfo unsignedAttrs are malformed")
		}
		if _, err := parseAttributes(unsigned, false); err != nil {
			return nil, malformed("SignerInfo unsignedAttrs are malformed")
		}
		si.hasUnsignedAttr = true
	}
	if !s.Empty() {
		return nil, malformed("SignerInfo has trailing data")
	}
	return si, nil
}

// parseSignedAttributes parses the [0] IMPLICIT SET OF Attribute element and checks that it is DER:
// re-encoding the set with its elements sorted must give the same bytes, and no attribute type may
// appear twice.
func parseSignedAttributes(element cryptobyte.String) ([]attribute, *Error) {
	var content cryptobyte.String
	if !element.ReadASN1(&content, tagCtx0) {
		return nil, malformed("signedAttrs are malformed")
	}
	if !isDERSet(content) {
		return nil, malformed("signedAttrs are not DER: the SET OF is not sorted")
	}
	attrs, err := parseAttributes(content, true)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		key := a.oid.String()
		if seen[key] {
			return nil, malformed("signed attribute %s appears twice", key)
		}
		seen[key] = true
	}
	return attrs, nil
}

// parseAttributes parses the content of a SET OF Attribute. With derValues each attribute's SET OF
// values must be in DER order too (signed attributes); unsigned attributes are only required to be
// well-formed.
func parseAttributes(content cryptobyte.String, derValues bool) ([]attribute, *Error) {
	var attrs []attribute
	for !content.Empty() {
		var seq, values cryptobyte.String
		var a attribute
		if !content.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.oid) ||
			!seq.ReadASN1(&values, cbasn1.SET) || !seq.Empty() {
			return nil, malformed("an attribute is malformed")
		}
		if derValues && !isDERSet(values) {
			return nil, malformed("attribute %s values are not DER: the SET OF is not sorted", a.oid)
		}
		for !values.Empty() {
			var v cryptobyte.String
			var tag cbasn1.Tag
			if !values.ReadAnyASN1Element(&v, &tag) {
				return nil, malformed("attribute %s value is malformed", a.oid)
			}
			a.values = append(a.values, v)
		}
		if len(a.values) == 0 {
			return nil, malformed("attribute %s has no value", a.oid)
		}
		attrs = append(attrs, a)
	}
	return attrs, nil
}

// isDERSet reports whether content, the content octets of a SET OF, is a sequence of DER elements in
// the DER order: re-encoding them sorted gives the same bytes.
func isDERSet(content cryptobyte.String) bool {
	var elements [][]byte
	for rest := content; !rest.Empty(); {
		var e cryptobyte.String
		var tag cbasn1.Tag
		if !rest.ReadAnyASN1Element(&e, &tag) {
			return false
		}
		elements = append(elements, e)
	}
	return bytes.Equal(encodeSetContent(elements), content)
}

// encodeSetContent returns the content octets of a DER SET OF with these elements: the elements
// sorted by their encodings (X.690 11.6).
func encodeSetContent(elements [][]byte) []byte {
	sorted := slices.Clone(elements)
	slices.SortFunc(sorted, bytes.Compare)
	return bytes.Join(sorted, nil)
}

// readAlgorithmIdentifier reads one AlgorithmIdentifier SEQUENCE.
func readAlgorithmIdentifier(s *cryptobyte.String) (algorithmIdentifier, bool) {
	var seq cryptobyte.String
	var a algorithmIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.oid) {
		return a, false
	}
	if !seq.Empty() {
		var params cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1Element(&params, &tag) || !seq.Empty() {
			return a, false
		}
		a.params = params
	}
	return a, true
}

// find returns the attribute of type oid, or nil.
func (si *signerInfo) find(oid asn1.ObjectIdentifier) *attribute {
	for i := range si.signedAttrs {
		if si.signedAttrs[i].oid.Equal(oid) {
			return &si.signedAttrs[i]
		}
	}
	return nil
}
