package receipt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/audit"
	"appealhub/internal/clock"
	"appealhub/internal/receipt"
)

func TestCheckpointSignatures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files, err := receipt.GenerateIdentity(t.TempDir(), "Hub")
	require.NoError(t, err)
	id, err := receipt.LoadIdentity(files.Key, files.Certificate)
	require.NoError(t, err)
	v, err := receipt.NewVerifierFromFile(files.CA)
	require.NoError(t, err)
	created := time.Now().UTC().Truncate(time.Microsecond)
	content := audit.CheckpointContent(12, 40, make([]byte, 32), created)

	// The signature is made years after the checkpoint, by a clock the test controls: it still
	// verifies, because the certificate is checked at the checkpoint's own time.
	signer := receipt.NewCheckpointSigner(id, clock.NewStub(created.Add(time.Minute)))
	sig, name, err := signer.Sign(ctx, content)
	require.NoError(t, err)
	require.Equal(t, receipt.CheckpointSignerPrefix+id.CertificateSHA256(), name)
	cv := receipt.NewCheckpointVerifier(v)
	require.NoError(t, cv.Verify(ctx, content, sig, name))

	changed := audit.CheckpointContent(12, 41, make([]byte, 32), created)
	require.ErrorIs(t, cv.Verify(ctx, changed, sig, name), receipt.ErrInvalid)
	require.ErrorIs(t, cv.Verify(ctx, content, sig, receipt.CheckpointSignerPrefix+strings.Repeat("0", 64)), receipt.ErrInvalid)
	require.ErrorIs(t, cv.Verify(ctx, content, []byte("not a signature"), name), receipt.ErrInvalid)

	// A checkpoint dated before the certificate was issued does not verify.
	early := audit.CheckpointContent(12, 40, make([]byte, 32), created.AddDate(-1, 0, 0))
	sig, name, err = signer.Sign(ctx, early)
	require.NoError(t, err)
	require.ErrorContains(t, cv.Verify(ctx, early, sig, name), "certificate_expired")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = signer.Sign(cancelled, content)
	require.ErrorIs(t, err, context.Canceled)
}
