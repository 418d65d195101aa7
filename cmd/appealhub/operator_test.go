package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
)

// operatorCLI runs `appealhub operator ARGS...` with stdin against one migrated schema.
func operatorCLI(t *testing.T, schema, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newOperatorCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(append(args, "--database-url", storetest.URL(), "--database-schema", schema))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func TestOperatorAddAndPasswd(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)

	out, err := operatorCLI(t, cfg.Schema, "a long enough password\n", "add", "alice", "--role", "operator")
	require.NoError(t, err, out)
	require.Equal(t, "operator alice added (operator)\n", out)
	op, err := st.Operator(t.Context(), "alice")
	require.NoError(t, err)
	require.Equal(t, store.RoleOperator, op.Role)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(op.PasswordHash), []byte("a long enough password")))
	require.NotContains(t, op.PasswordHash, "long enough", "only the hash is stored")

	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"taken login", "another long password\n", []string{"add", "alice", "--role", "viewer"}, "exists already"},
		{"bad role", "another long password\n", []string{"add", "bob", "--role", "root"}, "must be viewer, operator or admin"},
		{"bad login", "another long password\n", []string{"add", "Bob Smith", "--role", "viewer"}, "login"},
		{"short password", "short\n", []string{"add", "bob", "--role", "viewer"}, "at least 12 characters"},
		{"no role", "another long password\n", []string{"add", "bob"}, "role"},
		{"passwd of nobody", "another long password\n", []string{"passwd", "nobody"}, "no operator nobody"},
	}
	for _, tc := range tests {
		_, err := operatorCLI(t, cfg.Schema, tc.stdin, tc.args...)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err = st.Operator(t.Context(), "bob")
	require.ErrorIs(t, err, store.ErrNotFound)

	out, err = operatorCLI(t, cfg.Schema, "a brand new password\n", "passwd", "alice")
	require.NoError(t, err, out)
	op, err = st.Operator(t.Context(), "alice")
	require.NoError(t, err)
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(op.PasswordHash), []byte("a brand new password")))

	events, err := st.OperatorEvents(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, store.EventOperatorAction, events[0].Type)
	require.JSONEq(t, `{"actor":"cli","action":"operator_password","object":"alice"}`, events[0].Detail)
	require.Equal(t, store.EventOperatorAdded, events[1].Type)
	require.JSONEq(t, `{"actor":"cli","object":"alice","role":"operator"}`, events[1].Detail)
}
