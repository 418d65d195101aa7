package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/signature/signaturetest"
)

// TestSignOpenSSLAccepts signs receipts with Sign and checks them with `openssl cms -verify -cades`
// and with Verify.
func TestSignOpenSSLAccepts(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	receipt := []byte(`{"appeal_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","tracking_number":"ZV-2026-00012345"}`)
	inter := p.Cert(t, "inter")
	now := time.Now()

	tests := []struct {
		name, leaf string
		detached   bool
		digest     string
		algorithm  string
	}{
		{name: "ecdsa-p256 attached", leaf: "ec256", digest: DigestSHA256, algorithm: SignatureECDSAP256},
		{name: "ecdsa-p256 detached", leaf: "ec256", detached: true, digest: DigestSHA256, algorithm: SignatureECDSAP256},
		{name: "ecdsa-p384 attached", leaf: "ec384", digest: DigestSHA384, algorithm: SignatureECDSAP384},
		{name: "rsa-2048 attached", leaf: "rsa", digest: DigestSHA256, algorithm: SignatureRSAPKCS1v15},
		{name: "rsa-2048 detached", leaf: "rsa", detached: true, digest: DigestSHA256, algorithm: SignatureRSAPKCS1v15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []SignOption
			if tt.detached {
				opts = append(opts, Detached())
			}
			sig, err := Sign(receipt, p.Key(t, tt.leaf), p.Cert(t, tt.leaf), []*x509.Certificate{inter}, now, opts...)
			require.NoError(t, err)

			dir := t.TempDir()
			sigFile, contentFile, outFile := filepath.Join(dir, "r.p7s"), filepath.Join(dir, "r.json"), filepath.Join(dir, "out")
			require.NoError(t, os.WriteFile(sigFile, sig, 0o600))
			require.NoError(t, os.WriteFile(contentFile, receipt, 0o600))
			args := []string{"cms", "-verify", "-binary", "-cades", "-inform", "DER", "-in", sigFile, "-CAfile", p.Path("root.pem"), "-out", outFile}
			if tt.detached {
				args = append(args, "-content", contentFile)
			}
			out, err := exec.Command("openssl", args...).CombinedOutput()
			require.NoError(t, err, "openssl cms -verify: %s", out)
			require.Contains(t, string(out), "CAdES Verification successful")
			verified, err := os.ReadFile(outFile)
			require.NoError(t, err)
			require.Equal(t, receipt, verified)

			var content []byte
			if tt.detached {
				content = receipt
			}
			s, err := verifierOf(t, p, "trust").Verify(context.Background(), sig, content, now)
			require.NoError(t, err)
			require.Equal(t, tt.digest, s.DigestAlgorithm)
			require.Equal(t, tt.algorithm, s.SignatureAlgorithm)
			require.Equal(t, now.UTC().Truncate(time.Second), s.ClaimedSigningTime)
		})
	}
}

// TestSignRefuses refuses keys that do not fit.
func TestSignRefuses(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	now := time.Now()
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		name string
		key  crypto.Signer
		cert *x509.Certificate
		at   time.Time
	}{
		{name: "key of another certificate", key: p.Key(t, "ec256"), cert: p.Cert(t, "rsa"), at: now},
		{name: "RSA-1024", key: p.Key(t, "rsa1024"), cert: p.Cert(t, "rsa1024"), at: now},
		{name: "no certificate", key: p521, at: now},
		{name: "no time", key: p.Key(t, "ec256"), cert: p.Cert(t, "ec256")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Sign([]byte("receipt"), tt.key, tt.cert, nil, tt.at)
			require.Error(t, err)
		})
	}
}

// TestSignSigningTime encodes signing times outside UTCTime's range as GeneralizedTime.
func TestSignSigningTime(t *testing.T) {
	t.Parallel()
	for _, at := range []time.Time{
		time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1950, 1, 1, 0, 0, 0, 0, time.FixedZone("EET", 2*3600)),
	} {
		der, err := marshalTime(at)
		require.NoError(t, err)
		got, perr := parseSigningTime(der)
		require.Nil(t, perr, "%s", at)
		require.True(t, at.Equal(got), "%s != %s", at, got)
	}
}
