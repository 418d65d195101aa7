package signature

import (
	"crypto/x509"
	"encoding/asn1"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidSubjectDirectoryAttributes = asn1.ObjectIdentifier{2, 5, 29, 9}
	// oidDRFO is the Ukrainian taxpayer registration number (РНОКПП, formerly ДРФО) attribute of
	// the SubjectDirectoryAttributes extension.
	oidDRFO = asn1.ObjectIdentifier{1, 2, 804, 2, 1, 1, 1, 11, 1, 4, 1, 1}
)

// taxNumber returns the signer's РНОКПП (10 digits) from the certificate, or "" when it carries
// none: first the subject serialNumber in the ETSI EN 319 412-1 form "TINUA-1234567890", then the
// DRFO attribute (1.2.804.2.1.1.1.11.1.4.1.1) of the SubjectDirectoryAttributes extension.
func taxNumber(cert *x509.Certificate) string {
	if n, ok := strings.CutPrefix(cert.Subject.SerialNumber, "TINUA-"); ok && isTaxNumber(n) {
		return n
	}
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidSubjectDirectoryAttributes) {
			if n := drfoAttribute(ext.Value); isTaxNumber(n) {
				return n
			}
		}
	}
	return ""
}

// drfoAttribute returns the first DRFO value of a SubjectDirectoryAttributes extension value.
func drfoAttribute(value []byte) string {
	in := cryptobyte.String(value)
	var attrs cryptobyte.String
	if !in.ReadASN1(&attrs, cbasn1.SEQUENCE) || !in.Empty() {
		return ""
	}
	parsed, err := parseAttributes(attrs, false)
	if err != nil {
		return ""
	}
	for _, a := range parsed {
		if !a.oid.Equal(oidDRFO) {
			continue
		}
		v := cryptobyte.String(a.values[0])
		var text cryptobyte.String
		var tag cbasn1.Tag
		if v.ReadAnyASN1(&text, &tag) && v.Empty() && (tag == cbasn1.PrintableString || tag == cbasn1.UTF8String) {
			return string(text)
		}
	}
	return ""
}

// isTaxNumber reports whether s is 10 ASCII digits.
func isTaxNumber(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
