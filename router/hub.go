package router

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/adapters/sev1207"
	"appealhub/config"
	"appealhub/internal/audit"
	"appealhub/internal/broker"
	"appealhub/internal/clock"
	"appealhub/internal/httpapi"
	"appealhub/internal/lifecycle"
	"appealhub/internal/receipt"
	"appealhub/internal/store"
	"appealhub/internal/tracing"
	"appealhub/router/delivery"
	"appealhub/router/intake"
	"appealhub/router/recipient"
	"appealhub/router/registry"
	"appealhub/router/relay"
	"appealhub/router/tracker"
	"appealhub/schemas"
)

// Compile-time checks that the concrete dependencies satisfy the stages' ports.
var (
	_ intake.Store          = (*store.Store)(nil)
	_ recipient.Candidates  = (*store.Store)(nil)
	_ intake.Recipients     = (*recipient.Resolver)(nil)
	_ relay.Outbox          = (*store.Store)(nil)
	_ delivery.Store        = (*store.Store)(nil)
	_ delivery.Store        = (*store.DeliveryBatcher)(nil)
	_ relay.Publisher       = (*relayPublisher)(nil)
	_ httpapi.Authenticator = (*Hub)(nil)
	_ httpapi.Submitter     = (*Hub)(nil)
	_ httpapi.CaseReader    = (*Hub)(nil)
	_ httpapi.Readiness     = (*Hub)(nil)
)

// Intake stores through a CaseBatcher: it must offer everything intake asks of the store.
var (
	_ intake.Store           = (*store.CaseBatcher)(nil)
	_ intake.AccessCodeStore = (*store.CaseBatcher)(nil)
	_ intake.ReplayStore     = (*store.CaseBatcher)(nil)
)

// DefaultAuthoritySync is how often a hub looks for authorities added or resumed in the registry.
const DefaultAuthoritySync = 2 * time.Second

// Options are the hub's dependencies beyond its configuration; every field is optional.
type Options struct {
	Logger *zap.Logger
	Clock  clock.Clock
	// Adapters defaults to a registry with the JSON adapter.
	Adapters *adapters.Registry
	// Transport defaults to HTTP push configured from cfg.Delivery.
	Transport adapters.Transport
	// AuthoritySync defaults to DefaultAuthoritySync.
	AuthoritySync time.Duration
	// Tracer defaults to one built from cfg.Tracing (and shut down by Stop); a given one is the
	// caller's to shut down.
	Tracer *tracing.Tracer
}

// Hub is one hub process: HTTP intake, relay and delivery workers over one store and one broker.
type Hub struct {
	cfg       config.Config
	logger    *zap.Logger
	store     *store.Store
	publisher *broker.Publisher
	consumer  *broker.Consumer
	sinks     *broker.Consumer // hub.dead and hub.unroutable (sinks.go)
	relay     *relay.Relay
	sealer    *audit.Sealer
	notary    *receipt.Notary
	portal    *portalNotifications
	deadlines *deadlineKeeper
	reconcile *reconciler
	worker    *delivery.Worker
	intake    *intake.Intake
	tracker   *tracker.Tracker
	adapters  *adapters.Registry
	clock     clock.Clock
	http      *httpapi.Server
	registry  *registry.Service
	syncEvery time.Duration
	obs       *observability

	mu         sync.Mutex
	subscribed map[string]int // authority code → the concurrency it is consumed with
	syncLoop   lifecycle.Loop
	notifyLoop lifecycle.Loop
	trustLoop  lifecycle.Loop // reloads the signature trust directory
	trust      reloader       // nil without a trust directory
	outboxPoke chan struct{}
	stopOnce   sync.Once
	// schemaCheckedAt is when the schema was last found current (UnixNano; 0: never).
	schemaCheckedAt atomic.Int64
	// subscribedOnce is set once every authority subscription has had its first attempt.
	subscribedOnce atomic.Bool
	stopErr        error
}

