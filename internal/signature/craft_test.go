package signature

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // building a signing-certificate v1 attribute
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"appealhub/internal/signature/signaturetest"
)

// crafted builds signatures the OpenSSL command line cannot make (chosen signed attributes,
// algorithms, certificates), signed with a real key so that only the intended defect remains.
type crafted struct {
	content   []byte
	attached  bool
	cert      *x509.Certificate // the certificate the SignerInfo names
	key       crypto.Signer
	hash      crypto.Hash // signs the signed attributes
	digestAlg algorithmIdentifier
	sigAlg    algorithmIdentifier
	attrs     []craftedAttr
	rawAttrs  []byte // when set, signed as is instead of attrs
	noAttrs   bool
	certs     [][]byte
	crls      [][]byte
}

type craftedAttr struct {
	oid asn1.ObjectIdentifier
	der []byte
}

// craft returns a valid CAdES-BES recipe signed by the leaf name of the PKI (an ECDSA P-256 leaf)
// over content at time at, with the intermediate in the certificates.
func craft(t testing.TB, p *signaturetest.PKI, name string, content []byte, at time.Time) *crafted {
	t.Helper()
	cert := p.Cert(t, name)
	return craftWith(t, cert, p.Key(t, name), [][]byte{cert.Raw, p.Cert(t, "inter").Raw}, content, at)
}

// craftWith returns a valid CAdES-BES recipe signed by key, whose certificate is cert, with
// ECDSA and SHA-256, carrying certs.
func craftWith(t testing.TB, cert *x509.Certificate, key crypto.Signer, certs [][]byte, content []byte, at time.Time) *crafted {
	t.Helper()
	c := &crafted{
		content: content, cert: cert, key: key, hash: crypto.SHA256,
		digestAlg: algorithmIdentifier{oid: oidSHA256}, sigAlg: algorithmIdentifier{oid: oidECDSAWithSHA256},
		certs: certs,
	}
	signingTime, err := marshalTime(at)
	require.NoError(t, err)
	c.set(oidAttrContentType, marshalOID(oidData))
	c.set(oidAttrSigningTime, signingTime)
	c.set(oidAttrMessageDigest, marshalOctetString(sha256Of(content)))
	c.set(oidAttrSigningCertV2, marshalSigningCertificateV2(cert))
	return c
}

// set replaces the attribute oid with one holding values (or appends it).
func (c *crafted) set(oid asn1.ObjectIdentifier, values ...[]byte) {
	c.drop(oid)
	c.add(oid, values...)
}

// add appends an attribute, even one of a type already there.
func (c *crafted) add(oid asn1.ObjectIdentifier, values ...[]byte) {
	c.attrs = append(c.attrs, craftedAttr{oid: oid, der: marshalAttribute(oid, values...)})
}

// drop removes the attributes of type oid.
func (c *crafted) drop(oid asn1.ObjectIdentifier) {
	c.attrs = slices.DeleteFunc(c.attrs, func(a craftedAttr) bool { return a.oid.Equal(oid) })
}

// unsortedAttrs returns the attributes as a SET in reverse DER order: a BER, not DER, encoding.
func (c *crafted) unsortedAttrs() []byte {
	ders := make([][]byte, 0, len(c.attrs))
	for _, a := range c.attrs {
		ders = append(ders, a.der)
	}
	slices.SortFunc(ders, func(a, b []byte) int { return bytes.Compare(b, a) })
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(bytes.Join(ders, nil)) })
	out := b.BytesOrPanic()
	if bytes.Equal(out, marshalSet(ders...)) {
		panic("unsortedAttrs: the attributes are in DER order anyway")
	}
	return out
}

// sha256Of returns the SHA-256 of data.
func sha256Of(data []byte) []byte {
	sum := sha256.Sum256(data)
	return sum[:]
}

// der signs and encodes the recipe.
func (c *crafted) der(t testing.TB) []byte {
	t.Helper()
	si := signerSpec{issuer: c.cert.RawIssuer, serial: c.cert.SerialNumber, digestAlg: c.digestAlg, signatureAlg: c.sigAlg}
	toSign := c.content
	if !c.noAttrs {
		si.signedAttrs = c.rawAttrs
		if si.signedAttrs == nil {
			ders := make([][]byte, 0, len(c.attrs))
			for _, a := range c.attrs {
				ders = append(ders, a.der)
			}
			si.signedAttrs = marshalSet(ders...)
		}
		toSign = si.signedAttrs
	}
	d := c.hash.New()
	d.Write(toSign)
	sig, err := c.key.Sign(rand.Reader, d.Sum(nil), c.hash)
	require.NoError(t, err)
	si.signature = sig
	der, err := signedDataSpec{content: c.content, attached: c.attached, certificates: c.certs, crls: c.crls, signers: []signerSpec{si}}.marshal()
	require.NoError(t, err)
	return der
}

// resign re-encodes an existing signature with other certificates and another signer identifier,
// keeping its signed attributes and signature value: how an attacker substitutes a certificate.
func resign(t testing.TB, sig []byte, certs [][]byte, issuer []byte, serial *big.Int) []byte {
	t.Helper()
	return reencode(t, sig, func(s *signedDataSpec) {
		s.certificates = certs
		s.signers[0].issuer, s.signers[0].serial = issuer, serial
	})
}

// reencode parses a signature (issuerAndSerialNumber only), lets change edit it and encodes it again.
func reencode(t testing.TB, sig []byte, change func(*signedDataSpec)) []byte {
	t.Helper()
	sd, perr := parseSignedData(sig, limits{maxCertificates: 1000, maxCRLs: 1000})
	require.Nil(t, perr)
	si := sd.signer
	require.NotNil(t, si.issuer, "reencode handles issuerAndSerialNumber only")
	spec := signedDataSpec{
		content: sd.eContent, attached: sd.attached, certificates: sd.certificates,
		signers: []signerSpec{{
			issuer: si.issuer, serial: si.serial, digestAlg: si.digestAlg, signatureAlg: si.signatureAlg,
			signature: si.signatureValue,
		}},
	}
	if si.hasSignedAttrs {
		spec.signers[0].signedAttrs = si.signedAttrsDER
	}
	change(&spec)
	der, err := spec.marshal()
	require.NoError(t, err)
	return der
}

// essV1 encodes a SigningCertificate (v1) value naming cert by its SHA-1.
func essV1(cert *x509.Certificate) []byte {
	sum := sha1.Sum(cert.Raw) //nolint:gosec // the v1 attribute is SHA-1 by definition
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1OctetString(sum[:]) })
		})
	})
	return b.BytesOrPanic()
}

// essV2 encodes a SigningCertificateV2 value with an explicit hash algorithm, a certificate hash and
// an issuerSerial with the given issuer Name and serial.
func essV2(hashAlg asn1.ObjectIdentifier, certHash, issuer []byte, serial *big.Int) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				if hashAlg != nil {
					b.AddBytes(marshalAlgorithm(algorithmIdentifier{oid: hashAlg}))
				}
				b.AddASN1OctetString(certHash)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(issuer) })
					})
					b.AddASN1BigInt(serial)
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// indefinite re-encodes the outer ContentInfo SEQUENCE of a DER signature with a BER indefinite
// length.
func indefinite(t testing.TB, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var content cryptobyte.String
	require.True(t, in.ReadASN1(&content, cbasn1.SEQUENCE))
	out := append([]byte{0x30, 0x80}, content...)
	return append(out, 0x00, 0x00)
}
