package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSignaturesDefaults: without a trust directory nothing is verified; with one appeals are
// verified when signed.
func TestSignaturesDefaults(t *testing.T) {
	t.Parallel()
	d := Default()
	require.Equal(t, SignaturePolicyOff, d.Signatures.Policy.Appeal)
	require.Equal(t, SignaturePolicyOff, d.Signatures.Policy.InfoRequest)
	require.Equal(t, 1<<20, d.Signatures.MaxSignatureBytes)
	require.NoError(t, d.Validate())

	c := Config{Signatures: Signatures{TrustDir: "/etc/appealhub/trust"}}.WithDefaults()
	require.Equal(t, SignaturePolicyOptional, c.Signatures.Policy.Appeal)
	require.Equal(t, SignaturePolicyOff, c.Signatures.Policy.InfoRequest)
	require.NoError(t, c.Validate())
	require.Equal(t, c, c.WithDefaults())
}

func TestSignaturesValidate(t *testing.T) {
	t.Parallel()
	client := Client{ID: "portal", Kind: ClientPortal, TokenSHA256: hashA}
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{name: "required without trust_dir", change: func(c *Config) { c.Signatures.Policy.Appeal = SignaturePolicyRequired },
			want: []string{`signatures.trust_dir: is required when a signature policy is not off (signatures.policy.appeal is "required")`}},
		{name: "a client's optional without trust_dir", change: func(c *Config) {
			client := client
			client.SignaturePolicy.InfoRequest = SignaturePolicyOptional
			c.Clients = []Client{client}
		}, want: []string{`signatures.trust_dir: is required when a signature policy is not off (clients[0].signature_policy.info_request is "optional")`}},
		{name: "unknown words", change: func(c *Config) {
			c.Signatures.TrustDir = "/trust"
			c.Signatures.Policy.InfoRequest = "always"
			client := client
			client.SignaturePolicy.Appeal = "Required"
			c.Clients = []Client{client}
		}, want: []string{
			`signatures.policy.info_request: must be one of required, optional, off (got "always")`,
			`clients[0].signature_policy.appeal: must be one of required, optional, off (got "Required")`,
		}},
		{name: "limits and the external verifier", change: func(c *Config) {
			c.Signatures.MaxSignatureBytes = -1
			c.Signatures.External.URL = "verifier.internal:8443"
			c.Signatures.External.Timeout = -1
		}, want: []string{
			"signatures.max_signature_bytes: must be greater than 0",
			"signatures.external.url: must be an absolute http or https URL",
			"signatures.external.timeout: must be a positive duration",
		}},
		{name: "off everywhere needs no trust_dir", change: func(c *Config) {
			client := client
			client.SignaturePolicy = ClientSignaturePolicy{Appeal: SignaturePolicyOff, InfoRequest: SignaturePolicyOff}
			c.Clients = []Client{client}
			c.Signatures.External.URL = "https://verifier.internal/verify"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.change(&c)
			require.Equal(t, tt.want, problems(t, c))
		})
	}
}

// TestLoadClientSignaturePolicy reads the per-client override from YAML and from the environment.
func TestLoadClientSignaturePolicy(t *testing.T) {
	clearEnv(t)
	c, err := Load(writeFile(t, `
signatures:
  trust_dir: /trust
  require_crl: true
  external:
    url: https://verifier.internal/verify
clients:
  - id: p
    kind: portal
    token_sha256: `+hashA+`
    signature_policy:
      appeal: required
`), nil)
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	require.Equal(t, ClientSignaturePolicy{Appeal: SignaturePolicyRequired}, c.Clients[0].SignaturePolicy)
	require.True(t, c.Signatures.RequireCRL)
	require.Equal(t, SignaturePolicyOptional, c.Signatures.Policy.Appeal)

	t.Setenv("APPEALHUB_CLIENTS", `[{"id":"p","kind":"portal","token_sha256":"`+hashA+`","signature_policy":{"info_request":"optional"}}]`)
	t.Setenv("APPEALHUB_SIGNATURES_TRUST_DIR", "/trust")
	c, err = Load("", nil)
	require.NoError(t, err)
	require.Equal(t, ClientSignaturePolicy{InfoRequest: SignaturePolicyOptional}, c.Clients[0].SignaturePolicy)

	_, err = Load(writeFile(t, "clients:\n  - id: p\n    signature_policy:\n      appeals: required\n"), nil)
	require.ErrorContains(t, err, "clients[0].signature_policy.appeals")
}
