// Package receipttest helps tests of any package check hub receipts with the independent verifier
// they are meant for: the openssl binary. A missing openssl fails the test.
package receipttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// OpenSSLVerify runs `openssl cms -verify -inform DER -in R.p7s -CAfile caFile -purpose any`, as
// docs/receipts.md tells a recipient to, on the DER receipt cms and returns the content OpenSSL
// printed, or an error with OpenSSL's output when it refuses the receipt.
func OpenSSLVerify(t testing.TB, cms []byte, caFile string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed to check receipts: %v", err)
	}
	in := filepath.Join(t.TempDir(), "receipt.p7s")
	if err := os.WriteFile(in, cms, 0o600); err != nil {
		t.Fatalf("write receipt: %v", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", caFile, "-purpose", "any")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("openssl cms -verify: %w: %s", err, stderr.Bytes())
	}
	if !bytes.Contains(stderr.Bytes(), []byte("Verification successful")) {
		return nil, fmt.Errorf("openssl cms -verify did not report success: %s", stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Tamper returns a copy of cms with one byte of the encapsulated content changed: the first
// occurrence of old replaced by new (of the same length).
func Tamper(t testing.TB, cms []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) || !bytes.Contains(cms, []byte(old)) {
		t.Fatalf("tamper: %q not in the receipt, or %q of another length", old, new)
	}
	return bytes.Replace(bytes.Clone(cms), []byte(old), []byte(new), 1)
}
