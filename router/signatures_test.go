package router_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/adapters/jsondoc"
	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/signature"
	"appealhub/internal/signature/signaturetest"
	"appealhub/schemas"
)

// storingSystem is a sandbox document system of the given format that keeps every document it
// receives in a directory, as the authority's system received it.
type storingSystem struct {
	dir string
	srv *httptest.Server
}

func newStoringSystem(t *testing.T, format string) *storingSystem {
	t.Helper()
	dir := t.TempDir()
	sb, err := sandbox.New(sandbox.Options{Name: "signed-" + format, Format: format, StoreDir: dir}, zaptest.NewLogger(t))
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &storingSystem{dir: dir, srv: srv}
}

// document returns the stored document of a delivery.
func (s *storingSystem) document(t *testing.T, deliveryID, ext string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(s.dir, deliveryID+ext))
	require.NoError(t, err)
	return body
}

// signedSubmission is a submission to the addressees with a text and attachments, and signatures.
func signedSubmission(t *testing.T, text string, attachments []schemas.Attachment, sigs []schemas.Signature, addressees ...string) []byte {
	t.Helper()
	m := map[string]any{"case_kind": "appeal", "appeal_kind": "complaint", "addressees": addressees,
		"applicant": map[string]any{"surname": "Підписенко", "name": "Олена"}, "subject": "Підписане звернення", "text": text}
	if len(attachments) > 0 {
		m["attachments"] = attachments
	}
	if len(sigs) > 0 {
		m["signatures"] = sigs
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func cades(of string, value []byte) schemas.Signature {
	return schemas.Signature{Of: of, Format: schemas.SignatureCAdESDetached, Value: value}
}

// opensslVerify runs `openssl cms -verify` on a detached signature over content, trusting caFile.
func opensslVerify(t *testing.T, caFile string, sig, content []byte) {
	t.Helper()
	dir := t.TempDir()
	sigFile, docFile := filepath.Join(dir, "sig.p7s"), filepath.Join(dir, "doc")
	require.NoError(t, os.WriteFile(sigFile, sig, 0o600))
	require.NoError(t, os.WriteFile(docFile, content, 0o600))
	out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sigFile,
		"-content", docFile, "-CAfile", caFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
	require.NoError(t, err, "openssl cms -verify: %s", out)
}

// sevDocument is what the signature check reads of a SEV 1207 message: the files and the signatures
// that name them.
type sevDocument struct {
	Files []struct {
		ID      string `xml:"idnumber,attr"`
		Content string `xml:",chardata"`
	} `xml:"Document>DocTransfer"`
	Signs []struct {
		Of   string `xml:"docTransfer_idnumber,attr"`
		Data string `xml:"SignData"`
	} `xml:"Expansion>StaticExpansion>SignInfo"`
}

// TestSignaturesEndToEnd: openssl-signed submissions through a running hub. Good signatures are
// accepted, their signers' facts are shown in the case and delivered, and both the JSON and the SEV
// 1207 authority receive the signatures and the signed bytes unchanged, which openssl verifies on
// what the authority received. Every refusal reaches the client as its problem, with nothing
// stored; the policies apply per client.
func TestSignaturesEndToEnd(t *testing.T) {
	t.Parallel()
	p := signaturetest.New(t)
	const jsonCode, sevCode = "31000001", "31000002"
	jsonSys, sevSys := newStoringSystem(t, sandbox.FormatJSON), newStoringSystem(t, sandbox.FormatSEV1207)
	strictToken, laxToken := "strict-portal-token", "lax-portal-token"
	env := hubtest.NewEnv(t, map[string]string{jsonCode: jsonSys.srv.URL + "/documents/" + jsonCode}, func(c *config.Config) {
		c.Authorities = append(c.Authorities, config.Authority{Code: sevCode, Name: "Authority " + sevCode, Adapter: "sev1207",
			Endpoint: sevSys.srv.URL + "/documents/" + sevCode, Status: config.AuthorityActive})
		c.Signatures.TrustDir = p.Path("trust")
		c.Signatures.Policy.Appeal = config.SignaturePolicyOptional
		c.Clients = append(c.Clients,
			config.Client{ID: "strict", Kind: config.ClientPortal, TokenSHA256: sha256Hex(strictToken),
				SignaturePolicy: config.ClientSignaturePolicy{Appeal: config.SignaturePolicyRequired}},
			config.Client{ID: "lax", Kind: config.ClientPortal, TokenSHA256: sha256Hex(laxToken),
				SignaturePolicy: config.ClientSignaturePolicy{Appeal: config.SignaturePolicyOff}})
	})
	env.TrackAuthorities(t, sevCode)
	hub := env.Start(t)
	api := newAPICheck(t, loadOpenAPI(t), hub.URL)
	keys := 0
	submit := func(t *testing.T, token string, body []byte, status int, code schemas.Code) hubtest.Response {
		t.Helper()
		keys++
		return api.do(t, call{method: http.MethodPost, path: "/v1/appeals", token: token, body: body, status: status, code: code,
			header: map[string]string{"Content-Type": "application/json", "Idempotency-Key": fmt.Sprintf("sig-%d", keys)}})
	}
	readCase := func(t *testing.T, token, id string) schemas.Case {
		t.Helper()
		return decodeCase(t, api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + id, token: token, status: http.StatusOK}).Body)
	}
	ca := p.Path("root.pem")

	// A text and a binary attachment, signed by openssl with RSA and ECDSA P-256, to both authorities.
	text := "Прошу відремонтувати дорогу.\r\nЗ повагою — Олена «Підписенко».\n"
	scan := []byte("%PDF-1.7\n\x00\x01\xfe\xff a scanned page\n")
	textSig, scanSig := p.Sign(t, "rsa", []byte(text)), p.Sign(t, "ec256", scan)
	body := signedSubmission(t, text, []schemas.Attachment{{ID: "scan", FileName: "scan.pdf", MediaType: "application/pdf", Content: scan}},
		[]schemas.Signature{cades("text", textSig), cades("scan", scanSig)}, jsonCode, sevCode)
	receipt := decodeReceipt(t, submit(t, env.Token, body, http.StatusAccepted, "").Body)
	env.WaitSettled(t, time.Minute)
	c := readCase(t, env.Token, receipt.ID)
	require.Len(t, c.Signatures, 2)
	require.Equal(t, schemas.VerifiedSignature{Index: 0, Of: "text", Format: schemas.SignatureCAdESDetached, Signer: c.Signatures[0].Signer}, c.Signatures[0])
	require.Equal(t, "SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA", c.Signatures[0].Signer.Subject)
	require.Equal(t, signature.SignatureRSAPKCS1v15, c.Signatures[0].Signer.SignatureAlgorithm)
	require.Equal(t, "scan", c.Signatures[1].Of)
	require.Equal(t, "2345678901", c.Signatures[1].Signer.TaxNumber)
	require.Equal(t, signature.SignatureECDSAP256, c.Signatures[1].Signer.SignatureAlgorithm)
	require.Equal(t, schemas.RevocationGood, c.Signatures[1].Signer.Revocation)
	deliveries := map[string]string{}
	for _, d := range c.Deliveries {
		deliveries[d.Authority] = d.ID
	}

	t.Run("the JSON authority receives the submission byte for byte, with the facts", func(t *testing.T) {
		doc := jsonSys.document(t, deliveries[jsonCode], ".json")
		require.NoError(t, schemas.ValidateDelivery(doc))
		envelope, err := jsondoc.DecodeDocument(doc)
		require.NoError(t, err)
		require.Equal(t, body, []byte(envelope.Submission), "the submission as the portal sent it")
		require.Equal(t, c.Signatures, envelope.VerifiedSignatures)
		sub, err := envelope.DecodeSubmission()
		require.NoError(t, err)
		require.Equal(t, textSig, sub.Signatures[0].Value)
		require.Equal(t, []byte(text), []byte(sub.Text))
		require.Equal(t, scanSig, sub.Signatures[1].Value)
		require.Equal(t, scan, sub.Attachments[0].Content)
		opensslVerify(t, ca, sub.Signatures[0].Value, []byte(sub.Text))
		opensslVerify(t, ca, sub.Signatures[1].Value, sub.Attachments[0].Content)
	})
	t.Run("the SEV 1207 authority receives the signed bytes in DocTransfer and the signatures in SignInfo", func(t *testing.T) {
		raw := sevSys.document(t, deliveries[sevCode], ".xml")
		var doc sevDocument
		require.NoError(t, xml.Unmarshal(raw, &doc))
		files := map[string][]byte{}
		for _, f := range doc.Files {
			b, err := base64.StdEncoding.DecodeString(f.Content)
			require.NoError(t, err)
			files[f.ID] = b
		}
		require.Len(t, doc.Signs, 2)
		var got [][]byte
		for _, s := range doc.Signs {
			sig, err := base64.StdEncoding.DecodeString(s.Data)
			require.NoError(t, err)
			content, ok := files[s.Of]
			require.True(t, ok, "SignInfo names DocTransfer %q", s.Of)
			opensslVerify(t, ca, sig, content)
			got = append(got, sig, content)
		}
		require.Equal(t, [][]byte{textSig, []byte(text), scanSig, scan}, got)
		require.NotContains(t, string(raw), "Тарас Шевченко", "no facts outside the standard elements")
	})

	// Every refusal, through HTTP, stores nothing.
	stored := func(t *testing.T) [2]int {
		t.Helper()
		totals, err := env.Store.Totals(context.Background())
		require.NoError(t, err)
		n, err := env.Store.CaseSignatureCount(context.Background())
		require.NoError(t, err)
		return [2]int{totals.Appeals, n}
	}
	doc := string(p.Doc(t))
	huge := make([]byte, signature.DefaultMaxSignatureBytes+1)
	_, _ = rand.Read(huge)
	before := stored(t)
	for _, tt := range []struct {
		name   string
		token  string
		sigs   []schemas.Signature
		status int
		code   schemas.Code
		at     string
	}{
		{name: "too large", sigs: []schemas.Signature{cades("text", huge)}, status: http.StatusRequestEntityTooLarge, code: schemas.CodeSignatureTooLarge},
		{name: "no signed attributes", sigs: []schemas.Signature{cades("text", p.Sig(t, "noattr"))}, status: 422, code: schemas.CodeSignatureMalformed},
		{name: "another document", sigs: []schemas.Signature{cades("text", p.Sig(t, "ec256-doc2"))}, status: 422, code: schemas.CodeDigestMismatch},
		{name: "twin certificate", sigs: []schemas.Signature{cades("text", p.Sig(t, "twin"))}, status: 422, code: schemas.CodeSignerMismatch},
		{name: "SHA-1", sigs: []schemas.Signature{cades("text", p.Sig(t, "sha1"))}, status: 422, code: schemas.CodeWeakAlgorithm},
		{name: "P-521", sigs: []schemas.Signature{cades("text", p.Sig(t, "ec521"))}, status: 422, code: schemas.CodeUnsupportedAlgorithm},
		{name: "DSTU 4145 without the external verifier", sigs: []schemas.Signature{cades("text", signaturetest.RelabelDSTU(t, p.Sig(t, "ec256")))},
			status: 422, code: schemas.CodeUnsupportedAlgorithm},
		{name: "digitalSignature only", sigs: []schemas.Signature{cades("text", p.Sig(t, "digsig"))}, status: 422, code: schemas.CodeBadKeyUsage},
		{name: "expired", sigs: []schemas.Signature{cades("text", p.Sig(t, "expired"))}, status: 422, code: schemas.CodeCertificateExpired},
		{name: "attacker root", sigs: []schemas.Signature{cades("text", p.Sig(t, "attacker"))}, status: 422, code: schemas.CodeUntrustedChain},
		{name: "revoked", sigs: []schemas.Signature{cades("text", p.Sig(t, "revoked")), cades("text", p.Sig(t, "ec256"))},
			status: 422, code: schemas.CodeCertificateRevoked},
		{name: "the second of two", sigs: []schemas.Signature{cades("text", p.Sig(t, "ec256")), cades("text", p.Sig(t, "expired"))},
			status: 422, code: schemas.CodeCertificateExpired, at: "/signatures/1"},
		{name: "required, unsigned", token: strictToken, status: 422, code: schemas.CodeSignatureRequired, at: "/text"},
		{name: "required, xades only", token: strictToken, sigs: []schemas.Signature{{Of: "text", Format: schemas.SignatureXAdESEnveloped, Value: []byte("<x/>")}},
			status: 422, code: schemas.CodeSignatureRequired, at: "/text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			if token == "" {
				token = env.Token
			}
			resp := submit(t, token, signedSubmission(t, doc, nil, tt.sigs, jsonCode), tt.status, tt.code)
			_, pointers := resp.Problem()
			at := tt.at
			if at == "" {
				at = "/signatures/0"
			}
			require.Equal(t, []string{at}, pointers)
			require.Equal(t, before, stored(t), "nothing stored")
		})
	}

	t.Run("optional: unsigned is accepted", func(t *testing.T) {
		r := decodeReceipt(t, submit(t, env.Token, signedSubmission(t, doc, nil, nil, jsonCode), http.StatusAccepted, "").Body)
		require.Empty(t, readCase(t, env.Token, r.ID).Signatures)
	})
	t.Run("required and signed, for the strict client", func(t *testing.T) {
		r := decodeReceipt(t, submit(t, strictToken, signedSubmission(t, doc, nil, []schemas.Signature{cades("text", p.Sig(t, "ec384"))}, jsonCode),
			http.StatusAccepted, "").Body)
		facts := readCase(t, strictToken, r.ID).Signatures
		require.Len(t, facts, 1)
		require.Equal(t, "3456789012", facts[0].Signer.TaxNumber)
	})
	t.Run("off: a broken signature is accepted, unverified, and delivered unchanged", func(t *testing.T) {
		broken := p.Sig(t, "ec256-doc2")
		lax := signedSubmission(t, doc, nil, []schemas.Signature{cades("text", broken)}, jsonCode)
		r := decodeReceipt(t, submit(t, laxToken, lax, http.StatusAccepted, "").Body)
		env.WaitSettled(t, time.Minute)
		c := readCase(t, laxToken, r.ID)
		require.Empty(t, c.Signatures)
		envelope, err := jsondoc.DecodeDocument(jsonSys.document(t, c.Deliveries[0].ID, ".json"))
		require.NoError(t, err)
		require.Equal(t, lax, []byte(envelope.Submission))
		require.Empty(t, envelope.VerifiedSignatures)
	})
}

