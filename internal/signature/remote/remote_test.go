package remote_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/internal/signature"
	"appealhub/internal/signature/remote"
	"appealhub/internal/signature/signaturetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { signaturetest.Cleanup() }),
		// net/http keep-alive goroutines wind down asynchronously after the test servers close.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// validAnswer is a verifier's answer for a good DSTU 4145 signature.
const validAnswer = `{"valid":true,"signer":{"subject":"SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA",
	"issuer":"CN=КНЕДП Тест,C=UA","serial_number":"5e9a","not_before":"2026-01-01T00:00:00Z","not_after":"2028-01-01T00:00:00Z",
	"tax_number":"1234567890","digest_algorithm":"gost34311","signature_algorithm":"dstu4145",
	"certificate_sha256":"f798f35ba399b8df746f81973966cc5e1170a11e78faf7a14a73e35a271f2f73",
	"claimed_signing_time":"2026-03-01T11:59:58Z","revocation":"good","ocsp":"ignored member"}}`

// verifier is an httptest external verifier answering with status, contentType and body, and
// recording the last request body.
type verifier struct {
	srv  *httptest.Server
	last chan []byte
}

func newVerifier(t *testing.T, status int, contentType, body string) *verifier {
	t.Helper()
	v := &verifier{last: make(chan []byte, 1)}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			raw = nil
		}
		select {
		case v.last <- raw:
		default:
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing: no Content-Type at all
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func client(t *testing.T, url string, timeout time.Duration) *remote.Client {
	t.Helper()
	c, err := remote.New(remote.Config{URL: url, Timeout: timeout})
	require.NoError(t, err)
	return c
}

// TestVerifyValid sends the protocol's request and returns the verifier's signer facts.
func TestVerifyValid(t *testing.T) {
	t.Parallel()
	v := newVerifier(t, http.StatusOK, "application/json; charset=utf-8", validAnswer)
	sig, content := []byte{0x30, 0x03, 0x02, 0x01, 0x01}, []byte("Звернення\r\n")
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.FixedZone("Kyiv", 2*3600))
	s, err := client(t, v.srv.URL, 0).Verify(context.Background(), sig, content, at)
	require.NoError(t, err)
	require.Equal(t, "dstu4145", s.SignatureAlgorithm)
	require.Equal(t, "gost34311", s.DigestAlgorithm)
	require.Equal(t, "1234567890", s.TaxNumber)
	require.Equal(t, signature.RevocationGood, s.Revocation)
	require.Equal(t, time.Date(2026, 3, 1, 11, 59, 58, 0, time.UTC), s.ClaimedSigningTime.UTC())

	var req map[string]string
	require.NoError(t, json.Unmarshal(<-v.last, &req))
	sum := sha256.Sum256(content)
	require.Equal(t, map[string]string{
		"signature":      base64.StdEncoding.EncodeToString(sig),
		"content":        base64.StdEncoding.EncodeToString(content),
		"content_sha256": hex.EncodeToString(sum[:]),
		"received_at":    "2026-03-01T10:00:00.123456Z",
	}, req)
}

// TestVerifyRefusals passes every refusal code on as a *signature.Error.
func TestVerifyRefusals(t *testing.T) {
	t.Parallel()
	for _, code := range signature.Codes() {
		t.Run(string(code), func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, http.StatusOK, "application/json", `{"valid":false,"code":"`+string(code)+`","reason":"checked by OCSP\u0007"}`)
			_, err := client(t, v.srv.URL, 0).Verify(context.Background(), []byte{1}, []byte("doc"), time.Now())
			e, ok := errors.AsType[*signature.Error](err)
			require.True(t, ok, "a refusal, got %v", err)
			require.Equal(t, code, e.Code)
			require.Equal(t, "refused by the external verifier: checked by OCSP", e.Reason, "control characters dropped")
			require.NotErrorIs(t, err, remote.ErrNoAnswer)
		})
	}
	v := newVerifier(t, http.StatusOK, "", `{"valid":false,"code":"untrusted_chain","reason":"`+strings.Repeat("я", 500)+`"}`)
	_, err := client(t, v.srv.URL, 0).Verify(context.Background(), []byte{1}, []byte("doc"), time.Now())
	e, ok := errors.AsType[*signature.Error](err)
	require.True(t, ok, "no Content-Type is taken as JSON: %v", err)
	require.Less(t, len([]rune(e.Reason)), 240, "the reason is clipped")
}

