package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// declareParallelism bounds the declarations in flight on the declaring connection (one
// channel each), well under any channel_max the Consumer accepts.
const declareParallelism = 256

// declareIdleChannels is how many channels the declaring connection keeps open between
// declarations: opening and closing a channel costs the broker more than the queue.declare and
// queue.bind of a queue that exists, and a cold publisher declares every authority it meets.
const declareIdleChannels = 32

// errWoken ends a runner's attempt early because its subscription changed or went away; the
// runner re-reads it at once, without backing off.
var errWoken = errors.New("subscription changed")

// declarer declares authority queues and their bindings for a Consumer or a Publisher on a
// connection of its own ("<name>.declare"), never on a consuming or publishing connection. The broker answers some failed
// declarations with a connection-level exception (541 INTERNAL_ERROR such as
// cluster_not_formed while a quorum queue cannot get its replicas, 504 CHANNEL_ERROR), which
// closes the whole connection: on a consuming connection that would stop every subscription of
// its shard (up to Config.ChannelsPerConnection authorities). On the declaring connection it costs
// only the declarations in flight, whose runners back off and retry on their own. Likewise a
// publishing connection never stalls behind thousands of re-declarations after a reconnect.
type declarer struct {
	cfg Config
	sup *supervisor

	sem chan struct{} // declarations in flight

	mu    sync.Mutex
	cur   *link
	ready chan struct{} // closed while cur is set; replaced when the link goes down
	// ensured holds the codes declared on cur by ensure; emptied when cur goes down and by
	// forget, which also advances gen so that a declaration in flight is not recorded.
	ensured map[string]struct{}
	gen     uint64
	// idle holds open channels of cur for the next declarations; emptied when cur goes down.
	idle []*amqp.Channel
	// doubted is when doubt last ran; doubtedCode when forgetCode last ran for a code. A
	// declaration made elsewhere (Config.Declarations) counts only when newer than both.
	doubted     time.Time
	doubtedCode map[string]time.Time

	declared atomic.Int64 // declarations made (for tests)
}

// newDeclarer returns a declarer whose connection is named "<name>.<role>".
func newDeclarer(cfg Config, role string, log *zap.Logger) *declarer {
	d := &declarer{cfg: cfg, sem: make(chan struct{}, declareParallelism), ready: make(chan struct{}),
		ensured: make(map[string]struct{}), doubtedCode: make(map[string]time.Time)}
	d.sup = newSupervisor(cfg, role, log)
	d.sup.up = func(_ context.Context, l *link) error {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.cur = l
		close(d.ready)
		return nil
	}
	d.sup.down = func(l *link) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.cur == l {
			d.cur = nil
			d.ready = make(chan struct{})
			clear(d.ensured)
			d.gen++
			d.idle = nil // closed with the connection
		}
	}
	return d
}

// link returns the live declaring connection, waiting for one until ctx ends.
func (d *declarer) link(ctx context.Context) (*link, error) {
	for {
		d.mu.Lock()
		l, ready := d.cur, d.ready
		d.mu.Unlock()
		if l != nil {
			return l, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

// ensure declares the queue of code unless isEnsured. It does not wait for a connection:
// without one it returns ErrNotConnected. A queue or binding deleted behind the hub's back is
// declared again once either connection of the Publisher is replaced (a publish to a deleted
// exchange closes the publishing channel, so the Publisher reconnects) or the broker returns a
// message of its code as unroutable (forgetCode), and at once by the Consumer, which declares
// before every basic.consume.
func (d *declarer) ensure(ctx context.Context, code string) error {
	if d.isEnsured(code) {
		return nil
	}
	d.mu.Lock()
	l, gen := d.cur, d.gen
	d.mu.Unlock()
	if l == nil {
		return ErrNotConnected
	}
	if err := d.declareOn(ctx, l, code); err != nil {
		return err
	}
	d.mu.Lock()
	if d.cur == l && d.gen == gen {
		d.ensured[code] = struct{}{}
	}
	d.mu.Unlock()
	return nil
}

// isEnsured reports whether ensure declared code on the current declaring connection already,
// or a Consumer sharing Config.Declarations declared it since the declarer last had reason to
// doubt it (doubt, forgetCode).
func (d *declarer) isEnsured(code string) bool {
	d.mu.Lock()
	_, done := d.ensured[code]
	done = done && d.cur != nil
	since := d.doubted
	if t := d.doubtedCode[code]; t.After(since) {
		since = t
	}
	d.mu.Unlock()
	return done || d.cfg.Declarations.declaredAfter(d.cfg.queue(code), since)
}

// forgetCode makes ensure declare code again (the broker returned a message of it as
// unroutable: its queue or binding is gone).
func (d *declarer) forgetCode(code string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.ensured, code)
	d.doubtedCode[code] = time.Now()
}

// forget makes ensure declare every code again.
func (d *declarer) forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.ensured)
	d.gen++
}

// doubt makes isEnsured ignore the declarations Config.Declarations recorded until now (the
// publishing connection was lost: maybe because the exchange, and every binding with it, was
// deleted).
func (d *declarer) doubt() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.doubted = time.Now()
	clear(d.doubtedCode)
}

// declare declares the queue of code and binds it, waiting for the declaring connection and a
// free slot until ctx ends.
func (d *declarer) declare(ctx context.Context, code string) error {
	l, err := d.link(ctx)
	if err != nil {
		return err
	}
	return d.declareOn(ctx, l, code)
}

// declareOn declares code on l once a slot is free. A declaration already sent finishes in the
// background if ctx ends first (amqp091-go's RPCs take no context); its slot is freed when it does.
func (d *declarer) declareOn(ctx context.Context, l *link, code string) error {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	err := d.sup.call(ctx, func() error {
		defer func() { <-d.sem }()
		ch, err := d.channel(l)
		if err != nil {
			return err
		}
		if err := declareAuthority(ch, d.cfg, code); err != nil {
			_ = ch.Close() // a failed declaration closed it already, as a rule
			return err
		}
		d.release(l, ch)
		d.declared.Add(1)
		return nil
	})
	if errors.Is(err, ErrNotConnected) { // the supervisor is stopping: the slot was never taken
		<-d.sem
	}
	if err != nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// channel returns an idle channel of l, or opens one.
func (d *declarer) channel(l *link) (*amqp.Channel, error) {
	d.mu.Lock()
	for d.cur == l && len(d.idle) > 0 {
		ch := d.idle[len(d.idle)-1]
		d.idle = d.idle[:len(d.idle)-1]
		if !ch.IsClosed() {
			d.mu.Unlock()
			return ch, nil
		}
	}
	d.mu.Unlock()
	ch, err := l.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	return ch, nil
}

// release keeps ch for the next declaration on l, or closes it when l is gone or enough
// channels are idle.
func (d *declarer) release(l *link, ch *amqp.Channel) {
	d.mu.Lock()
	if d.cur == l && len(d.idle) < declareIdleChannels {
		d.idle = append(d.idle, ch)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	_ = ch.Close()
}
