package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// returnBuffer is the capacity of the NotifyReturn listener; returnTracker drains it continuously.
const returnBuffer = 128

// Status describes a Publisher's or Consumer's connection.
type Status struct {
	// Connected is true while a connection is open and its topology declared.
	Connected bool
	// Blocked is true between connection.blocked and connection.unblocked (memory or disk alarm).
	Blocked bool
	// Since is when Connected last changed (or when the component started).
	Since time.Time
	// LastError is the last connection error seen, kept after reconnecting ("" if none yet).
	LastError string
}

// Message is one message for PublishBatch.
type Message struct {
	RoutingKey    string // authority code
	MessageID     string
	CorrelationID string
	ContentType   string
	Headers       map[string]any
	Body          []byte
}

// Publisher publishes to Names.Deliver() (Names.Portal() for the portal family, see
// Config.Family) over a connection of its own, kept up by a supervisor (see the package
// documentation). Its methods are safe for concurrent use.
type Publisher struct {
	cfg    Config
	cfgErr error
	log    *zap.Logger
	sup    *supervisor
	decl   *declarer     // EnsureAuthority declares on a connection of its own
	sem    chan struct{} // capacity 1: serializes PublishBatch

	mu   sync.Mutex
	sess *pubSession

	stopOnce sync.Once
	stopped  chan struct{}
}

// pubSession is the publishing state of one connection.
type pubSession struct {
	link    *link
	ch      *amqp.Channel // confirm mode
	returns *returnTracker
	wg      sync.WaitGroup // returns.run and the channel watcher
}

