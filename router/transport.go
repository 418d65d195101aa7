package router

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"appealhub/adapters"
	"appealhub/adapters/httppush"
	"appealhub/config"
)

// requestTimeoutCeiling is the longest an authority's own request timeout can make one send last.
const requestTimeoutCeiling = 10 * time.Minute

// transportMux sends each request with the HTTP push transport of the client certificate its
// authority requires (mTLS), or with the plain one.
type transportMux struct {
	plain  *httppush.Transport
	byName map[string]*httppush.Transport
}

// newTransportMux builds one transport per configured TLS client, reading its files now so that a
// missing or bad certificate stops the hub at start-up instead of failing deliveries later.
func newTransportMux(cfg config.Config) (*transportMux, error) {
	// The delivery worker bounds each send with its authority's own request timeout (or
	// delivery.request_timeout); the transport's is only a ceiling above every such timeout.
	base := httppush.Config{Timeout: max(cfg.Delivery.RequestTimeout, requestTimeoutCeiling), ConnectTimeout: cfg.Delivery.ConnectTimeout}
	m := &transportMux{plain: httppush.New(base), byName: map[string]*httppush.Transport{}}
	for i, c := range cfg.TLSClients {
		tc, err := clientTLS(c)
		if err != nil {
			return nil, fmt.Errorf("tls_clients[%d] (%s): %w", i, c.Name, err)
		}
		withTLS := base
		withTLS.TLS = tc
		m.byName[c.Name] = httppush.New(withTLS)
	}
	return m, nil
}

func clientTLS(c config.TLSClient) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("ca_file holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Send implements adapters.Transport.
func (m *transportMux) Send(ctx context.Context, req adapters.Request) (adapters.Response, error) {
	if req.TLSClient == "" {
		return m.plain.Send(ctx, req)
	}
	t, ok := m.byName[req.TLSClient]
	if !ok {
		return adapters.Response{}, adapters.Permanent(fmt.Errorf("no tls client %q is configured", req.TLSClient))
	}
	return t.Send(ctx, req)
}
