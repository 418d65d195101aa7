package sev1207_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

// refEnv names the directory of the published 1207 v1.5 material (Header.xsd and samples/).
const refEnv = "SEV1207_REF"

// refMessage is an independent reading (encoding/xml) of a reference sample, from which the test
// derives what the adapter must decode it to.
type refMessage struct {
	MsgType string `xml:"msg_type,attr"`
	MsgID   string `xml:"msg_id,attr"`
	Ack     *struct {
		MsgID string `xml:"msg_id,attr"`
		Type  string `xml:"ack_type,attr"`
		Reg   *struct {
			Date string `xml:"regdate,attr"`
			Text string `xml:",chardata"`
		} `xml:"RegNumber"`
		Results []struct {
			Code string `xml:"errorcode,attr"`
			Text string `xml:"errortext,attr"`
		} `xml:"AckResult"`
	} `xml:"Acknowledgement"`
	Document *struct {
		Referred []struct {
			ID     string `xml:"idnumber,attr"`
			Retype string `xml:"retype,attr"`
		} `xml:"Addressee>Referred"`
		Files []struct {
			Name string `xml:"description,attr"`
		} `xml:"DocTransfer"`
	} `xml:"Document"`
}

// TestReference checks the adapter against the published material in $SEV1207_REF (run it with
// `make test-reference REF=DIR` or scripts/reference.sh DIR): every message the adapter writes for
// the project's fixture submissions, and every notice and answer its Peer writes, validates against
// DIR/Header.xsd, every file of DIR/samples
// validates against the project's own XSD, and each decodes as an independent reading of it says.
func TestReference(t *testing.T) {
	dir := os.Getenv(refEnv)
	if dir == "" {
		t.Skip("not asked for: set " + refEnv + "=DIR (make test-reference REF=DIR) to check against DIR/Header.xsd and DIR/samples/")
	}
	t.Parallel()
	headerXSD := filepath.Join(dir, "Header.xsd")
	require.FileExists(t, headerXSD)
	paths, err := filepath.Glob(filepath.Join(dir, "samples", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no samples in %s/samples", dir)
	samples := make(map[string][]byte, len(paths))
	for _, p := range paths {
		body, err := os.ReadFile(p)
		require.NoError(t, err)
		samples[filepath.Base(p)] = body
	}

	t.Run("encodings validate against Header.xsd", func(t *testing.T) {
		t.Parallel()
		a := newAdapter()
		messages := make(map[string][]byte)
		for name, doc := range fixtureDocuments(t) {
			body, err := a.Encode(doc)
			require.NoError(t, err, name)
			messages[strings.NewReplacer("/", "_", "[", "_", "]", "").Replace(name)] = body
		}
		golden, err := filepath.Glob(filepath.Join("testdata", "golden", "*.xml"))
		require.NoError(t, err)
		for _, p := range golden {
			body, err := os.ReadFile(p)
			require.NoError(t, err)
			messages["golden_"+filepath.Base(p)] = body
		}
		for name, body := range peerMessages(t) {
			messages[name] = body
		}
		t.Logf("%d encoded messages", len(messages))
		validateXSD(t, headerXSD, messages)
	})

	t.Run("samples validate against the project's XSD", func(t *testing.T) {
		t.Parallel()
		validateXSD(t, ownXSD(t), samples)
	})

	t.Run("samples decode", func(t *testing.T) {
		t.Parallel()
		a := newAdapter()
		for name, body := range samples {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				checkSample(t, a, body)
			})
		}
	})
}

// checkSample decodes one reference sample and compares it with what refMessage reads.
func checkSample(t *testing.T, a *sev1207.Adapter, body []byte) {
	var ref refMessage
	require.NoError(t, xml.Unmarshal(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), &ref))
	msgs, err := a.DecodeMessage(body)

	switch {
	case ref.Ack != nil:
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		m := msgs[0]
		require.Equal(t, ref.MsgID, m.MessageID)
		require.Equal(t, ref.Ack.MsgID, m.Of)
		want := map[string]schemas.AuthorityMessageType{
			"1": schemas.MsgDelivered, "2": schemas.MsgAccepted, "3": schemas.MsgRegistered, "4": schemas.MsgRefused,
		}[ref.Ack.Type]
		require.NotEmpty(t, want, "ack_type %q", ref.Ack.Type)
		require.Equal(t, want, m.Type)
		require.NotNil(t, m.At)

		rep, err := a.DecodeReply("application/xml", body)
		require.NoError(t, err)
		require.True(t, rep.Delivered, "every notice proves delivery")

		switch m.Type {
		case schemas.MsgRegistered:
			require.NotNil(t, ref.Ack.Reg)
			require.Equal(t, strings.TrimSpace(ref.Ack.Reg.Text), m.RegistrationNumber)
			require.NotNil(t, m.RegistrationDate)
			require.Equal(t, ref.Ack.Reg.Date, m.RegistrationDate.Format("2006-01-02"))
			require.Equal(t, m.RegistrationNumber, rep.RegistrationNumber)
			require.NotNil(t, rep.RegisteredAt)
			require.Equal(t, ref.Ack.Reg.Date, rep.RegisteredAt.In(a.Config().Location).Format("2006-01-02"))
		case schemas.MsgRefused:
			var texts []string
			for _, r := range ref.Ack.Results {
				if s := strings.TrimSpace(r.Text); s != "" {
					texts = append(texts, s)
				}
			}
			require.NotEmpty(t, m.RefusalText, "a refusal gives its reason")
			require.Equal(t, strings.Join(texts, "; "), m.RefusalText)
		default:
			require.Empty(t, m.RegistrationNumber)
			require.Empty(t, m.RefusalText)
		}

	case ref.Document != nil:
		var referred string
		for _, r := range ref.Document.Referred {
			if r.Retype == "д" && strings.TrimSpace(r.ID) != "" {
				referred = strings.TrimSpace(r.ID)
				break
			}
		}
		if referred == "" {
			// An initiative document: it answers nothing the hub sent.
			require.ErrorIs(t, err, sev1207.ErrUnsupported)
			require.True(t, adapters.IsPermanent(err))
			return
		}
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		m := msgs[0]
		require.Equal(t, schemas.MsgAnswered, m.Type)
		require.Equal(t, referred, m.Of)
		require.Equal(t, ref.MsgID, m.MessageID)
		require.NotEmpty(t, m.Text)
		require.Len(t, m.Documents, len(ref.Document.Files))
		for i, f := range ref.Document.Files {
			require.Equal(t, f.Name, m.Documents[i].FileName)
			require.NotEmpty(t, m.Documents[i].MediaType)
		}

	default:
		t.Fatalf("sample is neither a notice nor a document (msg_type %q)", ref.MsgType)
	}
}
