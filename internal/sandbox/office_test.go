package sandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/adapters"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// fakeHub records what a sandbox sends to the hub's authority API and serves an inbox.
type fakeHub struct {
	srv     *httptest.Server
	decoder adapters.MessageDecoder

	mu        sync.Mutex
	posts     [][]byte                   // every message body, in order
	auth      []string                   // the Authorization of each
	paths     []string                   // the path of each
	msgs      []schemas.AuthorityMessage // decoded from the posts answered 200
	failFirst int                        // answer 503 to the first failFirst posts
	status    int                        // answer every post with this status, when set
	inbox     map[string][]byte          // inbox items by id (JSON documents)
	acked     []string
}

func newFakeHub(t *testing.T, format string) *fakeHub {
	t.Helper()
	h := &fakeHub{decoder: formatAdapter(format).(adapters.MessageDecoder), inbox: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/authorities/{code}/messages", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.posts = append(h.posts, body)
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.paths = append(h.paths, r.URL.Path)
		switch {
		case h.status != 0:
			w.WriteHeader(h.status)
			return
		case len(h.posts) <= h.failFirst:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		msgs, err := h.decoder.DecodeMessages(r.Header.Get("Content-Type"), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.msgs = append(h.msgs, msgs...)
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /v1/authorities/{code}/inbox", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		items := []map[string]string{}
		for id := range h.inbox {
			if !slices.Contains(h.acked, id) {
				items = append(items, map[string]string{"id": id})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	})
	mux.HandleFunc("GET /v1/authorities/{code}/inbox/{id}", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		body, ok := h.inbox[r.PathValue("id")]
		h.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /v1/authorities/{code}/inbox/{id}/ack", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.acked = append(h.acked, r.PathValue("id"))
		w.WriteHeader(http.StatusNoContent)
	})
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHub) messages() []schemas.AuthorityMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}

func (h *fakeHub) postCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.posts)
}

func officeOptions(format, hub string) sandbox.Options {
	return sandbox.Options{Name: "sbx", Format: format, Hub: hub, HubToken: "hub-tok", Seed: 3,
		RegisterAfter: 10 * time.Millisecond, AnswerAfter: 10 * time.Millisecond}
}

// TestOfficeReportsToTheHub: after a new document the sandbox sends delivered, registered and
// answered, each with a stable id, retrying what the hub did not take with the same bytes; a
// repeated delivery sends nothing more.
func TestOfficeReportsToTheHub(t *testing.T) {
	t.Parallel()
	for _, format := range []string{sandbox.FormatJSON, sandbox.FormatSEV1207} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t, format)
			hub.failFirst = 2
			b := setup(t, officeOptions(format, hub.srv.URL))

			resp, reply, err := b.postAs(t, format, "d-1", encodeDoc(t, format, "d-1", "66784279"))
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			rep, err := formatAdapter(format).DecodeReply(resp.Header.Get("Content-Type"), reply)
			require.NoError(t, err)
			require.True(t, rep.Delivered)
			require.Empty(t, rep.RegistrationNumber, "registration follows as a message")

			require.Eventually(t, func() bool { return len(hub.messages()) == 3 }, 10*time.Second, 5*time.Millisecond)
			msgs := hub.messages()
			var types, ids []string
			for _, m := range msgs {
				types = append(types, string(m.Type))
				ids = append(ids, m.MessageID)
				require.Equal(t, "d-1", m.Of)
			}
			require.Equal(t, []string{"delivered", "registered", "answered"}, types)
			require.Equal(t, []string{"d-1.delivered", "d-1.registered", "d-1.answered"}, ids)
			require.Equal(t, "sbx-1", msgs[1].RegistrationNumber)
			require.NotNil(t, msgs[1].RegistrationDate)
			require.Len(t, msgs[2].Documents, 1)
			require.NotEmpty(t, msgs[2].Documents[0].Content)
			require.Contains(t, msgs[2].Text, "ZV-2026-d-1")

			hub.mu.Lock()
			require.Len(t, hub.posts, 5, "two refusals retried")
			require.Equal(t, hub.posts[0], hub.posts[2], "a retry sends the same bytes")
			for i := range hub.posts {
				require.Equal(t, "Bearer hub-tok", hub.auth[i])
				require.Equal(t, "/v1/authorities/66784279/messages", hub.paths[i])
			}
			hub.mu.Unlock()

			require.Eventually(t, func() bool { return b.sandbox.Ledger().MessagesSent == 3 }, 5*time.Second, 5*time.Millisecond)
			l := b.sandbox.Ledger()
			require.Equal(t, schemas.MsgAnswered, l.Entries[0].Status)
			require.Equal(t, 3, l.Entries[0].Messages)
			require.Zero(t, l.MessagesFailed)

			resp, _, err = b.postAs(t, format, "d-1", encodeDoc(t, format, "d-1", "66784279"))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Never(t, func() bool { return hub.postCount() > 5 }, 100*time.Millisecond, 10*time.Millisecond,
				"a repeated delivery is no new document: no new messages")
		})
	}
}

