package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/adapters/httppush"
	"appealhub/adapters/jsondoc"
	"appealhub/internal/sandbox"
)

// TestWithHubTransport drives the sandbox the way the delivery worker does: jsondoc encodes,
// httppush sends, jsondoc decodes the reply; each fault mode yields the error class the worker
// branches on.
func TestWithHubTransport(t *testing.T) {
	t.Parallel()
	b := setup(t, sandbox.Options{Name: "hub", Token: "tok"})
	tr := httppush.New(httppush.Config{Timeout: 5 * time.Second})
	t.Cleanup(func() { _ = tr.Close() })
	format := jsondoc.New()

	send := func(id string) (adapters.Reply, error) {
		body := document(t, id, "66784279")
		resp, err := tr.Send(context.Background(), adapters.Request{
			Endpoint:   b.server.URL + "/documents/66784279",
			DeliveryID: id,
			MediaType:  format.MediaType(),
			Body:       body,
			Token:      "tok",
		})
		if err != nil {
			return adapters.Reply{}, err
		}
		return format.DecodeReply(resp.MediaType, resp.Body)
	}

	rep, err := send("d-1")
	require.NoError(t, err)
	require.True(t, rep.Delivered)
	require.Equal(t, "hub-1", rep.RegistrationNumber)

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{Token: "tok", ErrorRate: 1}))
	_, err = send("d-2")
	serr, ok := errors.AsType[*httppush.StatusError](err)
	require.True(t, ok)
	require.Equal(t, http.StatusServiceUnavailable, serr.Status)
	require.False(t, adapters.IsPermanent(err), "503 is retried")

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{Token: "tok", FailStatus: http.StatusUnprocessableEntity}))
	_, err = send("d-2")
	require.True(t, adapters.IsPermanent(err), "422 goes to the dead letters")

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{Token: "wrong"}))
	_, err = send("d-2")
	require.True(t, adapters.IsPermanent(err), "401 is permanent")

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{Token: "tok", DropRate: 1}))
	_, err = send("d-2")
	require.Error(t, err)
	require.False(t, adapters.IsPermanent(err), "a dropped connection is retried")
	require.Equal(t, 2, b.sandbox.Ledger().Documents, "though the sandbox recorded it")

	require.NoError(t, b.sandbox.SetOptions(sandbox.Options{Token: "tok"}))
	rep, err = send("d-2")
	require.NoError(t, err)
	require.True(t, rep.Delivered)
	require.Equal(t, "hub-2", rep.RegistrationNumber, "the retry finds the recorded document")

	l := b.sandbox.Ledger()
	require.Equal(t, 2, l.Documents)
	require.GreaterOrEqual(t, l.Entries[1].Received, 2)
	require.Equal(t, 1, l.Entries[0].Received)
}
