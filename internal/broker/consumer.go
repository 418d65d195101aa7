package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
)

// Outcome is what a Handler decides for a delivery.
type Outcome int

const (
	// Ack acknowledges the delivery: the broker forgets the message.
	Ack Outcome = iota
	// Requeue returns the message to its queue for another attempt (basic.reject with requeue,
	// which counts toward the quorum queue's delivery limit on every RabbitMQ version; basic.nack
	// stopped counting in 4.3).
	Requeue
	// Reject refuses the message without requeue: it dead-letters to Names.Dead().
	Reject
)

// String returns the stable name of o.
func (o Outcome) String() string {
	switch o {
	case Ack:
		return "ack"
	case Requeue:
		return "requeue"
	case Reject:
		return "reject"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Delivery is one message received from an authority queue.
type Delivery struct {
	MessageID, CorrelationID, RoutingKey string
	Headers                              map[string]any
	Body                                 []byte
	// Redelivered is true if the broker delivered the message before (to any consumer).
	Redelivered bool
}

// Handler handles one delivery and says how to settle it. It runs on one of the subscription's
// handler goroutines and must return promptly once ctx is done: ctx is cancelled when Stop's
// grace period ends and when the delivery's channel is lost (its ack could not succeed any more;
// the broker redelivers the message).
type Handler func(ctx context.Context, d Delivery) Outcome

// ErrChannelLost is the cause of a Handler's ctx cancellation when the channel its delivery came
// from closed: the delivery can no longer be acked and will be redelivered.
var ErrChannelLost = errors.New("broker: delivery channel lost")

// errStopping makes the supervisor give up a connection that came up during Stop.
var errStopping = errors.New("consumer stopping")

// Consumer consumes authority queues over connections of its own, each kept up by a supervisor
// (see the package documentation). Each subscription has its own channel, prefetch and handler
// goroutines; subscriptions are spread over as many connections (shards) as
// Config.ChannelsPerConnection requires. Its methods are safe for concurrent use.
type Consumer struct {
	cfg       Config
	cfgErr    error
	log       *zap.Logger
	tagSeq    atomic.Uint64
	consuming atomic.Int64 // subscriptions with a live basic.consume, over all shards

	handlerCtx    context.Context
	handlerCancel context.CancelCauseFunc

	decl *declarer // declares authority queues on a connection of its own

	mu       sync.Mutex
	subs     map[string]subscription
	tried    map[string]struct{} // codes whose runner has consumed or failed at least once
	untried  map[string]struct{} // subscribed codes not in tried: Progress reads its size
	shards   []*shard            // never shrinks; shards[0] exists from NewConsumer on
	assign   map[string]*shard   // code → its shard (see consumer_shard.go)
	started  bool                // Start has started the shards' supervisors
	draining bool                // Stop has begun
	drainCh  chan struct{}       // closed when Stop begins
	runners  sync.WaitGroup

	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{}
}

type subscription struct {
	concurrency int
	handler     Handler
}

// consSession is the consuming state of one connection of a shard.
type consSession struct {
	shard   *shard
	link    *link
	done    chan struct{}      // closed once the connection is gone
	runners map[string]*runner // guarded by Consumer.mu
}

// runner keeps one subscription consuming on one connection.
type runner struct {
	code string
	// wake (capacity 1) tells the runner its subscription changed or went away: it stops
	// consuming gracefully and re-reads the subscription.
	wake chan struct{}
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// NewConsumer returns a Consumer for cfg (defaults applied). logger may be nil. An invalid cfg
// is reported by Start.
func NewConsumer(cfg Config, logger *zap.Logger) *Consumer {
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg = cfg.WithDefaults()
	hctx, hcancel := context.WithCancelCause(context.Background())
	c := &Consumer{
		cfg:           cfg,
		cfgErr:        cfg.Validate(),
		log:           logger.Named("broker.consumer"),
		handlerCtx:    hctx,
		handlerCancel: hcancel,
		subs:          make(map[string]subscription),
		tried:         make(map[string]struct{}),
		untried:       make(map[string]struct{}),
		assign:        make(map[string]*shard),
		drainCh:       make(chan struct{}),
		stopped:       make(chan struct{}),
	}
	c.shards = []*shard{c.newShard(0)}
	c.decl = newDeclarer(cfg, "consume.declare", c.log)
	return c
}

// Start starts the connection supervisors and returns at once; subscriptions start consuming as
// soon as their connection is up. ctx is not retained: only Stop stops the Consumer. Start after
// Stop returns ErrStopped.
func (c *Consumer) Start(ctx context.Context) error {
	if c.cfgErr != nil {
		return fmt.Errorf("start consumer: %w", c.cfgErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start consumer: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return fmt.Errorf("start consumer: %w", ErrStopped)
	}
	c.started = true
	if err := c.decl.sup.start(); err != nil {
		return fmt.Errorf("start consumer: %w", err)
	}
	for _, sh := range c.shards {
		if err := sh.sup.start(); err != nil {
			return fmt.Errorf("start consumer: %w", err)
		}
	}
	return nil
}

// Stop cancels every consumer (no new messages), waits for running handlers to finish and
// settle their deliveries until ctx is done, then cancels the handlers' ctx, closes the
// connections and waits for every goroutine. Deliveries already received but not yet handled are
// returned to their queue. Idempotent and safe before Start; concurrent calls all wait. It
// returns an error wrapping ctx's error if handlers had to be cancelled.
func (c *Consumer) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		c.stopErr = c.stop(ctx)
		close(c.stopped)
	})
	<-c.stopped
	return c.stopErr
}

func (c *Consumer) stop(ctx context.Context) error {
	c.mu.Lock()
	c.draining = true
	close(c.drainCh)
	shards := slices.Clone(c.shards) // no shard is added once draining
	c.mu.Unlock()

	allDone := make(chan struct{})
	go func() {
		c.runners.Wait()
		close(allDone)
	}()
	var err error
	select {
	case <-allDone:
	case <-ctx.Done():
		err = fmt.Errorf("stop consumer: handlers cancelled: %w", ctx.Err())
		c.handlerCancel(err)
		<-allDone
	}
	c.handlerCancel(errStopping)
	var sups sync.WaitGroup
	sups.Go(c.decl.sup.stop)
	for _, sh := range shards {
		sups.Go(sh.sup.stop)
	}
	sups.Wait()
	return err
}

// Stopped returns a channel closed once Stop has finished.
func (c *Consumer) Stopped() <-chan struct{} { return c.stopped }

// Subscribe consumes the queue of the authority code with Qos(prefetch = concurrency) and
// concurrency handler goroutines on a channel of its own, so one slow authority never holds up
// another. It declares the queue and binding first. The channel is opened on the connection the
// code is assigned to (see Config.ChannelsPerConnection); Subscribe itself never waits for the
// broker. The subscription survives reconnects: after
// each one the topology is re-declared and the queue consumed on fresh channels. Subscribe may be
// called before or after Start; calling it again for the same code replaces the concurrency and
// handler (the old consumer is cancelled gracefully first).
//
// A delivery is settled on the channel it came from, so after a reconnect the settlement of a
// delivery received before fails with a closed-channel error (logged; the broker redelivers the
// message) and can never settle another message. concurrency < 1 means 1. It panics if code is
// empty or h is nil (programmer errors); any other code EnsureAuthority would refuse is logged
// and ignored.
func (c *Consumer) Subscribe(code string, concurrency int, h Handler) {
	if code == "" || h == nil {
		panic("broker: Subscribe needs an authority code and a handler")
	}
	if err := c.cfg.Names.validateCode(code); err != nil {
		c.log.Error("cannot subscribe, invalid authority code", zap.String("authority", code), zap.Error(err))
		return
	}
	concurrency = max(concurrency, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subs[code] = subscription{concurrency: concurrency, handler: h}
	if _, ok := c.tried[code]; !ok {
		c.untried[code] = struct{}{}
	}
	if c.draining {
		return
	}
	sh := c.assignLocked(code)
	if sh.sess == nil {
		return
	}
	if r, ok := sh.sess.runners[code]; ok {
		r.poke()
		return
	}
	c.startRunnerLocked(sh.sess, code)
}

// Unsubscribe stops consuming the queue of code (in-flight handlers finish and settle first, in
// the background). The queue stays.
func (c *Consumer) Unsubscribe(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.subs, code)
	delete(c.untried, code)
	sh, ok := c.assign[code]
	if !ok {
		return
	}
	if sh.sess != nil {
		if r, ok := sh.sess.runners[code]; ok {
			// The runner releases the code's place on its shard once its channel is closed.
			r.poke()
			return
		}
	}
	c.releaseLocked(code, sh)
}

func (c *Consumer) startRunnerLocked(sess *consSession, code string) {
	r := &runner{code: code, wake: make(chan struct{}, 1)}
	sess.runners[code] = r
	c.runners.Go(func() { c.run(sess, r) })
}

// desired returns the current subscription for r, or false (and unregisters r) if r should end.
// A runner that ends because its code was unsubscribed releases the code's place on its shard.
func (c *Consumer) desired(sess *consSession, r *runner) (subscription, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sub, ok := c.subs[r.code]
	current := sess.shard.sess == sess
	if !ok || c.draining || !current || c.assign[r.code] != sess.shard {
		if sess.runners[r.code] == r {
			delete(sess.runners, r.code)
			if !ok && current {
				c.releaseLocked(r.code, sess.shard)
			}
		}
		return subscription{}, false
	}
	return sub, true
}

// run keeps r's subscription consuming until it is removed, the session dies or Stop begins.
func (c *Consumer) run(sess *consSession, r *runner) {
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     c.cfg.ReconnectMin,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         c.cfg.ReconnectMax,
	}
	bo.Reset()
	for {
		select { // a poke from before this read is answered by reading now
		case <-r.wake:
		default:
		}
		sub, ok := c.desired(sess, r)
		if !ok {
			return
		}
		err := c.consume(sess, r, sub)
		if err == nil || errors.Is(err, errWoken) {
			bo.Reset()
			continue
		}
		c.markTried(r.code)
		select {
		case <-sess.done:
			return
		case <-c.drainCh:
			return
		default:
		}
		wait := min(bo.NextBackOff(), c.cfg.ReconnectMax)
		c.log.Warn("authority consumer down, retrying",
			zap.String("authority", r.code), zap.Error(err), zap.Duration("backoff", wait))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.wake:
			t.Stop()
		case <-sess.done:
			t.Stop()
			return
		case <-c.drainCh:
			t.Stop()
			return
		}
	}
}

