package hubtest

import (
	"testing"

	"appealhub/config"
	"appealhub/internal/receipt"
)

// withIdentity generates a throwaway hub CA, key and certificate in a temporary directory of t
// and configures them as the hub's signing identity, so that every hub of the test issues signed
// receipts and signs its chain checkpoints. It returns the files (Files.CA verifies the receipts).
func withIdentity(t testing.TB, cfg *config.Config) receipt.IdentityFiles {
	t.Helper()
	files, err := receipt.GenerateIdentity(t.TempDir(), "Appeal Hub test")
	if err != nil {
		t.Fatalf("hub identity: %v", err)
	}
	cfg.Identity.SigningKey, cfg.Identity.Certificate = files.Key, files.Certificate
	return files
}
