package receipt_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/receipt"
	"appealhub/schemas"
)

// TestCanonical pins the canonical encoding: members in byte order at every depth, no white
// space, minimal escaping, UTF-8 as is, members that do not apply left out.
func TestCanonical(t *testing.T) {
	t.Parallel()
	c := receipt.Content{
		Format: receipt.Format, ID: "0191d7a8-0000-7000-8000-000000000001", Evidence: schemas.EvidenceRegistration,
		Hub:      receipt.Hub{Code: "00000000", Name: "Хаб <звернень> & \"Ко\"\t\u0001", SystemID: "APPEALHUB"},
		IssuedAt: "2026-03-02T09:30:01.000000Z", EventTime: "2026-03-02T09:30:00.123456Z",
		AppealID: "0191d7a8-0000-7000-8000-000000000002", TrackingNumber: "ZV-2026-00000001",
		Chain:      receipt.ChainRef{Pos: 7, Seq: 42, Hash: "ab", PrevHash: "cd"},
		DeliveryID: "0191d7a8-0000-7000-8000-000000000003", Authority: "12345678",
		Registration: &receipt.Registration{Number: "Вх-1\\2", Date: "2026-03-02T00:00:00+02:00", MessageID: "m-1"},
	}
	got, err := receipt.Canonical(c)
	require.NoError(t, err)
	require.Equal(t, `{"appeal_id":"0191d7a8-0000-7000-8000-000000000002","authority":"12345678",`+
		`"chain":{"hash":"ab","pos":7,"prev_hash":"cd","seq":42},"delivery_id":"0191d7a8-0000-7000-8000-000000000003",`+
		`"event_time":"2026-03-02T09:30:00.123456Z","evidence":"registration","format":"appealhub.receipt.v1",`+
		`"hub":{"code":"00000000","name":"Хаб <звернень> & \"Ко\"\t\u0001","system_id":"APPEALHUB"},`+
		`"id":"0191d7a8-0000-7000-8000-000000000001","issued_at":"2026-03-02T09:30:01.000000Z",`+
		`"registration":{"date":"2026-03-02T00:00:00+02:00","message_id":"m-1","number":"Вх-1\\2"},`+
		`"tracking_number":"ZV-2026-00000001"}`, string(got))

	back, err := receipt.ParseContent(got)
	require.NoError(t, err)
	require.Equal(t, c, back)

	// The first link of the chain has no previous hash; an acceptance lists its documents.
	c = receipt.Content{Format: receipt.Format, Evidence: schemas.EvidenceSubmissionAcceptance, Chain: receipt.ChainRef{Pos: 1, Seq: 1, Hash: "ab"},
		SubmissionSHA256: "ff", Documents: []receipt.Document{{ID: "text", SHA256: "00", Size: 0}}}
	got, err = receipt.Canonical(c)
	require.NoError(t, err)
	require.Contains(t, string(got), `"chain":{"hash":"ab","pos":1,"seq":1},"documents":[{"id":"text","sha256":"00","size":0}],`)
	require.NotContains(t, string(got), "registration")
	require.NotContains(t, string(got), "delivery_id")
}

func TestParseContentRefusesOtherDocuments(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{`{"format":"appealhub.event_chain.checkpoint.v1"}`, `[]`, `not json`, `{}`} {
		_, err := receipt.ParseContent([]byte(doc))
		require.ErrorContains(t, err, "not a receipt", doc)
	}
}

// submissionBody is a stored submission with a text and two attachments, one without an id.
func submissionBody(t testing.TB, text string) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"case_kind": "appeal", "appeal_kind": "application",
		"applicant":  map[string]any{"surname": "Тестенко", "name": "Марія"},
		"addressees": []string{"00000001"}, "subject": "Тема", "text": text,
		"attachments": []map[string]any{
			{"id": "att-1", "file_name": "довідка.txt", "media_type": "text/plain", "content": base64.StdEncoding.EncodeToString([]byte("довідка"))},
			{"file_name": "scan.pdf", "media_type": "application/pdf", "content": base64.StdEncoding.EncodeToString([]byte("%PDF-1.7\n"))},
		},
	})
	require.NoError(t, err)
	return body
}