// consume declares the queue (on the declaring connection, see declarer), opens a channel on
// the session's connection, consumes the queue with sub.concurrency handler goroutines and
// returns nil after a graceful stop (wake or Stop), errWoken if woken while declaring, or an
// error once the declaration, the channel or the consumer fails.
func (c *Consumer) consume(sess *consSession, r *runner, sub subscription) error {
	actx, release := c.attemptContext(sess, r)
	err := c.decl.declare(actx, r.code)
	release()
	if err != nil {
		return fmt.Errorf("declare: %w", err)
	}
	c.cfg.Declarations.record(c.cfg.queue(r.code))
	ch, err := sess.link.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	closeCh := ch.NotifyClose(make(chan *amqp.Error, 1))
	cancelCh := ch.NotifyCancel(make(chan string, 1))
	queue := c.cfg.queue(r.code)
	if err := ch.Qos(sub.concurrency, 0, false); err != nil {
		_ = ch.Close()
		return fmt.Errorf("set prefetch: %w", err)
	}
	tag := fmt.Sprintf("%s.%s.%d", sess.shard.sup.connName(), r.code, c.tagSeq.Add(1))
	deliveries, err := ch.Consume(queue, tag, false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return fmt.Errorf("consume %s: %w", queue, err)
	}
	c.consuming.Add(1)
	defer c.consuming.Add(-1)
	c.markTried(r.code)

	hctx, hcancel := context.WithCancelCause(c.handlerCtx)
	var draining atomic.Bool
	var workers sync.WaitGroup
	for range sub.concurrency {
		workers.Go(func() { c.work(hctx, r.code, deliveries, sub.handler, &draining) })
	}
	workersDone := make(chan struct{})
	c.runners.Go(func() {
		workers.Wait()
		hcancel(nil)
		close(workersDone)
	})
	c.log.Debug("consuming", zap.String("authority", r.code), zap.Int("concurrency", sub.concurrency))

	var lost error
	select {
	case <-r.wake:
	case <-c.drainCh:
	case e, ok := <-closeCh:
		lost = errConnClosed
		if ok && e != nil {
			lost = fmt.Errorf("channel closed: %w", e)
		}
	case <-cancelCh:
		lost = errors.New("consumer cancelled by the broker (queue deleted?)")
	case <-workersDone:
		lost = errors.New("delivery stream ended")
	}
	draining.Store(true)
	if lost != nil {
		if ch.IsClosed() {
			// Nothing these handlers do can be acked any more: let them give up. They finish
			// in the background; the new channel starts without waiting for them.
			hcancel(ErrChannelLost)
			return lost
		}
		// Consumer cancelled but channel open: in-flight handlers can still settle.
		<-workersDone
		_ = ch.Close()
		return lost
	}
	// Graceful: no new deliveries, let in-flight handlers finish and settle, then close.
	if err := ch.Cancel(tag, false); err != nil {
		c.log.Warn("cancel consumer failed", zap.String("authority", r.code), zap.Error(err))
	}
	<-workersDone
	_ = ch.Close()
	return nil
}

