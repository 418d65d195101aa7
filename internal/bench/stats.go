package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of ds, 0 when ds is empty. It
// sorts a copy; ds is not modified.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// Millis is d in milliseconds, for metrics.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on every Linux architecture Go runs on).
const userHZ = 100

// CPUSample is the CPU time used so far on the machine, split by who used it. Two samples give the
// CPU each part used in between (Since). Linux only; elsewhere every field stays zero.
type CPUSample struct {
	At       time.Time
	Busy     time.Duration // all CPUs, every process, not idle or iowait
	IRQ      time.Duration // part of Busy spent in interrupts: mostly loopback TCP, charged to no process
	Self     time.Duration // this process: the hub, the portal clients and the sandbox systems
	Postgres time.Duration // processes named postgres (the hub's pooled backends are)
	RabbitMQ time.Duration // processes named beam.smp
	// servers is the CPU time of each postgres and beam.smp process by pid, its own and that of
	// its children it has reaped, so that Since can count backends that started or exited in
	// between (an exited backend's time moves to the postmaster's children time).
	servers map[int]serverCPU
}

type serverCPU struct {
	rabbit bool
	cpu    time.Duration // own and reaped children's
}

// ReadCPU samples the CPU time of the machine, this process, PostgreSQL and RabbitMQ from /proc.
// Unreadable entries count as zero: the sample is for a report, never for a decision.
func ReadCPU() CPUSample {
	s := CPUSample{At: time.Now()}
	s.Busy, s.IRQ = machineBusy()
	s.Self = procCPU("/proc/self/stat")
	s.servers = map[int]serverCPU{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		raw, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		switch strings.TrimSpace(string(raw)) {
		case "postgres":
			own, reaped := procCPUs(filepath.Join(dir, "stat"))
			s.Postgres += own
			s.servers[pid] = serverCPU{cpu: own + reaped}
		case "beam.smp":
			own, reaped := procCPUs(filepath.Join(dir, "stat"))
			s.RabbitMQ += own
			s.servers[pid] = serverCPU{rabbit: true, cpu: own + reaped}
		}
	}
	return s
}

// Since returns the CPU used between earlier and s.
// PostgreSQL and RabbitMQ count, when both samples were read from /proc, what each process alive
// at the later sample used since the earlier one (all of it when it started in between), and the
// time of children that exited in between, which their parent (the postmaster) has reaped.
func (s CPUSample) Since(earlier CPUSample) CPUUse {
	u := CPUUse{Wall: s.At.Sub(earlier.At), Busy: s.Busy - earlier.Busy, IRQ: s.IRQ - earlier.IRQ,
		Self: s.Self - earlier.Self, Postgres: s.Postgres - earlier.Postgres, RabbitMQ: s.RabbitMQ - earlier.RabbitMQ}
	if s.servers != nil && earlier.servers != nil {
		u.Postgres, u.RabbitMQ = 0, 0
		for pid, now := range s.servers {
			used := now.cpu
			if then, ok := earlier.servers[pid]; ok && then.rabbit == now.rabbit {
				if now.cpu < then.cpu {
					continue
				}
				used -= then.cpu
			}
			if now.rabbit {
				u.RabbitMQ += used
			} else {
				u.Postgres += used
			}
		}
	}
	return u
}

// CPUUse is the CPU time used over a wall-clock interval, split as in CPUSample.
type CPUUse struct {
	Wall                                time.Duration
	Busy, IRQ, Self, Postgres, RabbitMQ time.Duration
}

// Add returns the use over both intervals.
func (u CPUUse) Add(o CPUUse) CPUUse {
	return CPUUse{Wall: u.Wall + o.Wall, Busy: u.Busy + o.Busy, IRQ: u.IRQ + o.IRQ, Self: u.Self + o.Self,
		Postgres: u.Postgres + o.Postgres, RabbitMQ: u.RabbitMQ + o.RabbitMQ}
}

// Cores is CPUUse in cores busy on average over the interval.
type Cores struct {
	Busy     float64 // the whole machine
	Self     float64 // this process
	Postgres float64
	RabbitMQ float64
	IRQ      float64 // interrupts (loopback networking), charged to no process
	Other    float64 // the rest: other processes on the machine
}

// Cores returns u in cores busy on average over its interval.
func (u CPUUse) Cores() Cores {
	wall := u.Wall.Seconds()
	if wall <= 0 {
		return Cores{}
	}
	c := func(v time.Duration) float64 { return v.Seconds() / wall }
	rest := u.Busy - u.IRQ - u.Self - u.Postgres - u.RabbitMQ
	return Cores{Busy: c(u.Busy), Self: c(u.Self), Postgres: c(u.Postgres), RabbitMQ: c(u.RabbitMQ), IRQ: c(u.IRQ),
		Other: c(max(rest, 0))}
}

func ticks(n int64) time.Duration { return time.Duration(n) * time.Second / userHZ }

// machineBusy reads the first line of /proc/stat (user nice system idle iowait irq softirq steal)
// and returns the busy time (all but idle and iowait) and the part of it in irq and softirq.
func machineBusy() (busy, irq time.Duration) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0
	}
	var b, i int64
	for n, f := range fields[1:9] {
		v, _ := strconv.ParseInt(f, 10, 64)
		switch n {
		case 3, 4: // idle, iowait
		case 5, 6: // irq, softirq
			i += v
			b += v
		default:
			b += v
		}
	}
	return ticks(b), ticks(i)
}

// procCPU reads utime+stime of one process from its stat file.
func procCPU(path string) time.Duration {
	own, _ := procCPUs(path)
	return own
}

// procCPUs reads utime+stime of one process and cutime+cstime (its children that exited and
// were waited for) from its stat file.
func procCPUs(path string) (own, reaped time.Duration) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	// The command name is in parentheses and may contain spaces: count fields after the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, 0
	}
	fields := strings.Fields(string(raw[i+1:]))
	if len(fields) < 15 {
		return 0, 0
	}
	// utime, stime, cutime and cstime are fields 14 to 17 of proc(5), the 12th to 15th from the
	// state field.
	n := func(k int) int64 { v, _ := strconv.ParseInt(fields[k], 10, 64); return v }
	return ticks(n(11) + n(12)), ticks(n(13) + n(14))
}

// Machine describes where a benchmark ran. Facts that cannot be found read "unknown".
type Machine struct {
	CPU        string // model name from /proc/cpuinfo
	Cores      int
	GoVersion  string
	OS         string
	Postgres   string // server_version, plus synchronous_commit and fsync
	RabbitMQ   string
	LoadBefore string // /proc/loadavg before the benchmarks: other work on the machine skews the figures
}

// ReadMachine gathers the machine facts. databaseURL is asked for PostgreSQL's version with psql;
// RabbitMQ's comes from rabbitmqctl (which may need root). Each lookup is bounded by ctx.
func ReadMachine(ctx context.Context, databaseURL string) Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Postgres: "unknown", RabbitMQ: "unknown", LoadBefore: "unknown"}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(raw)); len(f) >= 3 {
			m.LoadBefore = strings.Join(f[:3], " ")
		}
	}
	if out, err := command(ctx, "psql", databaseURL, "-tAc",
		`SELECT current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit')
		 || ', fsync=' || current_setting('fsync') || ', shared_buffers=' || current_setting('shared_buffers')`); err == nil && out != "" {
		m.Postgres = out
	}
	if out, err := command(ctx, "rabbitmqctl", "-q", "version"); err == nil && out != "" {
		m.RabbitMQ = out
	}
	return m
}

func command(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "", fmt.Errorf("run %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
