package sev1207_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// wire is an independent reading of an encoded message with encoding/xml, to check the mapping
// without the adapter's own decoder.
type wire struct {
	XMLName  xml.Name   `xml:"Header"`
	Attrs    []xml.Attr `xml:",any,attr"`
	Document struct {
		Attrs     []xml.Attr `xml:",any,attr"`
		RegNumber struct {
			Date string `xml:"regdate,attr"`
			Text string `xml:",chardata"`
		} `xml:"RegNumber"`
		DocTransfer []struct {
			Type        string `xml:"type,attr"`
			Description string `xml:"description,attr"`
			ID          string `xml:"idnumber,attr"`
			Content     string `xml:",chardata"`
		} `xml:"DocTransfer"`
		Person struct {
			Name struct {
				Sec    string `xml:"secname,attr"`
				First  string `xml:"firstname,attr"`
				Father string `xml:"fathersname,attr"`
				Text   string `xml:",chardata"`
			} `xml:"Name"`
			Rank struct {
				Privilege string `xml:"privilege,attr"`
			} `xml:"Rank"`
			Address  string `xml:"Address"`
			Econtact []struct {
				Type string `xml:"type,attr"`
				Text string `xml:",chardata"`
			} `xml:"Econtact"`
		} `xml:"Author>PrivatePerson"`
		Addressee struct {
			Type string `xml:"type,attr"`
			Org  struct {
				Ogrn     string `xml:"ogrn,attr"`
				Fullname string `xml:"fullname,attr"`
			} `xml:"Organization"`
		} `xml:"Addressee"`
	} `xml:"Document"`
	SignInfo []struct {
		Of   string `xml:"docTransfer_idnumber,attr"`
		Data string `xml:"SignData"`
	} `xml:"Expansion>StaticExpansion>SignInfo"`
}

func readWire(t *testing.T, body []byte) (wire, map[string]string, map[string]string) {
	t.Helper()
	var w wire
	require.NoError(t, xml.Unmarshal(body, &w))
	return w, attrMap(w.Attrs), attrMap(w.Document.Attrs)
}

func attrMap(attrs []xml.Attr) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m[a.Name.Local] = a.Value
	}
	return m
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	v, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return v
}

func TestEncodeMapping(t *testing.T) {
	t.Parallel()

	doc := testDocument()
	sub := doc.Submission
	a := sev1207.New(sev1207.Config{
		HubCode: hubCode, HubSystemID: hubSystemID, HubName: "ДП «Звернення»", HubSystem: "Appeal Hub 1.0",
		RecipientFunc: func(code string) sev1207.Recipient {
			require.Equal(t, authority, code)
			return sev1207.Recipient{Name: "Львівська міська рада", SystemID: "b7e1c0de-0000-4000-8000-000000000066", System: "СЕД Мегаполіс"}
		},
	})
	body, err := a.Encode(doc)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)), "UTF-8 declared, no byte-order mark")

	w, h, d := readWire(t, body)
	require.Equal(t, map[string]string{
		"standart": "1207", "version": "1.5", "charset": "UTF-8", "time": "2026-02-28T23:30:00Z",
		"msg_type": "1", "msg_id": doc.DeliveryID, "msg_acknow": "2",
		"from_org_id": hubCode, "from_organization": "ДП «Звернення»", "from_sys_id": hubSystemID, "from_system": "Appeal Hub 1.0",
		"to_org_id": authority, "to_organization": "Львівська міська рада", "to_sys_id": "b7e1c0de-0000-4000-8000-000000000066", "to_system": "СЕД Мегаполіс",
	}, h)
	require.Equal(t, map[string]string{
		"idnumber": doc.DeliveryID, "type": "0", "kind": "Скарга", "title": sub.Subject,
		"collection": "1", "purpose_type": "3", "urgent": "0",
	}, d)
	require.Equal(t, doc.TrackingNumber, w.Document.RegNumber.Text)
	require.Equal(t, "2026-03-01", w.Document.RegNumber.Date, "the registration date is the Kyiv calendar date")

	// The text first (exact UTF-8 bytes, CR LF kept), then each attachment in order.
	dts := w.Document.DocTransfer
	require.Len(t, dts, 3)
	require.Equal(t, "text", dts[0].ID)
	require.Equal(t, "txt", dts[0].Type)
	require.Equal(t, []byte(sub.Text), b64(t, dts[0].Content))
	require.Equal(t, []string{"file-1", "jpg", "фото ями.JPG"}, []string{dts[1].ID, dts[1].Type, dts[1].Description})
	require.Equal(t, sub.Attachments[0].Content, b64(t, dts[1].Content))
	require.Equal(t, []string{"file-2", "pdf", "довідка"}, []string{dts[2].ID, dts[2].Type, dts[2].Description})
	require.Equal(t, sub.Attachments[1].Content, b64(t, dts[2].Content))

	p := w.Document.Person
	require.Equal(t, []string{"Коваленко", "Олена", "Петрівна", "Коваленко Олена Петрівна"}, []string{p.Name.Sec, p.Name.First, p.Name.Father, p.Name.Text})
	require.Equal(t, sub.Applicant.Category, p.Rank.Privilege)
	require.Equal(t, sub.Applicant.Address, p.Address)
	require.Len(t, p.Econtact, 2)
	require.Equal(t, []string{"п", sub.Applicant.Email, "м", sub.Applicant.Phone}, []string{p.Econtact[0].Type, p.Econtact[0].Text, p.Econtact[1].Type, p.Econtact[1].Text})

	require.Equal(t, "0", w.Document.Addressee.Type)
	require.Equal(t, authority, w.Document.Addressee.Org.Ogrn)
	require.Equal(t, "Львівська міська рада", w.Document.Addressee.Org.Fullname)

	// Each detached signature byte for byte, naming the DocTransfer it signs.
	require.Len(t, w.SignInfo, 2)
	require.Equal(t, "text", w.SignInfo[0].Of)
	require.Equal(t, sub.Signatures[0].Value, b64(t, w.SignInfo[0].Data))
	require.Equal(t, "file-1", w.SignInfo[1].Of)
	require.Equal(t, sub.Signatures[1].Value, b64(t, w.SignInfo[1].Data))
}

