package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLoad feeds arbitrary files to Load: it must never panic, and whatever it accepts must survive
// YAML() → Load unchanged.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "configs", "appealhub.example.yaml"))
	require.NoError(f, err)
	f.Add(string(example))
	f.Add("")
	f.Add("http:\n  addr: 127.0.0.1:9090\ndelivery:\n  backoff_max: 90m\n  backoff_jitter: 0.5\n")
	f.Add("clients:\n  - id: p\n    kind: portal\n    token_sha256: " + hashA + "\n")
	f.Add("broker:\n  heartbeat: 10\n")
	f.Add("http: 8080\n")
	f.Add("authorities:\n  - code: 00000431\n    name: x\n    token: t\n")

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string) {
		path := filepath.Join(dir, "in.yaml")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		c, err := Load(path, nil)
		if err != nil {
			return
		}
		_ = c.Validate()
		out, err := c.YAML()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, out, 0o600))
		back, err := Load(path, nil)
		require.NoError(t, err, "Load refuses what YAML() wrote:\n%s", out)
		again, err := back.YAML()
		require.NoError(t, err)
		require.Equal(t, string(out), string(again), "YAML() → Load changed the configuration")
		_ = c.Redacted()
	})
}
