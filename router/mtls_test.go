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
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key signed by the CA.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips ...net.IP) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestMutualTLSPerAuthority: an authority's system that requires a client certificate receives the
// deliveries of the authority configured with the hub's client certificate; an authority without
// one cannot get past the handshake and its delivery ends dead with the reason.
func TestMutualTLSPerAuthority(t *testing.T) {
	t.Parallel()
	serverCA, clientCA := newCA(t, "systems CA"), newCA(t, "hub clients CA")
	srvCert, srvKey := serverCA.issue(t, "sed.example", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	cliCert, cliKey := clientCA.issue(t, "appealhub", x509.ExtKeyUsageClientAuth)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	require.NoError(t, err)
	clients := x509.NewCertPool()
	clients.AddCert(clientCA.cert)

	sb, err := sandbox.New(sandbox.Options{Name: "mtls"}, zaptest.NewLogger(t))
	require.NoError(t, err)
	var mu sync.Mutex
	var peers []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		sb.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	const withCert, without = "14000001", "14000002"
	env := hubtest.NewEnv(t, map[string]string{withCert: srv.URL + "/documents/" + withCert, without: srv.URL + "/documents/" + without},
		func(c *config.Config) {
			c.Delivery.MaxAttempts = 2
			c.TLSClients = []config.TLSClient{{Name: "hub", CertFile: write("client.crt", cliCert), KeyFile: write("client.key", cliKey),
				CAFile: write("systems-ca.pem", serverCA.pem)}}
			for i := range c.Authorities {
				if c.Authorities[i].Code == withCert {
					c.Authorities[i].TLSClient = "hub"
				}
			}
		})
	hub := env.Start(t)
	env.MustSubmit(t, hub.URL, "a", hubtest.Submission(1, 1024, withCert))
	env.MustSubmit(t, hub.URL, "b", hubtest.Submission(2, 1024, without))
	env.WaitSettled(t, time.Minute)

	delivered, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDelivered)
	require.NoError(t, err)
	require.Len(t, delivered, 1)
	require.Equal(t, withCert, delivered[0].Authority)
	dead, err := env.Store.DeliveriesByStatus(context.Background(), schemas.StatusDead)
	require.NoError(t, err)
	require.Len(t, dead, 1)
	require.Equal(t, without, dead[0].Authority)
	require.Contains(t, dead[0].LastError, "certificate")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"appealhub"}, peers, "the system saw the hub's client certificate")
	require.Equal(t, 1, sb.Ledger().Documents)
}
