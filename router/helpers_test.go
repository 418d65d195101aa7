package router_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

func decodeReceipt(t *testing.T, body []byte) schemas.Receipt {
	t.Helper()
	var r schemas.Receipt
	require.NoError(t, json.Unmarshal(body, &r))
	require.NotEmpty(t, r.ID)
	return r
}

func decodeCase(t *testing.T, body []byte) schemas.Case {
	t.Helper()
	var c schemas.Case
	require.NoError(t, json.Unmarshal(body, &c))
	return c
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func sandboxOptions() sandbox.Options { return sandbox.Options{} }

// holdingSandbox is a sandbox system behind a server that holds the first document it is sent
// until release is called (also at cleanup): with a concurrency of 1 the authority's next
// message then waits, ready, in its queue. held is closed once the first document arrived.
func holdingSandbox(t *testing.T, name string) (sb *sandbox.Server, srv *httptest.Server, held <-chan struct{}, release func()) {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Name: name}, zaptest.NewLogger(t))
	require.NoError(t, err)
	arrived, released := make(chan struct{}), make(chan struct{})
	var first sync.Once
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first.Do(func() {
			close(arrived)
			<-released
		})
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	return sb, srv, arrived, release
}

// readCase reads case id through the portal API, as its client does.
func readCase(t *testing.T, hubURL, token, id string) schemas.Case {
	t.Helper()
	resp, err := hubtest.Do(context.Background(), http.MethodGet, hubURL+"/v1/appeals/"+id, token, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	return decodeCase(t, resp.Body)
}