// TestEncodeRoundTrip: DecodeDocument gives back the Document that was encoded, field by field:
// nothing of the submission is lost on the way to an authority.
func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()

	xades := testDocument()
	xades.Submission.Signatures = append(xades.Submission.Signatures,
		schemas.Signature{Of: "text", Format: "xades-enveloped", Value: []byte("<Signature>…</Signature>")})
	info := testDocument()
	info.Submission = schemas.Submission{
		CaseKind: schemas.CaseInfoRequest, Urgent: true, UrgencyReason: "  Загроза життю:\tміст \r\n",
		Applicant:  schemas.Applicant{Surname: " Бондар ", Name: "Ірина", Address: "   "},
		Topic:      "transport",
		Territory:  "UA05000000000000000",
		Subject:    "\tПроїзд ",
		Text:       "Рядок\r\nрядок\rрядок\n",
		TopicCodes: []string{"bridges"},
	}
	a := newAdapter()
	for name, doc := range map[string]adapters.Document{"signed": testDocument(), "xades": xades, "info": info} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := a.Encode(doc)
			require.NoError(t, err)
			got, err := a.DecodeDocument(body)
			require.NoError(t, err)
			requireSameDocument(t, doc, got)
		})
	}
}

// TestEncodeFixtures encodes every fixture submission of the project: each message validates
// against the project's XSD (schemas/sev1207.xsd, as embedded) and decodes back to its Document.
func TestEncodeFixtures(t *testing.T) {
	t.Parallel()

	a := newAdapter()
	messages := make(map[string][]byte)
	for name, doc := range fixtureDocuments(t) {
		body, err := a.Encode(doc)
		require.NoError(t, err, name)
		messages[strings.NewReplacer("/", "_", "[", "_", "]", "").Replace(name)] = body
		got, err := a.DecodeDocument(body)
		require.NoError(t, err, name)
		requireSameDocument(t, doc, got)
	}
	messages["signed"], _ = a.Encode(testDocument())
	validateXSD(t, ownXSD(t), messages)
}