// TestSignaturesRevocationAndExternalVerifier: a hub that requires CRLs and asks an external
// verifier for DSTU 4145 signatures. Without a current CRL the answer is 503 revocation_unknown;
// the external verifier's signer is stored; an external verifier that fails makes the answer 503
// service_unavailable. Nothing is stored on a 503.
func TestSignaturesRevocationAndExternalVerifier(t *testing.T) {
	t.Parallel()
	p := signaturetest.New(t)
	var failing atomic.Bool
	external := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, "verifier down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"valid":true,"signer":{"subject":"CN=Підписувач,C=UA","issuer":"CN=КНЕДП,C=UA","serial_number":"5e9a",
			"not_before":"2026-01-01T00:00:00Z","not_after":"2036-01-01T00:00:00Z","tax_number":"1234567890",
			"digest_algorithm":"gost34311","signature_algorithm":"dstu4145",
			"certificate_sha256":"f798f35ba399b8df746f81973966cc5e1170a11e78faf7a14a73e35a271f2f73","revocation":"good"}}`))
	}))
	t.Cleanup(external.Close)
	const authority = "31000003"
	sys := newStoringSystem(t, sandbox.FormatJSON)
	env := hubtest.NewEnv(t, map[string]string{authority: sys.srv.URL + "/documents/" + authority}, func(c *config.Config) {
		c.Signatures.TrustDir = p.Path("trust-inter") // no CRLs
		c.Signatures.RequireCRL = true
		c.Signatures.External.URL = external.URL
		c.Signatures.Policy.Appeal = config.SignaturePolicyOptional
	})
	hub := env.Start(t)
	api := newAPICheck(t, loadOpenAPI(t), hub.URL)
	doc := string(p.Doc(t))
	submit := func(t *testing.T, key string, sig []byte, status int, code schemas.Code) hubtest.Response {
		t.Helper()
		return api.do(t, call{method: http.MethodPost, path: "/v1/appeals", token: env.Token, status: status, code: code,
			header: map[string]string{"Content-Type": "application/json", "Idempotency-Key": key},
			body:   signedSubmission(t, doc, nil, []schemas.Signature{cades("text", sig)}, authority)})
	}
	dstu := signaturetest.RelabelDSTU(t, p.Sig(t, "ec256"))

	resp := submit(t, "crl", p.Sig(t, "ec256"), http.StatusServiceUnavailable, schemas.CodeRevocationUnknown)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	failing.Store(true)
	submit(t, "down", dstu, http.StatusServiceUnavailable, schemas.CodeServiceUnavailable)
	totals, err := env.Store.Totals(context.Background())
	require.NoError(t, err)
	require.Zero(t, totals.Appeals, "nothing stored")

	failing.Store(false)
	r := decodeReceipt(t, submit(t, "down", dstu, http.StatusAccepted, "").Body) // the portal's retry
	c := decodeCase(t, api.do(t, call{method: http.MethodGet, path: "/v1/appeals/" + r.ID, token: env.Token, status: http.StatusOK}).Body)
	require.Len(t, c.Signatures, 1)
	require.Equal(t, "dstu4145", c.Signatures[0].Signer.SignatureAlgorithm)
	require.Equal(t, "1234567890", c.Signatures[0].Signer.TaxNumber)
	env.WaitSettled(t, time.Minute)
	envelope, err := jsondoc.DecodeDocument(sys.document(t, c.Deliveries[0].ID, ".json"))
	require.NoError(t, err)
	require.Equal(t, c.Signatures, envelope.VerifiedSignatures)
	require.True(t, bytes.Contains(envelope.Submission, []byte(base64.StdEncoding.EncodeToString(dstu))), "the signature as received")
}

// TestSignatureTrustDirectoryReloads: CRLs an operator puts into the trust directory take effect
// without a restart, within signatures.reload_interval.
func TestSignatureTrustDirectoryReloads(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	trust := t.TempDir()
	copyFile := func(name string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(trust, name), p.Read(t, "trust/"+name), 0o600))
	}
	copyFile("root.pem") // no CRLs yet
	const authority = "31000011"
	sys := newStoringSystem(t, sandbox.FormatJSON)
	env := hubtest.NewEnv(t, map[string]string{authority: sys.srv.URL + "/documents/" + authority}, func(c *config.Config) {
		c.Signatures.TrustDir = trust
		c.Signatures.RequireCRL = true
		c.Signatures.ReloadInterval = 50 * time.Millisecond
		c.Signatures.Policy.Appeal = config.SignaturePolicyRequired
	})
	hub := env.Start(t)
	body := signedSubmission(t, string(p.Doc(t)), nil, []schemas.Signature{cades("text", p.Sig(t, "ec256"))}, authority)
	submit := func(key string) hubtest.Response {
		t.Helper()
		resp, err := env.Submit(context.Background(), hub.URL, key, body)
		require.NoError(t, err)
		return resp
	}
	resp := submit("before")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, string(resp.Body))
	code, _ := resp.Problem()
	require.Equal(t, string(schemas.CodeRevocationUnknown), code)

	copyFile("root.crl")
	copyFile("inter.crl")
	require.Eventually(t, func() bool { return submit("after").Status == http.StatusAccepted }, 10*time.Second, 50*time.Millisecond,
		"the CRLs never took effect")
}
