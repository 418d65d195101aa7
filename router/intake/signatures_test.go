package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/clock"
	"appealhub/internal/signature"
	"appealhub/internal/signature/signaturetest"
	"appealhub/router"
	"appealhub/router/intake"
	"appealhub/router/recipient"
	"appealhub/schemas"
)

// The OpenSSL test PKI is made once for the package.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { signaturetest.Cleanup() }))
}

// signed is a submission to 00000001 with text, attachments and signatures.
type signed struct {
	kind        string
	text        string
	attachments []schemas.Attachment
	signatures  []schemas.Signature
}

func (s signed) body(t *testing.T) []byte {
	t.Helper()
	m := map[string]any{"case_kind": s.kind, "applicant": map[string]any{"surname": "С", "name": "І"},
		"addressees": []string{"00000001"}, "subject": "s", "text": s.text}
	if s.kind == "" {
		m["case_kind"], m["appeal_kind"] = "appeal", "proposal"
	}
	if len(s.attachments) > 0 {
		m["attachments"] = s.attachments
	}
	if len(s.signatures) > 0 {
		m["signatures"] = s.signatures
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func cades(of string, value []byte) schemas.Signature {
	return schemas.Signature{Of: of, Format: schemas.SignatureCAdESDetached, Value: value}
}

// signatureBundle is an intake over a fake store with a real verifier of the OpenSSL PKI.
type signatureBundle struct {
	pki   *signaturetest.PKI
	store *fakeStore
	in    *intake.Intake
	now   time.Time
}

// setupSignatures returns an intake with policies and the verifier the hub builds from the
// signatures section (trust directory "trust" of the PKI, then change).
func setupSignatures(t *testing.T, policies intake.SignaturePolicies, change ...func(*config.Signatures)) *signatureBundle {
	t.Helper()
	p := signaturetest.Shared(t)
	cfg := config.Signatures{TrustDir: p.Path("trust")}
	for _, c := range change {
		c(&cfg)
	}
	v, err := router.NewSignatureVerifier(cfg)
	require.NoError(t, err)
	b := &signatureBundle{pki: p, store: &fakeStore{}, now: time.Now().UTC().Truncate(time.Microsecond)}
	newIntake(t, b.store, b.now) // fills the routes
	b.in = intake.New(intake.Config{PublicURL: "https://hub.example", Clock: clock.NewStub(b.now), Signatures: policies, Verifier: v},
		b.store, recipient.New(b.store), zaptest.NewLogger(t))
	return b
}

func (b *signatureBundle) submit(t *testing.T, client string, body []byte) (schemas.Receipt, error) {
	t.Helper()
	return b.in.Submit(context.Background(), intake.Request{ClientID: client, IdempotencyKey: "k", Body: body})
}

// requireRefused asserts a refusal with code naming pointers, and that nothing was stored.
func (b *signatureBundle) requireRefused(t *testing.T, err error, code schemas.Code, pointers ...string) {
	t.Helper()
	e, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "a *schemas.Error, got %v", err)
	require.Equal(t, code, e.Code, "error: %v", err)
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Pointer)
	}
	require.Equal(t, pointers, got)
	require.Empty(t, b.store.created, "nothing stored")
}

// TestSignaturesGoodAreStoredWithTheirFacts: RSA and ECDSA P-256 signatures of the text and of an
// attachment, made by openssl over the exact bytes, are verified at the time of receipt and their
// facts stored with the case; an xades signature is kept without being verified.
func TestSignaturesGoodAreStoredWithTheirFacts(t *testing.T) {
	t.Parallel()
	b := setupSignatures(t, intake.SignaturePolicies{Appeal: intake.PolicyRequired})
	text := "Прошу відремонтувати дорогу.\r\nДякую."
	pdf := []byte("%PDF-1.7 a scanned photo of the road\x00\xff")
	sub := signed{text: text, attachments: []schemas.Attachment{{ID: "photo", FileName: "photo.pdf", MediaType: "application/pdf", Content: pdf}},
		signatures: []schemas.Signature{
			{Of: "text", Format: schemas.SignatureXAdESEnveloped, Value: []byte("<xades/>")},
			cades("text", b.pki.Sign(t, "rsa", []byte(text))),
			cades("photo", b.pki.Sign(t, "ec256", pdf)),
		}}
	r, err := b.submit(t, "portal", sub.body(t))
	require.NoError(t, err)
	require.Len(t, b.store.created, 1)
	got := b.store.created[0].Signatures
	require.Len(t, got, 2)

	require.Equal(t, 1, got[0].Index)
	require.Equal(t, "text", got[0].Of)
	require.Equal(t, schemas.SignatureCAdESDetached, got[0].Format)
	require.Equal(t, "SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA", got[0].Signer.Subject)
	require.Equal(t, "1234567890", got[0].Signer.TaxNumber)
	require.Equal(t, signature.SignatureRSAPKCS1v15, got[0].Signer.SignatureAlgorithm)
	require.Equal(t, schemas.RevocationGood, got[0].Signer.Revocation)

	require.Equal(t, 2, got[1].Index)
	require.Equal(t, "photo", got[1].Of)
	require.Equal(t, "2345678901", got[1].Signer.TaxNumber)
	require.Equal(t, signature.SignatureECDSAP256, got[1].Signer.SignatureAlgorithm)
	require.Equal(t, signature.DigestSHA256, got[1].Signer.DigestAlgorithm)
	require.Equal(t, b.now, r.ReceivedAt, "verified at the time of receipt, which is the case's")
}

