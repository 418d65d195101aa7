package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/receipt"
	"appealhub/internal/receipt/receipttest"
	"appealhub/schemas"
)

// signedReceipt signs receipt content for ZV-2026-00000042 with a new identity and returns the
// identity's files and the DER CMS.
func signedReceipt(t *testing.T) (receipt.IdentityFiles, []byte) {
	t.Helper()
	files, err := receipt.GenerateIdentity(t.TempDir(), "Appeal Hub CLI test")
	require.NoError(t, err)
	id, err := receipt.LoadIdentity(files.Key, files.Certificate)
	require.NoError(t, err)
	content, err := receipt.Canonical(receipt.Content{Format: receipt.Format, ID: "0191d7a8-0000-7000-8000-000000000001",
		Evidence: schemas.EvidenceSubmissionAcceptance, Hub: receipt.Hub{Code: "00000000", Name: "Appeal Hub", SystemID: "APPEALHUB"},
		IssuedAt: "2026-03-02T09:30:01.000000Z", EventTime: "2026-03-02T09:30:00.000000Z",
		AppealID: "0191d7a8-0000-7000-8000-000000000002", TrackingNumber: "ZV-2026-00000042",
		Chain: receipt.ChainRef{Pos: 1, Seq: 1, Hash: "00"}, SubmissionSHA256: "ff",
		Documents: []receipt.Document{{ID: "text", SHA256: "aa", Size: 3}}})
	require.NoError(t, err)
	cms, err := id.Sign(content, time.Now(), false)
	require.NoError(t, err)
	return files, cms
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func TestReceiptVerify(t *testing.T) {
	files, cms := signedReceipt(t)
	der := writeTemp(t, "r.p7s", cms)
	pemFile := writeTemp(t, "r.pem", pem.EncodeToMemory(&pem.Block{Type: "CMS", Bytes: cms}))

	for _, file := range []string{der, pemFile} {
		out, errOut, code := runCLI(t, nil, "receipt", "verify", file, "--ca", files.CA)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "{\n  \"appeal_id\": \"0191d7a8-0000-7000-8000-000000000002\",\n", "the content, indented")
		require.Contains(t, out, `"tracking_number": "ZV-2026-00000042"`)
		require.Regexp(t, `\nvalid: submission_acceptance receipt 0191d7a8-0000-7000-8000-000000000001 of ZV-2026-00000042, `+
			`signed by CN=Appeal Hub CLI test receipts,O=Appeal Hub CLI test \(certificate SHA-256 [0-9a-f]{64}\) at \S+Z\n$`, out)
	}

	// Without --ca the CA comes from the configured identity.certificate (the hub's chain file).
	out, errOut, code := runCLI(t, nil, "receipt", "verify", der, "--identity-certificate", files.Certificate)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "\nvalid: ")

	// A changed receipt: invalid, for OpenSSL too.
	tampered := receipttest.Tamper(t, cms, "ZV-2026-00000042", "ZV-2026-00000043")
	_, err := receipttest.OpenSSLVerify(t, tampered, files.CA)
	require.Error(t, err)
	out, errOut, code = runCLI(t, nil, "receipt", "verify", writeTemp(t, "t.p7s", tampered), "--ca", files.CA)
	require.Equal(t, 1, code)
	require.Regexp(t, `^invalid: invalid receipt: .*digest_mismatch`, out)
	require.NotContains(t, out, "ZV-2026-00000043", "nothing unverified is printed")
	require.Contains(t, errOut, "the receipt is invalid")

	// Another hub's CA; a time before the certificate; a file that is no CMS.
	other, err := receipt.GenerateIdentity(t.TempDir(), "Other")
	require.NoError(t, err)
	for _, args := range [][]string{
		{der, "--ca", other.CA},
		{der, "--ca", files.CA, "--at", "2020-01-01T00:00:00Z"},
		{writeTemp(t, "x.p7s", []byte("not a receipt")), "--ca", files.CA},
	} {
		out, _, code := runCLI(t, nil, append([]string{"receipt", "verify"}, args...)...)
		require.Equal(t, 1, code, args)
		require.Contains(t, out, "invalid: ", args)
	}

	// Operator mistakes are errors, not verdicts.
	for _, args := range [][]string{
		{der},                            // no CA at all
		{der, "--ca", files.Certificate}, // the hub's own certificate is no CA
		{filepath.Join(t.TempDir(), "missing.p7s"), "--ca", files.CA},
		{der, "--ca", files.CA, "--at", "yesterday"},
	} {
		out, errOut, code := runCLI(t, map[string]string{"APPEALHUB_IDENTITY_CERTIFICATE": ""}, append([]string{"receipt", "verify"}, args...)...)
		require.Equal(t, 1, code, args)
		require.Empty(t, out, args)
		require.NotEmpty(t, errOut, args)
	}
}

