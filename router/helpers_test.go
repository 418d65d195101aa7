package router_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

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
