package intake_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/clock"
	"appealhub/router/intake"
	"appealhub/router/recipient"
	"appealhub/schemas"
)

// countingVerifier accepts every signature with one signer, or fails with err, and counts calls.
type countingVerifier struct {
	calls atomic.Int32
	err   error
}

func (v *countingVerifier) Check(context.Context, []byte, []byte, time.Time) (schemas.Signer, error) {
	v.calls.Add(1)
	return schemas.Signer{SerialNumber: "01", Revocation: schemas.RevocationUnchecked}, v.err
}

// newReplayIntake returns an intake over a replayStore holding no case yet, with policies and v.
func newReplayIntake(t *testing.T, policies intake.SignaturePolicies, v intake.Verifier) (*intake.Intake, *replayStore) {
	t.Helper()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	st := &replayStore{byKey: map[string]schemas.StoredCase{}}
	newIntake(t, &st.fakeStore, now) // fills the routes
	in := intake.New(intake.Config{PublicURL: "https://hub.example", Clock: clock.NewStub(now), Signatures: policies, Verifier: v},
		st, recipient.New(st), zaptest.NewLogger(t))
	return in, st
}

func signedBody(t *testing.T) []byte {
	t.Helper()
	return signed{text: "t", signatures: []schemas.Signature{cades("text", []byte("sig"))}}.body(t)
}

// TestReplayLookupOnlyWhereNeeded: a new submission is inserted without looking its key up, and
// so is a replay that passes the checks again (the insert answers the stored case); a refused
// submission is looked up once, and a replay of a refused one is answered from its case.
func TestReplayLookupOnlyWhereNeeded(t *testing.T) {
	t.Parallel()
	in, st := newReplayIntake(t, intake.SignaturePolicies{}, nil)
	ctx := context.Background()
	b := body("appeal", "00000001")

	first, err := in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Len(t, st.created, 1)
	require.Zero(t, st.lookups, "a new submission is not looked up first")

	again, err := in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.TrackingNumber, again.TrackingNumber)
	require.Len(t, st.created, 1, "nothing stored again")
	require.Zero(t, st.lookups, "the insert answered the replay")

	_, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000002")})
	requireCode(t, err, schemas.CodeIdempotencyKeyReused)
	require.Zero(t, st.lookups)

	_, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "new", Body: body("appeal", "00000003")})
	requireCode(t, err, schemas.CodeAddresseeInactive)
	require.Equal(t, 1, st.lookups, "a refusal is looked up once: it may be a replay")

	// The key was used for another body: an invalid body under it is the reused key, as when the
	// lookup came first; under a new key it is the body's own refusal.
	_, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: []byte(`{"case_kind":"x"}`)})
	requireCode(t, err, schemas.CodeIdempotencyKeyReused)
	_, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "other", Body: []byte(`{"case_kind":"x"}`)})
	e, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "a refusal: %v", err)
	require.NotEqual(t, schemas.CodeIdempotencyKeyReused, e.Code)

	// The registry unreadable: a replay is still answered from its case.
	st.err = errors.New("connection refused")
	r, err := in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Equal(t, first.ID, r.ID)
	_, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "fresh", Body: b})
	require.ErrorIs(t, err, schemas.ErrUnavailable)
}

// TestReplayOfSignedSubmission: a signed submission costs no lookup when new; its replay is
// verified again and answered from the stored case, even when the verifier is down then.
func TestReplayOfSignedSubmission(t *testing.T) {
	t.Parallel()
	v := &countingVerifier{}
	in, st := newReplayIntake(t, intake.SignaturePolicies{Appeal: intake.PolicyOptional}, v)
	ctx := context.Background()
	b := signedBody(t)

	first, err := in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Equal(t, int32(1), v.calls.Load())
	require.Zero(t, st.lookups, "a new submission is not looked up")
	require.Len(t, st.created[0].Signatures, 1)

	again, err := in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "the insert answers the stored case")
	require.Equal(t, int32(2), v.calls.Load())
	require.Zero(t, st.lookups)
	require.Len(t, st.created, 1, "nothing new stored")

	v.err = errors.New("verifier down")
	again, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID, "a replay is answered while the verifier is down")
	require.Equal(t, 1, st.lookups, "looked up after the verifier failed")

	_, err = in.Submit(ctx, intake.Request{ClientID: "p", IdempotencyKey: "k2", Body: b})
	require.ErrorIs(t, err, schemas.ErrUnavailable, "a new key while the verifier is down")
	require.Equal(t, 2, st.lookups)
}

// TestReplayLookupFailureAfterRefusal: when the lookup after a refusal fails, the answer is
// unavailable (the key may be a replay's), as when the lookup came first.
func TestReplayLookupFailureAfterRefusal(t *testing.T) {
	t.Parallel()
	in, st := newReplayIntake(t, intake.SignaturePolicies{}, nil)
	st.findErr = errors.New("connection refused")
	b := body("appeal", "00000003")
	_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.ErrorIs(t, err, schemas.ErrUnavailable)
	require.Equal(t, 1, st.lookups)

	// A new submission that passes the checks needs no lookup, so it is accepted.
	sum := sha256.Sum256(body("appeal", "00000001"))
	r, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k2", Body: body("appeal", "00000001")})
	require.NoError(t, err)
	require.Equal(t, sum[:], st.created[0].RequestSHA256)
	require.Equal(t, st.created[0].ID, r.ID)
}
