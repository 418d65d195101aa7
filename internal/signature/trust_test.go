package signature

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/signature/signaturetest"
)

// pemToDER returns the DER of the first PEM block of data.
func pemToDER(t testing.TB, data []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	require.NotNil(t, block)
	return block.Bytes
}

// writeFiles writes name → content files into a new directory.
func writeFiles(t testing.TB, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	return dir
}

// TestTrustDirRefuses refuses trust directories that are wrong, naming the file.
func TestTrustDirRefuses(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	root := p.Read(t, "root.pem")
	badCRL := pemToDER(t, p.Read(t, "trust/root.crl"))
	badCRL[len(badCRL)-3] ^= 0xff // inside the signature value

	// A CRL of the root whose nextUpdate is not after its thisUpdate.
	now := time.Now()
	flat, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(9), ThisUpdate: now, NextUpdate: now},
		p.Cert(t, "root"), p.Key(t, "root"))
	require.NoError(t, err)

	tests := []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{name: "empty", files: map[string][]byte{"README.md": []byte("# trust")}, want: "holds no certificate"},
		{name: "leaf certificate", files: map[string][]byte{"root.pem": root, "leaf.pem": p.Read(t, "ec256.pem")}, want: "leaf.pem: certificate"},
		{name: "private key", files: map[string][]byte{"root.pem": append(root, p.Read(t, "root.key")...)}, want: `root.pem: unexpected PEM block "PRIVATE KEY"`},
		{name: "garbage", files: map[string][]byte{"root.pem": root, "x.der": []byte("garbage")}, want: "x.der"},
		{name: "CRL with a bad signature", files: map[string][]byte{"root.pem": root, "root.crl": badCRL}, want: "root.crl: CRL signature does not verify"},
		{name: "CRL without a future nextUpdate", files: map[string][]byte{"root.pem": root, "root.crl": flat}, want: "root.crl: CRL has no nextUpdate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Config{TrustDir: writeFiles(t, tt.files)})
			require.ErrorContains(t, err, tt.want)
		})
	}

	_, err = New(Config{TrustDir: filepath.Join(t.TempDir(), "missing")})
	require.ErrorContains(t, err, "read trust directory")
}

// TestConfigValidate reports every bad field at once.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := New(Config{MaxSignatureBytes: -1, MaxCertificates: -1, MaxCRLs: -1})
	require.ErrorContains(t, err, "trust_dir: required")
	require.ErrorContains(t, err, "max_signature_bytes: must be > 0")
	require.ErrorContains(t, err, "max_certificates: must be > 0")
	require.ErrorContains(t, err, "max_crls: must be > 0")

	cfg := Config{TrustDir: "x"}.WithDefaults()
	require.Equal(t, DefaultMaxSignatureBytes, cfg.MaxSignatureBytes)
	require.Equal(t, DefaultMaxCertificates, cfg.MaxCertificates)
	require.Equal(t, DefaultMaxCRLs, cfg.MaxCRLs)
	require.False(t, cfg.RequireCRL)
	require.NotNil(t, cfg.NowFunc)
}

// TestTrustDirFormats reads DER certificates and CRLs, PEM bundles, follows symbolic links, and
// ignores other files and directories.
func TestTrustDirFormats(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	dir := writeFiles(t, map[string][]byte{
		"root.der":    pemToDER(t, p.Read(t, "root.pem")),
		"root.crl":    pemToDER(t, p.Read(t, "trust/root.crl")),
		"bundle.pem":  append(p.Read(t, "inter.pem"), p.Read(t, "trust/inter.crl")...),
		"README.md":   []byte("not read"),
		".hidden.pem": []byte("not read"),
	})
	require.NoError(t, os.Symlink(filepath.Join(dir, "bundle.pem"), filepath.Join(dir, "link.pem")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.pem"), 0o700))
	v, err := New(Config{TrustDir: dir, RequireCRL: true})
	require.NoError(t, err)
	doc, now := p.Read(t, "doc.txt"), time.Now()
	s, err := v.Verify(context.Background(), p.Sig(t, "ec256-nointer"), doc, now)
	require.NoError(t, err)
	require.Equal(t, RevocationGood, s.Revocation)
	_, err = v.Verify(context.Background(), p.Sig(t, "revoked"), doc, now)
	requireCode(t, CodeCertificateRevoked, err)
}

// TestReload picks up a new CRL, and keeps the loaded directory when the new one is broken.
func TestReload(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	dir := writeFiles(t, map[string][]byte{"root.pem": p.Read(t, "root.pem")})
	v, err := New(Config{TrustDir: dir})
	require.NoError(t, err)
	doc, sig, now := p.Read(t, "doc.txt"), p.Sig(t, "revoked"), time.Now()

	s, err := v.Verify(context.Background(), sig, doc, now)
	require.NoError(t, err, "no CRL yet")
	require.Equal(t, RevocationUnchecked, s.Revocation)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "inter.crl"), p.Read(t, "trust/inter.crl"), 0o600))
	require.NoError(t, v.Reload())
	_, err = v.Verify(context.Background(), sig, doc, now)
	requireCode(t, CodeCertificateRevoked, err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.pem"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600))
	require.Error(t, v.Reload())
	_, err = v.Verify(context.Background(), sig, doc, now)
	requireCode(t, CodeCertificateRevoked, err)
}