// New opens the store, refuses a database schema older than the binary, and builds the hub. It does
// not start anything.
func New(ctx context.Context, cfg config.Config, opts Options) (*Hub, error) {
	cfg = cfg.WithDefaults()
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	st, err := store.Open(ctx, store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema,
		MaxOpenConns: cfg.Database.MaxOpenConns, MaxIdleConns: cfg.Database.MaxIdleConns,
		ConnMaxLifetime: cfg.Database.ConnMaxLifetime})
	if err != nil {
		return nil, err
	}
	if err := st.CheckSchema(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	checkedAt := time.Now()
	reg := opts.Adapters
	if reg == nil {
		reg = adapters.NewRegistry()
		reg.MustRegister(jsondoc.New())
		reg.MustRegister(sev1207.New(sev1207.Config{HubCode: cfg.Identity.Code, HubName: cfg.Identity.Name,
			HubSystemID: cfg.Identity.SystemID, MaxMessageBytes: cfg.HTTP.MaxBodyBytes}))
	}
	transport := opts.Transport
	if transport == nil {
		mux, err := newTransportMux(cfg)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		transport = mux
	}
	verifier, err := NewSignatureVerifier(cfg.Signatures)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	bcfg := broker.Config{URL: cfg.Broker.URL, FailoverURLs: cfg.Broker.FailoverURLs, Names: broker.Names{Prefix: cfg.Broker.Prefix},
		QueueType: cfg.Broker.QueueType, DeliveryLimit: cfg.Broker.DeliveryLimit, Heartbeat: cfg.Broker.Heartbeat,
		PublishTimeout: cfg.Broker.PublishTimeout, ReconnectMin: cfg.Broker.ReconnectMin,
		ReconnectMax: cfg.Broker.ReconnectMax, ChannelsPerConnection: cfg.Broker.ChannelsPerConnection,
		ConnectionName: "appealhub",
		// The relay's publisher does not declare again the queues the hub's consumer declared.
		Declarations: broker.NewDeclarations()}
	h := &Hub{
		cfg:        cfg,
		logger:     logger,
		store:      st,
		publisher:  broker.NewPublisher(bcfg, logger.Named("broker.publish")),
		consumer:   broker.NewConsumer(bcfg, logger.Named("broker.consume")),
		sinks:      newSinkConsumer(bcfg, logger.Named("broker.sinks")),
		subscribed: map[string]int{},
		syncEvery:  opts.AuthoritySync,
		outboxPoke: make(chan struct{}, 1),
	}
	h.schemaCheckedAt.Store(checkedAt.UnixNano())
	if h.obs, err = newObservability(ctx, cfg, opts.Tracer); err != nil {
		_ = st.Close()
		return nil, err
	}
	if h.syncEvery <= 0 {
		h.syncEvery = DefaultAuthoritySync
	}
	h.adapters = reg
	h.clock = clock.OrReal(opts.Clock)
	h.registry = h.newRegistry()
	h.tracker = tracker.New(st, opts.Clock, logger)
	h.intake = intake.New(intake.Config{PublicURL: cfg.HTTP.PublicURL, Clock: opts.Clock, Signatures: signaturePolicies(cfg),
		Verifier: countVerifications(verifier, h.obs.metrics), AcceptedFunc: h.intakeAccepted},
		// Concurrent submissions share their insert statements.
		store.NewCaseBatcher(st), recipient.New(st), logger)
	h.trust, _ = verifier.(reloader)
	h.relay = relay.New(relay.Config{BatchSize: cfg.Relay.BatchSize, PollInterval: cfg.Relay.PollInterval, Clock: opts.Clock},
		st, &relayPublisher{pub: h.publisher, tracer: h.obs.tracer, metrics: h.obs.metrics, logger: logger.Named("relay")}, logger)
	notary, checkpointSigner, err := newNotary(cfg, st, opts.Clock, logger)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	h.notary = notary
	if h.portal, err = newPortalNotifications(cfg, st, bcfg, opts.Clock, h.syncEvery, logger); err != nil {
		_ = st.Close()
		return nil, err
	}
	h.deadlines = newDeadlineKeeper(cfg.Deadlines, st, opts.Clock, logger)
	h.reconcile = newReconciler(cfg, st, opts.Clock, h.obs.metrics, logger, h.outboxChanged)
	h.sealer = audit.NewSealer(st, audit.Config{SealInterval: cfg.Audit.SealInterval, CheckpointInterval: cfg.Audit.CheckpointInterval,
		BatchSize: cfg.Audit.BatchSize, Clock: opts.Clock, Signer: checkpointSigner}, logger)
	h.worker = delivery.New(delivery.Config{RequestTimeout: cfg.Delivery.RequestTimeout, MaxAttempts: cfg.Delivery.MaxAttempts,
		BackoffBase: cfg.Delivery.BackoffBase, BackoffMax: cfg.Delivery.BackoffMax, BackoffJitter: cfg.Delivery.BackoffJitter,
		BreakerFailures: cfg.Delivery.BreakerFailures, BreakerCooldown: cfg.Delivery.BreakerCooldown,
		Clock: opts.Clock, TraceFunc: h.traceSend, AttemptFunc: h.deliveryAttempted},
		// The workers' task reads and outcome records share statements when they come at once.
		store.NewDeliveryBatcher(st), reg, transport, logger)
	h.registerMetrics()
	hcfg := httpapi.Config{Addr: cfg.HTTP.Addr, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout, IdleTimeout: cfg.HTTP.IdleTimeout,
		TrackPerMinute: cfg.HTTP.TrackPerMinute, TrackBurst: cfg.HTTP.TrackBurst, ClientCertPins: clientCertPins(cfg.Clients)}
	if hcfg.TLS, err = httpapi.ServerTLS(httpapi.TLSFiles{CertFile: cfg.HTTP.TLS.CertFile, KeyFile: cfg.HTTP.TLS.KeyFile,
		ClientCAFile: cfg.HTTP.TLS.ClientCAFile, ClientCRLFile: cfg.HTTP.TLS.ClientCRLFile}, logger); err != nil {
		_ = st.Close()
		return nil, err
	}
	handler := httpapi.NewHandler(hcfg, httpapi.Deps{Auth: h, Submitter: h, Cases: h, Ready: h, Authorities: h, Registry: h,
		Delivery: h, Receipts: h, Notifications: h, Timelines: h, Overdue: h, Stats: h.statsReader(),
		Mounts: append(h.consoleMounts(), h.observabilityMounts()...), Denials: h}, logger)
	h.http = httpapi.NewServer(hcfg, handler, logger)
	return h, nil
}

