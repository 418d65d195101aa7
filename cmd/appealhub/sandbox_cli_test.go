package main

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
	"appealhub/adapters/sev1207"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// TestSandboxCommandSEV1207: `appealhub sandbox --format sev1207 --store DIR` serves 1207 documents,
// keeps them as files, shows them in its ledger and stops cleanly on cancel.
func TestSandboxCommandSEV1207(t *testing.T) {
	t.Parallel()
	addr, dir := freeAddr(t), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sandbox", "--format", "sev1207", "--listen", addr, "--store", dir, "--name", "cli",
			"--token", "tok", "--log-level", "warn"}, &out, &errOut)
	}()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	require.Eventually(t, func() bool {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)

	ad := sev1207.New(sev1207.Config{HubCode: sandbox.DefaultHubCode, HubSystemID: sandbox.DefaultHubSystemID})
	sub := schemas.Submission{CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealProposal,
		Applicant: schemas.Applicant{Surname: "Тестенко", Name: "Марія"}, Subject: "s", Text: "t"}
	body, err := ad.Encode(adapters.Document{DeliveryID: "d-1", AppealID: "a-1", TrackingNumber: "ZV-1", Authority: "11000001",
		Attempt: 1, ReceivedAt: time.Now(), Submission: sub})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/documents/11000001", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Idempotency-Key", "d-1")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	resp, err = client.Get("http://" + addr + "/ledger")
	require.NoError(t, err)
	var l sandbox.Ledger
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&l))
	_ = resp.Body.Close()
	require.Equal(t, "sev1207", l.Format)
	require.Equal(t, 1, l.Documents)
	require.Equal(t, "cli-1", l.Entries[0].RegistrationNumber)
	stored, err := os.ReadFile(filepath.Join(dir, "d-1.xml"))
	require.NoError(t, err)
	require.Equal(t, body, stored)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop on cancel")
	}
}

// TestSandboxCommandRefusesBadFlags: invalid flags are reported at once, every one of them.
func TestSandboxCommandRefusesBadFlags(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"sandbox", "--format", "xml", "--mode", "pull", "--refuse-rate", "2",
		"--listen", freeAddr(t)}, &out, &errOut)
	require.Equal(t, 1, code)
	for _, want := range []string{"format", "refuse_rate", "pull needs hub and code"} {
		require.Contains(t, errOut.String(), want)
	}
}
