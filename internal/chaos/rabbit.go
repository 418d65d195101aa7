package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RabbitBin is where Debian's rabbitmq-server package puts the server and its CLI tools.
const RabbitBin = "/usr/lib/rabbitmq/bin"

// rabbitStartTimeout bounds one start of the node (boot and await_startup).
const rabbitStartTimeout = 120 * time.Second

// RabbitNode is a private RabbitMQ node: its own node name, AMQP and distribution ports, Erlang
// cookie (through HOME) and data directory. Methods are not safe for concurrent use.
type RabbitNode struct {
	Name     string // name@localhost
	Port     int    // AMQP listener on 127.0.0.1
	DistPort int    // Erlang distribution port
	Dir      string // home, mnesia, log, config; removed by Remove
}

// NewRabbitNode prepares (without starting) a node with free ports in dir, which it creates.
func NewRabbitNode(dir string) (*RabbitNode, error) {
	return newRabbitNode(dir, newCookie())
}

// newCookie returns a random Erlang cookie. The nodes of one cluster share theirs.
func newCookie() string {
	cookie := make([]byte, 20)
	_, _ = rand.Read(cookie)
	return strings.ToUpper(hex.EncodeToString(cookie))
}

// newRabbitNode prepares a node with free ports in dir and the given Erlang cookie.
func newRabbitNode(dir, cookie string) (*RabbitNode, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := &RabbitNode{Name: "chaos" + hex.EncodeToString(b) + "@localhost", Port: ports[0], DistPort: ports[1], Dir: dir}
	for _, d := range []string{"home", "mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("rabbit node dir: %w", err)
		}
	}
	files := map[string]string{
		"home/.erlang.cookie": cookie,
		"rabbitmq-env.conf":   "",
		"enabled_plugins":     "[].\n",
		"rabbitmq.conf": fmt.Sprintf("listeners.tcp.1 = 127.0.0.1:%d\nloopback_users.guest = true\n"+
			"log.file.level = warning\n", n.Port),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o400); err != nil {
			return nil, fmt.Errorf("rabbit node file: %w", err)
		}
	}
	return n, nil
}

// URL is the AMQP URL of the node (not through a proxy).
func (n *RabbitNode) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", n.Port) }

// Addr is the node's AMQP host:port.
func (n *RabbitNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

func (n *RabbitNode) pidFile() string { return filepath.Join(n.Dir, "pid") }

func (n *RabbitNode) env() []string {
	return append(os.Environ(),
		"HOME="+filepath.Join(n.Dir, "home"),
		"RABBITMQ_NODENAME="+n.Name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(n.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(n.DistPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(n.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(n.Dir, "log"),
		"RABBITMQ_PID_FILE="+n.pidFile(),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(n.Dir, "rabbitmq.conf"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(n.Dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(n.Dir, "enabled_plugins"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_CRASH_DUMP="+filepath.Join(n.Dir, "erl_crash.dump"),
	)
}

// Ctl runs a CLI tool (rabbitmqctl, rabbitmq-diagnostics, …) against this node only and returns
// its standard output.
func (n *RabbitNode) Ctl(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(RabbitBin, tool), append([]string{"-n", n.Name}, args...)...)
	cmd.Env = n.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Start boots the node (detached) and waits until it accepts work, at most rabbitStartTimeout.
func (n *RabbitNode) Start(ctx context.Context) error {
	if _, ok := n.Pid(); ok {
		return errors.New("start rabbit node: already running")
	}
	_ = os.Remove(n.pidFile())
	ctx, cancel := context.WithTimeout(ctx, rabbitStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(RabbitBin, "rabbitmq-server"), "-detached")
	cmd.Env = n.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start rabbit node %s: %w: %s", n.Name, err, out)
	}
	if _, err := n.Ctl(ctx, "rabbitmqctl", "-q", "wait", "--timeout", "110", n.pidFile()); err != nil {
		return fmt.Errorf("start rabbit node %s: %w", n.Name, err)
	}
	if _, err := n.Ctl(ctx, "rabbitmqctl", "-q", "await_startup", "--timeout", "110"); err != nil {
		return fmt.Errorf("start rabbit node %s: %w", n.Name, err)
	}
	return nil
}

// Pid returns the pid of the node's beam.smp if it runs (checked against its command line, which
// names the node's HOME, so that a reused pid is never signalled).
func (n *RabbitNode) Pid() (int, bool) {
	raw, err := os.ReadFile(n.pidFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(filepath.Join(n.Dir, "home"))) {
		return 0, false
	}
	return pid, true
}

// Kill sends SIGKILL to the node's beam.smp and waits (at most 10 s) until it is gone.
func (n *RabbitNode) Kill() error {
	pid, ok := n.Pid()
	if !ok {
		return errors.New("kill rabbit node: not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill rabbit node: %w", err)
	}
	return waitGone(pid, 10*time.Second)
}

// Stop stops the node gracefully (at most 60 s), then kills it if it still runs.
func (n *RabbitNode) Stop(ctx context.Context) error {
	pid, ok := n.Pid()
	if !ok {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, _ = n.Ctl(sctx, "rabbitmqctl", "-q", "stop")
	if waitGone(pid, 10*time.Second) == nil {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return waitGone(pid, 10*time.Second)
}

// QueueStat is one queue's depth.
type QueueStat struct {
	Name     string `json:"name"`
	Messages int    `json:"messages"`
}

// Queues lists the node's queues with their message counts (ready and unacknowledged).
func (n *RabbitNode) Queues(ctx context.Context) ([]QueueStat, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := n.Ctl(ctx, "rabbitmqctl", "-q", "list_queues", "name", "messages", "--formatter", "json")
	if err != nil {
		return nil, err
	}
	var qs []QueueStat
	if err := json.Unmarshal(bytes.TrimSpace(out), &qs); err != nil {
		return nil, fmt.Errorf("list queues: %w: %s", err, out)
	}
	return qs, nil
}

// waitGone waits until pid no longer exists, at most within.
func waitGone(pid int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("process %d still runs after %s", pid, within)
}

// zombie reports whether pid has exited and waits to be reaped by its parent.
func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}
