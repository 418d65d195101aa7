package console_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/console"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// chromiumPath is Debian's chromium (scripts/browser.sh installs it); CHROMIUM overrides it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed at %s (CI=true, so this fails): run `make services` or scripts/browser.sh", path)
		}
		t.Skipf("chromium is not installed at %s; run scripts/browser.sh (with CI=true this fails)", path)
	}
	return path
}

// artifactDir is test-artifacts/console at the module root, where the screenshots are kept.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test")
		dir = parent
	}
	out := filepath.Join(dir, "test-artifacts", "console")
	require.NoError(t, os.MkdirAll(out, 0o755))
	return out
}

// browserBundle drives one headless Chromium against one hub.
type browserBundle struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

func (b *browserBundle) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, actions...))
}

// text returns the text of the element sel.
func (b *browserBundle) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err)
	return strings.TrimSpace(s)
}

// screenshot keeps a full-page PNG of what the browser shows as name.png.
func (b *browserBundle) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644))
}

// waitFor opens path again and again until the text of sel satisfies ok, at most within.
func (b *browserBundle) waitFor(path, sel string, within time.Duration, ok func(string) bool) string {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		b.run(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("main")))
		text, err := chromedp.Run(b.ctx,
			chromedp.Evaluate[string](`(document.querySelector(`+quoteJS(sel)+`) || {textContent: ""}).textContent.trim()`))
		require.NoError(b.t, err)
		if ok(text) {
			return text
		}
		require.False(b.t, time.Now().After(deadline), "%s %s: %q never became what was expected", path, sel, text)
		time.Sleep(250 * time.Millisecond)
	}
}

