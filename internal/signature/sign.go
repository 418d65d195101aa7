package signature

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SignOption changes how Sign encodes the signature.
type SignOption func(*signOptions)

type signOptions struct {
	detached bool
}

// Detached makes Sign leave the content out of the SignedData (a detached signature); by default
// the content is encapsulated (attached), which suits receipts.
func Detached() SignOption {
	return func(o *signOptions) { o.detached = true }
}

// Sign signs content as a DER CMS SignedData (CAdES-BES) with key, whose certificate is cert, and
// includes cert and chain (intermediates; leave the root out) in it. The signed attributes are
// contentType id-data, messageDigest, signingTime at (UTC, whole seconds) and ESS
// signing-certificate-v2 (SHA-256 of cert, with its issuer and serial). RSA keys sign with PKCS #1
// v1.5 and SHA-256, ECDSA P-256 keys with SHA-256, P-384 keys with SHA-384. key may be any
// crypto.Signer for such a key (a file key, an HSM). The content is attached unless Detached is
// given.
func Sign(content []byte, key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, at time.Time, opts ...SignOption) ([]byte, error) {
	var o signOptions
	for _, opt := range opts {
		opt(&o)
	}
	if cert == nil || at.IsZero() {
		return nil, errors.New("sign: a certificate and a signing time are required")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("sign: the key is not the certificate's")
	}
	h, sigAlg, err := signingAlgorithm(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(content)
	signingTime, err := marshalTime(at)
	if err != nil {
		return nil, err
	}
	attrs := marshalSet(
		marshalAttribute(oidAttrContentType, marshalOID(oidData)),
		marshalAttribute(oidAttrSigningTime, signingTime),
		marshalAttribute(oidAttrMessageDigest, marshalOctetString(d.Sum(nil))),
		marshalAttribute(oidAttrSigningCertV2, marshalSigningCertificateV2(cert)),
	)
	d = h.New()
	d.Write(attrs)
	sig, err := key.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	certs := [][]byte{cert.Raw}
	for _, c := range chain {
		if !slices.ContainsFunc(certs, func(raw []byte) bool { return bytes.Equal(raw, c.Raw) }) {
			certs = append(certs, c.Raw)
		}
	}
	spec := signedDataSpec{
		content: content, attached: !o.detached, certificates: certs,
		signers: []signerSpec{{
			issuer: cert.RawIssuer, serial: cert.SerialNumber,
			digestAlg: algorithmIdentifier{oid: digestOID(h)}, signatureAlg: sigAlg,
			signedAttrs: attrs, signature: sig,
		}},
	}
	return spec.marshal()
}

// signingAlgorithm picks the hash and SignerInfo signatureAlgorithm for a public key.
func signingAlgorithm(pub crypto.PublicKey) (crypto.Hash, algorithmIdentifier, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, algorithmIdentifier{}, fmt.Errorf("sign: RSA key of %d bits is under 2048", k.N.BitLen())
		}
		return crypto.SHA256, algorithmIdentifier{oid: oidRSAEncryption, params: []byte{0x05, 0x00}}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, algorithmIdentifier{oid: oidECDSAWithSHA256}, nil
		case elliptic.P384():
			return crypto.SHA384, algorithmIdentifier{oid: oidECDSAWithSHA384}, nil
		}
	}
	return 0, algorithmIdentifier{}, errors.New("sign: the key must be RSA (2048 bits or more) or ECDSA P-256 or P-384")
}

// signedDataSpec describes a ContentInfo with a SignedData to encode in DER.
type signedDataSpec struct {
	content      []byte
	attached     bool
	certificates [][]byte
	crls         [][]byte // DER CRLs (RevocationInfoChoices), none from Sign
	signers      []signerSpec
}

// signerSpec describes one SignerInfo identified by issuer and serial number.
type signerSpec struct {
	issuer                  []byte // DER Name
	serial                  *big.Int
	digestAlg, signatureAlg algorithmIdentifier
	signedAttrs             []byte // the DER SET OF Attribute as signed; nil for none
	signature               []byte
}

// marshal encodes the spec in DER: sets sorted, SignedData version 1.
func (s signedDataSpec) marshal() ([]byte, error) {
	var digestAlgs, signerInfos [][]byte
	for _, si := range s.signers {
		alg := marshalAlgorithm(si.digestAlg)
		if !slices.ContainsFunc(digestAlgs, func(a []byte) bool { return bytes.Equal(a, alg) }) {
			digestAlgs = append(digestAlgs, alg)
		}
		signerInfos = append(signerInfos, si.marshal())
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetContent(digestAlgs)) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidData)
					if s.attached {
						b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(s.content) })
					}
				})
				if len(s.certificates) > 0 {
					b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetContent(s.certificates)) })
				}
				if len(s.crls) > 0 {
					b.AddASN1(tagCtx1, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetContent(s.crls)) })
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetContent(signerInfos)) })
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encode signed data: %w", err)
	}
	return der, nil
}

// marshal encodes one SignerInfo (version 1, issuerAndSerialNumber).
func (si signerSpec) marshal() []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(si.issuer)
			b.AddASN1BigInt(si.serial)
		})
		b.AddBytes(marshalAlgorithm(si.digestAlg))
		if si.signedAttrs != nil {
			implicit := slices.Clone(si.signedAttrs)
			implicit[0] = byte(tagCtx0) // [0] IMPLICIT in place of the SET tag
			b.AddBytes(implicit)
		}
		b.AddBytes(marshalAlgorithm(si.signatureAlg))
		b.AddASN1OctetString(si.signature)
	})
	return b.BytesOrPanic()
}

// marshalAlgorithm encodes an AlgorithmIdentifier.
func marshalAlgorithm(a algorithmIdentifier) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(a.oid)
		b.AddBytes(a.params)
	})
	return b.BytesOrPanic()
}

// marshalAttribute encodes an Attribute with its values in DER order.
func marshalAttribute(oid asn1.ObjectIdentifier, values ...[]byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetContent(values)) })
	})
	return b.BytesOrPanic()
}

// marshalSet encodes a DER SET OF the given elements.
func marshalSet(elements ...[]byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(encodeSetContent(elements)) })
	return b.BytesOrPanic()
}

func marshalOID(oid asn1.ObjectIdentifier) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1ObjectIdentifier(oid)
	return b.BytesOrPanic()
}

func marshalOctetString(v []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1OctetString(v)
	return b.BytesOrPanic()
}

// marshalTime encodes a signingTime value: UTCTime from 1950 to 2049, GeneralizedTime otherwise.
func marshalTime(t time.Time) ([]byte, error) {
	t = t.UTC().Truncate(time.Second)
	b := cryptobyte.NewBuilder(nil)
	if t.Year() >= 1950 && t.Year() < 2050 {
		b.AddASN1UTCTime(t)
	} else {
		b.AddASN1GeneralizedTime(t)
	}
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("sign: encode signing time: %w", err)
	}
	return der, nil
}

// marshalSigningCertificateV2 encodes SigningCertificateV2 naming cert: SHA-256 (the default, so
// omitted) of its DER, its issuer and serial number.
func marshalSigningCertificateV2(cert *x509.Certificate) []byte {
	sum := sha256.Sum256(cert.Raw)
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(sum[:])
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	return b.BytesOrPanic()
}
