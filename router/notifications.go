package router

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters/httppush"
	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/clock"
	"appealhub/internal/lifecycle"
	"appealhub/internal/store"
	"appealhub/router/delivery"
	"appealhub/router/notify"
	"appealhub/router/relay"
	"appealhub/schemas"
)

// Compile-time checks of the portal notifications' ports.
var (
	_ notify.Ledger   = (*store.Store)(nil)
	_ notify.Store    = (*store.Store)(nil)
	_ relay.Outbox    = (*portalOutbox)(nil)
	_ relay.Publisher = (*portalOutbox)(nil)
)

// webhookRescueAfter is how long a webhook notification may stay published (in its client's
// queue, not yet POSTed or recorded) before the hub publishes it again: its message was lost (a
// queue deleted, a message dead-lettered while the database was down). The second copy is stale
// once the first is recorded.
const webhookRescueAfter = 15 * time.Minute

// portalNotifications is the hub's side of the portal notifications (docs/notifications.md): the
// notifier that turns sealed events into notification rows, a relay that publishes them to
// hub.portal (a Publisher of the portal family, so each lands in its client's queue), a Consumer of
// the portal family that takes the queues of webhook clients, and the webhook worker that POSTs
// what it takes.
type portalNotifications struct {
	cfg       config.Config
	store     *store.Store
	logger    *zap.Logger
	clock     clock.Clock
	reg       *Registrar
	publisher *broker.Publisher
	consumer  *broker.Consumer
	outbox    *portalOutbox
	relay     *relay.Relay
	notifier  *notify.Notifier
	worker    *notify.Worker
	transport *httppush.Transport
	syncEvery time.Duration
	syncLoop  lifecycle.Loop
	syncNow   chan struct{}

	mu       sync.Mutex
	webhooks map[string]bool // clients whose queue this process consumes

	calendars calendars // for the due date in force at each notified event
}

func newPortalNotifications(cfg config.Config, st *store.Store, bcfg broker.Config, c clock.Clock, syncEvery time.Duration,
	logger *zap.Logger) (*portalNotifications, error) {
	reg, err := NewRegistrar(cfg, st, c, logger)
	if err != nil {
		return nil, err
	}
	bcfg = portalBrokerConfig(bcfg)
	p := &portalNotifications{cfg: cfg, store: st, logger: logger.Named("portal"), clock: clock.OrReal(c), reg: reg,
		syncEvery: syncEvery, syncNow: make(chan struct{}, 1), webhooks: map[string]bool{},
		publisher: broker.NewPublisher(bcfg, logger.Named("broker.portal.publish")),
		consumer:  broker.NewConsumer(bcfg, logger.Named("broker.portal.consume")),
		transport: httppush.New(httppush.Config{Timeout: cfg.Delivery.RequestTimeout, ConnectTimeout: cfg.Delivery.ConnectTimeout}),
	}
	p.outbox = &portalOutbox{store: st, pub: p.publisher}
	p.relay = relay.New(relay.Config{BatchSize: cfg.Relay.BatchSize, PollInterval: cfg.Relay.PollInterval, Clock: c},
		p.outbox, p.outbox, p.logger)
	p.notifier = notify.NewNotifier(st, notify.Config{Interval: cfg.Audit.SealInterval, Clock: c, NotifiedFunc: p.relay.Wake,
		Due: p.calendars.dueAsOf}, logger)
	d := cfg.Delivery
	p.worker = notify.NewWorker(notify.WorkerConfig{RequestTimeout: d.RequestTimeout, MaxAttempts: d.MaxAttempts,
		BackoffBase: d.BackoffBase, BackoffMax: d.BackoffMax, BackoffJitter: d.BackoffJitter, BreakerFailures: d.BreakerFailures,
		BreakerCooldown: d.BreakerCooldown, Clock: c, RecordedFunc: p.relay.Wake}, st, reg.secrets, p.transport, logger)
	return p, nil
}