// TestSignaturesTextIsItsDecodedUTF8 signs the text's UTF-8 bytes, whatever JSON escapes carried it.
func TestSignaturesTextIsItsDecodedUTF8(t *testing.T) {
	t.Parallel()
	b := setupSignatures(t, intake.SignaturePolicies{Appeal: intake.PolicyRequired})
	sig := b.pki.Sign(t, "ec256", []byte("Ґанок «№ 5»\t\"é\"\n"))
	body := signed{text: "PLACEHOLDER", signatures: []schemas.Signature{cades("text", sig)}}.body(t)
	body = bytes.Replace(body, []byte("PLACEHOLDER"), []byte(`\u0490\u0430\u043d\u043e\u043a \u00ab\u2116 5\u00bb\t\"\u00e9\"\n`), 1)
	_, err := b.submit(t, "portal", body)
	require.NoError(t, err)
	require.Len(t, b.store.created[0].Signatures, 1)
	require.Equal(t, body, b.store.created[0].Body, "the body is stored as received")
}

// TestSignaturesRefused maps every refusal of the verifier to its problem code, naming the signature
// by its pointer, and stores nothing.
func TestSignaturesRefused(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc := string(p.Doc(t))
	optional := intake.SignaturePolicies{Appeal: intake.PolicyOptional}
	tests := []struct {
		sig    string
		change func(*config.Signatures)
		trust  string
		code   schemas.Code
	}{
		{sig: "ec256", change: func(c *config.Signatures) { c.MaxSignatureBytes = 256 }, code: schemas.CodeSignatureTooLarge},
		{sig: "noattr", code: schemas.CodeSignatureMalformed},
		{sig: "ec256-doc2", code: schemas.CodeDigestMismatch},
		{sig: "twin", code: schemas.CodeSignerMismatch},
		{sig: "sha1", code: schemas.CodeWeakAlgorithm},
		{sig: "ec521", code: schemas.CodeUnsupportedAlgorithm},
		{sig: "digsig", code: schemas.CodeBadKeyUsage},
		{sig: "expired", code: schemas.CodeCertificateExpired},
		{sig: "attacker", code: schemas.CodeUntrustedChain},
		{sig: "revoked", code: schemas.CodeCertificateRevoked},
		{sig: "ec256", trust: "trust-inter", change: func(c *config.Signatures) { c.RequireCRL = true }, code: schemas.CodeRevocationUnknown},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			t.Parallel()
			change := []func(*config.Signatures){func(c *config.Signatures) {
				if tt.trust != "" {
					c.TrustDir = p.Path(tt.trust)
				}
			}}
			if tt.change != nil {
				change = append(change, tt.change)
			}
			b := setupSignatures(t, optional, change...)
			good := b.pki.Sign(t, "rsa", []byte("an attachment"))
			sub := signed{text: doc,
				attachments: []schemas.Attachment{{ID: "a1", FileName: "a.txt", MediaType: "text/plain", Content: []byte("an attachment")}},
				signatures:  []schemas.Signature{cades("a1", good), cades("text", p.Sig(t, tt.sig))}}
			if tt.change != nil { // the verifier refuses the good signature too: an unverified xades first
				sub.signatures[0] = schemas.Signature{Of: "a1", Format: schemas.SignatureXAdESEnveloped, Value: []byte("<x/>")}
			}
			_, err := b.submit(t, "portal", sub.body(t))
			b.requireRefused(t, err, tt.code, "/signatures/1")
			require.Contains(t, err.Error(), "signature /signatures/1 is refused: ")
		})
	}
}

// TestSignaturesDSTU: a DSTU 4145 signature is refused as unsupported without an external verifier;
// an external verifier that fails (HTTP 500) makes the submission unavailable, not refused.
func TestSignaturesDSTU(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	body := signed{text: string(p.Doc(t)), signatures: []schemas.Signature{cades("text", signaturetest.RelabelDSTU(t, p.Sig(t, "ec256")))}}.body(t)

	b := setupSignatures(t, intake.SignaturePolicies{Appeal: intake.PolicyOptional})
	_, err := b.submit(t, "portal", body)
	b.requireRefused(t, err, schemas.CodeUnsupportedAlgorithm, "/signatures/0")

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "verifier down", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	b = setupSignatures(t, intake.SignaturePolicies{Appeal: intake.PolicyOptional}, func(c *config.Signatures) { c.External.URL = down.URL })
	_, err = b.submit(t, "portal", body)
	require.ErrorIs(t, err, schemas.ErrUnavailable)
	_, refused := errors.AsType[*schemas.Error](err)
	require.False(t, refused, "not a refusal: %v", err)
	require.Empty(t, b.store.created)
}

