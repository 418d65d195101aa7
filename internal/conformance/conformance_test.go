package conformance_test

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/conformance"
	"appealhub/internal/sandbox"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	code  = "19863933"
	token = "system-token"
)

// testBundle is a kit and the sandbox it tests.
type testBundle struct {
	cfg     conformance.Config
	sandbox *sandbox.Server
}

// setupOptions says how the sandbox under test behaves.
type setupOptions struct {
	format, mode string
	sandbox      sandbox.Options // faults; format, mode, hub and timing are filled in
	noHub        bool            // the sandbox is not told where to send messages
	hubToken     string          // the token the sandbox presents, if not the right one
	timeout      time.Duration   // the kit's wait for each message
	reqTimeout   time.Duration   // the kit's wait for an answer to a push
}

// setup binds the kit's listener first, so that the sandbox can be pointed at it, then starts the
// sandbox on loopback. Both stop when the test ends.
func setup(t *testing.T, o setupOptions) *testBundle {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	kitURL := "http://" + ln.Addr().String()

	opts := o.sandbox
	opts.Name = "sbx"
	opts.Format, opts.Mode, opts.Code = o.format, o.mode, code
	opts.HubToken = token
	if o.hubToken != "" {
		opts.HubToken = o.hubToken
	}
	if !o.noHub {
		opts.Hub = kitURL
	}
	opts.RegisterAfter, opts.AnswerAfter, opts.Poll = 20*time.Millisecond, 30*time.Millisecond, 20*time.Millisecond
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	sb, err := sandbox.New(opts, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	require.NoError(t, err)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { require.NoError(t, sb.Close()) }) // first: releases hanging requests

	timeout, reqTimeout := o.timeout, o.reqTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if reqTimeout == 0 {
		reqTimeout = 10 * time.Second // a 5 MiB document under the race detector
	}
	return &testBundle{
		cfg: conformance.Config{
			Endpoint:       srv.URL + "/documents/" + code,
			Format:         o.format,
			Mode:           o.mode,
			Code:           code,
			Token:          token,
			Listener:       ln,
			Timeout:        timeout,
			RequestTimeout: reqTimeout,
			Quiet:          150 * time.Millisecond,
			Logger:         zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		},
		sandbox: sb,
	}
}

func statuses(rep conformance.Report) map[string]conformance.Status {
	out := map[string]conformance.Status{}
	for _, r := range rep.Results {
		out[r.Case] = r.Status
	}
	return out
}

// TestPassesAgainstTheSandbox: a healthy sandbox passes every case, in both formats and both
// modes, and its ledger shows that the redelivery was no second document.
func TestPassesAgainstTheSandbox(t *testing.T) {
	t.Parallel()
	for _, format := range []string{conformance.FormatJSON, conformance.FormatSEV1207} {
		for _, mode := range []string{conformance.ModePush, conformance.ModePull} {
			t.Run(format+"/"+mode, func(t *testing.T) {
				t.Parallel()
				b := setup(t, setupOptions{format: format, mode: mode})
				rep, err := conformance.Run(context.Background(), b.cfg)
				require.NoError(t, err)
				var table bytes.Buffer
				require.NoError(t, rep.WriteTable(&table))
				require.True(t, rep.Passed(), table.String())
				require.Equal(t, conformance.Cases(), casesOf(rep))
				for _, r := range rep.Results {
					require.Equal(t, conformance.Pass, r.Status, "%s: %s", r.Case, r.Reason)
					require.NotEmpty(t, r.Reason)
				}
				require.Contains(t, table.String(), "8 cases: 8 passed, 0 failed, 0 skipped")
				require.Contains(t, table.String(), rep.MessagesURL)
				require.Contains(t, rep.MessagesURL, "/v1/authorities/"+code+"/messages")

				l := b.sandbox.Ledger()
				require.Equal(t, 2, l.Documents, "the test document and the large one; malformed ones are not documents")
				require.Equal(t, 2, l.Entries[0].Received, "the redelivery counted as a duplicate of the first")
				require.Equal(t, 1, l.Entries[1].Received)
				require.Zero(t, l.MessagesFailed)
			})
		}
	}
}

func casesOf(rep conformance.Report) []string {
	var ids []string
	for _, r := range rep.Results {
		ids = append(ids, r.Case)
	}
	return ids
}

// TestRefusalOnAValidGroundPasses: a system that refuses registration on a ground of the closed
// list passes; no answer is due then.
func TestRefusalOnAValidGroundPasses(t *testing.T) {
	t.Parallel()
	for _, format := range []string{conformance.FormatJSON, conformance.FormatSEV1207} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOptions{format: format, mode: conformance.ModePush, sandbox: sandbox.Options{RefuseRate: 1}})
			b.cfg.LargeAttachment = 64 << 10
			rep, err := conformance.Run(context.Background(), b.cfg)
			require.NoError(t, err)
			require.True(t, rep.Passed(), "%+v", rep.Results)
			reg, _ := rep.Result(conformance.CaseRegistration)
			require.Equal(t, conformance.Pass, reg.Status)
			require.Contains(t, reg.Reason, "refused on a valid ground")
			ans, _ := rep.Result(conformance.CaseAnswer)
			require.Equal(t, conformance.Skip, ans.Status)
		})
	}
}

