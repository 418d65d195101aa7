package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/adapters/sev1207"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// sevAdapter is the hub's 1207 adapter with the hub identity the sandbox assumes by default.
var sevAdapter = sev1207.New(sev1207.Config{HubCode: sandbox.DefaultHubCode, HubSystemID: sandbox.DefaultHubSystemID})

func testDocument(id, authority string) adapters.Document {
	sub := schemas.Submission{
		CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealApplication,
		Applicant: schemas.Applicant{Surname: "Коваленко", Name: "Олена"},
		Subject:   "s", Text: secretText,
	}
	raw, _ := json.Marshal(sub)
	return adapters.Document{DeliveryID: id, AppealID: "appeal-" + id, TrackingNumber: "ZV-2026-" + id, Authority: authority,
		Attempt: 1, ReceivedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Submission: sub, Raw: raw}
}

// formatAdapter returns the hub's adapter of a format.
func formatAdapter(format string) adapters.Adapter {
	if format == sandbox.FormatSEV1207 {
		return sevAdapter
	}
	return jsondoc.New()
}

func encodeDoc(t testing.TB, format, id, authority string) []byte {
	t.Helper()
	body, err := formatAdapter(format).Encode(testDocument(id, authority))
	require.NoError(t, err)
	return body
}

func (b *testBundle) postAs(t testing.TB, format, key string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.server.URL+"/documents/66784279", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", formatAdapter(format).MediaType())
	req.Header.Set("Idempotency-Key", key)
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, err = out.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp, out.Bytes(), nil
}

// TestSEV1207Push: a 1207 sandbox reads the hub's 1207 documents, answers with a notice the hub's
// adapter decodes (registered at once, as no messages follow), keeps them as .xml files, and
// refuses a JSON document.
func TestSEV1207Push(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := setup(t, sandbox.Options{Name: "sev", Format: sandbox.FormatSEV1207, StoreDir: dir})

	body := encodeDoc(t, sandbox.FormatSEV1207, "d-1", "66784279")
	resp, reply, err := b.postAs(t, sandbox.FormatSEV1207, "d-1", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, sev1207.MediaType, resp.Header.Get("Content-Type"))
	rep, err := sevAdapter.DecodeReply(resp.Header.Get("Content-Type"), reply)
	require.NoError(t, err)
	require.True(t, rep.Delivered)
	require.Equal(t, "sev-1", rep.RegistrationNumber)
	require.NotNil(t, rep.RegisteredAt)
	msgs, err := sevAdapter.DecodeMessage(reply)
	require.NoError(t, err)
	require.Equal(t, "d-1", msgs[0].Of, "the notice acknowledges the hub's msg_id")

	resp, again, err := b.postAs(t, sandbox.FormatSEV1207, "d-1", body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, reply, again, "a repeat gets the same answer")

	resp, _, err = b.postAs(t, sandbox.FormatJSON, "d-2", encodeDoc(t, sandbox.FormatJSON, "d-2", "66784279"))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	resp, _, err = b.postAs(t, sandbox.FormatSEV1207, "d-2", encodeDoc(t, sandbox.FormatJSON, "d-2", "66784279"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "JSON labelled as XML")
	resp, _, err = b.postAs(t, sandbox.FormatSEV1207, "d-3", encodeDoc(t, sandbox.FormatSEV1207, "d-2", "66784279"))
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "key mismatch")

	l := b.sandbox.Ledger()
	require.Equal(t, 1, l.Documents)
	require.Equal(t, sandbox.FormatSEV1207, l.Format)
	require.Equal(t, sandbox.ModePush, l.Mode)
	require.Equal(t, 2, l.Entries[0].Received)
	require.Equal(t, "ZV-2026-d-1", l.Entries[0].TrackingNumber)
	stored, err := os.ReadFile(filepath.Join(dir, "d-1.xml"))
	require.NoError(t, err)
	require.Equal(t, body, stored, "stored byte for byte")
}

// TestHang: a hanging sandbox records nothing and answers nothing until the client gives up.
func TestHang(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Hang: true})
	impatient := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(impatient.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodPost, b.server.URL+"/documents", bytes.NewReader(document(t, "d-1", "66784279")))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "d-1")
	start := time.Now()
	_, err = impatient.Do(req)
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	l := b.sandbox.Ledger()
	require.Zero(t, l.Documents)
	require.Equal(t, 1, l.Hung)

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{}))
	require.Equal(t, http.StatusCreated, b.mustPost(t, "d-1", "66784279").status, "healthy again")
}

// TestMalformedReplies: the document is recorded, the 2xx reply decodes in neither format.
func TestMalformedReplies(t *testing.T) {
	t.Parallel()
	for _, format := range []string{sandbox.FormatJSON, sandbox.FormatSEV1207} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			b := setup(t, sandbox.Options{Format: format, MalformedRate: 1})
			resp, reply, err := b.postAs(t, format, "d-1", encodeDoc(t, format, "d-1", "66784279"))
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			_, err = formatAdapter(format).DecodeReply(resp.Header.Get("Content-Type"), reply)
			require.Error(t, err)
			l := b.sandbox.Ledger()
			require.Equal(t, 1, l.Documents)
			require.Equal(t, 1, l.Malformed)
		})
	}
}

// TestIgnoreIdempotency: the broken mode takes a repeated key as a second document, with its own
// registration number and file.
func TestIgnoreIdempotency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := setup(t, sandbox.Options{IgnoreIdempotency: true, StoreDir: dir})
	first := b.mustPost(t, "d-1", "66784279")
	second := b.mustPost(t, "d-1", "66784279")
	require.Equal(t, http.StatusCreated, first.status)
	require.Equal(t, http.StatusCreated, second.status, "taken as new")
	require.NotEqual(t, first.body, second.body)
	l := b.sandbox.Ledger()
	require.Equal(t, 2, l.Documents)
	require.Equal(t, "sandbox-1", l.Entries[0].RegistrationNumber)
	require.Equal(t, "sandbox-2", l.Entries[1].RegistrationNumber)
	for _, name := range []string{"d-1.json", "d-1.2.json"} {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
	}
}

func TestNewOptionsValidation(t *testing.T) {
	t.Parallel()
	_, err := sandbox.New(sandbox.Options{Format: "csv", Mode: "carrier", Hub: "ftp://x", Code: "12",
		RefuseRate: 2, MalformedRate: -1, RegisterAfter: -time.Second, AnswerAfter: -time.Second, Poll: -time.Second}, nil)
	require.Error(t, err)
	for _, field := range []string{"format", "mode", "hub", "code", "refuse_rate", "malformed_rate", "register_after",
		"answer_after", "poll"} {
		require.ErrorContains(t, err, field+":", "every problem is reported")
	}
	_, err = sandbox.New(sandbox.Options{Mode: sandbox.ModePull}, nil)
	require.ErrorContains(t, err, "pull needs hub and code")

	sb, err := sandbox.New(sandbox.Options{Format: sandbox.FormatSEV1207}, nil)
	require.NoError(t, err)
	require.NoError(t, sb.SetOptions(sandbox.Options{Format: sandbox.FormatJSON, Hang: true}))
	require.Equal(t, sandbox.FormatSEV1207, sb.Ledger().Format, "the format is fixed by New")
	require.NoError(t, sb.Close())
	require.NoError(t, sb.Close(), "Close is idempotent")
}
