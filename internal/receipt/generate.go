package receipt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The files GenerateIdentity writes.
const (
	CAFileName          = "hub-ca.pem"
	KeyFileName         = "hub-key.pem"
	CertificateFileName = "hub-cert.pem"
)

// IdentityFiles are the paths of a generated identity.
type IdentityFiles struct {
	CA          string // the CA certificate, for `openssl cms -verify -CAfile`
	Key         string // the hub's private key (identity.signing_key)
	Certificate string // the hub's certificate followed by the CA's (identity.certificate)
}

// GenerateIdentity makes a throwaway identity for demos and tests in dir (created if missing): a
// self-signed ECDSA P-256 CA and a hub certificate it issued (keyUsage digitalSignature and
// nonRepudiation) for a new ECDSA P-256 key, named after name. When dir already holds the three
// files they are kept and returned, so that receipts signed earlier keep verifying against the same
// CA; processes generating into the same dir at once end up with one identity. Never use such an
// identity in production: its CA is trusted by no one else.
func GenerateIdentity(dir, name string) (IdentityFiles, error) {
	files := identityFilesIn(dir)
	if files.complete() {
		return files, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return IdentityFiles{}, fmt.Errorf("generate hub identity: %w", err)
	}
	// Write into a new directory and move it into place whole: a concurrent reader never sees half
	// an identity, and of two concurrent writers the first to move wins.
	tmp, err := os.MkdirTemp(parent, ".identity-")
	if err != nil {
		return IdentityFiles{}, fmt.Errorf("generate hub identity: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := writeIdentity(identityFilesIn(tmp), name); err != nil {
		return IdentityFiles{}, fmt.Errorf("generate hub identity in %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err == nil || files.complete() {
		return files, nil
	}
	// dir exists without a whole identity (made empty beforehand, say): write into it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return IdentityFiles{}, fmt.Errorf("generate hub identity: %w", err)
	}
	if err := writeIdentity(files, name); err != nil {
		return IdentityFiles{}, fmt.Errorf("generate hub identity in %s: %w", dir, err)
	}
	return files, nil
}

func identityFilesIn(dir string) IdentityFiles {
	return IdentityFiles{CA: filepath.Join(dir, CAFileName), Key: filepath.Join(dir, KeyFileName),
		Certificate: filepath.Join(dir, CertificateFileName)}
}

// complete reports whether the files hold a usable identity and its CA.
func (f IdentityFiles) complete() bool {
	if _, err := LoadIdentity(f.Key, f.Certificate); err != nil {
		return false
	}
	_, err := os.Stat(f.CA)
	return err == nil
}

func writeIdentity(files IdentityFiles, name string) error {
	now := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTemplate := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " receipts CA (throwaway)", Organization: []string{name}},
		NotBefore: now, NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	template := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name + " receipts", Organization: []string{name}},
		NotBefore: now, NotAfter: now.AddDate(5, 0, 0), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	certDER, err := x509.CreateCertificate(rand.Reader, template, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), caPEM...)
	return errors.Join(
		os.WriteFile(files.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600),
		os.WriteFile(files.Certificate, certPEM, 0o644),
		os.WriteFile(files.CA, caPEM, 0o644),
	)
}

// serial returns a random positive 127-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}
