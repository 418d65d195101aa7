package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Server serves a handler over HTTP with the timeouts of its Config. Start, SetDraining, Stop,
// Addr and Stopped are safe for concurrent use.
type Server struct {
	cfg      Config
	logger   *zap.Logger
	srv      *http.Server
	draining atomic.Bool

	mu      sync.Mutex
	started bool
	stopped bool
	ln      net.Listener

	stopOnce sync.Once
	stopErr  error
	done     chan struct{} // closed when serving has ended (or Stop came before Start)
}

// NewServer returns a server for h; cfg takes its defaults (Config.WithDefaults). A nil logger logs
// nothing. Nothing listens until Start.
func NewServer(cfg Config, h http.Handler, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg = cfg.WithDefaults()
	s := &Server{cfg: cfg, logger: logger.Named("httpserver"), done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          zap.NewStdLog(s.logger.WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), drainingKey{}, &s.draining)
		},
	}
	return s
}

// Start listens on cfg.Addr (":0" picks a free port) and serves in a goroutine that Stop ends. It
// returns once the listener is open; ctx bounds only the listen. A server starts once: Start after
// Start or after Stop is an error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("start http server: already stopped")
	}
	if s.started {
		return errors.New("start http server: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln, s.started = ln, true
	serve := s.srv.Serve
	if s.cfg.TLS != nil {
		s.srv.TLSConfig = s.cfg.TLS.Clone()
		serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") }
	}
	go func() {
		defer close(s.done)
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server stopped serving", zap.Error(err))
		}
	}()
	s.logger.Info("listening", zap.String("addr", ln.Addr().String()), zap.Bool("tls", s.cfg.TLS != nil))
	return nil
}

// Addr returns the address the server listens on after Start, else "".
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// SetDraining makes the server refuse new submissions (POST /v1/appeals answers 503 shutting_down)
// and report not ready (/readyz answers 503), and stops keep-alives so that clients move to
// another process. Requests in flight continue. It cannot be undone.
func (s *Server) SetDraining() {
	if !s.draining.Swap(true) {
		s.srv.SetKeepAlivesEnabled(false)
		s.logger.Info("draining")
	}
}

// Stop drains the server: it stops listening, lets requests in flight finish and closes idle
// connections (http.Server.Shutdown). If ctx ends first, it closes every connection and returns
// the context's error. It is idempotent (later calls return the first call's result), safe before
// Start, and returns after the serving goroutine has ended.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		started := s.started
		s.mu.Unlock()
		if !started {
			close(s.done)
			return
		}
		s.SetDraining()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
			s.stopErr = fmt.Errorf("shut down http server: %w", err)
		}
		<-s.done
		s.logger.Info("stopped")
	})
	return s.stopErr
}

// Stopped is closed once the server has stopped serving (or was stopped before it started).
func (s *Server) Stopped() <-chan struct{} {
	return s.done
}
