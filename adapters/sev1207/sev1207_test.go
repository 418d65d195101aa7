package sev1207_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"appealhub/adapters"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	hubCode     = "43210987"
	hubSystemID = "7d3c1a52-0000-4000-8000-00000000a001"
	authority   = "66784279"
)

func newAdapter() *sev1207.Adapter {
	return sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID})
}

// signedSubmission is a complaint with everything the format carries: the citizen in full, two
// attachments (one without an id) and detached signatures over the text and one attachment.
func signedSubmission() schemas.Submission {
	submitted := time.Date(2026, 2, 28, 21, 59, 58, 0, time.FixedZone("EET", 2*3600))
	return schemas.Submission{
		CaseKind:   schemas.CaseAppeal,
		AppealKind: schemas.AppealComplaint,
		Applicant: schemas.Applicant{
			Surname: "Коваленко", Name: "Олена", Patronymic: "Петрівна",
			Address:  "м. Львів, вул. Городоцька, 15, кв. 7",
			Email:    "olena.kovalenko@example.org",
			Phone:    "+380671234567",
			Category: "особа з інвалідністю II групи",
		},
		Collective:         true,
		CoSigners:          3,
		Addressees:         []string{authority, "86507027"},
		Subject:            `Яма & "вибоїна" <на> дорозі`,
		Text:               "Прошу усунути яму.\r\nРядок 2 & <теги> не є розміткою.\n",
		TopicCodes:         []string{"roads", "safety"},
		RepeatOf:           "ZV-2025-00000077",
		ComplaintAgainst:   "12345678",
		PortalSubmissionID: "portal-42",
		SubmittedAt:        &submitted,
		Attachments: []schemas.Attachment{
			{ID: "att-1", FileName: "фото ями.JPG", MediaType: "image/jpeg", Size: 4, SHA256: "9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a", Content: []byte{1, 2, 3, 4}},
			{FileName: "довідка", MediaType: "application/pdf", Content: []byte("%PDF-1.7\n")},
		},
		Signatures: []schemas.Signature{
			{Of: "text", Format: "cades-detached", Value: []byte{0x30, 0x82, 0x00, 0x01, 0xff}},
			{Of: "att-1", Format: "cades-detached", Value: []byte{0x30, 0x80, 0x06, 0x09}},
		},
	}
}

func testDocument() adapters.Document {
	return adapters.Document{
		DeliveryID:     "0190f5a0-0000-7000-8000-0000000000aa",
		AppealID:       "0190f5a0-0000-7000-8000-000000000001",
		TrackingNumber: "ZV-2026-00000001",
		Authority:      authority,
		Attempt:        1,
		// 23:30 UTC is already the next day in Kyiv: regdate must be 2026-03-01.
		ReceivedAt: time.Date(2026, 2, 28, 23, 30, 0, 123456000, time.UTC),
		Submission: signedSubmission(),
	}
}

// fixtureDocuments returns a Document for every fixture submission of the project (each strictly
// decoded by schemas.DecodeSubmission, as intake does), keyed by file and index.
func fixtureDocuments(tb testing.TB) map[string]adapters.Document {
	tb.Helper()
	docs := make(map[string]adapters.Document)
	files := []string{
		filepath.Join("..", "..", "schemas", "testdata", "submissions.json"),
		filepath.Join("..", "..", "schemas", "testdata", "full.json"),
		filepath.Join("..", "..", "internal", "demo", "data", "submissions.json"),
	}
	for fi, path := range files {
		body, err := os.ReadFile(path)
		require.NoError(tb, err)
		var raws []json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			require.NoError(tb, json.Unmarshal(body, &raws))
		} else {
			raws = []json.RawMessage{body}
		}
		for i, raw := range raws {
			sub, err := schemas.DecodeSubmission(raw)
			require.NoError(tb, err, "%s[%d]", path, i)
			name := fmt.Sprintf("%s[%d]", filepath.ToSlash(path[len("../../"):]), i)
			docs[name] = adapters.Document{
				DeliveryID:     fmt.Sprintf("0190f5a0-0000-7000-8000-%012d", fi*100+i),
				AppealID:       fmt.Sprintf("0190f5a0-0000-7000-9000-%012d", fi*100+i),
				TrackingNumber: fmt.Sprintf("ZV-2026-%08d", fi*100+i),
				Authority:      authority,
				Attempt:        1 + i%3,
				ReceivedAt:     time.Date(2026, 3, 1+i, 10, 0, 0, 0, time.UTC),
				Submission:     sub,
				Raw:            raw,
			}
		}
	}
	require.NotEmpty(tb, docs)
	return docs
}

// xmllint returns the path of xmllint. It is installed by scripts/services.sh (Debian package
// libxml2-utils): under CI=true a missing xmllint fails the test, otherwise it is skipped.
func xmllint(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("xmllint not found (CI=true): run scripts/services.sh or apt-get install libxml2-utils")
		}
		tb.Skip("xmllint not found: install libxml2-utils (scripts/services.sh does) to check messages against the XSD")
	}
	return path
}

// ownXSD writes the embedded schemas.SEV1207XSD to a temporary file and returns its path.
func ownXSD(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "sev1207.xsd")
	require.NoError(tb, os.WriteFile(path, schemas.SEV1207XSD(), 0o600))
	return path
}

// validateXSD checks every message against the schema at xsd with one xmllint run.
func validateXSD(tb testing.TB, xsd string, messages map[string][]byte) {
	tb.Helper()
	lint := xmllint(tb)
	dir := tb.TempDir()
	args := []string{"--noout", "--nonet", "--schema", xsd}
	for name, body := range messages {
		path := filepath.Join(dir, filepath.Base(name)+".xml")
		require.NoError(tb, os.WriteFile(path, body, 0o600))
		args = append(args, path)
	}
	out, err := exec.Command(lint, args...).CombinedOutput()
	require.NoError(tb, err, "xmllint --schema %s:\n%s", filepath.Base(xsd), out)
}

func TestAdapterIdentity(t *testing.T) {
	t.Parallel()

	a := newAdapter()
	require.Equal(t, "sev1207", a.Name())
	require.Equal(t, "application/xml", a.MediaType())

	r := adapters.NewRegistry()
	require.NoError(t, r.Register(a))
	got, ok := r.Get("sev1207")
	require.True(t, ok)
	require.Same(t, a, got)

	var dec adapters.MessageDecoder = a
	require.NotNil(t, dec)
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()

	cfg := newAdapter().Config()
	require.Equal(t, int64(25<<20), cfg.MaxMessageBytes)
	require.Equal(t, 64, cfg.MaxDepth)
	require.Equal(t, sev1207.DefaultHubName, cfg.HubName)
	require.Equal(t, sev1207.DefaultHubSystem, cfg.HubSystem)
	require.Equal(t, "Europe/Kyiv", cfg.Location.String())
	require.NoError(t, cfg.Validate())

	cfg = sev1207.Config{HubCode: "12ab", HubName: "bad\x01name", MaxDepth: 2}.WithDefaults()
	err := cfg.Validate()
	require.ErrorContains(t, err, "sev1207.hub_code")
	require.ErrorContains(t, err, "sev1207.hub_system_id")
	require.ErrorContains(t, err, "sev1207.hub_name")
	require.ErrorContains(t, err, "sev1207.max_depth")
}
