package config

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"
)

// RedactedValue is what replaces a secret in a printed configuration.
const RedactedValue = "REDACTED"

// Redacted returns a copy of c with every secret replaced by "REDACTED": the password of the database
// and broker URLs (and of any URL with one), a password query parameter, and the authorities' tokens.
// It does not modify c.
func (c Config) Redacted() Config {
	c.HTTP.PublicURL = redactURL(c.HTTP.PublicURL)
	c.Database.URL = redactURL(c.Database.URL)
	c.Broker.URL = redactURL(c.Broker.URL)
	c.Broker.FailoverURLs = slices.Clone(c.Broker.FailoverURLs)
	for i, u := range c.Broker.FailoverURLs {
		c.Broker.FailoverURLs[i] = redactURL(u)
	}
	c.Authorities = slices.Clone(c.Authorities)
	for i := range c.Authorities {
		a := &c.Authorities[i]
		a.Endpoint = redactURL(a.Endpoint)
		if a.Token != "" {
			a.Token = RedactedValue
		}
	}
	return c
}

var (
	// keywordPasswordRE finds the password of a key=value connection string (lib/pq's other DSN form).
	keywordPasswordRE = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
	// userinfoPasswordRE finds the password of a URL that does not parse.
	userinfoPasswordRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:)[^/?#]*@`)
)

// redactURL hides the password in a URL. A string that does not parse as a URL with a scheme has the
// password of its user info, and any password= value, hidden by pattern.
func redactURL(raw string) string {
	if raw == "" {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		s := userinfoPasswordRE.ReplaceAllString(raw, "${1}"+RedactedValue+"@")
		return keywordPasswordRE.ReplaceAllString(s, "${1}"+RedactedValue)
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), RedactedValue)
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", RedactedValue)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// YAML returns c as a YAML document that [Load] reads back into the same configuration. It prints
// secrets as they are: call [Config.Redacted] first to show it to anyone.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config as yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config as yaml: %w", err)
	}
	return buf.Bytes(), nil
}
