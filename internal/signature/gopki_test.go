package signature

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
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// goPKI is a PKI made with crypto/x509 in the test process, for fuzzing and benchmarks, which must
// not need openssl: a root CA in a trust directory and one leaf.
type goPKI struct {
	trustDir string
	root     *x509.Certificate
	leaf     *x509.Certificate
	key      crypto.Signer
	at       time.Time
}

// newGoPKI makes a root CA (ECDSA P-256) and a signing leaf with key leafKey; change, when given,
// edits the root and leaf templates first.
func newGoPKI(tb testing.TB, leafKey crypto.Signer, change ...func(root, leaf *x509.Certificate)) *goPKI {
	tb.Helper()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	rootTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Go Test Root"},
		NotBefore: at.AddDate(-1, 0, 0), NotAfter: at.AddDate(10, 0, 0),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	leafTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234), Subject: pkix.Name{CommonName: "Go Test Signer", SerialNumber: "TINUA-1234567890"},
		NotBefore: at.AddDate(0, -1, 0), NotAfter: at.AddDate(1, 0, 0),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	for _, c := range change {
		c(rootTemplate, leafTemplate)
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTemplate, rootTemplate, rootKey.Public(), rootKey)
	require.NoError(tb, err)
	root, err := x509.ParseCertificate(rootDER)
	require.NoError(tb, err)
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, root, leafKey.Public(), rootKey)
	require.NoError(tb, err)
	leaf, err := x509.ParseCertificate(leafDER)
	require.NoError(tb, err)

	dir := tb.TempDir()
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rootDER}), 0o600))
	return &goPKI{trustDir: dir, root: root, leaf: leaf, key: leafKey, at: at}
}

// newECDSAGoPKI makes a goPKI with an ECDSA P-256 leaf.
func newECDSAGoPKI(tb testing.TB) *goPKI {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	return newGoPKI(tb, key)
}

// newRSAGoPKI makes a goPKI with an RSA-2048 leaf.
func newRSAGoPKI(tb testing.TB) *goPKI {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	return newGoPKI(tb, key)
}

// sign signs content with the leaf.
func (g *goPKI) sign(tb testing.TB, content []byte, opts ...SignOption) []byte {
	tb.Helper()
	sig, err := Sign(content, g.key, g.leaf, nil, g.at, opts...)
	require.NoError(tb, err)
	return sig
}

// verifier returns a Verifier over the trust directory.
func (g *goPKI) verifier(tb testing.TB) *Verifier {
	tb.Helper()
	v, err := New(Config{TrustDir: g.trustDir})
	require.NoError(tb, err)
	return v
}