// TestOfficeRefuses: a refusal carries a ground of the closed list and its wording, and no answer
// follows; RefuseWithoutReason states none.
func TestOfficeRefuses(t *testing.T) {
	t.Parallel()
	for _, format := range []string{sandbox.FormatJSON, sandbox.FormatSEV1207} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			hub := newFakeHub(t, format)
			opts := officeOptions(format, hub.srv.URL)
			opts.RefuseRate = 1
			b := setup(t, opts)
			resp, _, err := b.postAs(t, format, "d-1", encodeDoc(t, format, "d-1", "66784279"))
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			require.Eventually(t, func() bool { return b.sandbox.Ledger().MessagesSent == 2 }, 10*time.Second, 5*time.Millisecond)
			msgs := hub.messages()
			require.Len(t, msgs, 2)
			require.Equal(t, schemas.MsgRefused, msgs[1].Type)
			require.Contains(t, schemas.RefusalCodes(), msgs[1].RefusalCode)
			require.Contains(t, msgs[1].RefusalText, schemas.RefusalText(msgs[1].RefusalCode))
			require.Equal(t, schemas.MsgRefused, b.sandbox.Ledger().Entries[0].Status)
			require.Never(t, func() bool { return hub.postCount() > 2 }, 100*time.Millisecond, 10*time.Millisecond,
				"no answer after a refusal")
		})
	}

	t.Run("without reason", func(t *testing.T) {
		t.Parallel()
		hub := newFakeHub(t, sandbox.FormatSEV1207)
		opts := officeOptions(sandbox.FormatSEV1207, hub.srv.URL)
		opts.RefuseRate, opts.RefuseWithoutReason = 1, true
		b := setup(t, opts)
		resp, _, err := b.postAs(t, sandbox.FormatSEV1207, "d-1", encodeDoc(t, sandbox.FormatSEV1207, "d-1", "66784279"))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		require.Eventually(t, func() bool { return len(hub.messages()) == 2 }, 10*time.Second, 5*time.Millisecond)
		refused := hub.messages()[1]
		require.Equal(t, schemas.MsgRefused, refused.Type)
		require.Empty(t, refused.RefusalCode, "no ground of the closed list")
		require.NotEmpty(t, refused.RefusalText)
	})
}

// TestOfficeGivesUpOnARefusedMessage: a message the hub refuses for good (4xx) is not retried.
func TestOfficeGivesUpOnARefusedMessage(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t, sandbox.FormatJSON)
	hub.status = http.StatusNotFound
	b := setup(t, officeOptions(sandbox.FormatJSON, hub.srv.URL))
	require.Equal(t, http.StatusCreated, b.mustPost(t, "d-1", "66784279").status)
	require.Eventually(t, func() bool { return b.sandbox.Ledger().MessagesFailed == 3 }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 3, hub.postCount(), "each message once")
	require.Zero(t, b.sandbox.Ledger().MessagesSent)
}

// TestCloseStopsRetries: Close returns promptly while the hub keeps failing, and nothing is sent
// afterwards (goleak checks that no goroutine is left).
func TestCloseStopsRetries(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t, sandbox.FormatJSON)
	hub.status = http.StatusServiceUnavailable
	b := setup(t, officeOptions(sandbox.FormatJSON, hub.srv.URL))
	require.Equal(t, http.StatusCreated, b.mustPost(t, "d-1", "66784279").status)
	require.Eventually(t, func() bool { return hub.postCount() >= 2 }, 10*time.Second, 5*time.Millisecond, "retrying")
	done := make(chan struct{})
	go func() {
		_ = b.sandbox.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	n := hub.postCount()
	require.Never(t, func() bool { return hub.postCount() > n }, 200*time.Millisecond, 20*time.Millisecond)
	require.Equal(t, http.StatusCreated, b.mustPost(t, "d-2", "66784279").status, "still answers after Close")
}

// TestPullFromInbox: a pull-mode sandbox takes in and acknowledges readable inbox items, leaves an
// unreadable one unacknowledged, and reports on what it took.
func TestPullFromInbox(t *testing.T) {
	t.Parallel()
	hub := newFakeHub(t, sandbox.FormatJSON)
	hub.inbox["d-1"] = document(t, "d-1", "66784279")
	hub.inbox["d-2"] = document(t, "d-2", "66784279")
	hub.inbox["d-bad"] = []byte(`{"format":"something else"}`)
	opts := officeOptions(sandbox.FormatJSON, hub.srv.URL)
	opts.Mode, opts.Code, opts.Poll = sandbox.ModePull, "66784279", 10*time.Millisecond
	b := setup(t, opts)

	require.Eventually(t, func() bool { return b.sandbox.Ledger().MessagesSent == 6 }, 10*time.Second, 5*time.Millisecond)
	l := b.sandbox.Ledger()
	require.Equal(t, 2, l.Documents)
	require.Equal(t, sandbox.ModePull, l.Mode)
	require.GreaterOrEqual(t, l.Refused, 1, "the unreadable item")
	hub.mu.Lock()
	acked := slices.Clone(hub.acked)
	hub.mu.Unlock()
	slices.Sort(acked)
	require.Equal(t, []string{"d-1", "d-2"}, slices.Compact(acked))
	for _, m := range hub.messages() {
		require.True(t, strings.HasPrefix(m.MessageID, m.Of+"."), m.MessageID)
	}
}