// start connects to the broker and starts the relay, the notifier and the subscription sync.
func (p *portalNotifications) start(ctx context.Context) error {
	if err := p.publisher.Start(ctx); err != nil {
		return fmt.Errorf("start portal publisher: %w", err)
	}
	if err := p.consumer.Start(ctx); err != nil {
		return fmt.Errorf("start portal consumer: %w", err)
	}
	if err := p.relay.Start(ctx); err != nil {
		return fmt.Errorf("start portal relay: %w", err)
	}
	if err := p.notifier.Start(ctx); err != nil {
		return fmt.Errorf("start notifier: %w", err)
	}
	p.syncLoop.Start(ctx, p.syncEveryLoop)
	return nil
}

// stop stops taking webhooks (in-flight POSTs finish until ctx ends), then the sync, the notifier
// and the relay, then closes the broker connections.
func (p *portalNotifications) stop(ctx context.Context) []error {
	var errs []error
	_ = p.syncLoop.Stop(ctx)
	if err := p.consumer.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop portal consumer: %w", err))
	}
	_ = p.notifier.Stop(ctx)
	if err := p.relay.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop portal relay: %w", err))
	}
	if err := p.publisher.Stop(context.WithoutCancel(ctx)); err != nil {
		errs = append(errs, fmt.Errorf("stop portal publisher: %w", err))
	}
	_ = p.transport.Close()
	return errs
}

func (p *portalNotifications) syncEveryLoop(ctx context.Context) {
	t := time.NewTicker(p.syncEvery)
	defer t.Stop()
	for {
		if err := p.sync(ctx); err != nil && ctx.Err() == nil {
			p.logger.Warn("portal subscription sync failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.syncNow:
		}
	}
}

// purgeBatch bounds the delivered notifications one sync deletes.
const purgeBatch = 5000

// sync consumes the queue of every webhook client (and no other), declares the queue of every
// amqp client, publishes again the webhook notifications whose message was lost, and deletes
// delivered notifications past notifications.retention.
func (p *portalNotifications) sync(ctx context.Context) error {
	subs, err := p.store.Subscriptions(ctx)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	var errs []error
	for _, s := range subs {
		if s.Mode == schemas.NotifyWebhook {
			want[s.Client] = true
			continue
		}
		if err := p.publisher.EnsureAuthority(ctx, s.Client); err != nil && !errors.Is(err, broker.ErrNotConnected) {
			errs = append(errs, err)
		}
	}
	p.mu.Lock()
	for client := range want {
		if !p.webhooks[client] {
			p.consumer.Subscribe(client, p.cfg.Delivery.Concurrency, p.handle)
			p.webhooks[client] = true
		}
	}
	for client := range p.webhooks {
		if !want[client] {
			p.consumer.Unsubscribe(client)
			delete(p.webhooks, client)
		}
	}
	p.mu.Unlock()
	now := p.clock.Now().UTC()
	rescue := max(webhookRescueAfter, 4*p.cfg.Delivery.RequestTimeout)
	if n, err := p.store.RescueNotifications(ctx, now.Add(-rescue), now); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.logger.Warn("webhook notifications published again: their messages were not handled", zap.Int64("notifications", n))
		p.relay.Wake()
	}
	if n, err := p.store.PurgeNotifications(ctx, now.Add(-p.cfg.Notifications.Retention), purgeBatch); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		p.logger.Info("delivered notifications past their retention deleted", zap.Int64("notifications", n))
	}
	return errors.Join(errs...)
}

// handle is the portal consumer's handler: the webhook worker makes the attempt the message asks
// for.
func (p *portalNotifications) handle(ctx context.Context, d broker.Delivery) broker.Outcome {
	id, _ := headerInt(d.Headers, "notification_id")
	attempt, _ := headerInt(d.Headers, "attempt")
	switch p.worker.Handle(ctx, notify.Message{ID: id, Attempt: int(attempt)}) {
	case delivery.Ack:
		return broker.Ack
	case delivery.Reject:
		return broker.Reject
	default:
		return broker.Requeue
	}
}