// clientCertPins maps each client bound to TLS client certificates to their public keys' hashes.
func clientCertPins(clients []config.Client) map[string][]string {
	pins := map[string][]string{}
	for _, c := range clients {
		if len(c.CertSPKISHA256) > 0 {
			pins[c.ID] = c.CertSPKISHA256
		}
	}
	return pins
}

// Store returns the hub's store (for the CLI and tests).
func (h *Hub) Store() *store.Store { return h.store }

// Addr returns the HTTP listen address after Start.
func (h *Hub) Addr() string { return h.http.Addr() }

// Start seeds the configured clients and authorities, connects to the broker, subscribes to every
// active authority's queue, and starts the relay and the HTTP server. It returns once all run.
func (h *Hub) Start(ctx context.Context) error {
	if err := h.seed(ctx); err != nil {
		return err
	}
	if err := h.publisher.Start(ctx); err != nil {
		return fmt.Errorf("start publisher: %w", err)
	}
	if err := h.consumer.Start(ctx); err != nil {
		return fmt.Errorf("start consumer: %w", err)
	}
	if err := h.syncAuthorities(ctx); err != nil {
		return err
	}
	h.subscribeSinks()
	if err := h.sinks.Start(ctx); err != nil {
		return fmt.Errorf("start sink consumer: %w", err)
	}
	if err := h.relay.Start(ctx); err != nil {
		return fmt.Errorf("start relay: %w", err)
	}
	if err := h.sealer.Start(ctx); err != nil {
		return fmt.Errorf("start sealer: %w", err)
	}
	if err := h.notary.Start(ctx); err != nil {
		return fmt.Errorf("start notary: %w", err)
	}
	if err := h.portal.start(ctx); err != nil {
		return err
	}
	if err := h.deadlines.Start(ctx); err != nil {
		return fmt.Errorf("start deadlines: %w", err)
	}
	if err := h.reconcile.Start(ctx); err != nil {
		return fmt.Errorf("start reconciler: %w", err)
	}
	h.syncLoop.Start(ctx, h.syncAuthoritiesEvery)
	h.notifyLoop.Start(ctx, h.notifyOutbox)
	if h.trust != nil {
		h.trustLoop.Start(ctx, h.reloadTrustEvery)
	}
	if err := h.http.Start(ctx); err != nil {
		return fmt.Errorf("start http: %w", err)
	}
	h.logger.Info("hub started", zap.String("http_addr", h.http.Addr()))
	return nil
}

// Stop shuts the hub down in two stages: first softly (report not ready, refuse new submissions,
// let in-flight HTTP requests and deliveries finish), then, when ctx is done, by cancelling what is
// left (unfinished deliveries go back to their queues). Idempotent.
func (h *Hub) Stop(ctx context.Context) error {
	h.stopOnce.Do(func() {
		h.http.SetDraining()
		var errs []error
		if err := h.http.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http: %w", err))
		}
		_ = h.syncLoop.Stop(ctx)
		_ = h.notifyLoop.Stop(ctx)
		_ = h.trustLoop.Stop(ctx)
		if err := h.consumer.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop consumer: %w", err))
		}
		if err := h.sinks.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop sink consumer: %w", err))
		}
		if err := h.relay.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop relay: %w", err))
		}
		_ = h.sealer.Stop(ctx)
		_ = h.notary.Stop(ctx)
		errs = append(errs, h.portal.stop(ctx)...)
		_ = h.deadlines.Stop(ctx)
		_ = h.reconcile.Stop(ctx)
		if err := h.publisher.Stop(context.WithoutCancel(ctx)); err != nil {
			errs = append(errs, fmt.Errorf("stop publisher: %w", err))
		}
		if err := h.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		if err := h.obs.shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		h.stopErr = errors.Join(errs...)
		h.logger.Info("hub stopped")
	})
	return h.stopErr
}

