package receipt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/receipt"
)

func TestGenerateIdentityKeepsAnExistingOne(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "identity")
	files, err := receipt.GenerateIdentity(dir, "Demo")
	require.NoError(t, err)
	ca, err := os.ReadFile(files.CA)
	require.NoError(t, err)
	info, err := os.Stat(files.Key)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the key is the hub's only")

	again, err := receipt.GenerateIdentity(dir, "Demo")
	require.NoError(t, err)
	require.Equal(t, files, again)
	same, err := os.ReadFile(again.CA)
	require.NoError(t, err)
	require.Equal(t, ca, same, "receipts signed before keep verifying")
}

func TestGenerateIdentityConcurrently(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "identity")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			files, err := receipt.GenerateIdentity(dir, "Demo")
			if err == nil {
				_, err = receipt.LoadIdentity(files.Key, files.Certificate)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "every process gets one whole identity")
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no leftovers beside the identity")
}

// writePEM writes blocks to a file of dir.
func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

// selfSigned makes a certificate for key signed by itself.
func selfSigned(t *testing.T, key crypto.Signer, signer any, usage x509.KeyUsage, isCA bool) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "hub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: usage,
		BasicConstraintsValid: true, IsCA: isCA}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), signer)
	require.NoError(t, err)
	return der
}

func TestLoadIdentity(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, err := receipt.GenerateIdentity(dir, "Hub")
	require.NoError(t, err)
	id, err := receipt.LoadIdentity(files.Key, files.Certificate)
	require.NoError(t, err)
	require.Equal(t, "Hub receipts", id.Certificate().Subject.CommonName)
	require.Len(t, id.CertificateSHA256(), 64)

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalECPrivateKey(ec)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signing := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment

	// SEC 1 and PKCS #1 keys load too.
	ecKey := writePEM(t, dir, "ec.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})
	ecCert := writePEM(t, dir, "ec-cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, ec, ec, signing, false)})
	_, err = receipt.LoadIdentity(ecKey, ecCert)
	require.NoError(t, err)
	rsaFile := writePEM(t, dir, "rsa.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	rsaCert := writePEM(t, dir, "rsa-cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, rsaKey, rsaKey, signing, false)})
	_, err = receipt.LoadIdentity(rsaFile, rsaCert)
	require.NoError(t, err)

	for name, tc := range map[string]struct{ key, cert, want string }{
		"another key's certificate": {key: ecKey, cert: files.Certificate, want: "not the signing key's"},
		"the CA first": {key: ecKey, cert: writePEM(t, dir, "ca-first.pem",
			&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, ec, ec, signing|x509.KeyUsageCertSign, true)}), want: "CA certificate"},
		"no nonRepudiation": {key: ecKey, cert: writePEM(t, dir, "tls.pem",
			&pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, ec, ec, x509.KeyUsageDigitalSignature, false)}), want: "nonRepudiation"},
		"a certificate as the key": {key: ecCert, cert: ecCert, want: "not a private key"},
		"a key as the certificate": {key: ecKey, cert: ecKey, want: "not a certificate"},
		"no PEM":                   {key: writePEM(t, dir, "empty.pem"), cert: ecCert, want: "no PEM block"},
		"no key file":              {key: filepath.Join(dir, "missing.pem"), cert: ecCert, want: "identity.signing_key"},
		"no certificate file":      {key: ecKey, cert: filepath.Join(dir, "missing.pem"), want: "identity.certificate"},
	} {
		_, err := receipt.LoadIdentity(tc.key, tc.cert)
		require.ErrorContains(t, err, tc.want, name)
	}
}