// TestFailsAgainstBrokenSandboxes: each broken mode of the sandbox fails the case that catches it,
// after every earlier case passed, in both formats.
func TestFailsAgainstBrokenSandboxes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		o      setupOptions
		failed string
		reason string
	}{
		{name: "hangs", o: setupOptions{sandbox: sandbox.Options{Hang: true}},
			failed: conformance.CaseDelivery, reason: "no answer within"},
		{name: "unavailable", o: setupOptions{sandbox: sandbox.Options{ErrorRate: 1, ErrorStatus: 503}},
			failed: conformance.CaseDelivery, reason: "HTTP 503"},
		{name: "drops responses", o: setupOptions{sandbox: sandbox.Options{DropRate: 1}},
			failed: conformance.CaseDelivery, reason: "no answer"},
		{name: "malformed replies", o: setupOptions{sandbox: sandbox.Options{MalformedRate: 1}},
			failed: conformance.CaseDelivery, reason: "does not decode"},
		{name: "never sends messages", o: setupOptions{noHub: true},
			failed: conformance.CaseAcknowledgement, reason: "no message reached the kit"},
		{name: "wrong token", o: setupOptions{hubToken: "not-the-token"},
			failed: conformance.CaseAcknowledgement, reason: "without the right bearer token"},
		{name: "refuses without a valid reason", o: setupOptions{sandbox: sandbox.Options{RefuseRate: 1, RefuseWithoutReason: true}},
			failed: conformance.CaseRegistration},
		{name: "ignores the idempotency key", o: setupOptions{sandbox: sandbox.Options{IgnoreIdempotency: true}},
			failed: conformance.CaseRedelivery, reason: "second document"},
	}
	for _, format := range []string{conformance.FormatJSON, conformance.FormatSEV1207} {
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				o := tt.o
				// Short waits: the sandbox answers and reports within milliseconds.
				o.format, o.mode, o.timeout, o.reqTimeout = format, conformance.ModePush, 500*time.Millisecond, 300*time.Millisecond
				b := setup(t, o)
				b.cfg.LargeAttachment = 64 << 10
				rep, err := conformance.Run(context.Background(), b.cfg)
				require.NoError(t, err)
				require.False(t, rep.Passed())
				got, ok := rep.Result(tt.failed)
				require.True(t, ok)
				require.Equal(t, conformance.Fail, got.Status, "%+v", rep.Results)
				require.Contains(t, got.Reason, tt.reason)
				for _, r := range rep.Results {
					if r.Case == tt.failed {
						break
					}
					require.Equal(t, conformance.Pass, r.Status, "%s before %s: %s", r.Case, tt.failed, r.Reason)
				}
				var table bytes.Buffer
				require.NoError(t, rep.WriteTable(&table))
				require.Regexp(t, `\d+\s+`+tt.failed+`\s+FAIL`, table.String())
			})
		}
	}
}

// TestRefusalWithoutReasonIsNamed: a 1207 refusal whose text states no ground of the closed list
// decodes, and the registration case says why it fails.
func TestRefusalWithoutReasonIsNamed(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{format: conformance.FormatSEV1207, mode: conformance.ModePull,
		sandbox: sandbox.Options{RefuseRate: 1, RefuseWithoutReason: true}, timeout: time.Second})
	b.cfg.LargeAttachment = 64 << 10
	rep, err := conformance.Run(context.Background(), b.cfg)
	require.NoError(t, err)
	got, _ := rep.Result(conformance.CaseRegistration)
	require.Equal(t, conformance.Fail, got.Status)
	require.Contains(t, got.Reason, "refused without a valid reason")
	msgs, _ := rep.Result(conformance.CaseMessages)
	require.Equal(t, conformance.Pass, msgs.Status, "the message itself is well-formed 1207")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	_, err := conformance.Run(context.Background(), conformance.Config{Format: "xml", Mode: "carrier-pigeon", Code: "12",
		Timeout: -time.Second})
	require.Error(t, err)
	for _, field := range []string{"format", "mode", "code", "timeout"} {
		require.ErrorContains(t, err, field+":", "every problem is reported")
	}
	_, err = conformance.Run(context.Background(), conformance.Config{Format: "json", Endpoint: "ftp://x"})
	require.ErrorContains(t, err, "endpoint")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, err = conformance.Run(context.Background(), conformance.Config{Format: "json", Mode: conformance.ModePull,
		Listen: ln.Addr().String()})
	require.ErrorContains(t, err, "listen on")
	require.NoError(t, ln.Close())
}

// TestCancelledRun: a cancelled run returns promptly with ctx's error and the cases done so far.
func TestCancelledRun(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOptions{format: conformance.FormatJSON, mode: conformance.ModePush, noHub: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	rep, err := conformance.Run(ctx, b.cfg)
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), 5*time.Second)
	require.NotEmpty(t, rep.Results)
	require.True(t, strings.HasSuffix(rep.MessagesURL, "/messages"))
}