// TestServedHubReceiptsAndCheckpointsVerifyOffline: a running hub with an identity signs the
// acceptance of a submission and its chain checkpoints; `receipt verify` accepts the receipt the
// portal fetched, and `audit verify --ca` checks the checkpoints' signatures.
func TestServedHubReceiptsAndCheckpointsVerifyOffline(t *testing.T) {
	const code = "12000001"
	env := hubtest.NewEnv(t, map[string]string{code: "http://127.0.0.1:1/documents"}, func(c *config.Config) {
		c.Audit.SealInterval = 10 * time.Millisecond
		c.Audit.CheckpointInterval = 10 * time.Millisecond
	})
	hub := env.Start(t)
	accepted := env.MustSubmit(t, hub.URL, "receipt-cli-1", hubtest.Submission(1, 1024, code))

	var page struct {
		Receipts []schemas.SignedReceipt `json:"receipts"`
	}
	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); len(page.Receipts) == 0; time.Sleep(10 * time.Millisecond) {
		resp, err := hubtest.Do(ctx, http.MethodGet, hub.URL+"/v1/appeals/"+accepted.ID+"/receipts", env.Token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status)
		require.NoError(t, json.Unmarshal(resp.Body, &page))
		require.False(t, time.Now().After(deadline), "no receipt")
	}
	resp, err := hubtest.Do(ctx, http.MethodGet, hub.URL+"/v1/appeals/"+accepted.ID+"/receipts/"+page.Receipts[0].ID, env.Token,
		http.Header{"Accept": {"application/pkcs7-mime"}}, nil)
	require.NoError(t, err)
	out, errOut, exit := runCLI(t, nil, "receipt", "verify", writeTemp(t, "acceptance.p7s", resp.Body), "--ca", env.Identity.CA)
	require.Equal(t, 0, exit, errOut)
	require.Contains(t, out, "\nvalid: submission_acceptance receipt "+page.Receipts[0].ID+" of "+accepted.TrackingNumber+", ")

	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		st, err := env.Store.ChainStatus(ctx)
		require.NoError(t, err)
		if st.LastCheckpoint != nil {
			require.NotNil(t, st.LastCheckpoint.Signature, "the hub signs its checkpoints")
			require.Contains(t, st.LastCheckpoint.Signer, receipt.CheckpointSignerPrefix)
			break
		}
		require.False(t, time.Now().After(deadline), "no checkpoint")
	}
	db := []string{"--database-url", env.Config.Database.URL, "--database-schema", env.Config.Database.Schema}
	out, errOut, exit = runCLI(t, nil, append([]string{"audit", "verify", "--ca", env.Identity.CA}, db...)...)
	require.Equal(t, 0, exit, errOut)
	require.Regexp(t, `checkpoints: (\d+) \(\d+ signatures verified, 0 not checked, 0 unsigned\)\nintact\n`, out)
	require.NotContains(t, out, "(0 signatures verified")

	other, err := receipt.GenerateIdentity(t.TempDir(), "Other")
	require.NoError(t, err)
	out, _, exit = runCLI(t, nil, append([]string{"audit", "verify", "--ca", other.CA}, db...)...)
	require.Equal(t, 1, exit)
	require.Contains(t, out, "signature_invalid")
}