// seed upserts the clients and authorities of the configuration (token hashes only).
func (h *Hub) seed(ctx context.Context) error {
	for _, c := range h.cfg.Clients {
		sum, err := hex.DecodeString(c.TokenSHA256)
		if err != nil || len(sum) != sha256.Size {
			return fmt.Errorf("client %s: token_sha256 must be 64 hex characters", c.ID)
		}
		if err := h.store.UpsertClient(ctx, schemas.Client{ID: c.ID, Kind: string(c.Kind), Authority: c.Authority}, sum); err != nil {
			return err
		}
	}
	for _, a := range h.cfg.Authorities {
		if err := h.store.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: a.Code, Name: a.Name, Status: a.Status,
			Mode: a.Mode, Adapter: a.Adapter, Endpoint: a.Endpoint, Token: a.Token, TLSClient: a.TLSClient,
			MaxMessageBytes: a.MaxMessageBytes, Concurrency: a.Concurrency, RequestTimeout: a.RequestTimeout}); err != nil {
			return err
		}
	}
	return nil
}

// outboxChanged is called after a commit that wrote outbox rows due now.
func (h *Hub) outboxChanged() {
	select {
	case h.outboxPoke <- struct{}{}:
	default:
	}
}

// notifyOutbox wakes this process's relay at once after every commit that wrote outbox rows, and
// tells the other hub processes with a NOTIFY sent outside the business transaction, at most every
// 20 ms (a NOTIFY inside the intake transaction would serialise every intake commit).
func (h *Hub) notifyOutbox(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.outboxPoke:
		}
		h.relay.Wake()
		if err := h.store.NotifyOutbox(ctx); err != nil && ctx.Err() == nil {
			h.logger.Debug("notify outbox", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (h *Hub) syncAuthoritiesEvery(ctx context.Context) {
	changed, err := h.store.WatchRegistry(ctx)
	if err != nil {
		h.logger.Warn("cannot listen for registry changes; polling only", zap.Error(err))
	}
	t := time.NewTicker(h.syncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
		}
		h.applyDueRegistryChanges(ctx)
		if err := h.syncAuthorities(ctx); err != nil && ctx.Err() == nil {
			h.logger.Warn("authority sync failed", zap.Error(err))
		}
	}
}

// applyDueRegistryChanges applies the registry changes scheduled for now or earlier (each exactly
// once across hub processes; their NOTIFY makes every process sync, this one included).
func (h *Hub) applyDueRegistryChanges(ctx context.Context) {
	changes, err := h.registry.ApplyDue(ctx)
	for _, c := range changes {
		h.logger.Info("scheduled registry change", zap.String("authority", c.Code), zap.String("action", c.Action),
			zap.Int64("history_id", c.ID))
	}
	if err != nil && ctx.Err() == nil {
		h.logger.Warn("applying scheduled registry changes failed", zap.Error(err))
	}
}

// syncAuthorities subscribes to the queue of every active authority not yet subscribed, with its own
// concurrency (or delivery.concurrency), re-subscribes those whose concurrency changed, and
// unsubscribes from those no longer active (their deliveries wait in their queues).
func (h *Hub) syncAuthorities(ctx context.Context) error {
	active, err := h.store.ActiveAuthorities(ctx)
	if err != nil {
		return fmt.Errorf("list active authorities: %w", err)
	}
	want := make(map[string]int, len(active))
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range active {
		concurrency := cmp.Or(a.Concurrency, h.cfg.Delivery.Concurrency)
		want[a.Code] = concurrency
		if h.subscribed[a.Code] != concurrency {
			h.consumer.Subscribe(a.Code, concurrency, h.handle)
			h.subscribed[a.Code] = concurrency
		}
	}
	for code := range h.subscribed {
		if _, ok := want[code]; !ok {
			h.consumer.Unsubscribe(code)
			delete(h.subscribed, code)
		}
	}
	return nil
}
