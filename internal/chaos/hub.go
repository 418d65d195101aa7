package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"appealhub/config"
)

// built is the hub binary shared by every Env of the process (BuildHub builds it once).
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// BuildHub builds ./cmd/appealhub once per process into a temporary directory and returns the
// binary's path; RemoveBuilt removes it (TestMain calls it after the tests).
func BuildHub(ctx context.Context) (string, error) {
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "appealhub-chaos-bin-")
		if built.err == nil {
			built.bin, built.err = buildHub(ctx, built.dir)
		}
	})
	return built.bin, built.err
}

// RemoveBuilt removes the binary BuildHub built, if any.
func RemoveBuilt() error {
	if built.dir == "" {
		return nil
	}
	return os.RemoveAll(built.dir)
}

func buildHub(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "appealhub")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "appealhub/cmd/appealhub")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build appealhub: %w: %s", err, out)
	}
	return bin, nil
}

// HubProcess is one `appealhub serve` OS process with its own configuration file and log. It can
// be killed (SIGKILL) and started again on the same address. Safe for concurrent use.
type HubProcess struct {
	Name    string
	Addr    string // host:port of its HTTP API, the same across restarts
	bin     string
	cfgPath string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the current process has exited
	starts int
	kills  int
}

// NewHubProcess writes cfg (with http.addr set to a free port) to dir/<name>.yaml.
func NewHubProcess(bin, dir, name string, cfg config.Config) (*HubProcess, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cfg.HTTP.Addr = addr
	cfg.HTTP.PublicURL = "http://" + addr
	raw, err := cfg.YAML()
	if err != nil {
		return nil, err
	}
	h := &HubProcess{Name: name, Addr: addr, bin: bin, cfgPath: filepath.Join(dir, name+".yaml"),
		logPath: filepath.Join(dir, name+".log")}
	if err := os.WriteFile(h.cfgPath, raw, 0o600); err != nil {
		return nil, fmt.Errorf("hub config: %w", err)
	}
	return h, nil
}

// URL is the hub's base URL.
func (h *HubProcess) URL() string { return "http://" + h.Addr }

// Migrate runs `appealhub migrate` with the hub's configuration.
func (h *HubProcess) Migrate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.bin, "migrate", "--config", h.cfgPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("migrate: %w: %s", err, out)
	}
	return nil
}

// Start starts the process (its output appended to the log) without waiting for it to be ready.
func (h *HubProcess) Start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil {
		select {
		case <-h.done:
		default:
			return fmt.Errorf("start hub %s: already running", h.Name)
		}
	}
	logf, err := os.OpenFile(h.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("hub log: %w", err)
	}
	fmt.Fprintf(logf, "=== chaos: start %d of %s at %s\n", h.starts+1, h.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(h.bin, "serve", "--config", h.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start hub %s: %w", h.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	h.cmd, h.done = cmd, done
	h.starts++
	return nil
}

// running returns the current process and its done channel, or nil when none runs.
func (h *HubProcess) running() (*exec.Cmd, chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		return nil, nil
	}
	select {
	case <-h.done:
		return nil, nil
	default:
		return h.cmd, h.done
	}
}

// Kill sends SIGKILL and waits (at most 10 s) until the process has exited.
func (h *HubProcess) Kill() error {
	cmd, done := h.running()
	if cmd == nil {
		return fmt.Errorf("kill hub %s: not running", h.Name)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("kill hub %s: still running after 10s", h.Name)
	}
	h.mu.Lock()
	h.kills++
	h.mu.Unlock()
	return nil
}

// Stop sends SIGTERM and waits up to grace, then kills the process. It is a no-op when none runs.
func (h *HubProcess) Stop(grace time.Duration) error {
	cmd, done := h.running()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("hub %s exited %d after SIGTERM", h.Name, code)
		}
		return nil
	case <-time.After(grace):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	return fmt.Errorf("hub %s did not stop within %s: killed", h.Name, grace)
}

// WaitReady waits until /readyz answers 200, at most within; it fails early if the process exits.
func (h *HubProcess) WaitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if cmd, _ := h.running(); cmd == nil {
			return fmt.Errorf("hub %s exited before it was ready:\n%s", h.Name, h.LogTail(30))
		}
		if ok, _ := h.Ready(ctx, client); ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("hub %s not ready within %s:\n%s", h.Name, within, h.LogTail(30))
}

// Ready asks /readyz once.
func (h *HubProcess) Ready(ctx context.Context, client *http.Client) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL()+"/readyz", nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// Goroutines reads go_goroutines from the hub's /metrics.
func (h *HubProcess) Goroutines(ctx context.Context) (int, error) {
	n, err := metricSum(ctx, h, "go_goroutines")
	return int(n), err
}

// Counts returns how often the process was started and killed.
func (h *HubProcess) Counts() (starts, kills int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.starts, h.kills
}

// Panicked reports whether any run of the process logged a Go panic.
func (h *HubProcess) Panicked() (bool, error) {
	raw, err := os.ReadFile(h.logPath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hub log: %w", err)
	}
	return bytes.Contains(raw, []byte("\npanic: ")) || bytes.HasPrefix(raw, []byte("panic: ")) ||
		bytes.Contains(raw, []byte("fatal error: ")), nil
}

// LogTail returns the last n lines of the hub's log.
func (h *HubProcess) LogTail(n int) string {
	raw, err := os.ReadFile(h.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
