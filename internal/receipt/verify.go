package receipt

import (
	"context"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"appealhub/internal/signature"
)

// Verified is a receipt whose signature verified.
type Verified struct {
	// Content is the signed content, byte for byte; Receipt is it decoded.
	Content []byte
	Receipt Content
	// Signer is what the hub's certificate says (signature.Signer: subject, serial, signing time).
	Signer signature.Signer
}

// Verifier checks hub receipts and checkpoint signatures against the CA certificates an operator
// trusts for the hub's identity. It is safe for concurrent use.
type Verifier struct {
	v *signature.Verifier
}

// NewVerifier returns a Verifier that trusts the CA certificates of caPEM (PEM CERTIFICATE blocks,
// each a CA certificate, as in hub-ca.pem).
func NewVerifier(caPEM []byte) (*Verifier, error) {
	// signature.Verifier reads its anchors from a trust directory: give it one with this file only.
	// It keeps what it loaded, so the directory goes at once.
	dir, err := os.MkdirTemp("", "appealhub-hub-ca-")
	if err != nil {
		return nil, fmt.Errorf("hub CA: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	if err := os.WriteFile(filepath.Join(dir, "hub-ca.pem"), caPEM, 0o600); err != nil {
		return nil, fmt.Errorf("hub CA: %w", err)
	}
	v, err := signature.New(signature.Config{TrustDir: dir})
	if err != nil {
		return nil, fmt.Errorf("hub CA: %w", err)
	}
	return &Verifier{v: v}, nil
}

// NewVerifierFromFile is NewVerifier with the PEM read from path.
func NewVerifierFromFile(path string) (*Verifier, error) {
	caPEM, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hub CA: %w", err)
	}
	return NewVerifier(caPEM)
}

// ErrInvalid marks a receipt that does not verify (as opposed to failing to read one).
var ErrInvalid = errors.New("invalid receipt")

// Verify checks a receipt: cms is its CMS SignedData in DER or PEM ("CMS" or "PKCS7" block) with
// the content attached, valid at at (zero: now) with a certificate that chains to the trusted CAs
// (the checks of signature.Verifier), and its content must be receipt content (Format). A receipt
// that does not verify gives an error wrapping ErrInvalid that says why.
func (v *Verifier) Verify(ctx context.Context, cms []byte, at time.Time) (Verified, error) {
	der := cms
	if block, _ := pem.Decode(cms); block != nil {
		if block.Type != "CMS" && block.Type != "PKCS7" {
			return Verified{}, fmt.Errorf("%w: PEM block %q is not CMS", ErrInvalid, block.Type)
		}
		der = block.Bytes
	}
	content, err := encapsulatedContent(der)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s, err := v.v.Verify(ctx, der, nil, at)
	if err != nil {
		return Verified{}, refusal(err)
	}
	c, err := ParseContent(content)
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return Verified{Content: content, Receipt: c, Signer: s}, nil
}

// VerifyDetached checks a detached CMS signature over content at at; it returns the signer.
func (v *Verifier) VerifyDetached(ctx context.Context, sig, content []byte, at time.Time) (signature.Signer, error) {
	if content == nil {
		return signature.Signer{}, fmt.Errorf("%w: no content", ErrInvalid)
	}
	s, err := v.v.Verify(ctx, sig, content, at)
	if err != nil {
		return signature.Signer{}, refusal(err)
	}
	return s, nil
}

// refusal marks a refusal of signature.Verifier (a *signature.Error) with ErrInvalid; other errors
// (a cancelled ctx) are returned as they are.
func refusal(err error) error {
	if _, ok := errors.AsType[*signature.Error](err); ok {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// encapsulatedContent returns the content a DER ContentInfo of a SignedData encapsulates
// (eContent), without checking anything else: signature.Verifier does.
func encapsulatedContent(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var info, explicit, signedData, encap cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!info.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!explicit.ReadASN1(&signedData, cbasn1.SEQUENCE) ||
		!signedData.SkipASN1(cbasn1.INTEGER) || !signedData.SkipASN1(cbasn1.SET) ||
		!signedData.ReadASN1(&encap, cbasn1.SEQUENCE) || !encap.SkipASN1(cbasn1.OBJECT_IDENTIFIER) {
		return nil, errors.New("not a DER CMS SignedData")
	}
	var eContent, octets cryptobyte.String
	if !encap.ReadASN1(&eContent, cbasn1.Tag(0).Constructed().ContextSpecific()) || !eContent.ReadASN1(&octets, cbasn1.OCTET_STRING) {
		return nil, errors.New("the content is not attached (a detached signature is no receipt)")
	}
	return octets, nil
}
