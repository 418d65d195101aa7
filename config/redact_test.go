package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedacted(t *testing.T) {
	t.Parallel()

	c := Default()
	c.Database.URL = "postgres://appealhub:pg-s3cret@127.0.0.1:5432/appealhub?sslmode=disable"
	c.Broker.URL = "amqps://hub:mq-s3cret@mq.example:5671/prod"
	c.Authorities = []Authority{
		{Code: "42037682", Name: "МОН", Adapter: "json", Endpoint: "https://edo:ep-s3cret@edo.example/in", Token: "tok-s3cret", Status: AuthorityActive},
		{Code: "00000431", Name: "КМУ", Adapter: "json", Endpoint: "https://kmu.example/in", Status: AuthorityActive},
	}
	orig := c
	orig.Authorities = append([]Authority(nil), c.Authorities...)

	r := c.Redacted()
	require.Equal(t, "postgres://appealhub:REDACTED@127.0.0.1:5432/appealhub?sslmode=disable", r.Database.URL)
	require.Equal(t, "amqps://hub:REDACTED@mq.example:5671/prod", r.Broker.URL)
	require.Equal(t, "https://edo:REDACTED@edo.example/in", r.Authorities[0].Endpoint)
	require.Equal(t, RedactedValue, r.Authorities[0].Token)
	require.Empty(t, r.Authorities[1].Token, "an absent token stays absent")
	require.Equal(t, orig, c, "the receiver is not modified")

	out, err := r.YAML()
	require.NoError(t, err)
	for _, secret := range []string{"pg-s3cret", "mq-s3cret", "ep-s3cret", "tok-s3cret"} {
		require.NotContains(t, string(out), secret)
	}
	require.Contains(t, string(out), "token: REDACTED")
}

func TestRedactURL(t *testing.T) {
	t.Parallel()

	for in, want := range map[string]string{
		"":                                   "",
		"amqp://guest:guest@127.0.0.1:5672/": "amqp://guest:REDACTED@127.0.0.1:5672/",
		"amqp://guest@127.0.0.1:5672/":       "amqp://guest@127.0.0.1:5672/",
		"postgres://127.0.0.1/db?sslmode=disable":              "postgres://127.0.0.1/db?sslmode=disable",
		"postgres://u@h/db?password=qs-s3cret&sslmode=disable": "postgres://u@h/db?password=REDACTED&sslmode=disable",
		"host=h user=u password=kv-s3cret dbname=d":            "host=h user=u password=REDACTED dbname=d",
		"host=h password='kv s3cret' dbname=d":                 "host=h password=REDACTED dbname=d",
		"postgres://u:p%40ss@h:badport/db":                     "postgres://u:REDACTED@h:badport/db", // does not parse
		"amqp://u:p@ss:w@rd@h:bad/":                            "amqp://u:REDACTED@h:bad/",
	} {
		require.Equal(t, want, redactURL(in), in)
	}
}
