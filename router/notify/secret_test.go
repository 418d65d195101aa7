package notify_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/router/notify"
)

func TestSecretBox(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	box, err := notify.NewSecretBox(key)
	require.NoError(t, err)
	require.True(t, box.Sealing())
	secret := notify.NewSecret()
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	require.NotEqual(t, secret, notify.NewSecret())

	sealed, err := box.Seal("portal", []byte(secret))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), secret)
	again, err := box.Seal("portal", []byte(secret))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce each time")
	opened, err := box.Open("portal", sealed)
	require.NoError(t, err)
	require.Equal(t, secret, string(opened))

	_, err = box.Open("other-portal", sealed)
	require.ErrorContains(t, err, "does not open")
	other, err := notify.NewSecretBox(bytes.Repeat([]byte{8}, 32))
	require.NoError(t, err)
	_, err = other.Open("portal", sealed)
	require.ErrorContains(t, err, "another notification key")
	plainBox, err := notify.NewSecretBox(nil)
	require.NoError(t, err)
	_, err = plainBox.Open("portal", sealed)
	require.ErrorContains(t, err, "no notification key is configured")
	changed := bytes.Clone(sealed)
	changed[len(changed)-1] ^= 1
	_, err = box.Open("portal", changed)
	require.Error(t, err)

	// Without a key the secret is kept as it is, and any box opens it.
	plain, err := plainBox.Seal("portal", []byte(secret))
	require.NoError(t, err)
	require.False(t, plainBox.Sealing())
	opened, err = box.Open("portal", plain)
	require.NoError(t, err)
	require.Equal(t, secret, string(opened))
	_, err = box.Open("portal", nil)
	require.Error(t, err)
}

func TestLoadSecretBox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	box, err := notify.LoadSecretBox(write("good", strings.Repeat("ab", 32)+"\n"))
	require.NoError(t, err)
	require.True(t, box.Sealing())
	_, err = notify.LoadSecretBox(write("short", strings.Repeat("ab", 16)))
	require.ErrorContains(t, err, "want 32 bytes")
	_, err = notify.LoadSecretBox(write("text", "not hex at all"))
	require.ErrorContains(t, err, "64 hexadecimal characters")
	_, err = notify.LoadSecretBox(filepath.Join(dir, "missing"))
	require.Error(t, err)
	box, err = notify.LoadSecretBox("")
	require.NoError(t, err)
	require.False(t, box.Sealing())
}
