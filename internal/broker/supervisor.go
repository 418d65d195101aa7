package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

const (
	// dialTimeout bounds the TCP connect plus the TLS and AMQP handshakes.
	dialTimeout = 15 * time.Second
	// closeTimeout bounds a graceful connection.close handshake.
	closeTimeout = 2 * time.Second
)

// errConnClosed is the reason recorded when a connection ends without an AMQP error (closed by
// this process).
var errConnClosed = errors.New("connection closed")

// link is one AMQP connection together with the socket beneath it.
type link struct {
	conn *amqp.Connection
	// netConn is the raw socket. Closing it unblocks a socket write that a blocked broker keeps
	// hanging; amqp091-go's own Close would queue behind that very write.
	netConn   net.Conn
	closeOnce sync.Once
}

// abort kills the socket at once. The connection's reader fails, the library shuts the
// connection down and NotifyClose fires, so the supervisor reconnects.
func (l *link) abort() {
	if l.netConn != nil {
		_ = l.netConn.Close()
	}
}

// close closes the connection gracefully, bounded by closeTimeout. Safe to call many times.
func (l *link) close() {
	l.closeOnce.Do(func() {
		_ = l.conn.CloseDeadline(time.Now().Add(closeTimeout))
		l.abort()
	})
}

// dial opens one connection to rawURL (one of cfg.urls()) with library recovery off
// (Config.Recovery stays nil: reconnecting is the supervisor's job, see doc.go). ctx ending
// aborts the handshake.
func dial(ctx context.Context, cfg Config, rawURL, name string) (*link, error) {
	var (
		mu  sync.Mutex
		raw net.Conn
	)
	dialer := func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// amqp091-go clears this deadline once the handshake is complete.
		if err := c.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
			_ = c.Close()
			return nil, err
		}
		mu.Lock()
		raw = c
		mu.Unlock()
		return c, nil
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if raw != nil {
			_ = raw.Close()
		}
	})
	defer stop()

	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(name)
	conn, err := amqp.DialConfig(rawURL, amqp.Config{
		Heartbeat:  cfg.Heartbeat,
		Properties: props,
		Dial:       dialer,
		// Recovery deliberately nil.
	})
	if err != nil {
		return nil, fmt.Errorf("dial broker %s: %w", nodeOf(rawURL), err)
	}
	mu.Lock()
	defer mu.Unlock()
	return &link{conn: conn, netConn: raw}, nil
}

// supervisor owns one connection at a time for one role (publish or consume): it dials, declares
// the base topology, lets its owner set up channels (up), waits until the connection dies, lets
// the owner drop them (down) and dials again with exponential backoff and jitter, forever, until
// stopped.
type supervisor struct {
	cfg  Config
	role string
	log  *zap.Logger
	// up runs after the base topology is declared and before the link counts as connected. An
	// error closes the link and counts as a failed attempt.
	up func(ctx context.Context, l *link) error
	// down runs once the link is closed, if up was called for it (also when up failed).
	down func(l *link)

	mu      sync.Mutex
	status  Status
	cur     *link
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when run has returned (or at stop if never started)

	wg sync.WaitGroup // helper goroutines started through goTracked
}

func newSupervisor(cfg Config, role string, log *zap.Logger) *supervisor {
	return &supervisor{cfg: cfg, role: role, log: log, done: make(chan struct{})}
}

// start launches the supervisor goroutine and returns at once.
func (s *supervisor) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if s.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.started = true
	s.cancel = cancel
	s.status.Since = time.Now()
	go s.run(ctx)
	return nil
}

// stop closes the current connection, ends the supervisor and waits for its goroutines.
// Idempotent and safe before start.
func (s *supervisor) stop() {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		if s.started {
			s.cancel()
		} else {
			close(s.done)
		}
	}
	s.mu.Unlock()
	<-s.done
	s.wg.Wait()
}

// goTracked runs fn in a goroutine that stop waits for. It returns false (and does not run fn)
// once stop has begun.
func (s *supervisor) goTracked(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.wg.Go(fn)
	return true
}

// call runs fn in a tracked goroutine and waits for it or for ctx. amqp091-go's RPCs do not take
// a context; fn still finishes when the connection closes.
func (s *supervisor) call(ctx context.Context, fn func() error) error {
	res := make(chan error, 1)
	if !s.goTracked(func() { res <- fn() }) {
		return ErrNotConnected
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *supervisor) snapshot() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *supervisor) current() *link {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *supervisor) setConnected(l *link) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = l
	s.status.Connected = true
	s.status.Blocked = false
	s.status.Since = time.Now()
}

