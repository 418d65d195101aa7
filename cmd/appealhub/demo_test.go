package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// TestSignersLine shows each signed part with its certificate, never the signer's name or tax number.
func TestSignersLine(t *testing.T) {
	t.Parallel()
	require.Equal(t, "no verified signature", signersLine(nil))
	signer := schemas.Signer{Subject: "SERIALNUMBER=TINUA-1234567890,CN=Demo Citizen,C=UA", TaxNumber: "1234567890",
		CertificateSHA256: "f798f35ba399b8df746f81973966cc5e1170a11e78faf7a14a73e35a271f2f73",
		DigestAlgorithm:   "sha256", SignatureAlgorithm: "ecdsa-p256", Revocation: schemas.RevocationGood}
	line := signersLine([]schemas.VerifiedSignature{{Index: 0, Of: "text", Signer: signer}, {Index: 1, Of: "att-1", Signer: signer}})
	require.Equal(t, "signed: text by certificate f798f35ba399… (ecdsa-p256, sha256, revocation good); "+
		"att-1 by certificate f798f35ba399… (ecdsa-p256, sha256, revocation good)", line)
	require.NotContains(t, line, "Demo Citizen")
	require.NotContains(t, line, "1234567890")
}
