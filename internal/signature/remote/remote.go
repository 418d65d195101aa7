// Package remote is the HTTP client of the external signature verifier: the service that verifies
// the DSTU 4145 signatures (GOST 34.311 and Kupyna hashes) the hub cannot verify itself. A Client is
// the signature.External of a signature.Verifier.
//
// For each signature it POSTs one JSON request to the configured URL and reads one JSON answer:
//
//	→ {"signature":"<base64 DER>","content":"<base64>","content_sha256":"<hex>","received_at":"<RFC 3339>"}
//	← {"valid":true,"signer":{"subject":"…","issuer":"…","serial_number":"…",…}}
//	← {"valid":false,"code":"certificate_revoked","reason":"…"}
//
// A 2xx answer of that shape is an answer: the signer's facts, or a refusal with one of the
// refusal codes of package signature. Anything else (no connection, a timeout, a non-2xx status, an
// answer that does not parse or names an unknown code) is not an answer: an error that wraps
// ErrNoAnswer, on which the hub neither accepts nor refuses the submission (503, the portal
// retries). docs/signatures.md, section "External verifier (DSTU 4145)", is the protocol's
// reference.
package remote

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"appealhub/internal/signature"
)

// Defaults of Config.
const (
	// DefaultTimeout is the default Config.Timeout.
	DefaultTimeout = 10 * time.Second
	// MaxAnswerBytes bounds the answer read from the verifier.
	MaxAnswerBytes = 1 << 20
	// maxReason bounds the refusal reason passed on to the client, in runes.
	maxReason = 200
)

// ErrNoAnswer is wrapped by every error that is not a refusal: the verifier could not be asked or
// did not answer in the protocol.
var ErrNoAnswer = errors.New("external signature verifier gave no answer")

// Config configures a Client.
type Config struct {
	// URL is the verifier's endpoint, http or https. Required.
	URL string
	// Timeout bounds one verification, connection and answer included. Defaults to DefaultTimeout
	// (10s).
	Timeout time.Duration
	// HTTPClient sends the requests. Defaults to a client of its own without a timeout (Timeout
	// bounds each call).
	HTTPClient *http.Client
}

// Client asks the external verifier. It is safe for concurrent use.
type Client struct {
	url     string
	timeout time.Duration
	http    *http.Client
}

var _ signature.External = (*Client)(nil)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("external signature verifier url %q: must be an http or https URL", cfg.URL)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{url: cfg.URL, timeout: cmp.Or(cfg.Timeout, DefaultTimeout), http: hc}, nil
}

// request is the body the hub POSTs.
type request struct {
	Signature     []byte `json:"signature"`
	Content       []byte `json:"content"`
	ContentSHA256 string `json:"content_sha256"`
	ReceivedAt    string `json:"received_at"`
}

// answer is the verifier's body.
type answer struct {
	Valid  *bool             `json:"valid"`
	Code   signature.Code    `json:"code"`
	Reason string            `json:"reason"`
	Signer *signature.Signer `json:"signer"`
}

// Verify asks the verifier whether sig signs content, received by the hub at at. A refusal is a
// *signature.Error; every other error wraps ErrNoAnswer (and the context's error when ctx ended).
func (c *Client) Verify(ctx context.Context, sig, content []byte, at time.Time) (signature.Signer, error) {
	sum := sha256.Sum256(content)
	body, err := json.Marshal(request{Signature: sig, Content: content, ContentSHA256: hex.EncodeToString(sum[:]),
		ReceivedAt: at.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return signature.Signer{}, fmt.Errorf("%w: encode request: %w", ErrNoAnswer, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return signature.Signer{}, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return signature.Signer{}, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return signature.Signer{}, fmt.Errorf("%w: read answer: %w", ErrNoAnswer, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return signature.Signer{}, fmt.Errorf("%w: HTTP %d", ErrNoAnswer, resp.StatusCode)
	}
	s, err := decodeAnswer(resp.Header.Get("Content-Type"), raw)
	if err != nil {
		if _, refused := errors.AsType[*signature.Error](err); refused {
			return signature.Signer{}, err
		}
		return signature.Signer{}, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	return s, nil
}

// decodeAnswer reads a 2xx body: the signer, a refusal (*signature.Error), or an error saying why
// the body is not an answer.
func decodeAnswer(contentType string, raw []byte) (signature.Signer, error) {
	if len(raw) > MaxAnswerBytes {
		return signature.Signer{}, fmt.Errorf("answer larger than %d bytes", MaxAnswerBytes)
	}
	if contentType != "" {
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return signature.Signer{}, fmt.Errorf("answer media type %q is not JSON", clip(contentType))
		}
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return signature.Signer{}, fmt.Errorf("decode answer: %w", err)
	}
	switch {
	case a.Valid == nil:
		return signature.Signer{}, errors.New(`answer without "valid"`)
	case !*a.Valid:
		if !slices.Contains(signature.Codes(), a.Code) {
			return signature.Signer{}, fmt.Errorf("refusal with unknown code %q", clip(string(a.Code)))
		}
		reason := "refused by the external verifier"
		if r := clip(a.Reason); r != "" {
			reason += ": " + r
		}
		return signature.Signer{}, &signature.Error{Code: a.Code, Reason: reason}
	case a.Signer == nil:
		return signature.Signer{}, errors.New(`valid answer without "signer"`)
	}
	if err := checkSigner(*a.Signer); err != nil {
		return signature.Signer{}, fmt.Errorf("signer: %w", err)
	}
	return *a.Signer, nil
}

// checkSigner requires the facts the hub stores.
func checkSigner(s signature.Signer) error {
	var missing []string
	for name, v := range map[string]string{"subject": s.Subject, "issuer": s.Issuer, "serial_number": s.SerialNumber,
		"digest_algorithm": s.DigestAlgorithm, "signature_algorithm": s.SignatureAlgorithm} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if s.NotBefore.IsZero() || s.NotAfter.IsZero() {
		missing = append(missing, "not_before and not_after")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if b, err := hex.DecodeString(s.CertificateSHA256); err != nil || len(b) != sha256.Size || strings.ToLower(s.CertificateSHA256) != s.CertificateSHA256 {
		return errors.New("certificate_sha256 must be 64 lower-case hex digits")
	}
	if s.Revocation != signature.RevocationGood && s.Revocation != signature.RevocationUnchecked {
		return fmt.Errorf("revocation %q: must be %q or %q", clip(string(s.Revocation)), signature.RevocationGood, signature.RevocationUnchecked)
	}
	return nil
}

// clip returns s with control characters as spaces, at most maxReason characters, trimmed.
func clip(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxReason {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
