package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/demo"
	"appealhub/internal/signature"
	"appealhub/schemas"
)

// TestCitizenSignsEverySample: every sample, signed by the demo citizen, is a valid submission whose
// text and attachments carry signatures the hub's verifier accepts over the trust directory the
// citizen wrote.
func TestCitizenSignsEverySample(t *testing.T) {
	t.Parallel()
	trust := t.TempDir() + "/trust"
	now := time.Now()
	citizen, err := demo.NewCitizen(trust, now)
	require.NoError(t, err)
	v, err := signature.New(signature.Config{TrustDir: trust, RequireCRL: true})
	require.NoError(t, err)
	samples, err := demo.Submissions()
	require.NoError(t, err)
	attachments := 0
	for i, body := range samples {
		signed, err := citizen.Sign(body, now)
		require.NoError(t, err, "sample %d", i)
		sub, err := schemas.DecodeSubmission(signed)
		require.NoError(t, err, "sample %d stays a valid submission", i)
		plain, err := schemas.DecodeSubmission(body)
		require.NoError(t, err)
		require.Equal(t, plain.Text, sub.Text)
		require.Len(t, sub.Signatures, 1+len(sub.Attachments), "sample %d: the text and every attachment", i)
		content := map[string][]byte{schemas.SignatureOfText: []byte(sub.Text)}
		for _, a := range sub.Attachments {
			content[a.ID] = a.Content
			attachments++
		}
		for _, s := range sub.Signatures {
			require.Equal(t, schemas.SignatureCAdESDetached, s.Format)
			signer, err := v.Verify(context.Background(), s.Value, content[s.Of], now)
			require.NoError(t, err, "sample %d, signature of %s", i, s.Of)
			require.Equal(t, "1234567890", signer.TaxNumber)
			require.Equal(t, signature.RevocationGood, signer.Revocation)
		}
	}
	require.Positive(t, attachments, "a sample with an attachment is signed")

	_, err = citizen.Sign([]byte(`{"text":"t","attachments":[{"file_name":"a","content":"eA=="}]}`), now)
	require.ErrorContains(t, err, "attachment 0 has no id")
}