func (s *supervisor) setDisconnected(l *link, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l != nil && s.cur == l {
		s.cur = nil
		s.status.Connected = false
		s.status.Blocked = false
		s.status.Since = time.Now()
	}
	if err != nil {
		s.status.LastError = err.Error()
	}
}

func (s *supervisor) setBlocked(l *link, b amqp.Blocking) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != l {
		return
	}
	s.status.Blocked = b.Active
	if b.Active {
		s.status.LastError = "connection blocked: " + b.Reason
	}
}

func (s *supervisor) connName() string {
	return s.cfg.ConnectionName + "." + s.role
}

func (s *supervisor) run(ctx context.Context) {
	defer close(s.done)
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     s.cfg.ReconnectMin,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         s.cfg.ReconnectMax,
	}
	bo.Reset()
	// Each attempt after a failed dial or a lost connection goes to the next URL in turn.
	urls := s.cfg.urls()
	for attempt := 0; ; attempt++ {
		l, err := dial(ctx, s.cfg, urls[attempt%len(urls)], s.connName())
		if err == nil {
			var wasUp bool
			wasUp, err = s.serve(ctx, l)
			if wasUp {
				bo.Reset()
			}
		}
		if ctx.Err() != nil {
			return
		}
		s.setDisconnected(nil, err)
		wait := min(bo.NextBackOff(), s.cfg.ReconnectMax)
		s.log.Warn("broker connection down, reconnecting",
			zap.String("role", s.role), zap.Error(err), zap.Duration("backoff", wait),
			zap.String("next_node", nodeOf(urls[(attempt+1)%len(urls)])))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// serve runs one connection until it dies or ctx ends. wasUp reports whether it got as far as
// connected.
func (s *supervisor) serve(ctx context.Context, l *link) (wasUp bool, err error) {
	closeCh := l.conn.NotifyClose(make(chan *amqp.Error, 1))
	blockCh := l.conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	var drain sync.WaitGroup
	drain.Go(func() {
		// The library closes blockCh when the connection shuts down.
		for b := range blockCh {
			s.log.Warn("broker connection blocked state changed",
				zap.String("role", s.role), zap.Bool("blocked", b.Active), zap.String("reason", b.Reason))
			s.setBlocked(l, b)
		}
	})
	// Stop closes the connection whatever stage serve is in.
	stopClose := context.AfterFunc(ctx, l.close)
	upCalled := false
	defer func() {
		stopClose()
		l.close()
		drain.Wait()
		s.setDisconnected(l, err)
		if upCalled {
			s.down(l)
		}
	}()

	if err := withChannel(l.conn, func(ch *amqp.Channel) error { return declareBase(ch, s.cfg) }); err != nil {
		return false, fmt.Errorf("declare base topology: %w", err)
	}
	upCalled = true
	if err := s.up(ctx, l); err != nil {
		return false, err
	}
	s.setConnected(l)
	s.log.Info("broker connected", zap.String("role", s.role))

	select {
	case e, ok := <-closeCh:
		if ok && e != nil {
			return true, fmt.Errorf("connection closed: %w", e)
		}
		return true, errConnClosed
	case <-ctx.Done():
		return true, nil
	}
}

// closeForTest closes the current connection as if the broker had dropped it.
func (s *supervisor) closeForTest() error {
	l := s.current()
	if l == nil {
		return ErrNotConnected
	}
	return l.conn.Close()
}

// aggregateStatus combines the status of several connections: Connected only while every one is
// up, Blocked if any is blocked, Since the latest change of any, and LastError the last error of
// a disconnected connection if there is one, else of any connection.
func aggregateStatus(sups []*supervisor) Status {
	agg := Status{Connected: true}
	var downErr, anyErr string
	for _, sup := range sups {
		s := sup.snapshot()
		agg.Connected = agg.Connected && s.Connected
		agg.Blocked = agg.Blocked || s.Blocked
		if s.Since.After(agg.Since) {
			agg.Since = s.Since
		}
		if s.LastError != "" {
			if !s.Connected && downErr == "" {
				downErr = s.LastError
			}
			if anyErr == "" {
				anyErr = s.LastError
			}
		}
	}
	agg.LastError = downErr
	if agg.LastError == "" {
		agg.LastError = anyErr
	}
	return agg
}
