package signature

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/internal/signature/signaturetest"
)

// The OpenSSL-made test PKI (signaturetest, mkpki.sh) is made once per test binary on first use, so
// that fuzzing and benchmarks, which do not use it, need no openssl.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { signaturetest.Cleanup() }))
}

// verifierOf returns a Verifier over the trust directory trustDir of the PKI ("trust" or
// "trust-inter"), with cfg changes applied.
func verifierOf(t testing.TB, p *signaturetest.PKI, trustDir string, change ...func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{TrustDir: p.Path(trustDir), NowFunc: func() time.Time { panic("Verify got a zero time") }}
	for _, c := range change {
		c(&cfg)
	}
	v, err := New(cfg)
	require.NoError(t, err)
	return v
}

// requireCode asserts that err is an *Error with code want.
func requireCode(t testing.TB, want Code, err error) {
	t.Helper()
	require.Error(t, err)
	e, ok := errors.AsType[*Error](err)
	require.True(t, ok, "not a *signature.Error: %v", err)
	require.Equal(t, want, e.Code, "error: %v", err)
}
