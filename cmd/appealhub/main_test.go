package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/broker/brokertest"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

// binary is the appealhub binary built once for the tests that run it as a process.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "appealhub-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "appealhub")
		out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, binaryErr)
	return binaryPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryPath != "" {
		_ = os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}

func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCheckConfigRedactsSecrets(t *testing.T) {
	out, errOut, code := runCLI(t, map[string]string{"APPEALHUB_BROKER_URL": "amqp://hub:brokersecret@127.0.0.1:5672/"},
		"serve", "--check-config", "--database-url", "postgres://hub:dbsecret@127.0.0.1:5432/appealhub")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "dbsecret")
	require.NotContains(t, out, "brokersecret")
	require.Contains(t, out, "REDACTED")
	require.Contains(t, out, "max_body_bytes: 26214400")
}

func TestCheckConfigReportsEveryInvalidField(t *testing.T) {
	_, errOut, code := runCLI(t, map[string]string{
		"APPEALHUB_DELIVERY_BACKOFF_JITTER": "2",
		"APPEALHUB_BROKER_QUEUE_TYPE":       "stream",
	}, "serve", "--check-config", "--log-level", "loud")
	require.Equal(t, 1, code)
	for _, path := range []string{"delivery.backoff_jitter", "broker.queue_type", "log.level"} {
		require.Contains(t, errOut, path)
	}
}

