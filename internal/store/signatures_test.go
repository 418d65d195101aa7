package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/store"
	"appealhub/schemas"
)

// signedCase returns a new case for authority 00000001 carrying sigs.
func (b *testBundle) signedCase(key string, sigs ...schemas.VerifiedSignature) schemas.NewCase {
	return schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: key,
		RequestSHA256: hash(key), CaseKind: schemas.CaseAppeal, Body: []byte(`{}`), ReceivedAt: b.now,
		Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001"}},
		Signatures: sigs}
}

func verified(index int, of string, claimed *time.Time, revocation string) schemas.VerifiedSignature {
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	return schemas.VerifiedSignature{Index: index, Of: of, Format: schemas.SignatureCAdESDetached, Signer: schemas.Signer{
		Subject: "SERIALNUMBER=TINUA-1234567890,CN=Тарас Шевченко,C=UA", Issuer: "CN=Test Qualified CA,O=Appeal Hub Test,C=UA",
		SerialNumber: "1000", NotBefore: at, NotAfter: at.AddDate(1, 0, 0), TaxNumber: "1234567890",
		DigestAlgorithm: "sha256", SignatureAlgorithm: "ecdsa-p256",
		CertificateSHA256:  "f798f35ba399b8df746f81973966cc5e1170a11e78faf7a14a73e35a271f2f73",
		ClaimedSigningTime: claimed, Revocation: revocation,
	}}
}

// TestCaseSignaturesStoredWithTheCase: the verified signatures come back with the case and with each
// delivery task, in submission order, facts intact.
func TestCaseSignaturesStoredWithTheCase(t *testing.T) {
	t.Parallel()
	b := setup(t)
	claimed := time.Date(2026, 3, 1, 11, 59, 58, 0, time.UTC)
	noTax := verified(2, "a1", nil, schemas.RevocationUnchecked)
	noTax.Signer.TaxNumber = ""
	sigs := []schemas.VerifiedSignature{verified(0, "text", &claimed, schemas.RevocationGood), noTax, verified(3, "text", nil, schemas.RevocationGood)}
	nc := b.signedCase("signed", sigs[2], sigs[0], sigs[1])
	stored, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)

	c, err := b.store.Case(b.ctx, "portal", stored.ID)
	require.NoError(t, err)
	require.Equal(t, sigs, c.Signatures)
	task, err := b.store.DeliveryTask(b.ctx, nc.Deliveries[0].ID)
	require.NoError(t, err)
	require.Equal(t, sigs, task.Signatures)
	n, err := b.store.CaseSignatureCount(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	// A replay of the idempotency key stores nothing more.
	again, err := b.store.CreateCase(b.ctx, b.signedCase("signed", sigs[0]), "ZV-2026-")
	require.NoError(t, err)
	require.False(t, again.Created)
	n, err = b.store.CaseSignatureCount(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	unsigned := b.newCase(t, "unsigned", "00000001")
	c, err = b.store.Case(b.ctx, "portal", unsigned.ID)
	require.NoError(t, err)
	require.NotNil(t, c.Signatures, "an empty list, not null")
	require.Empty(t, c.Signatures)
}

// TestCaseSignatureFailureStoresNothing: a signature row the database refuses leaves no case behind.
func TestCaseSignatureFailureStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nc := b.signedCase("bad", verified(0, "text", nil, schemas.RevocationGood), verified(0, "text", nil, schemas.RevocationGood))
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.Error(t, err, "the same signature index twice")
	_, err = b.store.Case(b.ctx, "portal", nc.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	nc = b.signedCase("bad2", verified(0, "text", nil, "revoked-later"))
	_, err = b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.Error(t, err, "an unknown revocation state")
	totals, err := b.store.Totals(b.ctx)
	require.NoError(t, err)
	require.Zero(t, totals.Appeals)
	require.Zero(t, totals.Deliveries)
	n, err := b.store.CaseSignatureCount(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n)
}