// headerInt reads an integer header, whatever AMQP integer type the broker gave it (RabbitMQ's
// own, such as x-delivery-count, are not always 64 bits), or a decimal string.
func headerInt(h map[string]any, name string) (int64, bool) {
	switch v := h[name].(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int16:
		return int64(v), true
	case int8:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint8:
		return int64(v), true
	case int:
		return int64(v), true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// portalOutbox lets a relay.Relay publish the notification outbox: it is that relay's Outbox and
// its Publisher at once. The relay hands the messages its Outbox claimed to its Publisher by id
// only (schemas.OutboxMessage), so RelayBatch keeps the claimed batch for Publish, which the relay
// calls inside it, on its one goroutine.
type portalOutbox struct {
	store *store.Store
	pub   *broker.Publisher

	mu    sync.Mutex
	batch map[int64]schemas.PortalMessage
}

func (o *portalOutbox) RelayBatch(ctx context.Context, now time.Time, limit int, retryAfter time.Duration,
	publish func(ctx context.Context, msgs []schemas.OutboxMessage) []error) (published, failed int, err error) {
	return o.store.RelayNotifications(ctx, now, limit, retryAfter, func(ctx context.Context, msgs []schemas.PortalMessage) []error {
		batch := make(map[int64]schemas.PortalMessage, len(msgs))
		ids := make([]schemas.OutboxMessage, len(msgs))
		for i, m := range msgs {
			batch[m.ID] = m
			ids[i] = schemas.OutboxMessage{ID: m.ID, DeliveryID: m.DeliveryID, AppealID: m.CaseID, TrackingNumber: m.TrackingNumber,
				Attempt: m.Attempt}
		}
		o.mu.Lock()
		o.batch = batch
		o.mu.Unlock()
		defer func() {
			o.mu.Lock()
			o.batch = nil
			o.mu.Unlock()
		}()
		return publish(ctx, ids)
	})
}

func (o *portalOutbox) NextOutboxDue(ctx context.Context) (time.Time, bool, error) {
	return o.store.NextNotificationDue(ctx)
}

func (o *portalOutbox) WatchOutbox(ctx context.Context) (<-chan struct{}, error) {
	return o.store.WatchNotifications(ctx)
}

func (o *portalOutbox) Connected() bool {
	st := o.pub.Status()
	return st.Connected && !st.Blocked
}

// Publish publishes the notifications of the batch RelayBatch claimed to hub.portal, each to its
// client's queue (declared first): the body is the notification itself, the ids go in headers.
func (o *portalOutbox) Publish(ctx context.Context, msgs []schemas.OutboxMessage) []error {
	o.mu.Lock()
	batch := o.batch
	o.mu.Unlock()
	errs := make([]error, len(msgs))
	codes := make([]string, 0, len(msgs))
	for _, id := range msgs {
		if m, ok := batch[id.ID]; ok {
			codes = append(codes, m.Client)
		}
	}
	ensured := o.pub.EnsureAuthorities(ctx, codes)
	out := make([]broker.Message, 0, len(msgs))
	idx := make([]int, 0, len(msgs))
	for i, id := range msgs {
		m, ok := batch[id.ID]
		if !ok {
			errs[i] = fmt.Errorf("notification %d is not in the claimed batch", id.ID)
			continue
		}
		if err := ensured[m.Client]; err != nil {
			errs[i] = err
			continue
		}
		out = append(out, broker.Message{RoutingKey: m.Client, MessageID: fmt.Sprintf("n%d/%d", m.ID, m.Attempt+1),
			CorrelationID: m.CaseID, ContentType: "application/json", Body: m.Payload,
			Headers: map[string]any{"notification_id": m.ID, "event_id": m.EventID, "appeal_id": m.CaseID,
				"delivery_id": m.DeliveryID, "tracking_number": m.TrackingNumber, "attempt": int64(m.Attempt)}})
		idx = append(idx, i)
	}
	return publishInto(ctx, o.pub, out, idx, errs)
}

// portalBrokerConfig returns the broker configuration of the portal side: the hub's, for the
// portal family, with connections named "<name>.portal".
func portalBrokerConfig(bcfg broker.Config) broker.Config {
	bcfg.Family = broker.FamilyPortal
	bcfg.ConnectionName = cmp.Or(bcfg.ConnectionName, "appealhub") + ".portal"
	return bcfg
}
