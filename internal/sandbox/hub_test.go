package sandbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/schemas"
)

// TestWithHub runs the sandbox against a real in-process hub, in both formats and both modes:
// every submission reaches the sandbox once and comes back registered and answered (or refused on
// a valid ground) in the hub's case, and a pull-mode sandbox drains its inbox.
func TestWithHub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format, mode string
		refuse       bool
		submissions  int
	}{
		{format: sandbox.FormatSEV1207, mode: sandbox.ModePush, submissions: 1},
		{format: sandbox.FormatJSON, mode: sandbox.ModePush, refuse: true, submissions: 1},
		{format: sandbox.FormatSEV1207, mode: sandbox.ModePull, submissions: 3},
		{format: sandbox.FormatJSON, mode: sandbox.ModePull, submissions: 3},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%s", tc.format, tc.mode)
		if tc.refuse {
			name += "/refusing"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const code, token = "13000001", "authority-system-token"
			sum := sha256.Sum256([]byte(token))

			// The sandbox's address must be known before the hub starts, and the hub's before the
			// sandbox is made: listen first, serve later.
			srv := httptest.NewUnstartedServer(nil)
			t.Cleanup(srv.Close)
			endpoint := "http://" + srv.Listener.Addr().String() + "/documents/" + code
			env := hubtest.NewEnv(t, map[string]string{code: endpoint}, func(c *config.Config) {
				c.Authorities[0].Adapter, c.Authorities[0].Mode = tc.format, tc.mode
				c.Clients = append(c.Clients, config.Client{ID: "sandbox-system", Kind: config.ClientAuthority,
					Authority: code, TokenSHA256: hex.EncodeToString(sum[:])})
			})
			hub := env.Start(t)
			t.Cleanup(http.DefaultClient.CloseIdleConnections)

			opts := sandbox.Options{Name: "sbx", Format: tc.format, Mode: tc.mode, Hub: hub.URL, Code: code, HubToken: token,
				Poll: 50 * time.Millisecond, RegisterAfter: 50 * time.Millisecond, AnswerAfter: 50 * time.Millisecond, Seed: 5}
			if tc.refuse {
				opts.RefuseRate = 1
			}
			sb, err := sandbox.New(opts, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
			require.NoError(t, err)
			srv.Config.Handler = sb
			srv.Start()
			t.Cleanup(func() { require.NoError(t, sb.Close()) })

			var receipts []schemas.Receipt
			for i := range tc.submissions {
				receipts = append(receipts, env.MustSubmit(t, hub.URL, fmt.Sprintf("sbx-%d", i), hubtest.Submission(i, 2048, code)))
			}
			want := schemas.StatusAnswered
			if tc.refuse {
				want = schemas.StatusRefused
			}
			cases := make([]schemas.Case, len(receipts))
			require.Eventually(t, func() bool {
				for i, r := range receipts {
					resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
					require.NoError(t, err)
					require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
					require.NoError(t, json.Unmarshal(resp.Body, &cases[i]))
					if cases[i].Deliveries[0].Status != want {
						return false
					}
				}
				return true
			}, 60*time.Second, 50*time.Millisecond)

			l := sb.Ledger()
			require.Equal(t, tc.submissions, l.Documents, "each submission once")
			require.Zero(t, l.MessagesFailed, "the hub took every message")
			for _, c := range cases {
				var types []schemas.EventType
				for _, e := range c.Events {
					types = append(types, e.Type)
				}
				require.Contains(t, types, schemas.AuthorityEvent(schemas.MsgDelivered), "%v", types)
				if tc.refuse {
					require.Contains(t, types, schemas.AuthorityEvent(schemas.MsgRefused))
					require.NotContains(t, types, schemas.AuthorityEvent(schemas.MsgAnswered))
					continue
				}
				require.Contains(t, types, schemas.AuthorityEvent(schemas.MsgRegistered))
				require.Contains(t, types, schemas.AuthorityEvent(schemas.MsgAnswered))
				require.Less(t, slices.Index(types, schemas.AuthorityEvent(schemas.MsgRegistered)),
					slices.Index(types, schemas.AuthorityEvent(schemas.MsgAnswered)))
			}
			regs := map[string]string{}
			for _, e := range l.Entries {
				require.Equal(t, 1, e.Received)
				require.Equal(t, code, e.Authority)
				regs[e.DeliveryID] = e.RegistrationNumber
			}
			for _, c := range cases {
				d := c.Deliveries[0]
				require.Contains(t, regs, d.ID, "the sandbox received the hub's delivery id")
				if tc.refuse {
					require.Contains(t, schemas.RefusalCodes(), d.RefusalCode)
					continue
				}
				require.Equal(t, regs[d.ID], d.RegistrationNumber, "the hub holds the sandbox's registration number")
				require.NotNil(t, d.RegisteredAt)
			}

			if tc.mode == sandbox.ModePull {
				resp, err := hubtest.Do(context.Background(), http.MethodGet, hub.URL+"/v1/authorities/"+code+"/inbox", token, nil, nil)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.Status)
				require.JSONEq(t, `{"items":[]}`, string(resp.Body), "the inbox is drained")
			}
		})
	}
}
