package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/receipt"
	"appealhub/internal/receipt/receipttest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// TestSignedReceipts: two hub processes with a signing identity; a submission is accepted,
// delivered to a sandbox office and registered by it. The portal finds exactly three receipts
// (acceptance, delivery, registration), each verified by the openssl binary with the hub's CA
// and stating what the case shows; one byte changed, OpenSSL refuses it; another portal sees
// none of them.
func TestSignedReceipts(t *testing.T) {
	t.Parallel()
	const code, systemToken, otherToken = "14000001", "system-token", "other-portal-token"
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	env := hubtest.NewEnv(t, map[string]string{code: "http://" + srv.Listener.Addr().String() + "/documents/" + code}, func(c *config.Config) {
		c.Audit.SealInterval = 10 * time.Millisecond
		c.Clients = append(c.Clients,
			config.Client{ID: "sandbox-system", Kind: config.ClientAuthority, Authority: code, TokenSHA256: sha256Hex(systemToken)},
			config.Client{ID: "other-portal", Kind: config.ClientPortal, TokenSHA256: sha256Hex(otherToken)})
	})
	hub := env.Start(t)
	env.Start(t) // a second process: its notary competes for the same events
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	sb, err := sandbox.New(sandbox.Options{Name: "office", Hub: hub.URL, Code: code, HubToken: systemToken,
		RegisterAfter: 20 * time.Millisecond, AnswerAfter: time.Hour}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	srv.Config.Handler = sb
	srv.Start()
	t.Cleanup(func() { require.NoError(t, sb.Close()) })

	body := hubtest.Submission(1, 1024, code)
	accepted := env.MustSubmit(t, hub.URL, "receipts-1", body)
	list := "/v1/appeals/" + accepted.ID + "/receipts"
	var page struct {
		Receipts []schemas.SignedReceipt `json:"receipts"`
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+list, env.Token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.NoError(t, json.Unmarshal(resp.Body, &page))
		require.LessOrEqual(t, len(page.Receipts), 3, "one receipt per event: %s", resp.Body)
		if len(page.Receipts) == 3 {
			break
		}
		if time.Now().After(deadline) {
			c, _ := env.Store.Case(context.Background(), "portal-test", accepted.ID)
			unsealed, _ := env.Store.UnsealedEvents(context.Background())
			cursor, _ := env.Store.ReceiptCursor(context.Background())
			t.Fatalf("%d of 3 receipts; case %+v; %d events unsealed; receipt cursor at %d", len(page.Receipts), c, unsealed, cursor)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+accepted.ID, env.Token, nil, nil)
	require.NoError(t, err)
	c := decodeCase(t, resp.Body)
	require.Len(t, c.Deliveries, 1)
	d := c.Deliveries[0]
	require.NotEmpty(t, d.RegistrationNumber)

	verifier, err := receipt.NewVerifierFromFile(env.Identity.CA)
	require.NoError(t, err)
	want := []schemas.EvidenceType{schemas.EvidenceSubmissionAcceptance, schemas.EvidenceDelivery, schemas.EvidenceRegistration}
	for i, r := range page.Receipts {
		require.Equal(t, want[i], r.Type)
		printed, err := receipttest.OpenSSLVerify(t, r.CMS, env.Identity.CA)
		require.NoError(t, err, "openssl cms -verify the %s receipt", r.Type)
		require.JSONEq(t, string(r.Content), string(printed), "OpenSSL prints the content the API shows")
		v, err := verifier.Verify(context.Background(), r.CMS, time.Time{})
		require.NoError(t, err)
		content := v.Receipt
		require.Equal(t, r.ID, content.ID)
		require.Equal(t, r.Type, content.Evidence)
		require.Equal(t, accepted.ID, content.AppealID)
		require.Equal(t, accepted.TrackingNumber, content.TrackingNumber)
		require.Equal(t, receipt.Hub{Code: env.Config.Identity.Code, Name: env.Config.Identity.Name, SystemID: env.Config.Identity.SystemID}, content.Hub)
		switch r.Type {
		case schemas.EvidenceSubmissionAcceptance:
			require.Equal(t, sha256Hex(string(body)), content.SubmissionSHA256)
			require.Equal(t, accepted.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000000Z"), content.EventTime)
			require.Len(t, content.Documents, 1)
			require.Equal(t, "text", content.Documents[0].ID)
		case schemas.EvidenceDelivery:
			require.Equal(t, d.ID, content.DeliveryID)
			require.Equal(t, code, content.Authority)
			require.Equal(t, d.DeliveredAt.UTC().Format("2006-01-02T15:04:05.000000Z"), content.EventTime)
		case schemas.EvidenceRegistration:
			require.Equal(t, d.ID, content.DeliveryID)
			require.Equal(t, d.RegistrationNumber, content.Registration.Number)
			require.NotEmpty(t, content.Registration.MessageID)
		}

		// The same receipt, one at a time: JSON, or the raw DER.
		one := list + "/" + r.ID
		resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+one, env.Token,
			http.Header{"Accept": {"application/pkcs7-mime"}}, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Equal(t, r.CMS, resp.Body)
		// Another portal cannot tell the receipts exist.
		for _, path := range []string{list, one} {
			resp, err = hubtest.Do(context.Background(), http.MethodGet, hub.URL+path, otherToken, nil, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusNotFound, resp.Status, path)
			code, _ := resp.Problem()
			require.Equal(t, string(schemas.CodeNotFound), code)
		}
	}

	tampered := receipttest.Tamper(t, page.Receipts[2].CMS, d.RegistrationNumber, fmt.Sprintf("%-*s", len(d.RegistrationNumber), "X"))
	_, err = receipttest.OpenSSLVerify(t, tampered, env.Identity.CA)
	require.Error(t, err, "OpenSSL refuses a changed receipt")
	_, err = verifier.Verify(context.Background(), tampered, time.Time{})
	require.ErrorIs(t, err, receipt.ErrInvalid)
}
