package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/sandbox"
)

// conformanceAgainst runs `appealhub conformance` against a sandbox in-process that reports to
// the kit's address, and returns the exit code and output.
func conformanceAgainst(t *testing.T, format string, opts sandbox.Options, extra ...string) (int, string, string) {
	t.Helper()
	kit := freeAddr(t)
	opts.Format, opts.Hub, opts.Code, opts.HubToken = format, "http://"+kit, "11000001", "tok"
	opts.RegisterAfter, opts.AnswerAfter = 20*time.Millisecond, 20*time.Millisecond
	sb, err := sandbox.New(opts, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sb.Close() })

	args := append([]string{"conformance", "--endpoint", srv.URL + "/documents/11000001", "--format", format,
		"--listen", kit, "--code", "11000001", "--token", "tok", "--timeout", "5s", "--quiet", "100ms",
		"--large-attachment", "65536"}, extra...)
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestConformanceCommandPasses: against a healthy sandbox the command prints where messages go,
// a table of eight passed cases, and exits 0.
func TestConformanceCommandPasses(t *testing.T) {
	t.Parallel()
	code, out, errOut := conformanceAgainst(t, "sev1207", sandbox.Options{})
	require.Equal(t, 0, code, out+errOut)
	require.Contains(t, out, "The system must send its messages to http://")
	require.Contains(t, out, "/v1/authorities/11000001/messages")
	require.Regexp(t, `1\s+delivery\s+PASS`, out)
	require.Contains(t, out, "8 cases: 8 passed, 0 failed, 0 skipped")
}

// TestConformanceCommandFails: against a hanging sandbox the delivery case fails, with its reason,
// and the command exits 1.
func TestConformanceCommandFails(t *testing.T) {
	t.Parallel()
	code, out, errOut := conformanceAgainst(t, "json", sandbox.Options{Hang: true}, "--request-timeout", "200ms",
		"--timeout", "300ms")
	require.Equal(t, 1, code)
	require.Regexp(t, `1\s+delivery\s+FAIL\s+\S+\s+no answer within 200ms`, out)
	require.Contains(t, errOut, "conformance: ")
	require.Contains(t, errOut, "cases failed")
}

// TestConformanceCommandRefusesBadFlags: every invalid flag is named, and nothing runs.
func TestConformanceCommandRefusesBadFlags(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"conformance", "--format", "xml", "--code", "12"}, &out, &errOut)
	require.Equal(t, 1, code)
	for _, want := range []string{"format", "endpoint", "code"} {
		require.Contains(t, errOut.String(), want)
	}
	require.NotContains(t, out.String(), "Running")
}