func TestServeRefusesAnOutdatedSchema(t *testing.T) {
	cfg := storetest.Config()
	st, err := store.Open(context.Background(), cfg)
	if err != nil {
		storetest.Unavailable(t, "PostgreSQL", err)
	}
	t.Cleanup(func() { _ = st.DropSchema(context.Background()); _ = st.Close() })
	require.NoError(t, st.CreateSchema(context.Background()))
	env := map[string]string{"APPEALHUB_DATABASE_URL": cfg.URL, "APPEALHUB_DATABASE_SCHEMA": cfg.Schema}

	_, errOut, code := runCLI(t, env, "serve")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "appealhub migrate")

	out, errOut, code := runCLI(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `applied \d+ migration\(s\); database schema at version \d+`, out)
	out, _, code = runCLI(t, env, "migrate")
	require.Equal(t, 0, code)
	require.Contains(t, out, "applied 0 migration(s)")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestDemoDeliversEverySample(t *testing.T) {
	scfg := storetest.Config()
	st := storetest.Open(t, scfg)
	bcfg := brokertest.Config(t)
	var codes []string
	for _, line := range strings.Split(mustRead(t, "../../internal/demo/data/authorities.csv"), "\n")[1:] {
		if code, _, ok := strings.Cut(line, ","); ok {
			codes = append(codes, code)
		}
	}
	brokertest.Track(t, bcfg, codes...)
	storeOf := func(status schemas.DeliveryStatus) ([]schemas.Delivery, error) {
		return st.DeliveriesByStatus(context.Background(), status)
	}
	out, errOut, code := runCLI(t, map[string]string{
		"APPEALHUB_DATABASE_URL": scfg.URL, "APPEALHUB_DATABASE_SCHEMA": scfg.Schema, "APPEALHUB_BROKER_PREFIX": bcfg.Names.Prefix,
	}, "demo", "--exit-when-done", "--http-addr", "127.0.0.1:0", "--sandbox-a", freeAddr(t), "--sandbox-b", freeAddr(t),
		"--timeout", "60s", "--register-after", "50ms", "--answer-after", "100ms")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "All 9 deliveries of 8 submissions were delivered, and each is answered or refused.")
	require.Contains(t, out, "answered")
	totals, err := st.Totals(context.Background())
	require.NoError(t, err)
	require.Equal(t, 8, totals.Appeals)
	require.Equal(t, 9, totals.Deliveries)
	final := 0
	for _, st := range []schemas.DeliveryStatus{schemas.StatusAnswered, schemas.StatusRefused} {
		ds, err := storeOf(st)
		require.NoError(t, err)
		final += len(ds)
	}
	require.Equal(t, 9, final, "every delivery answered or refused")
	// The office's own "delivered" notice may overtake the push reply; either way, at most once.
	events, err := st.DeliveredEventsPerDelivery(context.Background())
	require.NoError(t, err)
	for id, n := range events {
		require.Equal(t, 1, n, "delivered recorded once for %s", id)
	}
	// No personal data of the samples reaches the log.
	for _, pii := range []string{"Коваленко", "olena.kovalenko@example.org", "+380671234567", "Городоцька"} {
		require.NotContains(t, errOut, pii)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// process is `appealhub serve` running as a child process.
type process struct {
	cmd  *exec.Cmd
	addr chan string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

var listenRE = regexp.MustCompile(`"http_addr":"([^"]+)"`)

func startServe(t *testing.T, env []string) *process {
	t.Helper()
	cmd := exec.Command(buildBinary(t), "serve")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &process{cmd: cmd, addr: make(chan string, 1), logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil && !sent && strings.Contains(line, "serving") {
				p.addr <- m[1]
				sent = true
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) url(t *testing.T) string {
	t.Helper()
	select {
	case a := <-p.addr:
		return "http://" + a
	case err := <-p.done:
		t.Fatalf("appealhub serve exited: %v\n%s", err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("appealhub serve did not start\n%s", p.log())
	}
	return ""
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// serveEnv prepares an isolated environment for hub processes and returns it with the sandbox.
func serveEnv(t *testing.T, codes []string, sb *sandbox.Server) (*hubtest.Env, []string) {
	t.Helper()
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	endpoints := map[string]string{}
	for _, c := range codes {
		endpoints[c] = srv.URL + "/documents/" + c
	}
	env := hubtest.NewEnv(t, endpoints, nil)
	sum := sha256.Sum256([]byte(env.Token))
	clients, _ := json.Marshal([]map[string]string{{"id": "portal-test", "kind": "portal", "token_sha256": hex.EncodeToString(sum[:])}})
	var auths []map[string]string
	for _, c := range codes {
		auths = append(auths, map[string]string{"code": c, "name": "Authority " + c, "adapter": "json", "endpoint": endpoints[c], "status": "active"})
	}
	authJSON, _ := json.Marshal(auths)
	c := env.Config
	return env, []string{
		"APPEALHUB_HTTP_ADDR=127.0.0.1:0",
		"APPEALHUB_DATABASE_URL=" + c.Database.URL,
		"APPEALHUB_DATABASE_SCHEMA=" + c.Database.Schema,
		"APPEALHUB_BROKER_URL=" + c.Broker.URL,
		"APPEALHUB_BROKER_PREFIX=" + c.Broker.Prefix,
		"APPEALHUB_BROKER_RECONNECT_MAX=500ms",
		"APPEALHUB_RELAY_POLL_INTERVAL=200ms",
		"APPEALHUB_DELIVERY_BACKOFF_BASE=50ms",
		"APPEALHUB_DELIVERY_BACKOFF_MAX=1s",
		"APPEALHUB_DELIVERY_MAX_ATTEMPTS=30",
		"APPEALHUB_SHUTDOWN_GRACE=10s",
		"APPEALHUB_LOG_LEVEL=info",
		"APPEALHUB_CLIENTS=" + string(clients),
		"APPEALHUB_AUTHORITIES=" + string(authJSON),
	}
}

// TestSIGTERMFinishesAndExitsZero: a hub process given SIGTERM stops taking submissions, finishes
// what it holds, and exits 0 within the grace time; what it accepted is delivered by the next one.
func TestSIGTERMFinishesAndExitsZero(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Name: "sys", Latency: 50 * time.Millisecond}, zaptest.NewLogger(t))
	require.NoError(t, err)
	env, vars := serveEnv(t, []string{"80000001"}, sb)
	p := startServe(t, vars)
	url := p.url(t)
	hubtest.WaitReady(t, url)
	for i := range 30 {
		env.MustSubmit(t, url, fmt.Sprintf("k%d", i), hubtest.Submission(i, 1024, "80000001"))
	}
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "exit status 0\n%s", p.log())
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within the grace time\n%s", p.log())
	}
	t.Logf("stopped in %s", time.Since(start))
	require.Contains(t, p.log(), "hub stopped")

	q := startServe(t, vars)
	hubtest.WaitReady(t, q.url(t))
	env.WaitSettled(t, time.Minute)
	require.Equal(t, 30, sb.Ledger().Documents)
}

// TestKillNineLosesNothing kills hub processes with SIGKILL while a portal submits (retrying with
// the same key on errors) and a replacement starts: every accepted submission reaches its system
// once, and nothing is recorded delivered twice.
func TestKillNineLosesNothing(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Name: "sys"}, zaptest.NewLogger(t))
	require.NoError(t, err)
	codes := []string{"81000001", "81000002", "81000003"}
	env, vars := serveEnv(t, codes, sb)
	var mu sync.Mutex
	current := startServe(t, vars)
	all := []*process{current}
	url := current.url(t)
	hubtest.WaitReady(t, url)

	const n = 400
	accepted := make(chan string, n)
	var wg sync.WaitGroup
	var next int64
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				body := hubtest.Submission(int(i), 1024, codes[i%3])
				for try := 0; try < 300; try++ {
					mu.Lock()
					u := url
					mu.Unlock()
					resp, err := env.Submit(context.Background(), u, fmt.Sprintf("kill-%d", i), body)
					if err == nil && resp.Status == 202 {
						accepted <- string(resp.Body)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for kill := range 3 {
		require.Eventually(t, func() bool {
			tot, err := env.Store.Totals(context.Background())
			return err == nil && tot.Appeals > (kill+1)*n/5
		}, time.Minute, 5*time.Millisecond)
		require.NoError(t, current.cmd.Process.Kill())
		<-current.done
		current = startServe(t, vars)
		all = append(all, current)
		u := current.url(t)
		mu.Lock()
		url = u
		mu.Unlock()
	}
	wg.Wait()
	close(accepted)
	require.Len(t, accepted, n, "every submission eventually accepted")
	env.WaitSettled(t, 2*time.Minute)

	ctx := context.Background()
	delivered, err := env.Store.DeliveriesByStatus(ctx, schemas.StatusDelivered)
	require.NoError(t, err)
	require.Len(t, delivered, n)
	l := sb.Ledger()
	require.Equal(t, n, l.Documents, "one document per delivery")
	events, err := env.Store.DeliveredEventsPerDelivery(ctx)
	require.NoError(t, err)
	for id, c := range events {
		require.Equal(t, 1, c, "delivered recorded once for %s", id)
	}
	tot, err := env.Store.Totals(ctx)
	require.NoError(t, err)
	require.Equal(t, n, tot.Appeals, "no submission stored twice")

	// The processes logged at info level: ids only, never the applicant or the text.
	var logs string
	for _, p := range all {
		logs += p.log()
	}
	require.Contains(t, logs, "submission accepted")
	for _, pii := range []string{"Тестенко", "Марія", "m.testenko@example.org", "Звернення номер"} {
		require.NotContains(t, logs, pii)
	}
}
