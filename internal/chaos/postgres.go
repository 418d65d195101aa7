package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PostgresBin is where Debian's postgresql-15 package puts the server and its tools.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// postgresUser runs the server: initdb and pg_ctl refuse to run as root.
const postgresUser = "postgres"

// Postgres is a private PostgreSQL instance: its own data directory (owned by the postgres user),
// port on 127.0.0.1 and unix socket directory. Authentication is trust for the postgres role over
// loopback. Methods are not safe for concurrent use.
type Postgres struct {
	Port int
	Dir  string // data directory; its log is Dir + ".log"
}

// NewPostgres initialises (initdb) an instance in dir, which must not exist; its parent must be
// traversable by the postgres user.
func NewPostgres(ctx context.Context, dir string) (*Postgres, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	p := &Postgres{Port: ports[0], Dir: dir}
	u, err := user.Lookup(postgresUser)
	if err != nil {
		return nil, fmt.Errorf("postgres instance: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres data dir: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("postgres data dir: %w", err)
	}
	// The log sits beside the data directory (pg_ctl writes it as the postgres user).
	if err := os.WriteFile(p.logFile(), nil, 0o600); err != nil {
		return nil, fmt.Errorf("postgres log: %w", err)
	}
	if err := os.Chown(p.logFile(), uid, gid); err != nil {
		return nil, fmt.Errorf("postgres log: %w", err)
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := p.run(ictx, "initdb", "-D", dir, "-U", postgresUser, "--auth=trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync"); err != nil {
		return nil, err
	}
	// fsync off: an immediate stop is a crash of the server, not of the machine, so what the server
	// wrote (WAL included) stays in the page cache; the run is faster on a small machine.
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"max_connections = 200\nfsync = off\nsynchronous_commit = on\nlog_min_messages = warning\n", p.Port, dir)
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("postgres config: %w", err)
	}
	_, werr := f.WriteString(conf)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("postgres config: %w", werr)
	}
	return p, nil
}

func (p *Postgres) logFile() string { return p.Dir + ".log" }

// run runs a PostgreSQL tool as the postgres user.
func (p *Postgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", postgresUser, "--", filepath.Join(PostgresBin, tool)}, args...)...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// URL is the instance's connection URL (not through a proxy) for database name db.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=5", p.Port, db)
}

// Addr is the instance's host:port.
func (p *Postgres) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// Start starts the server and waits until it accepts connections (at most 60 s).
func (p *Postgres) Start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	_, err := p.run(ctx, "pg_ctl", "-D", p.Dir, "-l", p.logFile(), "-w", "-t", "60", "start")
	return err
}

// StopImmediate stops the server without a shutdown checkpoint (pg_ctl stop -m immediate): every
// connection is cut and the next start runs crash recovery.
func (p *Postgres) StopImmediate(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err := p.run(ctx, "pg_ctl", "-D", p.Dir, "-m", "immediate", "-w", "-t", "30", "stop")
	return err
}

// Stop stops the server if it runs (fast shutdown), for cleanup.
func (p *Postgres) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := p.run(ctx, "pg_ctl", "-D", p.Dir, "status"); err != nil {
		return nil // not running
	}
	_, err := p.run(ctx, "pg_ctl", "-D", p.Dir, "-m", "fast", "-w", "-t", "30", "stop")
	if err != nil {
		_, err = p.run(ctx, "pg_ctl", "-D", p.Dir, "-m", "immediate", "-w", "-t", "20", "stop")
	}
	return err
}