func quoteJS(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

// TestConsoleInBrowser signs in through the form in a real headless Chromium, sees a delivery go
// dead in the queue view, redrives it after the authority's system is healthy again, and watches
// it become delivered; it keeps screenshots of the main pages in test-artifacts/console.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	const code = "40000001"

	sb, err := sandbox.New(sandbox.Options{Name: "down", ErrorRate: 1, ErrorStatus: 503}, zaptest.NewLogger(t))
	require.NoError(t, err)
	system := httptest.NewServer(sb)
	t.Cleanup(system.Close)
	env := hubtest.NewEnv(t, map[string]string{code: system.URL + "/documents/" + code}, func(c *config.Config) {
		c.Delivery.MaxAttempts = 2
		c.Console.AllowLoopbackHTTP = true
	})
	hub := env.Start(t)
	hash, err := console.HashPassword("correct horse battery")
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, env.Store.AddOperator(ctx, store.Operator{Login: "oper1", Role: store.RoleOperator, PasswordHash: hash},
		"test", time.Now().UTC()))

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	bctx, cancelTimeout := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	b := &browserBundle{t: t, ctx: bctx, base: hub.URL + "/console", shots: artifactDir(t)}

	// Signing in through the form lands on the queue view.
	b.run(chromedp.Navigate(b.base+"/queues"), chromedp.WaitVisible(chromedp.CSS("#login")))
	b.screenshot("signin")
	b.run(chromedp.SendKeys(chromedp.CSS("#login"), "oper1"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#queues")))
	require.Equal(t, "oper1 (operator)", b.text("#operator"))

	// A case to an authority whose system refuses everything goes dead after two attempts: the
	// queue view shows it.
	receipt := env.MustSubmit(t, hub.URL, "browser-1", hubtest.Submission(1, 1024, code))
	b.waitFor("/queues", "#q-"+code+" .dead", time.Minute, func(s string) bool { return s == "1" })
	require.Contains(t, b.text("#q-"+code+" .err"), "gave up after 2 attempts")
	b.screenshot("queues-dead")

	// The dead letters list it; it is redriven once the system is healthy again.
	dead, _, err := env.Store.DeadDeliveries(ctx, store.DeadFilter{})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	id := dead[0].ID
	require.Equal(t, receipt.TrackingNumber, dead[0].TrackingNumber)
	b.run(chromedp.Navigate(b.base+"/dead"), chromedp.WaitVisible(chromedp.CSS("#d-"+id)))
	b.screenshot("dead-letters")
	b.run(chromedp.Navigate(b.base+"/dead/"+id), chromedp.WaitVisible(chromedp.CSS("#submission")))
	b.screenshot("dead-letter")

	require.NoError(t, sb.SetOptions(sandbox.Options{}))
	b.run(chromedp.Navigate(b.base+"/dead"), chromedp.WaitVisible(chromedp.CSS("#d-"+id)),
		chromedp.Click(chromedp.CSS(`#d-`+id+` input[type=checkbox]`)),
		chromedp.SendKeys(chromedp.CSS("#reason"), "the system is back up"),
		chromedp.Click(chromedp.CSS("#redrive")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	require.Equal(t, "Done: 1 of 1 redriven.", b.text("#flash"))

	// It becomes delivered: the case trace shows it, and the queue view no longer counts it dead.
	b.waitFor("/trace?ref="+receipt.TrackingNumber, "#deliveries .status-delivered", time.Minute,
		func(s string) bool { return s == "delivered" })
	b.screenshot("trace-delivered")
	b.waitFor("/queues", "#q-"+code+" .dead", time.Minute, func(s string) bool { return s == "0" })
	b.screenshot("queues-after")
	require.Equal(t, 1, sb.Ledger().Documents, "delivered once")

	// The redrive is in the case's timeline with who did it and why.
	full, err := env.Store.TraceCase(ctx, receipt.TrackingNumber)
	require.NoError(t, err)
	var redriven []schemas.Event
	for _, e := range full.Case.Events {
		if e.Type == store.EventDeliveryRedriven {
			redriven = append(redriven, e)
		}
	}
	require.Len(t, redriven, 1)
	require.JSONEq(t, `{"actor":"oper1","reason":"the system is back up"}`, redriven[0].Detail)

	// An unreadable message in the authority's queue is rejected, dead-lettered by the broker and
	// kept by the hub: the queue view links its count to the list of kept messages.
	conn, err := amqp.Dial(env.Config.Broker.URL)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.PublishWithContext(ctx, broker.Names{Prefix: env.Config.Broker.Prefix}.Deliver(), code, false, false,
		amqp.Publishing{DeliveryMode: amqp.Persistent, MessageId: "garbage/1", Body: []byte("not json")}))
	b.waitFor("/queues", "#deadkept", time.Minute, func(s string) bool { return s == "1 kept" })
	b.run(chromedp.Click(chromedp.CSS("#deadkept")), chromedp.WaitVisible(chromedp.CSS("#kept")))
	require.Contains(t, b.text("#kept tbody"), "not a delivery message")
	require.Contains(t, b.text("#kept tbody"), "garbage/1")
	b.screenshot("kept")
	// Dealt with, it is deleted with a reason (an operator_action event) and the count goes.
	b.run(chromedp.Click(chromedp.CSS(`#kept tbody input[type=checkbox]`)),
		chromedp.SendKeys(chromedp.CSS("#keptreason"), "a test message, read"),
		chromedp.Click(chromedp.CSS("#deletekept")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	require.Equal(t, "Done: 1 of 1 deleted.", b.text("#flash"))
	require.Contains(t, b.text("#kept tbody"), "Nothing kept.")
	left, err := env.Store.KeptSinkLetters(ctx, 0)
	require.NoError(t, err)
	require.Empty(t, left)

	// The other pages draw.
	for _, p := range []struct{ path, sel, name string }{
		{"/registry", "#registry", "registry"},
		{"/registry/" + code, "form.edit", "authority"},
		{"/deadlines", "#deadlines", "deadlines"},
		{"/stats", "main", "stats"},
	} {
		b.run(chromedp.Navigate(b.base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		b.screenshot(p.name)
	}
	for _, name := range []string{"signin", "queues-dead", "dead-letters", "dead-letter", "trace-delivered", "queues-after"} {
		fi, err := os.Stat(filepath.Join(b.shots, name+".png"))
		require.NoError(t, err)
		require.Positive(t, fi.Size())
	}
}
