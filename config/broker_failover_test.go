package config

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBrokerFailoverURLsValidate(t *testing.T) {
	t.Parallel()

	c := Default()
	c.Broker.FailoverURLs = []string{"amqp://hub:p@mq-2.example:5672/", "amqps://hub:p@mq-3.example:5671/"}
	require.NoError(t, c.Validate())

	c.Broker.FailoverURLs = []string{"amqp://hub:p@mq-2.example:5672/", "http://mq-3.example/", "amqp:///", ""}
	var verr *ValidationError
	require.True(t, errors.As(c.Validate(), &verr))
	require.Equal(t, []string{
		"broker.failover_urls[1]: must be a URL with scheme amqp or amqps",
		"broker.failover_urls[2]: must name a host",
		"broker.failover_urls[3]: must be a URL with scheme amqp or amqps",
	}, problemStrings(verr))
}

func problemStrings(e *ValidationError) []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return out
}

func TestBrokerFailoverURLsRedacted(t *testing.T) {
	t.Parallel()

	c := Default()
	c.Broker.FailoverURLs = []string{"amqp://hub:mq-2-s3cret@mq-2.example:5672/", "amqp://mq-3.example:5672/"}
	r := c.Redacted()
	require.Equal(t, []string{"amqp://hub:REDACTED@mq-2.example:5672/", "amqp://mq-3.example:5672/"}, r.Broker.FailoverURLs)
	require.Equal(t, "amqp://hub:mq-2-s3cret@mq-2.example:5672/", c.Broker.FailoverURLs[0], "the receiver is not modified")
	out, err := r.YAML()
	require.NoError(t, err)
	require.NotContains(t, string(out), "mq-2-s3cret")
}

func TestBrokerFailoverURLsLoad(t *testing.T) {
	clearEnv(t)

	path := writeFile(t, "broker:\n  failover_urls:\n    - amqp://guest:guest@127.0.0.1:5673/\n    - amqp://guest:guest@127.0.0.1:5674/\n")
	c, err := Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"amqp://guest:guest@127.0.0.1:5673/", "amqp://guest:guest@127.0.0.1:5674/"}, c.Broker.FailoverURLs)

	t.Setenv(EnvVar("broker.failover_urls"), `["amqp://guest:guest@127.0.0.1:5675/"]`)
	c, err = Load(path, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"amqp://guest:guest@127.0.0.1:5675/"}, c.Broker.FailoverURLs, "the environment replaces the file's list")

	t.Setenv(EnvVar("broker.failover_urls"), "")
	c, err = Load(writeFile(t, "broker:\n  failover_urls: []\n"), nil)
	require.NoError(t, err)
	require.Nil(t, c.Broker.FailoverURLs, "an empty list is the default")
	t.Setenv(EnvVar("broker.failover_urls"), `["amqp://x`)
	_, err = Load("", nil)
	require.ErrorContains(t, err, "parse JSON array")
}
