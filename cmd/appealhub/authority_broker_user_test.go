package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

// execAuthority runs `appealhub authority ARGS...` in process and returns what it printed.
func execAuthority(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newAuthorityCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// parseFields reads "key: value" lines.
func parseFields(t *testing.T, out string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		require.True(t, ok, "line %q", line)
		fields[k] = v
	}
	return fields
}

// userExists asks the management API whether user exists.
func userExists(t *testing.T, admin broker.AdminConfig, user string) bool {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, strings.TrimSuffix(admin.URL, "/")+"/api/users/"+url.PathEscape(user), nil)
	require.NoError(t, err)
	req.SetBasicAuth(admin.User, admin.Password)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, resp.StatusCode)
	return resp.StatusCode == http.StatusOK
}

// as returns cfg connecting as user.
func as(t *testing.T, cfg broker.Config, user, password string) broker.Config {
	t.Helper()
	u, err := url.Parse(cfg.URL)
	require.NoError(t, err)
	u.User = url.UserPassword(user, password)
	cfg.URL = u.String()
	return cfg
}

func TestAuthorityBrokerUser(t *testing.T) {
	t.Parallel()
	const a, b = "42000001", "42000002"
	bcfg := brokertest.Config(t, brokertest.WithAuthorities(a, b))
	admin := brokertest.Admin(t, bcfg)
	names := bcfg.Names
	user := names.AuthorityUsername(a)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, broker.DeleteUser(ctx, admin, user))
	})

	pub := broker.NewPublisher(bcfg, zaptest.NewLogger(t))
	require.NoError(t, pub.Start(t.Context()))
	t.Cleanup(func() { require.NoError(t, pub.Stop(context.Background())) })
	require.Eventually(t, func() bool { return pub.Status().Connected }, 20*time.Second, 10*time.Millisecond)
	require.NoError(t, pub.EnsureAuthority(t.Context(), a))
	require.NoError(t, pub.EnsureAuthority(t.Context(), b))
	for i, err := range pub.PublishBatch(t.Context(), []broker.Message{
		{RoutingKey: a, MessageID: "for-a", Body: []byte("a")},
		{RoutingKey: b, MessageID: "for-b", Body: []byte("b")},
	}) {
		require.NoError(t, err, "message %d", i)
	}

	common := []string{"--broker-url", bcfg.URL, "--broker-prefix", names.Prefix, "--admin-url", admin.URL}
	out, err := execAuthority(t, append([]string{"broker-user", a}, common...)...)
	require.NoError(t, err)
	fields := parseFields(t, out)
	require.Equal(t, user, fields["username"])
	require.Equal(t, names.AuthorityQueue(a), fields["queue"])
	require.Equal(t, "/", fields["vhost"])
	require.GreaterOrEqual(t, len(fields["password"]), 40, "a generated password")

	// The printed credentials take a's message from a's queue, and nothing from b's.
	ucfg := as(t, bcfg, fields["username"], fields["password"])
	d, ok, err := broker.Get(t.Context(), ucfg, fields["queue"])
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "for-a", d.MessageID)
	_, _, err = broker.Get(t.Context(), ucfg, names.AuthorityQueue(b))
	require.ErrorContains(t, err, "ACCESS_REFUSED")
	n, _, err := broker.Inspect(t.Context(), bcfg, names.AuthorityQueue(b))
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// Again with a given password: the same user, re-keyed.
	out, err = execAuthority(t, append([]string{"broker-user", a, "--password", "given-Pa55word"}, common...)...)
	require.NoError(t, err)
	require.Equal(t, "given-Pa55word", parseFields(t, out)["password"])
	require.NoError(t, broker.Ping(t.Context(), as(t, bcfg, user, "given-Pa55word")))

	out, err = execAuthority(t, append([]string{"broker-user", a, "--delete"}, common...)...)
	require.NoError(t, err)
	require.Equal(t, "deleted user "+user+"\n", out)
	require.False(t, userExists(t, admin, user))
}

func TestAuthorityBrokerUserRefusesBadInput(t *testing.T) {
	t.Parallel()
	// Nothing reaches the management API: the address below answers nothing.
	common := []string{"--broker-url", "amqp://guest:guest@127.0.0.1:1/", "--admin-url", "http://127.0.0.1:1"}
	_, err := execAuthority(t, append([]string{"broker-user", "42 01"}, common...)...)
	require.ErrorContains(t, err, "space or control character")
	_, err = execAuthority(t, append([]string{"broker-user"}, common...)...)
	require.ErrorContains(t, err, "accepts 1 arg(s)")
	_, err = execAuthority(t, append([]string{"broker-user", "42000001"}, common...)...)
	require.ErrorContains(t, err, "connection refused")
}
