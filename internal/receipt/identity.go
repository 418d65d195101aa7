package receipt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"appealhub/internal/signature"
)

// Identity is the hub's signing identity: its private key, its certificate and the certificates
// above it. It is safe for concurrent use (as safe as its key: file keys are).
type Identity struct {
	key   crypto.Signer
	cert  *x509.Certificate
	chain []*x509.Certificate // intermediates put into every signature; self-signed roots left out
}

// LoadIdentity reads the hub's identity: keyFile holds one PEM private key (PKCS #8 "PRIVATE KEY",
// SEC 1 "EC PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY"; ECDSA P-256 or P-384, or RSA of 2048 bits or
// more) and certFile the PEM certificate of that key followed by its chain. The certificate must
// carry keyUsage nonRepudiation (contentCommitment), which verifiers of CAdES signatures (the hub's
// own, `appealhub receipt verify`) require, and must not be a CA certificate.
func LoadIdentity(keyFile, certFile string) (*Identity, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("identity.signing_key: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity.signing_key %s: %w", keyFile, err)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("identity.certificate: %w", err)
	}
	certs, err := parseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("identity.certificate %s: %w", certFile, err)
	}
	id, err := NewIdentity(key, certs[0], certs[1:])
	if err != nil {
		return nil, fmt.Errorf("identity.certificate %s: %w", certFile, err)
	}
	return id, nil
}

// NewIdentity checks that cert is key's and fit for signing receipts, and returns the identity.
// chain lists the certificates above cert; self-signed ones (roots) are not put into signatures.
func NewIdentity(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate) (*Identity, error) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("the certificate is not the signing key's")
	}
	if cert.IsCA {
		return nil, errors.New("the certificate is a CA certificate; give the hub's own certificate first")
	}
	if cert.KeyUsage&x509.KeyUsageContentCommitment == 0 {
		return nil, errors.New("the certificate lacks keyUsage nonRepudiation (contentCommitment)")
	}
	id := &Identity{key: key, cert: cert}
	for _, c := range chain {
		if !bytes.Equal(c.RawSubject, c.RawIssuer) {
			id.chain = append(id.chain, c)
		}
	}
	return id, nil
}

// Certificate returns the hub's certificate.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// CertificateSHA256 returns the SHA-256 of the hub certificate's DER in lower-case hex.
func (id *Identity) CertificateSHA256() string {
	sum := sha256.Sum256(id.cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Sign signs content as DER CMS SignedData (CAdES-BES, signature.Sign) with signingTime at; the
// content is attached unless detached.
func (id *Identity) Sign(content []byte, at time.Time, detached bool) ([]byte, error) {
	var opts []signature.SignOption
	if detached {
		opts = append(opts, signature.Detached())
	}
	der, err := signature.Sign(content, id.key, id.cert, id.chain, at, opts...)
	if err != nil {
		return nil, fmt.Errorf("sign as the hub: %w", err)
	}
	return der, nil
}

// parseKey parses one PEM private key.
func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("a %T key: must be ECDSA or RSA", key)
	}
}

// parseCertificates parses the PEM CERTIFICATE blocks of data (at least one; other blocks are an
// error).
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a certificate", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}