// TestVerifyNoAnswer: a verifier that is down, slow, failing or speaking another protocol is not a
// refusal.
func TestVerifyNoAnswer(t *testing.T) {
	t.Parallel()
	signer := func(change string) string {
		return `{"valid":true,"signer":{` + change + `}}`
	}
	complete := `"subject":"CN=A","issuer":"CN=B","serial_number":"1","not_before":"2026-01-01T00:00:00Z","not_after":"2028-01-01T00:00:00Z",` +
		`"digest_algorithm":"gost34311","signature_algorithm":"dstu4145","certificate_sha256":"` + strings.Repeat("ab", 32) + `"`
	tests := []struct {
		name, contentType, body string
		status                  int
	}{
		{name: "500", status: http.StatusInternalServerError, contentType: "application/json", body: `{"valid":false,"code":"untrusted_chain"}`},
		{name: "404", status: http.StatusNotFound, body: "not found"},
		{name: "not JSON", status: http.StatusOK, contentType: "application/json", body: "<valid/>"},
		{name: "HTML media type", status: http.StatusOK, contentType: "text/html", body: validAnswer},
		{name: "no valid member", status: http.StatusOK, contentType: "application/json", body: `{"code":"untrusted_chain"}`},
		{name: "valid is a string", status: http.StatusOK, contentType: "application/json", body: `{"valid":"yes"}`},
		{name: "unknown code", status: http.StatusOK, contentType: "application/json", body: `{"valid":false,"code":"expired"}`},
		{name: "no code", status: http.StatusOK, contentType: "application/json", body: `{"valid":false}`},
		{name: "valid without signer", status: http.StatusOK, contentType: "application/json", body: `{"valid":true}`},
		{name: "signer without subject", status: http.StatusOK, contentType: "application/json",
			body: signer(strings.Replace(complete, `"subject":"CN=A",`, "", 1) + `,"revocation":"good"`)},
		{name: "signer without dates", status: http.StatusOK, contentType: "application/json",
			body: signer(strings.Replace(complete, `"not_before":"2026-01-01T00:00:00Z",`, "", 1) + `,"revocation":"good"`)},
		{name: "bad certificate hash", status: http.StatusOK, contentType: "application/json",
			body: signer(strings.Replace(complete, strings.Repeat("ab", 32), "ab", 1) + `,"revocation":"good"`)},
		{name: "unknown revocation state", status: http.StatusOK, contentType: "application/json",
			body: signer(complete + `,"revocation":"ocsp-good"`)},
		{name: "answer too large", status: http.StatusOK, contentType: "application/json",
			body: `{"valid":false,"code":"untrusted_chain","reason":"` + strings.Repeat("x", remote.MaxAnswerBytes) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, tt.status, tt.contentType, tt.body)
			_, err := client(t, v.srv.URL, 0).Verify(context.Background(), []byte{1}, []byte("doc"), time.Now())
			require.ErrorIs(t, err, remote.ErrNoAnswer)
			_, refused := errors.AsType[*signature.Error](err)
			require.False(t, refused, "not a refusal: %v", err)
			t.Log(err)
		})
	}
	// The complete signer is an answer: the cases above fail for their one defect.
	v := newVerifier(t, http.StatusOK, "application/json", signer(complete+`,"revocation":"unchecked"`))
	s, err := client(t, v.srv.URL, 0).Verify(context.Background(), []byte{1}, []byte("doc"), time.Now())
	require.NoError(t, err)
	require.Equal(t, signature.RevocationUnchecked, s.Revocation)
}

// TestVerifyTimeoutAndUnreachable: no answer within the timeout, or nobody listening.
func TestVerifyTimeoutAndUnreachable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	_, err := client(t, slow.URL, 20*time.Millisecond).Verify(context.Background(), []byte{1}, []byte("doc"), time.Now())
	require.ErrorIs(t, err, remote.ErrNoAnswer)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	_, err = client(t, url, 0).Verify(context.Background(), []byte{1}, []byte("doc"), time.Now())
	require.ErrorIs(t, err, remote.ErrNoAnswer)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = client(t, slow.URL, 0).Verify(ctx, []byte{1}, []byte("doc"), time.Now())
	require.ErrorIs(t, err, context.Canceled)
}

func TestNewRefusesBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "verifier.internal:8443", "ftp://verifier.internal/", "http://"} {
		_, err := remote.New(remote.Config{URL: u})
		require.Error(t, err, u)
	}
}

// TestVerifierUsesRemote: a DSTU signature reaches the remote verifier through signature.Verifier,
// with the detached content, and its answer comes back.
func TestVerifierUsesRemote(t *testing.T) {
	t.Parallel()
	p := signaturetest.Shared(t)
	v := newVerifier(t, http.StatusOK, "application/json", validAnswer)
	ver, err := signature.New(signature.Config{TrustDir: p.Path("trust"), External: client(t, v.srv.URL, 0)})
	require.NoError(t, err)
	dstu := signaturetest.RelabelDSTU(t, p.Sig(t, "ec256"))
	s, err := ver.Verify(context.Background(), dstu, p.Doc(t), time.Now())
	require.NoError(t, err)
	require.Equal(t, "dstu4145", s.SignatureAlgorithm)
	var req struct {
		Signature, Content []byte
	}
	require.NoError(t, json.Unmarshal(<-v.last, &req))
	require.Equal(t, dstu, req.Signature)
	require.Equal(t, p.Doc(t), req.Content)
}
