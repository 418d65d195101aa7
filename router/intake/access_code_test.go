package intake_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/router/intake"
	"appealhub/router/recipient"
	"appealhub/schemas"
)

// codeStore is a fakeStore that also keeps access codes (intake.AccessCodeStore).
type codeStore struct {
	fakeStore
	hashes [][]byte
}

func (c *codeStore) CreateCaseWithAccessCode(ctx context.Context, nc schemas.NewCase, prefix string, sum []byte) (schemas.StoredCase, error) {
	c.hashes = append(c.hashes, sum)
	return c.CreateCase(ctx, nc, prefix)
}

var _ intake.AccessCodeStore = (*codeStore)(nil)

func TestReceiptCarriesTheAccessCodeOnce(t *testing.T) {
	t.Parallel()
	st := &codeStore{}
	newIntake(t, &st.fakeStore, time.Now()) // fills the fake registry
	in := intake.New(intake.Config{PublicURL: "https://hub.example/"}, st, recipient.New(st), zaptest.NewLogger(t))
	r, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000001")})
	require.NoError(t, err)
	require.Len(t, r.AccessCode, schemas.AccessCodeLength)
	require.Len(t, st.hashes, 1)
	require.Equal(t, schemas.AccessCodeHash(r.ID, r.AccessCode), st.hashes[0], "only the hash is stored, salted by the case")

	// A replay finds the first case: its code was shown once and is not known any more.
	st.existing = &schemas.StoredCase{ID: r.ID, TrackingNumber: r.TrackingNumber, ReceivedAt: r.ReceivedAt,
		RequestSHA256: st.created[0].RequestSHA256}
	again, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000001")})
	require.NoError(t, err)
	require.Equal(t, r.ID, again.ID)
	require.Empty(t, again.AccessCode)

	// A store without codes gives none.
	plain := &fakeStore{}
	r, err = newIntake(t, plain, time.Now()).Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k2",
		Body: body("appeal", "00000001")})
	require.NoError(t, err)
	require.Empty(t, r.AccessCode)
}