// TestSignaturePolicies: required, optional and off, per case kind and per client.
func TestSignaturePolicies(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	doc := string(p.Doc(t))
	policies := intake.SignaturePolicies{Appeal: intake.PolicyOptional, InfoRequest: intake.PolicyOff,
		Clients: map[string]intake.ClientSignaturePolicies{
			"strict": {Appeal: intake.PolicyRequired},
			"lax":    {InfoRequest: intake.PolicyRequired, Appeal: intake.PolicyOff},
		}}
	broken := []schemas.Signature{cades("text", p.Sig(t, "ec256-doc2"))}
	attachment := []schemas.Attachment{{FileName: "a.txt", MediaType: "text/plain", Content: []byte("x")}}
	info := func(s signed) signed { s.kind = "info_request"; return s }

	t.Run("optional without a signature", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		_, err := b.submit(t, "portal", signed{text: doc}.body(t))
		require.NoError(t, err)
		require.Empty(t, b.store.created[0].Signatures)
	})
	t.Run("optional with a broken signature", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		_, err := b.submit(t, "portal", signed{text: doc, signatures: broken}.body(t))
		b.requireRefused(t, err, schemas.CodeDigestMismatch, "/signatures/0")
	})
	t.Run("required without signatures", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		_, err := b.submit(t, "strict", signed{text: doc, attachments: attachment}.body(t))
		b.requireRefused(t, err, schemas.CodeSignatureRequired, "/text", "/attachments/0")
	})
	t.Run("required with the text signed but an attachment not", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		a := []schemas.Attachment{{ID: "a1", FileName: "a.txt", MediaType: "text/plain", Content: []byte("x")}}
		_, err := b.submit(t, "strict", signed{text: doc, attachments: a, signatures: []schemas.Signature{cades("text", p.Sig(t, "ec256"))}}.body(t))
		b.requireRefused(t, err, schemas.CodeSignatureRequired, "/attachments/0")
	})
	t.Run("required with an xades signature only", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		xades := []schemas.Signature{{Of: "text", Format: schemas.SignatureXAdESEnveloped, Value: []byte("<x/>")}}
		_, err := b.submit(t, "strict", signed{text: doc, signatures: xades}.body(t))
		b.requireRefused(t, err, schemas.CodeSignatureRequired, "/text")
	})
	t.Run("required and signed", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		_, err := b.submit(t, "strict", signed{text: doc, signatures: []schemas.Signature{cades("text", p.Sig(t, "ec384"))}}.body(t))
		require.NoError(t, err)
		require.Len(t, b.store.created[0].Signatures, 1)
	})
	t.Run("off keeps a broken signature unverified", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		body := signed{text: doc, signatures: broken}.body(t)
		_, err := b.submit(t, "lax", body)
		require.NoError(t, err)
		require.Empty(t, b.store.created[0].Signatures)
		require.Equal(t, body, b.store.created[0].Body, "kept as received")
	})
	t.Run("off for info requests by default", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		_, err := b.submit(t, "portal", info(signed{text: doc, signatures: broken}).body(t))
		require.NoError(t, err)
	})
	t.Run("a client's required for info requests", func(t *testing.T) {
		t.Parallel()
		b := setupSignatures(t, policies)
		_, err := b.submit(t, "lax", info(signed{text: doc}).body(t))
		b.requireRefused(t, err, schemas.CodeSignatureRequired, "/text")
	})
}

func TestSignaturePoliciesFor(t *testing.T) {
	t.Parallel()
	var none intake.SignaturePolicies
	require.Equal(t, intake.PolicyOff, none.For("p", schemas.CaseAppeal))
	p := intake.SignaturePolicies{Appeal: intake.PolicyRequired, InfoRequest: intake.PolicyOptional,
		Clients: map[string]intake.ClientSignaturePolicies{"x": {InfoRequest: intake.PolicyOff}}}
	require.Equal(t, intake.PolicyRequired, p.For("x", schemas.CaseAppeal))
	require.Equal(t, intake.PolicyOff, p.For("x", schemas.CaseInfoRequest))
	require.Equal(t, intake.PolicyOptional, p.For("y", schemas.CaseInfoRequest))
}

// TestSignaturesWithoutVerifier: a policy that verifies without a verifier is a failure of the hub,
// not a refusal, and stores nothing.
func TestSignaturesWithoutVerifier(t *testing.T) {
	t.Parallel()
	st := &fakeStore{}
	newIntake(t, st, time.Now())
	in := intake.New(intake.Config{PublicURL: "https://hub.example", Signatures: intake.SignaturePolicies{Appeal: intake.PolicyOptional}},
		st, recipient.New(st), zaptest.NewLogger(t))
	_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000001")})
	require.Error(t, err)
	_, refused := errors.AsType[*schemas.Error](err)
	require.False(t, refused)
	require.Empty(t, st.created)
}