// work handles deliveries until the delivery channel closes. Once draining, deliveries still
// buffered are returned to the queue unhandled (basic.nack with requeue: not counted as a
// failed attempt on RabbitMQ 4.3+).
func (c *Consumer) work(ctx context.Context, code string, deliveries <-chan amqp.Delivery, h Handler, draining *atomic.Bool) {
	for d := range deliveries {
		if draining.Load() {
			if err := d.Nack(false, true); err != nil {
				c.log.Debug("return unhandled delivery failed", zap.String("authority", code),
					zap.String("message_id", d.MessageId), zap.Error(err))
			}
			continue
		}
		out := c.handle(ctx, code, h, d)
		var err error
		switch out {
		case Ack:
			err = d.Ack(false)
		case Reject:
			err = d.Reject(false)
		default:
			if out != Requeue {
				c.log.Error("handler returned an unknown outcome, requeueing",
					zap.String("authority", code), zap.String("message_id", d.MessageId), zap.Stringer("outcome", out))
			}
			err = d.Reject(true)
		}
		if err != nil {
			c.log.Warn("settle delivery failed, the broker will redeliver it",
				zap.String("authority", code), zap.String("message_id", d.MessageId),
				zap.Stringer("outcome", out), zap.Error(err))
		}
	}
}

// handle calls h, turning a panic into Requeue (which counts toward the delivery limit, so a
// message that always panics ends in the dead-letter queue).
func (c *Consumer) handle(ctx context.Context, code string, h Handler, d amqp.Delivery) (out Outcome) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("handler panicked, requeueing", zap.String("authority", code),
				zap.String("message_id", d.MessageId), zap.Any("panic", p), zap.StackSkip("stack", 1))
			out = Requeue
		}
	}()
	return h(ctx, Delivery{
		MessageID:     d.MessageId,
		CorrelationID: d.CorrelationId,
		RoutingKey:    d.RoutingKey,
		Headers:       fromTable(d.Headers),
		Body:          d.Body,
		Redelivered:   d.Redelivered,
	})
}

// markTried records that the subscription of code has had its first attempt.
func (c *Consumer) markTried(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tried[code] = struct{}{}
	delete(c.untried, code)
}

// attemptContext returns a context for one attempt of runner r on sess: cancelled with errWoken
// when r is poked (the poke is passed on, so the run loop still sees it), and with errStopping
// when the session ends or Stop begins. stop releases it.
func (c *Consumer) attemptContext(sess *consSession, r *runner) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		select {
		case <-r.wake:
			r.poke()
			cancel(errWoken)
		case <-sess.done:
			cancel(errStopping)
		case <-c.drainCh:
			cancel(errStopping)
		case <-done:
		}
	})
	return ctx, func() {
		close(done)
		watch.Wait()
		cancel(nil)
	}
}
