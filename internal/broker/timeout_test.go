package broker_test

import (
	"bytes"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

// stallProxy forwards TCP to the broker and can stall: while stalled it neither reads nor
// writes, so the client's socket buffers fill and its writes hang, as with a broker that is
// blocked by an alarm or a black-holed network.
type stallProxy struct {
	ln       net.Listener
	upstream string

	mu      sync.Mutex
	stalled bool
	resume  chan struct{}
	conns   []net.Conn
	closed  bool
	wg      sync.WaitGroup
}

func newStallProxy(t *testing.T, upstream string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, upstream: upstream, resume: make(chan struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = u.Close()
			return
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(u, c) })
		p.wg.Go(func() { p.pipe(c, u) })
	}
}

// pipe copies src to dst, waiting while the proxy is stalled.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer func() {
		_ = dst.Close()
		_ = src.Close()
	}()
	buf := make([]byte, 32*1024)
	for {
		if !p.gate() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// gate blocks while stalled; false means the proxy is closed.
func (p *stallProxy) gate() bool {
	p.mu.Lock()
	stalled, resume, closed := p.stalled, p.resume, p.closed
	p.mu.Unlock()
	if closed {
		return false
	}
	if stalled {
		<-resume
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.closed
	}
	return true
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

func (p *stallProxy) unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resume)
		p.resume = make(chan struct{})
	}
}

func (p *stallProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	if p.stalled {
		close(p.resume)
		p.stalled = false
	}
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}

func TestPublishTimeoutResetsConnection(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t, brokertest.WithAuthorities("a"))
	u, err := url.Parse(cfg.URL)
	require.NoError(t, err)
	proxy := newStallProxy(t, u.Host)
	u.Host = proxy.addr()
	viaProxy := cfg
	viaProxy.URL = u.String()
	viaProxy.PublishTimeout = 300 * time.Millisecond

	pub := startPublisher(t, viaProxy)
	require.NoError(t, pub.EnsureAuthority(t.Context(), "a"))
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m0")}))

	// Stalled: the 32 MiB body overflows the socket buffers, so the write itself hangs, and no
	// confirm can arrive. The timer must still end the batch.
	proxy.stall()
	big := msg("a", "big")
	big.Body = bytes.Repeat([]byte("x"), 32<<20)
	since := pub.Status().Since
	start := time.Now()
	errs := pub.PublishBatch(t.Context(), []broker.Message{big, msg("a", "m1")})
	elapsed := time.Since(start)
	for _, err := range errs {
		require.ErrorIs(t, err, broker.ErrPublishTimeout)
	}
	require.Less(t, elapsed, 5*time.Second, "publish not bounded by its timer")
	t.Logf("stalled batch returned after %s", elapsed)

	proxy.unstall()
	require.Eventually(t, func() bool {
		s := pub.Status()
		return s.Connected && s.Since.After(since)
	}, waitFor, tick, "publisher never reconnected")
	requireAllConfirmed(t, pub.PublishBatch(t.Context(), []broker.Message{msg("a", "m2")}))
}