// NewPublisher returns a Publisher for cfg (defaults applied). logger may be nil. An invalid
// cfg is reported by Start.
func NewPublisher(cfg Config, logger *zap.Logger) *Publisher {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg = cfg.WithDefaults()
	p := &Publisher{
		cfg:     cfg,
		cfgErr:  cfg.Validate(),
		log:     logger.Named("broker.publisher"),
		sem:     make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	p.decl = newDeclarer(cfg, "publish.declare", p.log)
	p.sup = newSupervisor(cfg, "publish", p.log)
	p.sup.up = p.up
	p.sup.down = p.down
	return p
}

// Start starts the connection supervisor and returns at once, without waiting for a connection;
// until one is up PublishBatch and EnsureAuthority return ErrNotConnected. ctx is not retained:
// only Stop stops the Publisher. Start after Stop returns ErrStopped.
func (p *Publisher) Start(ctx context.Context) error {
	if p.cfgErr != nil {
		return fmt.Errorf("start publisher: %w", p.cfgErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start publisher: %w", err)
	}
	if err := p.sup.start(); err != nil {
		return fmt.Errorf("start publisher: %w", err)
	}
	if err := p.decl.sup.start(); err != nil {
		return fmt.Errorf("start publisher: %w", err)
	}
	return nil
}

// Stop waits (until ctx is done) for a PublishBatch in progress to finish, then closes the
// connection and waits for every goroutine of the Publisher. Idempotent and safe before Start;
// concurrent calls all wait. It returns ctx's error if it had to cut a batch short.
func (p *Publisher) Stop(ctx context.Context) error {
	var err error
	p.stopOnce.Do(func() {
		select {
		case p.sem <- struct{}{}:
			defer func() { <-p.sem }()
		case <-ctx.Done():
			err = fmt.Errorf("stop publisher: %w", ctx.Err())
		}
		p.sup.stop()
		p.decl.sup.stop()
		close(p.stopped)
	})
	<-p.stopped
	return err
}

// Stopped returns a channel closed once Stop has finished.
func (p *Publisher) Stopped() <-chan struct{} { return p.stopped }

// Status returns the status of the publishing and the declaring connection together (see
// aggregateStatus).
func (p *Publisher) Status() Status { return aggregateStatus([]*supervisor{p.sup, p.decl.sup}) }

func (p *Publisher) current() *pubSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sess
}

// up opens the confirm-mode publishing channel. Authority queues are not declared here: that is
// EnsureAuthority's job, on the declaring connection, so a reconnect does not wait for them.
func (p *Publisher) up(_ context.Context, l *link) error {
	// What was lost with the old connection (say the hub.deliver exchange, and with it every
	// binding) is declared again on the next EnsureAuthority of each code.
	p.decl.forget()
	sess := &pubSession{link: l}
	ch, err := l.conn.Channel()
	if err != nil {
		return fmt.Errorf("open publish channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("enable publisher confirms: %w", err)
	}
	sess.ch = ch
	sess.returns = newReturnTracker(ch.NotifyReturn(make(chan amqp.Return, returnBuffer)))
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	sess.wg.Go(sess.returns.run)
	sess.wg.Go(func() {
		// A channel exception (say hub.deliver deleted: 404 on publish) closes only this
		// channel; reconnecting re-declares the topology and opens a fresh one.
		if e, ok := <-chClosed; ok && e != nil && !l.conn.IsClosed() {
			p.log.Warn("publish channel closed by the broker, reconnecting", zap.Error(e))
			l.close()
		}
	})

	p.mu.Lock()
	p.sess = sess
	p.mu.Unlock()
	return nil
}

// down forgets the session of a closed link.
func (p *Publisher) down(l *link) {
	p.mu.Lock()
	sess := p.sess
	if sess != nil && sess.link == l {
		p.sess = nil
	}
	p.mu.Unlock()
	if sess != nil && sess.link == l {
		p.decl.doubt()
		sess.wg.Wait() // both goroutines end now that the channel is closed
	}
}

// EnsureAuthority declares the queue of the authority code and its binding to Names.Deliver()
// (for the portal family: the queue of the portal client code and its binding to Names.Portal())
// on the Publisher's declaring connection, unless already declared on it (the declaring
// connection declares the base topology on every connect, and forgets what it declared when it
// drops or the publishing connection is replaced, so the next call declares again). Callers
// ensure the authorities of a batch before PublishBatch, as the relay does. It returns an error wrapping ErrNotConnected when
// there is no declaring connection, and ctx's error if ctx ends first. A code must be non-empty
// valid UTF-8 without spaces or control characters, and short enough for a 255-byte queue name;
// the same rule applies to Message.RoutingKey.
func (p *Publisher) EnsureAuthority(ctx context.Context, code string) error {
	return p.EnsureAuthorities(ctx, []string{code})[code]
}

// Doubt makes the Publisher declare the queue of code (and its binding) again before its next
// publish to it, whatever its own memory or a shared Declarations say: a message of the code was
// found unroutable (in Names.Unroutable()), so the queue or its binding is gone.
func (p *Publisher) Doubt(code string) { p.decl.forgetCode(code) }

// EnsureAuthorities is EnsureAuthority for the codes of a batch at once: the codes not yet
// declared on the declaring connection are declared in parallel (at most declareParallelism in
// flight, one channel each), so a batch to many new authorities waits for about one
// declaration instead of one per code. It returns each distinct code's result; every code of
// codes has an entry.
func (p *Publisher) EnsureAuthorities(ctx context.Context, codes []string) map[string]error {
	res := make(map[string]error, len(codes))
	var todo []string
	for _, code := range codes {
		if _, seen := res[code]; seen {
			continue
		}
		res[code] = nil
		if err := p.cfg.Names.validateCode(code); err != nil {
			res[code] = fmt.Errorf("ensure authority: %w", err)
		} else if !p.decl.isEnsured(code) {
			todo = append(todo, code)
		}
	}
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, code := range todo {
		wg.Go(func() {
			if err := p.decl.ensure(ctx, code); err != nil {
				errs[i] = fmt.Errorf("ensure authority %s: %w", code, err)
			}
		})
	}
	wg.Wait()
	for i, code := range todo {
		res[code] = errs[i]
	}
	return res
}

// PublishBatch publishes msgs to Names.Deliver() (Names.Portal() for the portal family) (persistent, mandatory, routing key =
// Message.RoutingKey), pipelined on one confirm-mode channel, and waits for every confirm. The
// whole batch is bounded by Config.PublishTimeout (and by ctx).
//
// errs has one entry per message: errs[i] == nil means the broker confirmed (acked) msgs[i]
// and did not return it. Otherwise errs[i] wraps ErrNotConnected, ErrBlocked (nothing sent),
// ErrNacked, ErrReturned, ErrConnectionLost, ErrPublishTimeout or ctx's error. If the timeout or
// ctx ends the batch before every confirm is in, the connection is closed (a socket write to a
// blocked broker hangs and ignores ctx) and the supervisor reconnects; unconfirmed messages must
// be published again.
//
// Returns are matched to messages by routing key, message id and correlation id, so give every
// message of a batch a distinct MessageID. Calls are serialized internally.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []Message) (errs []error) {
	errs = make([]error, len(msgs))
	if len(msgs) == 0 {
		return errs
	}
	fill := func(from int, err error) {
		for i := from; i < len(errs); i++ {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}

	select {
	case p.sem <- struct{}{}:
		defer func() { <-p.sem }()
	case <-ctx.Done():
		fill(0, fmt.Errorf("publish: %w", ctx.Err()))
		return errs
	}

	sess := p.current()
	if sess == nil {
		fill(0, fmt.Errorf("publish: %w", ErrNotConnected))
		return errs
	}
	if p.sup.snapshot().Blocked {
		fill(0, fmt.Errorf("publish: %w", ErrBlocked))
		return errs
	}

	bctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
	defer cancel()
	abort := context.AfterFunc(bctx, sess.link.abort)

	dcs := make([]*amqp.DeferredConfirmation, len(msgs))
	for i, m := range msgs {
		if err := p.cfg.Names.validateCode(m.RoutingKey); err != nil {
			errs[i] = fmt.Errorf("publish message %s: %w", m.MessageID, err)
			continue
		}
		dc, err := sess.ch.PublishWithDeferredConfirmWithContext(bctx, p.cfg.exchange(), m.RoutingKey,
			true, false, amqp.Publishing{
				Headers:       toTable(m.Headers),
				ContentType:   m.ContentType,
				DeliveryMode:  amqp.Persistent,
				CorrelationId: m.CorrelationID,
				MessageId:     m.MessageID,
				Body:          m.Body,
			})
		if err != nil {
			errs[i] = fmt.Errorf("publish message %s: %w", m.MessageID, p.publishErr(bctx, ctx, sess, err))
			if sess.ch.IsClosed() || bctx.Err() != nil {
				fill(i+1, fmt.Errorf("publish: %w", p.publishErr(bctx, ctx, sess, err)))
				break
			}
			continue
		}
		dcs[i] = dc
	}

	for i, dc := range dcs {
		if dc == nil {
			continue
		}
		var ack bool
		var err error
		select {
		case <-dc.Done(): // prefer a confirm already in over a deadline that passed meanwhile
			ack = dc.Acked()
		default:
			ack, err = dc.WaitContext(bctx)
		}
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("wait for confirm of %s: %w", msgs[i].MessageID, p.publishErr(bctx, ctx, sess, err))
		case !ack && (sess.ch.IsClosed() || bctx.Err() != nil):
			errs[i] = fmt.Errorf("wait for confirm of %s: %w", msgs[i].MessageID, p.publishErr(bctx, ctx, sess, amqp.ErrClosed))
		case !ack:
			errs[i] = fmt.Errorf("publish message %s: %w", msgs[i].MessageID, ErrNacked)
		}
	}
	if !abort() {
		p.log.Warn("publish batch cut short, connection closed to reset it",
			zap.Int("messages", len(msgs)), zap.Error(context.Cause(bctx)))
	}

	p.matchReturns(msgs, errs, sess.returns.take())
	return errs
}

// publishErr classifies a publish or confirm failure.
func (p *Publisher) publishErr(bctx, ctx context.Context, sess *pubSession, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case bctx.Err() != nil:
		return fmt.Errorf("%w after %s", ErrPublishTimeout, p.cfg.PublishTimeout)
	case errors.Is(err, amqp.ErrClosed) || sess.ch.IsClosed():
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return err
}

type returnKey struct{ routingKey, messageID, correlationID string }

// matchReturns marks the messages that came back with basic.return.
func (p *Publisher) matchReturns(msgs []Message, errs []error, returns []amqp.Return) {
	if len(returns) == 0 {
		return
	}
	pending := make(map[returnKey][]int, len(msgs))
	for i, m := range msgs {
		k := returnKey{m.RoutingKey, m.MessageID, m.CorrelationID}
		pending[k] = append(pending[k], i)
	}
	for _, r := range returns {
		k := returnKey{r.RoutingKey, r.MessageId, r.CorrelationId}
		idx := pending[k]
		if len(idx) == 0 {
			p.log.Error("basic.return matches no message of the batch",
				zap.String("message_id", r.MessageId), zap.String("authority", r.RoutingKey))
			continue
		}
		pending[k] = idx[1:]
		p.decl.forgetCode(r.RoutingKey) // its queue or binding is gone: declare it before the next publish
		errs[idx[0]] = fmt.Errorf("publish message %s: %w: %d %s", r.MessageId, ErrReturned, r.ReplyCode, r.ReplyText)
	}
}
