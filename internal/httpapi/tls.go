package httpapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// TLSFiles names the API's own TLS material (configuration http.tls).
type TLSFiles struct {
	// CertFile and KeyFile are the server's PEM certificate (chain) and key. Without them the API
	// serves plain HTTP and ServerTLS returns nil.
	CertFile, KeyFile string
	// ClientCAFile, when set, makes a client certificate chained to one of its CAs a condition of
	// the handshake.
	ClientCAFile string
	// ClientCRLFile, when set, revokes client certificates: a PEM or DER CRL signed by a CA of
	// ClientCAFile, read again whenever the file changes.
	ClientCRLFile string
}

// ServerTLS returns the API's TLS configuration built from f (TLS 1.2 or later), or nil when f has
// no certificate. A file that cannot be read or parsed is an error, so that a hub never starts
// without the protection it was configured with.
func ServerTLS(f TLSFiles, logger *zap.Logger) (*tls.Config, error) {
	if f.CertFile == "" {
		return nil, nil
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load the API's TLS certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if f.ClientCAFile == "" {
		return cfg, nil
	}
	pemCAs, err := os.ReadFile(f.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("read client CA file: %w", err)
	}
	cas, err := parseCertificates(pemCAs)
	if err != nil {
		return nil, fmt.Errorf("client CA file %s: %w", f.ClientCAFile, err)
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	if f.ClientCRLFile != "" {
		crl := &crlFile{path: f.ClientCRLFile, cas: cas, logger: logger.Named("client_crl")}
		if _, err := crl.current(); err != nil {
			return nil, err
		}
		cfg.VerifyPeerCertificate = crl.verify
	}
	return cfg, nil
}

func parseCertificates(pemBytes []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, pemBytes = pem.Decode(pemBytes)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in it")
	}
	return out, nil
}

// crlFile is a CRL read from a file, read again when the file's modification time or size changes.
// It fails closed: a CRL that cannot be read or whose signature is not a client CA's refuses every
// handshake until the file is mended.
type crlFile struct {
	path   string
	cas    []*x509.Certificate
	logger *zap.Logger

	mu      sync.Mutex
	modTime time.Time
	size    int64
	list    *x509.RevocationList
	revoked map[string]bool // serial numbers (decimal)
}

func (c *crlFile) current() (*x509.RevocationList, error) {
	st, err := os.Stat(c.path)
	if err != nil {
		return nil, fmt.Errorf("client CRL: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && st.ModTime().Equal(c.modTime) && st.Size() == c.size {
		return c.list, nil
	}
	raw, err := os.ReadFile(c.path)
	if err != nil {
		return nil, fmt.Errorf("client CRL: %w", err)
	}
	if b, _ := pem.Decode(raw); b != nil {
		raw = b.Bytes
	}
	list, err := x509.ParseRevocationList(raw)
	if err != nil {
		return nil, fmt.Errorf("client CRL %s: %w", c.path, err)
	}
	signed := false
	for _, ca := range c.cas {
		if bytes.Equal(ca.RawSubject, list.RawIssuer) && list.CheckSignatureFrom(ca) == nil {
			signed = true
			break
		}
	}
	if !signed {
		return nil, fmt.Errorf("client CRL %s is not signed by a CA of the client CA file", c.path)
	}
	revoked := make(map[string]bool, len(list.RevokedCertificateEntries))
	for _, e := range list.RevokedCertificateEntries {
		revoked[e.SerialNumber.String()] = true
	}
	if !list.NextUpdate.IsZero() && time.Now().After(list.NextUpdate) {
		c.logger.Warn("the client CRL is past its next update; it is still applied", zap.Time("next_update", list.NextUpdate))
	}
	c.list, c.revoked, c.modTime, c.size = list, revoked, st.ModTime(), st.Size()
	return list, nil
}

// verify is tls.Config.VerifyPeerCertificate: after the chain was verified, a leaf the CRL's
// issuer revoked fails the handshake.
func (c *crlFile) verify(_ [][]byte, chains [][]*x509.Certificate) error {
	list, err := c.current()
	if err != nil {
		c.logger.Error("client certificate refused: the CRL cannot be used", zap.Error(err))
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		leaf := chain[0]
		if bytes.Equal(leaf.RawIssuer, list.RawIssuer) && c.revoked[leaf.SerialNumber.String()] {
			return fmt.Errorf("client certificate %s is revoked", leaf.SerialNumber)
		}
	}
	return nil
}

// SPKISHA256 returns the hex SHA-256 of a certificate's SubjectPublicKeyInfo: what a client's
// cert_spki_sha256 pins.
func SPKISHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// certificateMatches reports whether the request came over TLS with a client certificate whose
// public key is one of pins (hex, any case).
func certificateMatches(r *http.Request, pins []string) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	got := SPKISHA256(r.TLS.PeerCertificates[0])
	for _, p := range pins {
		if strings.EqualFold(p, got) {
			return true
		}
	}
	return false
}
