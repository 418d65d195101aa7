package config

import (
	"fmt"
	"slices"
	"strings"
)

// signatures checks the signatures section and the clients' signature policies: known policy
// words, a trust directory whenever a policy verifies, limits and the external verifier's URL.
func (v *validator) signatures(c Config) {
	s := c.Signatures
	policies := []string{SignaturePolicyRequired, SignaturePolicyOptional, SignaturePolicyOff}
	v.oneOf("signatures.policy.appeal", s.Policy.Appeal, policies...)
	v.oneOf("signatures.policy.info_request", s.Policy.InfoRequest, policies...)
	verifying := map[string]string{"signatures.policy.appeal": s.Policy.Appeal, "signatures.policy.info_request": s.Policy.InfoRequest}
	for i, cl := range c.Clients {
		p := fmt.Sprintf("clients[%d].signature_policy", i)
		for name, value := range map[string]string{p + ".appeal": cl.SignaturePolicy.Appeal, p + ".info_request": cl.SignaturePolicy.InfoRequest} {
			if value != "" {
				v.oneOf(name, value, policies...)
				verifying[name] = value
			}
		}
	}
	if strings.TrimSpace(s.TrustDir) == "" {
		var needs []string
		for name, value := range verifying {
			if value == SignaturePolicyRequired || value == SignaturePolicyOptional {
				needs = append(needs, fmt.Sprintf("%s is %q", name, value))
			}
		}
		if len(needs) > 0 {
			slices.Sort(needs)
			v.add("signatures.trust_dir", "is required when a signature policy is not off (%s)", strings.Join(needs, ", "))
		}
	}
	v.positive("signatures.max_signature_bytes", int64(s.MaxSignatureBytes))
	if s.External.URL != "" {
		v.httpURL("signatures.external.url", s.External.URL)
	}
	v.positiveDuration("signatures.external.timeout", s.External.Timeout)
	v.positiveDuration("signatures.reload_interval", s.ReloadInterval)
}
