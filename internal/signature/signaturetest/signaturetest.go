// Package signaturetest gives tests of any package the OpenSSL-made test PKI of internal/signature:
// a root and an intermediate CA, signing certificates of every kind the verifier must accept or
// refuse, CRLs, two trust directories and CAdES signatures made by `openssl cms`, the independent
// signer the hub is tested against. The script that makes it, mkpki.sh beside this file, is
// embedded; it needs bash and OpenSSL 3, and a missing openssl fails the test.
//
// Shared makes the PKI once per test binary (call Cleanup from TestMain); New makes one for a test
// and its subtests. What the PKI holds is listed at the top of mkpki.sh.
//
// It must not import internal/signature, whose own tests use it.
package signaturetest

import (
	"bytes"
	"crypto"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed mkpki.sh
var script []byte

// PKI is a made test PKI in a directory.
type PKI struct {
	dir string
}

// Make runs mkpki.sh into dir, which must exist.
func Make(dir string) error {
	path := filepath.Join(dir, "mkpki.sh")
	if err := os.WriteFile(path, script, 0o600); err != nil {
		return fmt.Errorf("write mkpki.sh: %w", err)
	}
	out, err := exec.Command("bash", path, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make the OpenSSL test PKI (mkpki.sh): %w: %s", err, out)
	}
	return nil
}

// New makes a PKI in a temporary directory of t, removed when t ends: for one test and its subtests.
func New(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, Make(dir))
	return &PKI{dir: dir}
}

var shared struct {
	once sync.Once
	dir  string
	err  error
}

// Shared returns the PKI of this test binary, made on first use; Cleanup removes it.
func Shared(t testing.TB) *PKI {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "signature-pki-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		shared.err = Make(dir)
	})
	require.NoError(t, shared.err)
	return &PKI{dir: shared.dir}
}

// Cleanup removes the PKI Shared made, if any. Call it from TestMain after the tests ran.
func Cleanup() {
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
}

// Dir returns the directory of the PKI.
func (p *PKI) Dir() string { return p.dir }

// Path returns the path of a file of the PKI ("root.pem", "trust", "sig/ec256.p7s").
func (p *PKI) Path(name string) string { return filepath.Join(p.dir, name) }

// Read returns a file of the PKI.
func (p *PKI) Read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(p.Path(name))
	require.NoError(t, err)
	return data
}

// Doc returns doc.txt, the document every signature of sig/ signs (but ec256-doc2).
func (p *PKI) Doc(t testing.TB) []byte {
	t.Helper()
	return p.Read(t, "doc.txt")
}

// Sig returns the OpenSSL signature of a case (sig/<name>.p7s, DER).
func (p *PKI) Sig(t testing.TB, name string) []byte {
	t.Helper()
	return p.Read(t, "sig/"+name+".p7s")
}

// Cert returns the certificate <name>.pem.
func (p *PKI) Cert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(p.Read(t, name+".pem"))
	require.NotNil(t, block, "%s.pem holds no PEM block", name)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

// Key returns the private key <name>.key.
func (p *PKI) Key(t testing.TB, name string) crypto.Signer {
	t.Helper()
	block, _ := pem.Decode(p.Read(t, name+".key"))
	require.NotNil(t, block, "%s.key holds no PEM block", name)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	signer, ok := k.(crypto.Signer)
	require.True(t, ok, "%s.key is not a signing key", name)
	return signer
}

// Sign signs content with the leaf named leaf ("rsa", "ec256", …) as `openssl cms -sign -cades`
// does for the cases of mkpki.sh: a detached DER CAdES-BES signature with SHA-256, the leaf and the
// intermediate CA in its certificates. args are appended to the openssl command line.
func (p *PKI) Sign(t testing.TB, leaf string, content []byte, args ...string) []byte {
	t.Helper()
	in := filepath.Join(t.TempDir(), "content")
	require.NoError(t, os.WriteFile(in, content, 0o600))
	cmd := append([]string{"cms", "-sign", "-binary", "-outform", "DER", "-nosmimecap", "-cades", "-md", "sha256",
		"-in", in, "-signer", p.Path(leaf + ".pem"), "-inkey", p.Path(leaf + ".key"), "-certfile", p.Path("inter.pem")}, args...)
	var stderr bytes.Buffer
	c := exec.Command("openssl", cmd...)
	c.Stderr = &stderr
	sig, err := c.Output()
	require.NoError(t, err, "openssl cms -sign: %s", stderr.String())
	return sig
}

// DER encodings of the SHA-256 OID and of 1.2.804.2.1.1.1.1.2, the arc of the Ukrainian hash
// algorithms (GOST 34.311, Kupyna), which has the same length.
var (
	oidSHA256DER   = []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
	oidDSTUHashDER = []byte{0x06, 0x09, 0x2a, 0x86, 0x24, 0x02, 0x01, 0x01, 0x01, 0x01, 0x02}
)

// RelabelDSTU returns sig with every SHA-256 algorithm identifier replaced by one in the arc of the
// Ukrainian national algorithms, byte for byte (the encodings have the same length): a signature the
// verifier hands to its external DSTU 4145 verifier, which is otherwise the OpenSSL-made one.
func RelabelDSTU(t testing.TB, sig []byte) []byte {
	t.Helper()
	require.True(t, bytes.Contains(sig, oidSHA256DER), "the signature names no SHA-256 digest algorithm")
	return bytes.ReplaceAll(sig, oidSHA256DER, oidDSTUHashDER)
}
