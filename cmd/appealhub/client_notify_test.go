package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/audit"
	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/router/notify"
	"appealhub/schemas"
)

// deadNotification makes a case of client whose acceptance notification the webhook refused for
// good, and returns the notification's id.
func deadNotification(t *testing.T, st *store.Store, client string) int64 {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(client))
	id := uuid.Must(uuid.NewV7()).String()
	_, err := st.CreateCase(ctx, schemas.NewCase{ID: id, ClientID: client, IdempotencyKey: id, RequestSHA256: sum[:],
		CaseKind: schemas.CaseAppeal, Body: []byte(`{}`), ReceivedAt: time.Now()}, "ZV-2026-")
	require.NoError(t, err)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		_, err := audit.NewSealer(st, audit.Config{}, nil).Seal(ctx)
		require.NoError(t, err)
		n, err := st.UnsealedEvents(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		require.False(t, time.Now().After(deadline), "the event is still unsealed")
	}
	_, err = notify.NewNotifier(st, notify.Config{}, nil).Notify(ctx)
	require.NoError(t, err)
	var nid int64
	_, _, err = st.RelayNotifications(ctx, time.Now(), 10, time.Second, func(_ context.Context, msgs []schemas.PortalMessage) []error {
		require.Len(t, msgs, 1)
		nid = msgs[0].ID
		return make([]error, 1)
	})
	require.NoError(t, err)
	applied, err := st.RecordWebhook(ctx, schemas.WebhookOutcome{ID: nid, Attempt: 1, Status: schemas.NotificationDead,
		Error: "permanent: the webhook answered 410 Gone", At: time.Now()})
	require.NoError(t, err)
	require.True(t, applied)
	return nid
}

func fieldsOf(out string) map[string]string {
	fields := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
			fields[k] = v
		}
	}
	return fields
}

func TestClientNotify(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	ctx := context.Background()
	sum := sha256.Sum256([]byte("token"))
	require.NoError(t, st.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	ops := sha256.Sum256([]byte("ops-token"))
	require.NoError(t, st.UpsertClient(ctx, schemas.Client{ID: "ops", Kind: "operator"}, ops[:]))
	keyFile := filepath.Join(t.TempDir(), "notifications.key")
	key := make([]byte, 32)
	key[0] = 1
	require.NoError(t, os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600))
	common := []string{"--database-url", cfg.URL, "--database-schema", cfg.Schema, "--broker-prefix", "p1.",
		"--notifications-secret-key-file", keyFile}
	notifyCLI := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, nil, append(append([]string{"client", "notify"}, args...), common...)...)
	}

	_, errOut, code := notifyCLI("portal")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "portal client portal has no notification subscription")

	out, errOut, code := notifyCLI("portal", "--webhook", "https://portal.example/events")
	require.Equal(t, 0, code, errOut)
	f := fieldsOf(out)
	require.Equal(t, "webhook", f["mode"])
	first := f["secret"]
	require.True(t, strings.HasPrefix(first, "whsec_"), out)
	rec, err := st.Subscription(ctx, "portal")
	require.NoError(t, err)
	require.NotContains(t, string(rec.SealedSecret), first, "sealed with the key")
	box, err := notify.LoadSecretBox(keyFile)
	require.NoError(t, err)
	opened, err := box.Open("portal", rec.SealedSecret)
	require.NoError(t, err)
	require.Equal(t, first, string(opened))

	out, errOut, code = notifyCLI("portal", "--webhook", "https://portal.example/v2")
	require.Equal(t, 0, code, errOut)
	require.Empty(t, fieldsOf(out)["secret"], "a new URL keeps the secret")
	out, errOut, code = notifyCLI("portal", "--webhook", "https://portal.example/v2", "--rotate-secret")
	require.Equal(t, 0, code, errOut)
	require.NotEmpty(t, fieldsOf(out)["secret"])
	require.NotEqual(t, first, fieldsOf(out)["secret"])

	out, errOut, code = notifyCLI("portal")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "https://portal.example/v2", fieldsOf(out)["url"])
	require.Empty(t, fieldsOf(out)["secret"], "never shown again")

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"portal", "--webhook", "http://portal.example/x"}, "/url must be an https URL"},
		{[]string{"ops", "--amqp"}, "only enabled portal clients may subscribe"},
		{[]string{"portal", "--rotate-secret"}, "--rotate-secret goes with --webhook"},
		{[]string{"portal", "--broker-user"}, "--broker-user goes with --amqp"},
		{[]string{"portal", "--amqp", "--dead"}, "none of the others can be"},
		{[]string{"portal", "--redrive", "x"}, `want a notification id or "all"`},
		{[]string{"portal", "--redrive", "99"}, "notification 99 of portal is not dead"},
	} {
		_, errOut, code := notifyCLI(tt.args...)
		require.Equal(t, 1, code, tt.args)
		require.Contains(t, errOut, tt.want, tt.args)
	}

	// Dead notifications: listed, then redriven.
	nid := deadNotification(t, st, "portal")
	out, errOut, code = notifyCLI("portal", "--dead")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "permanent: the webhook answered 410 Gone")
	require.Contains(t, out, "1 dead notification(s)")
	out, errOut, code = notifyCLI("portal", "--redrive", "all")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "redriven: 1\n", out)
	list, err := st.DeadNotifications(ctx, "portal", 10)
	require.NoError(t, err)
	require.Empty(t, list)
	_, errOut, code = notifyCLI("portal", "--redrive", "1")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "is not dead")
	require.Positive(t, nid)

	out, errOut, code = notifyCLI("portal", "--amqp")
	require.Equal(t, 0, code, errOut)
	f = fieldsOf(out)
	require.Equal(t, "amqp", f["mode"])
	require.Equal(t, "p1.hub.portal.portal", f["queue"])
	require.Equal(t, "p1.hub.portal", f["exchange"])
}

func TestClientNotifyBrokerUser(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	sum := sha256.Sum256([]byte("token"))
	require.NoError(t, st.UpsertClient(context.Background(), schemas.Client{ID: "portal", Kind: "portal"}, sum[:]))
	bcfg := brokertest.Config(t)
	admin := brokertest.Admin(t, bcfg)
	user := bcfg.Names.PortalUsername("portal")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, broker.DeleteUser(ctx, admin, user))
	})
	out, errOut, code := runCLI(t, nil, "client", "notify", "portal", "--amqp", "--broker-user", "--database-url", cfg.URL,
		"--database-schema", cfg.Schema, "--broker-url", bcfg.URL, "--broker-prefix", bcfg.Names.Prefix, "--admin-url", admin.URL)
	require.Equal(t, 0, code, errOut)
	f := fieldsOf(out)
	require.Equal(t, user, f["username"])
	require.Equal(t, bcfg.Names.PortalQueue("portal"), f["queue"])
	require.NoError(t, broker.Ping(t.Context(), as(t, bcfg, f["username"], f["password"])))
}