func TestEncodeDeterministic(t *testing.T) {
	t.Parallel()

	a := newAdapter()
	first, err := a.Encode(testDocument())
	require.NoError(t, err)
	for range 20 {
		again, err := sev1207.New(a.Config()).Encode(testDocument())
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
	other := testDocument()
	other.Attempt = 2
	second, err := a.Encode(other)
	require.NoError(t, err)
	require.NotEqual(t, first, second, "the attempt is carried")
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()

	tests := map[string]struct {
		mutate func(*adapters.Document)
		want   string
	}{
		"empty delivery id":      {func(d *adapters.Document) { d.DeliveryID = "" }, "empty delivery id"},
		"empty tracking number":  {func(d *adapters.Document) { d.TrackingNumber = "" }, "empty tracking number"},
		"authority not digits":   {func(d *adapters.Document) { d.Authority = "6678427X" }, "authority"},
		"attempt zero":           {func(d *adapters.Document) { d.Attempt = 0 }, "attempt 0"},
		"zero received_at":       {func(d *adapters.Document) { d.ReceivedAt = time.Time{} }, "zero received_at"},
		"received_at year 10000": {func(d *adapters.Document) { d.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "year 10000"},
		"no submission":          {func(d *adapters.Document) { d.Submission = schemas.Submission{} }, "case_kind"},
		"appeal without kind":    {func(d *adapters.Document) { d.Submission.AppealKind = "" }, "appeal_kind"},
		"no surname":             {func(d *adapters.Document) { d.Submission.Applicant.Surname = "" }, "surname"},
		"empty text":             {func(d *adapters.Document) { d.Submission.Text = "" }, "empty text"},
		"text invalid UTF-8":     {func(d *adapters.Document) { d.Submission.Text = "a\xffb" }, "text is not valid UTF-8"},
		"signature of nothing":   {func(d *adapters.Document) { d.Submission.Signatures[1].Of = "att-9" }, "signature 1"},
		"attachment no media":    {func(d *adapters.Document) { d.Submission.Attachments[1].MediaType = "" }, "attachment 1"},
		"control character": {
			func(d *adapters.Document) { d.Submission.Subject = "secret\x01subject" },
			"/Header/Document@title: character U+0001 cannot be carried in XML 1.0",
		},
		"invalid UTF-8 in a name": {
			func(d *adapters.Document) { d.Submission.Applicant.Name = "Ol\xe9na" },
			"/Header/Document/Author/PrivatePerson/Name@firstname: invalid UTF-8",
		},
		"non-character in address": {
			func(d *adapters.Document) { d.Submission.Applicant.Address = "вул. \uFFFE" },
			"PrivatePerson/Address: character U+FFFE",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := testDocument()
			tt.mutate(&doc)
			out, err := newAdapter().Encode(doc)
			require.Nil(t, out)
			require.ErrorContains(t, err, tt.want)
			require.True(t, adapters.IsPermanent(err), "an encoding failure never heals: %v", err)
			require.NotContains(t, err.Error(), "secret", "errors never quote submitted values")
		})
	}
}

func TestEncodeLimitsAndConfig(t *testing.T) {
	t.Parallel()

	doc := testDocument()
	full, err := newAdapter().Encode(doc)
	require.NoError(t, err)

	small := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: int64(len(full) - 1)})
	_, err = small.Encode(doc)
	require.ErrorIs(t, err, sev1207.ErrTooLarge)
	require.True(t, adapters.IsPermanent(err))

	exact := sev1207.New(sev1207.Config{HubCode: hubCode, HubSystemID: hubSystemID, MaxMessageBytes: int64(len(full))})
	_, err = exact.Encode(doc)
	require.NoError(t, err)

	_, err = sev1207.New(sev1207.Config{HubSystemID: hubSystemID}).Encode(doc)
	require.ErrorContains(t, err, "sev1207.hub_code")
	require.True(t, adapters.IsPermanent(err))
}

// TestGolden compares two encodings with testdata/golden; run with -update to rewrite them.
func TestGolden(t *testing.T) {
	t.Parallel()

	info := testDocument()
	info.DeliveryID = "0190f5a0-0000-7000-8000-0000000000bb"
	info.Attempt = 3
	info.ReceivedAt = time.Date(2026, 7, 15, 9, 0, 0, 0, time.UTC)
	info.Submission = schemas.Submission{
		CaseKind: schemas.CaseInfoRequest, Urgent: true, UrgencyReason: "Загроза життю: аварійний стан моста",
		Applicant:  schemas.Applicant{Surname: "Ткаченко", Name: "Максим", Email: "m.tkachenko@example.org", Phone: "+380501112233"},
		Addressees: []string{authority},
		Subject:    "Технічний стан моста",
		Text:       "Прошу терміново надати висновок обстеження технічного стану моста.",
	}
	a := newAdapter()
	for name, doc := range map[string]adapters.Document{"complaint-signed.xml": testDocument(), "info-request-urgent.xml": info} {
		body, err := a.Encode(doc)
		require.NoError(t, err)
		path := filepath.Join("testdata", "golden", name)
		if *update {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, body, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -run TestGolden -update to create it")
		require.Equal(t, string(want), string(body), "%s differs; if intended, rerun with -update", name)
	}
}

// requireSameDocument compares what DecodeDocument gives with the Document that was encoded.
func requireSameDocument(t *testing.T, want, got adapters.Document) {
	t.Helper()
	require.True(t, want.ReceivedAt.Equal(got.ReceivedAt), "received_at")
	ws, gs := want.Submission, got.Submission
	if ws.SubmittedAt == nil {
		require.Nil(t, gs.SubmittedAt)
	} else {
		require.NotNil(t, gs.SubmittedAt)
		require.True(t, ws.SubmittedAt.Equal(*gs.SubmittedAt), "submitted_at")
	}
	want.ReceivedAt, got.ReceivedAt = time.Time{}, time.Time{}
	want.Submission.SubmittedAt, got.Submission.SubmittedAt = nil, nil
	want.Raw = nil
	require.Equal(t, want, got)
}
