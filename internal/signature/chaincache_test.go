package signature

import (
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChainCache shows that a remembered chain is reused only where x509 would build it: not
// after a certificate of the chain expired, and not against other trust anchors.
func TestChainCache(t *testing.T) {
	t.Parallel()
	p := newECDSAGoPKI(t)
	// The root expires half a year after p.at, the leaf a year after it.
	p = newGoPKI(t, p.key, func(root, _ *x509.Certificate) { root.NotAfter = p.at.AddDate(0, 6, 0) })
	v, err := New(Config{TrustDir: p.trustDir})
	require.NoError(t, err)
	certs := []*x509.Certificate{p.leaf}

	status, perr := v.checkChain(p.leaf, certs, p.at)
	require.Nil(t, perr)
	require.Equal(t, RevocationUnchecked, status, "no CRL in the trust directory")
	require.Len(t, v.chains.chains, 1, "the chain is remembered")
	require.Len(t, v.chains.get(v.trust.Load(), chainKey(p.leaf, certs), p.at.AddDate(0, 1, 0)), 1,
		"offered while every certificate of it is valid")

	later := p.at.AddDate(0, 8, 0) // the leaf is still valid, the root is not
	require.Empty(t, v.chains.get(v.trust.Load(), chainKey(p.leaf, certs), later))
	_, perr = v.checkChain(p.leaf, certs, later)
	require.NotNil(t, perr)
	require.Equal(t, CodeCertificateExpired, perr.Code, "the expired root is found as without the cache")

	status, perr = v.checkChain(p.leaf, certs, p.at)
	require.Nil(t, perr, "the cache still answers for a time the chain is valid")
	require.Equal(t, RevocationUnchecked, status)

	// Other trust anchors (a Reload of another directory): the remembered chain is not used.
	other := newECDSAGoPKI(t)
	v.cfg.TrustDir = other.trustDir
	require.NoError(t, v.Reload())
	_, perr = v.checkChain(p.leaf, certs, p.at)
	require.NotNil(t, perr)
	require.Equal(t, CodeUntrustedChain, perr.Code)
}
