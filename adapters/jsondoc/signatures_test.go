package jsondoc_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters/jsondoc"
	"appealhub/schemas"
)

// signedSubmission carries a signature whose bytes must reach the authority unchanged.
const signedSubmission = `{"case_kind":"appeal","appeal_kind":"complaint","applicant":{"surname":"Коваленко","name":"Олена"},` +
	`"addressees":["66784279"],"subject":"Яма","text":"Прошу <усунути> яму & поруч",` +
	`"signatures":[{"of":"text","format":"xades-enveloped","value":"PHgvPg=="},{"of":"text","format":"cades-detached","value":"MIIBAAECAwQ="}]}`

func verifiedFacts() []schemas.VerifiedSignature {
	claimed := time.Date(2026, 3, 1, 11, 59, 58, 0, time.UTC)
	return []schemas.VerifiedSignature{{Index: 1, Of: "text", Format: schemas.SignatureCAdESDetached, Signer: schemas.Signer{
		Subject: "SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA", Issuer: "CN=Test Qualified CA,O=Appeal Hub Test,C=UA",
		SerialNumber: "1000", NotBefore: time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC),
		TaxNumber: "1234567890", DigestAlgorithm: "sha256", SignatureAlgorithm: "ecdsa-p256",
		CertificateSHA256:  "f798f35ba399b8df746f81973966cc5e1170a11e78faf7a14a73e35a271f2f73",
		ClaimedSigningTime: &claimed, Revocation: schemas.RevocationGood,
	}}}
}

// TestEncodeVerifiedSignatures puts the signer facts next to the submission, which stays byte for
// byte, and the document is valid against schemas/delivery.schema.json.
func TestEncodeVerifiedSignatures(t *testing.T) {
	t.Parallel()
	doc := testDocument()
	doc.Raw = json.RawMessage(signedSubmission)
	doc.Signatures = verifiedFacts()
	out, err := jsondoc.New().Encode(doc)
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(out, []byte(`,"submission":`+signedSubmission+`}`)), "submission verbatim and last:\n%s", out)
	require.NoError(t, schemas.ValidateDelivery(out))

	env, err := jsondoc.DecodeDocument(out)
	require.NoError(t, err)
	require.Equal(t, doc.Signatures, env.VerifiedSignatures)
	sub, err := env.DecodeSubmission()
	require.NoError(t, err)
	require.Equal(t, "MIIBAAECAwQ=", base64.StdEncoding.EncodeToString(sub.Signatures[env.VerifiedSignatures[0].Index].Value))

	var generic map[string]any
	require.NoError(t, json.Unmarshal(out, &generic))
	facts := generic["verified_signatures"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"index": 1.0, "of": "text", "format": "cades-detached", "signer": map[string]any{
		"subject": "SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA", "issuer": "CN=Test Qualified CA,O=Appeal Hub Test,C=UA",
		"serial_number": "1000", "not_before": "2026-01-10T09:00:00Z", "not_after": "2027-01-10T09:00:00Z",
		"tax_number": "1234567890", "digest_algorithm": "sha256", "signature_algorithm": "ecdsa-p256",
		"certificate_sha256":   "f798f35ba399b8df746f81973966cc5e1170a11e78faf7a14a73e35a271f2f73",
		"claimed_signing_time": "2026-03-01T11:59:58Z", "revocation": "good",
	}}, facts, "the wire names of the facts are stable")

	doc.Signatures = nil
	out, err = jsondoc.New().Encode(doc)
	require.NoError(t, err)
	require.NotContains(t, string(out), "verified_signatures", "absent when the hub verified none")
}

// TestDecodeDocumentVerifiedSignatures refuses facts that point nowhere, and the schema refuses
// facts with unknown members.
func TestDecodeDocumentVerifiedSignatures(t *testing.T) {
	t.Parallel()
	doc := testDocument()
	doc.Raw = json.RawMessage(signedSubmission)
	doc.Signatures = verifiedFacts()
	good, err := jsondoc.New().Encode(doc)
	require.NoError(t, err)

	for name, body := range map[string][]byte{
		"negative index": bytes.Replace(good, []byte(`"index":1`), []byte(`"index":-1`), 1),
		"no of":          bytes.Replace(good, []byte(`"of":"text","format":"cades-detached","signer"`), []byte(`"format":"cades-detached","signer"`), 1),
	} {
		_, err := jsondoc.DecodeDocument(body)
		require.ErrorIs(t, err, jsondoc.ErrInvalidDocument, name)
		require.Error(t, schemas.ValidateDelivery(body), name)
	}
	unknown := bytes.Replace(good, []byte(`"revocation":"good"`), []byte(`"revocation":"good","ocsp":"good"`), 1)
	require.Error(t, schemas.ValidateDelivery(unknown))
}
