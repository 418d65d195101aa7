package demo

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"appealhub/internal/signature"
	"appealhub/schemas"
)

// Citizen is the demo's throwaway signing identity: a certification authority made when the demo
// starts, whose certificate and CRL go into the hub's trust directory, and a citizen's signing
// certificate it issued. Nothing of it outlives the demo.
type Citizen struct {
	key  crypto.Signer
	cert *x509.Certificate
}

// Names of what NewCitizen writes into the trust directory.
const (
	CitizenCAFile  = "demo-citizen-ca.pem"
	CitizenCRLFile = "demo-citizen-ca.crl"
)

// NewCitizen makes an ECDSA P-256 certification authority and a citizen's signing certificate
// (keyUsage nonRepudiation, the tax number in the subject's serialNumber), both valid from an hour
// before now for 30 days, and writes the authority's certificate and an empty CRL (current for 30
// days) into trustDir, which it creates.
func NewCitizen(trustDir string, now time.Time) (*Citizen, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demo citizen CA key: %w", err)
	}
	from, until := now.Add(-time.Hour), now.AddDate(0, 0, 30)
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Appeal Hub Demo Citizen CA", Organization: []string{"Appeal Hub Demo"}, Country: []string{"UA"}},
		NotBefore: from, NotAfter: until, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("demo citizen CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("demo citizen CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("demo citizen key: %w", err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "Demo Citizen", SerialNumber: "TINUA-1234567890", Country: []string{"UA"}},
		NotBefore: from, NotAfter: until, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("demo citizen certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("demo citizen certificate: %w", err)
	}
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: from, NextUpdate: until}, ca, caKey)
	if err != nil {
		return nil, fmt.Errorf("demo citizen CRL: %w", err)
	}
	if err := os.MkdirAll(trustDir, 0o755); err != nil {
		return nil, fmt.Errorf("demo trust directory: %w", err)
	}
	for name, block := range map[string]*pem.Block{
		CitizenCAFile:  {Type: "CERTIFICATE", Bytes: caDER},
		CitizenCRLFile: {Type: "X509 CRL", Bytes: crlDER},
	} {
		if err := os.WriteFile(filepath.Join(trustDir, name), pem.EncodeToMemory(block), 0o644); err != nil {
			return nil, fmt.Errorf("demo trust directory: %w", err)
		}
	}
	return &Citizen{key: key, cert: cert}, nil
}

// Sign returns the submission body with a detached CAdES signature (cades-detached) of its text
// and of each of its attachments appended to its signatures, made at at. Every attachment must
// have an id (a signature names what it signs by it). The body is re-encoded: keys sorted, compact.
func (c *Citizen) Sign(body []byte, at time.Time) ([]byte, error) {
	var sub map[string]json.RawMessage
	if err := json.Unmarshal(body, &sub); err != nil {
		return nil, fmt.Errorf("sign sample: %w", err)
	}
	var parts struct {
		Text        string `json:"text"`
		Attachments []struct {
			ID      string `json:"id"`
			Content []byte `json:"content"`
		} `json:"attachments"`
		Signatures []schemas.Signature `json:"signatures"`
	}
	if err := json.Unmarshal(body, &parts); err != nil {
		return nil, fmt.Errorf("sign sample: %w", err)
	}
	sigs := parts.Signatures
	sign := func(of string, content []byte) error {
		sig, err := signature.Sign(content, c.key, c.cert, nil, at, signature.Detached())
		if err != nil {
			return fmt.Errorf("sign sample %s: %w", of, err)
		}
		sigs = append(sigs, schemas.Signature{Of: of, Format: schemas.SignatureCAdESDetached, Value: sig})
		return nil
	}
	if err := sign(schemas.SignatureOfText, []byte(parts.Text)); err != nil {
		return nil, err
	}
	for i, a := range parts.Attachments {
		if a.ID == "" {
			return nil, fmt.Errorf("sign sample: attachment %d has no id", i)
		}
		if err := sign(a.ID, a.Content); err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(sigs)
	if err != nil {
		return nil, fmt.Errorf("sign sample: %w", err)
	}
	sub["signatures"] = raw
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sub); err != nil {
		return nil, fmt.Errorf("sign sample: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}
