package signature

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// trustStore is the loaded trust directory: the anchors and the CRLs by issuer name.
type trustStore struct {
	roots   *x509.CertPool
	anchors []*x509.Certificate
	crls    map[string][]*crl // by DER issuer Name
}

// crl is one loaded CRL with its entries indexed by serial number.
type crl struct {
	file    string
	list    *x509.RevocationList
	revoked map[string]time.Time // serial (hex, signed) → revocation time

	mu       sync.Mutex
	signedBy map[[32]byte]bool // issuer certificate SHA-256 → signature valid
}

// trustFileExtensions are the files of the trust directory that are read; others are ignored.
var trustFileExtensions = map[string]bool{".pem": true, ".crt": true, ".cer": true, ".der": true, ".crl": true}

// loadTrustDir reads every certificate and CRL file of dir (not its subdirectories; symbolic links
// are followed, dot files skipped). Each
// certificate must be a CA certificate and becomes a trust anchor; each CRL must have a nextUpdate
// after its thisUpdate, and when its issuer is in the directory its signature must verify.
func loadTrustDir(dir string) (*trustStore, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read trust directory: %w", err)
	}
	ts := &trustStore{roots: x509.NewCertPool(), crls: map[string][]*crl{}}
	var lists []*crl
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if strings.HasPrefix(e.Name(), ".") || !trustFileExtensions[ext] {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() { // follows symbolic links
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read trust file: %w", err)
		}
		certs, crls, err := parseTrustFile(data, ext == ".crl")
		if err != nil {
			return nil, fmt.Errorf("trust file %s: %w", e.Name(), err)
		}
		for _, c := range certs {
			if !c.BasicConstraintsValid || !c.IsCA {
				return nil, fmt.Errorf("trust file %s: certificate %x is not a CA certificate", e.Name(), c.SerialNumber)
			}
			ts.roots.AddCert(c)
			ts.anchors = append(ts.anchors, c)
		}
		for _, l := range crls {
			lists = append(lists, newCRL(e.Name(), l))
		}
	}
	if len(ts.anchors) == 0 {
		return nil, fmt.Errorf("trust directory %s holds no certificate", dir)
	}
	for _, l := range lists {
		if err := ts.addCRL(l); err != nil {
			return nil, fmt.Errorf("trust file %s: %w", l.file, err)
		}
	}
	return ts, nil
}

// parseTrustFile parses PEM (CERTIFICATE and X509 CRL blocks) or one DER certificate or CRL.
func parseTrustFile(data []byte, derIsCRL bool) ([]*x509.Certificate, []*x509.RevocationList, error) {
	var certs []*x509.Certificate
	var crls []*x509.RevocationList
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		if derIsCRL {
			l, err := x509.ParseRevocationList(data)
			return nil, []*x509.RevocationList{l}, err
		}
		c, err := x509.ParseCertificate(data)
		return []*x509.Certificate{c}, nil, err
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, err
			}
			certs = append(certs, c)
		case "X509 CRL":
			l, err := x509.ParseRevocationList(block.Bytes)
			if err != nil {
				return nil, nil, err
			}
			crls = append(crls, l)
		default:
			return nil, nil, fmt.Errorf("unexpected PEM block %q", block.Type)
		}
	}
	if len(certs) == 0 && len(crls) == 0 {
		return nil, nil, errors.New("no PEM certificate or CRL")
	}
	return certs, crls, nil
}

func newCRL(file string, l *x509.RevocationList) *crl {
	c := &crl{file: file, list: l, revoked: make(map[string]time.Time, len(l.RevokedCertificateEntries)), signedBy: map[[32]byte]bool{}}
	for _, e := range l.RevokedCertificateEntries {
		c.revoked[e.SerialNumber.Text(16)] = e.RevocationTime
	}
	return c
}

// addCRL checks a CRL's dates and, when its issuer is an anchor, its signature, then indexes it.
func (ts *trustStore) addCRL(l *crl) error {
	if l.list.NextUpdate.IsZero() || !l.list.NextUpdate.After(l.list.ThisUpdate) {
		return errors.New("CRL has no nextUpdate after its thisUpdate")
	}
	var issuers, verified int
	for _, a := range ts.anchors {
		if bytes.Equal(a.RawSubject, l.list.RawIssuer) {
			issuers++
			if l.verifiedBy(a) {
				verified++
			}
		}
	}
	if issuers > 0 && verified == 0 {
		return errors.New("CRL signature does not verify with its issuer's certificate")
	}
	ts.crls[string(l.list.RawIssuer)] = append(ts.crls[string(l.list.RawIssuer)], l)
	return nil
}

// verifiedBy reports whether issuer signed the CRL (and may sign CRLs); the answer is cached.
func (l *crl) verifiedBy(issuer *x509.Certificate) bool {
	key := sha256.Sum256(issuer.Raw)
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, known := l.signedBy[key]
	if !known {
		ok = l.list.CheckSignatureFrom(issuer) == nil
		l.signedBy[key] = ok
	}
	return ok
}

// RevocationStatus says how far the revocation of a chain was checked (persisted: never rename).
type RevocationStatus string

const (
	// RevocationGood: every certificate below the anchor is absent from a CRL of its issuer whose
	// nextUpdate is at or after the verification time.
	RevocationGood RevocationStatus = "good"
	// RevocationUnchecked: some certificate had no such CRL and Config.RequireCRL is off; none of
	// the CRLs found lists it.
	RevocationUnchecked RevocationStatus = "unchecked"
)

// checkRevocation checks every certificate of chain but the anchor (the last) against the CRLs of
// its issuer (the next one) at time at.
func (ts *trustStore) checkRevocation(chain []*x509.Certificate, at time.Time, requireCRL bool) (RevocationStatus, *Error) {
	status := RevocationGood
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		fresh := false
		for _, l := range ts.crls[string(issuer.RawSubject)] {
			if !l.verifiedBy(issuer) {
				continue // another key of the same name, or not a CRL of this issuer
			}
			if t, ok := l.revoked[cert.SerialNumber.Text(16)]; ok && !t.After(at) {
				return "", refuse(CodeCertificateRevoked, "a certificate of the chain is revoked (CRL %s)", l.file)
			}
			if !at.After(l.list.NextUpdate) {
				fresh = true
			}
		}
		if !fresh {
			if requireCRL {
				return "", refuse(CodeRevocationUnknown, "no current CRL from the issuer of a certificate of the chain")
			}
			status = RevocationUnchecked
		}
	}
	return status, nil
}
