package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// fakeReceipts holds the receipts of testCase, owned by portal-1.
type fakeReceipts struct {
	list []schemas.SignedReceipt
	err  error
}

func (f *fakeReceipts) Receipts(_ context.Context, clientID, appealID string) ([]schemas.SignedReceipt, error) {
	if f.err != nil {
		return nil, f.err
	}
	if clientID != "portal-1" || appealID != testCase.ID {
		return nil, schemas.Errorf(schemas.CodeNotFound, "no such case")
	}
	return f.list, nil
}

func (f *fakeReceipts) Receipt(ctx context.Context, clientID, appealID, id string) (schemas.SignedReceipt, error) {
	list, err := f.Receipts(ctx, clientID, appealID)
	if err != nil {
		return schemas.SignedReceipt{}, err
	}
	for _, r := range list {
		if r.ID == id {
			return r, nil
		}
	}
	return schemas.SignedReceipt{}, schemas.Errorf(schemas.CodeNotFound, "no such receipt")
}

var testSignedReceipt = schemas.SignedReceipt{
	ID: "0190f3c4-0000-7000-8000-0000000000aa", Type: schemas.EvidenceSubmissionAcceptance, AppealID: testCase.ID,
	CreatedAt: time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC),
	Content:   json.RawMessage(`{"evidence":"submission_acceptance","format":"appealhub.receipt.v1"}`),
	CMS:       []byte{0x30, 0x82, 0x01, 0x00, 0xff},
}

func receiptsHandler(t *testing.T, f *fakeReceipts) http.Handler {
	t.Helper()
	return NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}, Receipts: f},
		zaptest.NewLogger(t))
}

func getWith(h http.Handler, path, token string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestReceipts(t *testing.T) {
	t.Parallel()
	h := receiptsHandler(t, &fakeReceipts{list: []schemas.SignedReceipt{testSignedReceipt}})
	base := "/v1/appeals/" + testCase.ID + "/receipts"

	w := getWith(h, base, "portal-token", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var page struct {
		Receipts []map[string]any `json:"receipts"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
	require.Len(t, page.Receipts, 1)
	require.Equal(t, map[string]any{"evidence": "submission_acceptance", "format": "appealhub.receipt.v1"},
		page.Receipts[0]["content"], "the content is an object")
	require.Equal(t, "MIIBAP8=", page.Receipts[0]["cms"], "the CMS in base64")
	require.Equal(t, "submission_acceptance", page.Receipts[0]["type"])

	one := base + "/" + testSignedReceipt.ID
	w = getWith(h, one, "portal-token", nil)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got schemas.SignedReceipt
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.Equal(t, testSignedReceipt.CMS, got.CMS)
	require.JSONEq(t, string(testSignedReceipt.Content), string(got.Content))

	for _, accept := range []string{PKCS7MediaType, "application/json;q=0.5, application/pkcs7-mime", "application/pkcs7-mime; smime-type=signed-data"} {
		w = getWith(h, one, "portal-token", map[string]string{"Accept": accept})
		require.Equal(t, http.StatusOK, w.Code, accept)
		require.Equal(t, "application/pkcs7-mime; smime-type=signed-data", w.Header().Get("Content-Type"), accept)
		require.Equal(t, testSignedReceipt.CMS, w.Body.Bytes(), accept)
		require.Equal(t, fmt.Sprintf(`attachment; filename="%s.p7s"`, testSignedReceipt.ID), w.Header().Get("Content-Disposition"))
	}
	for _, accept := range []string{"application/json", "*/*", "application/pkcs7-mime;q=0, application/json", "application/json, application/pkcs7-mime;q=0.1"} {
		w = getWith(h, one, "portal-token", map[string]string{"Accept": accept})
		require.Equal(t, "application/json", w.Header().Get("Content-Type"), accept)
	}
}

func TestReceiptsRefusals(t *testing.T) {
	t.Parallel()
	h := receiptsHandler(t, &fakeReceipts{list: []schemas.SignedReceipt{testSignedReceipt}})
	base := "/v1/appeals/" + testCase.ID + "/receipts"
	for _, tc := range []struct {
		path, token string
		status      int
		code        schemas.Code
	}{
		{base, "portal2-token", http.StatusNotFound, schemas.CodeNotFound},
		{base + "/" + testSignedReceipt.ID, "portal2-token", http.StatusNotFound, schemas.CodeNotFound},
		{base + "/0190f3c4-0000-7000-8000-0000000000bb", "portal-token", http.StatusNotFound, schemas.CodeNotFound},
		{base + "/not_a_receipt!", "portal-token", http.StatusNotFound, schemas.CodeNotFound},
		{"/v1/appeals/bad$id/receipts", "portal-token", http.StatusNotFound, schemas.CodeNotFound},
		{base, "", http.StatusUnauthorized, schemas.CodeUnauthorized},
		{base, "authority-token", http.StatusForbidden, schemas.CodeForbidden},
	} {
		w := getWith(h, tc.path, tc.token, nil)
		requireProblem(t, w, tc.status, tc.code)
	}

	down := receiptsHandler(t, &fakeReceipts{err: fmt.Errorf("read: %w", schemas.ErrUnavailable)})
	requireProblem(t, getWith(down, base, "portal-token", nil), http.StatusServiceUnavailable, schemas.CodeServiceUnavailable)

	// Without a ReceiptReader the routes are not there.
	none := NewHandler(Config{}, Deps{Auth: fakeAuth{}, Submitter: &fakeSubmitter{}, Cases: &fakeCases{}}, zaptest.NewLogger(t))
	requireProblem(t, getWith(none, base, "portal-token", nil), http.StatusNotFound, schemas.CodeNotFound)
}
