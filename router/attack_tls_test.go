package router_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/httpapi"
	"appealhub/internal/hubtest"
	"appealhub/schemas"
)

// clientCert is a client certificate with its key, ready for a tls.Config.
type clientCert struct {
	pair tls.Certificate
	leaf *x509.Certificate
}

// issueClient makes a client certificate of ca valid from notBefore to notAfter; a nil ca makes it
// self-signed.
func issueClient(t *testing.T, ca *testCA, cn string, notBefore, notAfter time.Time) clientCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return clientCert{pair: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf: leaf}
}

// writeCRL writes ca's CRL revoking the given certificates.
func writeCRL(t *testing.T, ca *testCA, path string, number int64, revoked ...*x509.Certificate) {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(time.Hour)}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	require.NoError(t, err)
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// TestAttackTLSClients: with the API serving HTTPS and asking for client certificates, every bad
// certificate fails the handshake (none, self-signed, another CA's, expired, revoked, TLS 1.1), a
// certificate revoked while the hub runs is refused on the next connection, and a valid certificate
// does not lend its identity to another client's token (401 unauthorized) — the token and the
// certificate must belong to the same client. Plain HTTP on the HTTPS port is a 400, never a 5xx.
func TestAttackTLSClients(t *testing.T) {
	t.Parallel()
	ca, otherCA := newCA(t, "portal clients CA"), newCA(t, "someone else's CA")
	srvCertPEM, srvKeyPEM := ca.issue(t, "hub.example", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	now := time.Now()
	valid := func(cn string) clientCert { return issueClient(t, ca, cn, now.Add(-time.Hour), now.Add(time.Hour)) }
	portalA, portalB, authA, unpinned, revoked, revokedLater := valid("portal-a"), valid("portal-b"), valid("authority-a"),
		valid("any-client"), valid("revoked"), valid("revoked-later")
	expired := issueClient(t, ca, "expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	selfSigned := issueClient(t, nil, "portal-a", now.Add(-time.Hour), now.Add(time.Hour))
	foreign := issueClient(t, otherCA, "portal-a", now.Add(-time.Hour), now.Add(time.Hour))

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	crlPath := filepath.Join(dir, "clients.crl")
	writeCRL(t, ca, crlPath, 1, revoked.leaf)

	const tokenA, tokenB, tokenAuth = "portal-a-token", "portal-b-token", "authority-a-token"
	env := hubtest.NewEnv(t, nil, func(c *config.Config) {
		c.HTTP.TLS = config.HTTPTLS{CertFile: write("server.pem", srvCertPEM), KeyFile: write("server.key", srvKeyPEM),
			ClientCAFile: write("ca.pem", ca.pem), ClientCRLFile: crlPath}
		c.Clients = append(c.Clients,
			config.Client{ID: "portal-a", Kind: config.ClientPortal, TokenSHA256: sha256Hex(tokenA),
				CertSPKISHA256: []string{httpapi.SPKISHA256(portalA.leaf)}},
			config.Client{ID: "portal-b", Kind: config.ClientPortal, TokenSHA256: sha256Hex(tokenB),
				CertSPKISHA256: []string{strings.ToUpper(httpapi.SPKISHA256(portalB.leaf))}},
			config.Client{ID: "authority-a", Kind: config.ClientAuthority, Authority: "14000001", TokenSHA256: sha256Hex(tokenAuth),
				CertSPKISHA256: []string{httpapi.SPKISHA256(authA.leaf)}})
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	clientWith := func(maxVersion uint16, certs ...clientCert) *http.Client {
		cfg := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
		for _, c := range certs {
			cfg.Certificates = append(cfg.Certificates, c.pair)
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	}
	env.ReadyClient = clientWith(0, unpinned)
	hub := env.Start(t)
	require.True(t, strings.HasPrefix(hub.URL, "https://"), hub.URL)

	// A made-up case: an authenticated portal gets 404, an unauthenticated one 401.
	caseURL := hub.URL + "/v1/appeals/0191d7a8-0000-7000-8000-000000000000"
	get := func(c *http.Client, token string) (int, schemas.Code, error) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, caseURL, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		code, _ := hubtest.Response{Status: resp.StatusCode, Body: b}.Problem()
		return resp.StatusCode, schemas.Code(code), nil
	}

	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"no client certificate", clientWith(0)},
		{"self-signed certificate", clientWith(0, selfSigned)},
		{"another CA's certificate", clientWith(0, foreign)},
		{"expired certificate", clientWith(0, expired)},
		{"revoked certificate", clientWith(0, revoked)},
		{"TLS 1.1", clientWith(tls.VersionTLS11, portalA)},
	} {
		_, _, err := get(tc.client, tokenA)
		require.Error(t, err, "%s: the handshake must fail", tc.name)
	}

	for _, tc := range []struct {
		name   string
		client *http.Client
		token  string
		status int
		code   schemas.Code
	}{
		{"portal A with its certificate", clientWith(0, portalA), tokenA, 404, schemas.CodeNotFound},
		{"portal B with its certificate (pin in upper case)", clientWith(0, portalB), tokenB, 404, schemas.CodeNotFound},
		{"portal A's certificate, portal B's token", clientWith(0, portalA), tokenB, 401, schemas.CodeUnauthorized},
		{"portal B's certificate, portal A's token", clientWith(0, portalB), tokenA, 401, schemas.CodeUnauthorized},
		{"authority A's certificate, portal A's token", clientWith(0, authA), tokenA, 401, schemas.CodeUnauthorized},
		{"an unpinned certificate, portal A's token", clientWith(0, unpinned), tokenA, 401, schemas.CodeUnauthorized},
		{"an unpinned certificate, the default portal's token", clientWith(0, unpinned), env.Token, 404, schemas.CodeNotFound},
		{"portal A's certificate, no token", clientWith(0, portalA), "", 401, schemas.CodeUnauthorized},
	} {
		status, code, err := get(tc.client, tc.token)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.status, status, tc.name)
		require.Equal(t, tc.code, code, tc.name)
	}

	// Revoked while the hub runs: the next handshake reads the new CRL.
	status, _, err := get(clientWith(0, revokedLater), env.Token)
	require.NoError(t, err)
	require.Equal(t, 404, status)
	time.Sleep(10 * time.Millisecond) // a distinct modification time on coarse file systems
	writeCRL(t, ca, crlPath, 2, revoked.leaf, revokedLater.leaf)
	_, _, err = get(clientWith(0, revokedLater), env.Token)
	require.Error(t, err, "a certificate revoked after start is refused on the next connection")

	// Plain HTTP to the HTTPS port: Go's server answers 400 itself.
	resp, err := http.Get("http://" + hub.Addr() + "/readyz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestServerTLSRefusesBadFiles: a hub configured with TLS files it cannot use does not start.
func TestServerTLSRefusesBadFiles(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t, "clients CA"), newCA(t, "other CA")
	certPEM, keyPEM := ca.issue(t, "hub.example", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	cert, key, caFile := write("c.pem", certPEM), write("c.key", keyPEM), write("ca.pem", ca.pem)
	otherCRL := filepath.Join(dir, "other.crl")
	writeCRL(t, other, otherCRL, 1)
	for _, tc := range []struct {
		name string
		f    httpapi.TLSFiles
		want string
	}{
		{"missing key", httpapi.TLSFiles{CertFile: cert, KeyFile: filepath.Join(dir, "none.key")}, "TLS certificate"},
		{"key of another certificate", httpapi.TLSFiles{CertFile: cert, KeyFile: write("x.key", pemKeyOf(t))}, "TLS certificate"},
		{"CA file without certificates", httpapi.TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: write("empty.pem", []byte("nothing"))}, "no PEM certificate"},
		{"CRL of another CA", httpapi.TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: caFile, ClientCRLFile: otherCRL}, "not signed"},
		{"CRL that is not one", httpapi.TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: caFile, ClientCRLFile: write("bad.crl", []byte("x"))}, "client CRL"},
	} {
		_, err := httpapi.ServerTLS(tc.f, nil)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	cfg, err := httpapi.ServerTLS(httpapi.TLSFiles{}, nil)
	require.NoError(t, err)
	require.Nil(t, cfg, "no certificate: plain HTTP")
	cfg, err = httpapi.ServerTLS(httpapi.TLSFiles{CertFile: cert, KeyFile: key, ClientCAFile: caFile}, nil)
	require.NoError(t, err)
	require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	require.Equal(t, tls.RequireAndVerifyClientCert, cfg.ClientAuth)
}

func pemKeyOf(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
