package router

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"appealhub/config"
	"appealhub/internal/broker"
	"appealhub/internal/console"
	"appealhub/internal/httpapi"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// consoleWindow is the period the queue page measures sending rates and latencies over.
const consoleWindow = 15 * time.Minute

// consoleInspectTimeout bounds reading the depth of hub.unroutable and hub.dead.
const consoleInspectTimeout = 2 * time.Second

// Compile-time checks that the console's ports are served.
var (
	_ console.Accounts       = (*consolePorts)(nil)
	_ console.Sessions       = (*consolePorts)(nil)
	_ console.QueueReader    = (*consolePorts)(nil)
	_ console.DeadLetters    = (*consolePorts)(nil)
	_ console.DeadActions    = (*consolePorts)(nil)
	_ console.CaseTracer     = (*consolePorts)(nil)
	_ console.Registry       = (*consolePorts)(nil)
	_ console.DeadlineReader = (*consolePorts)(nil)
	_ console.Denials        = (*consolePorts)(nil)
)

// consoleMounts are the handlers of the operators' console.
func (h *Hub) consoleMounts() []httpapi.Mount {
	ports := &consolePorts{h: h}
	deps := console.Deps{Accounts: ports, Sessions: ports, Queues: ports, DeadLetters: ports, DeadActions: ports, Kept: ports,
		Traces: ports, Registry: ports, Deadlines: ports, Denials: ports}
	if stats := h.statsReader(); stats != nil {
		deps.Stats = stats
	}
	c := console.New(console.Config{
		SessionTTL:     h.cfg.Console.SessionTTL,
		InsecureCookie: h.cfg.Console.AllowLoopbackHTTP && config.IsLoopbackAddr(h.cfg.HTTP.Addr),
		NowFunc:        func() time.Time { return h.clock.Now() },
	}, deps, h.logger)
	return []httpapi.Mount{{Pattern: c.Pattern(), Handler: c}}
}

// consolePorts serves the console's ports from the hub's store, worker and broker.
type consolePorts struct {
	h *Hub

	mu       sync.Mutex
	depthsAt time.Time
	depths   [2]console.QueueDepth
}

func (p *consolePorts) now() time.Time { return p.h.clock.Now().UTC() }

// Operator implements console.Accounts.
func (p *consolePorts) Operator(ctx context.Context, login string) (console.Account, error) {
	op, err := p.h.store.Operator(ctx, login)
	if err != nil {
		return console.Account{}, err
	}
	return console.Account{Login: op.Login, Role: console.Role(op.Role), PasswordHash: op.PasswordHash, Disabled: op.Disabled}, nil
}

// StartSession implements console.Sessions.
func (p *consolePorts) StartSession(ctx context.Context, login string, tokenSHA256 []byte, now, expires time.Time) error {
	return p.h.store.StartOperatorSession(ctx, login, tokenSHA256, now, expires)
}

// RecordDenied implements console.Denials.
func (p *consolePorts) RecordDenied(ctx context.Context, login, action, object string, now time.Time) error {
	return p.h.store.RecordOperatorDenied(ctx, login, action, object, now)
}

// Session implements console.Sessions.
func (p *consolePorts) Session(ctx context.Context, tokenSHA256 []byte, now time.Time) (console.Account, error) {
	op, _, err := p.h.store.OperatorSession(ctx, tokenSHA256, now)
	if err != nil {
		return console.Account{}, err
	}
	return console.Account{Login: op.Login, Role: console.Role(op.Role)}, nil
}

// EndSession implements console.Sessions.
func (p *consolePorts) EndSession(ctx context.Context, tokenSHA256 []byte, now time.Time) error {
	return p.h.store.EndOperatorSession(ctx, tokenSHA256, now)
}

// Queues implements console.QueueReader: the store's figures per authority, this process's
// breakers and sends in flight, the outbox, the broker's hub.unroutable and hub.dead, and this
// process's broker connections.
func (p *consolePorts) Queues(ctx context.Context) (console.Queues, error) {
	now := p.now()
	out := console.Queues{At: now, Window: consoleWindow}
	rows, err := p.h.store.AuthorityQueues(ctx, now.Add(-consoleWindow))
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		st := p.h.worker.AuthorityStatus(r.Code)
		q := console.AuthorityQueue{Code: r.Code, Name: r.Name, Status: r.Status, Waiting: r.Waiting, InFlight: st.InFlight,
			Retrying: r.Retrying, Dead: r.Dead, SentInWindow: r.Sent, LatencyP50: r.LatencyP50,
			Breaker: string(st.Breaker.State), LastError: r.LastError, LastErrorAt: r.LastErrorAt}
		if r.OldestPending != nil {
			q.OldestWaiting = now.Sub(*r.OldestPending)
		}
		out.Authorities = append(out.Authorities, q)
	}
	if out.OutboxPending, out.OutboxOldest, err = p.h.store.OutboxStats(ctx, now); err != nil {
		return out, err
	}
	depths := p.brokerDepths(ctx)
	out.Unroutable, out.Dead = depths[0], depths[1]
	kept, err := p.h.store.SinkLetterCounts(ctx)
	if err != nil {
		return out, err
	}
	out.Unroutable.Kept, out.Dead.Kept = kept[broker.SinkUnroutable], kept[broker.SinkDead]
	for _, c := range []struct {
		name string
		st   broker.Status
	}{{"broker (publish)", p.h.publisher.Status()}, {"broker (consume)", p.h.consumer.Status()}} {
		conn := console.Connection{Name: c.name, Connected: c.st.Connected && !c.st.Blocked}
		switch {
		case !c.st.Connected:
			conn.Detail = c.st.LastError
		case c.st.Blocked:
			conn.Detail = "blocked by the broker"
		}
		out.Connections = append(out.Connections, conn)
	}
	return out, nil
}

// brokerDepths reads the depth of hub.unroutable and hub.dead, at most every two seconds (each
// read dials a connection of its own).
func (p *consolePorts) brokerDepths(ctx context.Context) [2]console.QueueDepth {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.depthsAt) < 2*time.Second {
		return p.depths
	}
	cfg := p.h.cfg
	bcfg := broker.Config{URL: cfg.Broker.URL, FailoverURLs: cfg.Broker.FailoverURLs, Names: broker.Names{Prefix: cfg.Broker.Prefix}, QueueType: cfg.Broker.QueueType,
		DeliveryLimit: cfg.Broker.DeliveryLimit, Heartbeat: cfg.Broker.Heartbeat, ConnectionName: "appealhub.console"}
	ctx, cancel := context.WithTimeout(ctx, consoleInspectTimeout)
	defer cancel()
	for i, q := range []string{bcfg.Names.Unroutable(), bcfg.Names.Dead()} {
		n, _, err := broker.Inspect(ctx, bcfg, q)
		if err != nil {
			p.depths[i] = console.QueueDepth{Error: err.Error()}
			continue
		}
		p.depths[i] = console.QueueDepth{Messages: n, Known: true}
	}
	p.depthsAt = time.Now()
	return p.depths
}

// DeadLetters implements console.DeadLetters.
func (p *consolePorts) DeadLetters(ctx context.Context, f console.DeadFilter) ([]console.DeadItem, int, error) {
	list, total, err := p.h.store.DeadDeliveries(ctx, store.DeadFilter{Authority: f.Authority, Reason: f.Reason,
		MinAge: f.MinAge, MaxAge: f.MaxAge, Now: p.now(), Limit: f.Limit})
	if err != nil {
		return nil, 0, err
	}
	out := make([]console.DeadItem, len(list))
	for i, d := range list {
		out[i] = deadItem(d)
	}
	return out, total, nil
}

func deadItem(d store.DeadDelivery) console.DeadItem {
	return console.DeadItem{ID: d.ID, AppealID: d.AppealID, TrackingNumber: d.TrackingNumber, Authority: d.Authority,
		AuthorityName: d.AuthorityName, Attempts: d.Attempts, Reason: d.Reason, CreatedAt: d.CreatedAt, DeadAt: d.DeadAt}
}

// KeptLetters implements console.KeptLetters.
func (p *consolePorts) KeptLetters(ctx context.Context, limit int) ([]console.KeptLetter, error) {
	kept, err := p.h.store.KeptSinkLetters(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]console.KeptLetter, len(kept))
	for i, l := range kept {
		out[i] = console.KeptLetter{ID: l.ID, Sink: l.Sink, Reason: l.Reason, SourceQueue: l.SourceQueue, RoutingKey: l.RoutingKey,
			MessageID: l.MessageID, Note: l.Note, BodyBytes: l.Size, ReceivedAt: l.At}
	}
	return out, nil
}

// DeleteKept implements console.KeptLetters.
func (p *consolePorts) DeleteKept(ctx context.Context, ids []string, a console.Action) ([]string, error) {
	nums := make([]int64, 0, len(ids))
	for _, id := range ids {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil {
			nums = append(nums, n)
		}
	}
	deleted, err := p.h.store.DeleteKeptSinkLetters(ctx, nums, a.Actor, a.Reason, p.now())
	if err != nil {
		return nil, err
	}
	out := make([]string, len(deleted))
	for i, n := range deleted {
		out[i] = strconv.FormatInt(n, 10)
	}
	return out, nil
}

// DeadLetter implements console.DeadLetters.
func (p *consolePorts) DeadLetter(ctx context.Context, id string) (console.DeadLetter, error) {
	l, err := p.h.store.DeadLetter(ctx, id)
	if err != nil {
		return console.DeadLetter{}, err
	}
	return console.DeadLetter{DeadItem: deadItem(l.DeadDelivery), CaseKind: l.CaseKind, DiscardedAt: l.DiscardedAt,
		DiscardedBy: l.DiscardedBy, DiscardReason: l.DiscardReason, Body: l.Body, Events: l.Events}, nil
}

// Redrive implements console.DeadActions, and wakes the relay at once.
func (p *consolePorts) Redrive(ctx context.Context, ids []string, a console.Action) ([]string, error) {
	got, err := p.h.store.RedriveDead(ctx, ids, store.OperatorAction{Actor: a.Actor, Reason: a.Reason, At: p.now()})
	if len(got) > 0 {
		p.h.outboxChanged()
	}
	return got, err
}

// Discard implements console.DeadActions.
func (p *consolePorts) Discard(ctx context.Context, ids []string, a console.Action) ([]string, error) {
	return p.h.store.DiscardDead(ctx, ids, store.OperatorAction{Actor: a.Actor, Reason: a.Reason, At: p.now()})
}

// Trace implements console.CaseTracer.
func (p *consolePorts) Trace(ctx context.Context, ref string) (console.Trace, error) {
	t, err := p.h.store.TraceCase(ctx, ref)
	if err != nil {
		return console.Trace{}, err
	}
	out := console.Trace{Case: t.Case}
	for _, o := range t.Outbox {
		out.Outbox = append(out.Outbox, console.OutboxRow{DeliveryID: o.DeliveryID, Attempt: o.Attempt, Status: o.Status,
			AvailableAt: o.AvailableAt, PublishedAt: o.PublishedAt, PublishFailures: o.PublishFailures, LastError: o.LastError})
	}
	for _, m := range t.Messages {
		out.Messages = append(out.Messages, console.MessageRow{DeliveryID: m.DeliveryID, Authority: m.Authority,
			MessageID: m.MessageID, Type: m.Type, Applied: m.Applied, ReceivedAt: m.ReceivedAt})
	}
	for _, r := range t.Receipts {
		out.Receipts = append(out.Receipts, console.ReceiptRow{ID: r.ID, Type: r.Type, DeliveryID: r.DeliveryID, CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// ListAuthorities implements console.Registry.
func (p *consolePorts) ListAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	return p.h.ListAuthorities(ctx, f)
}

// GetAuthority implements console.Registry.
func (p *consolePorts) GetAuthority(ctx context.Context, code string) (schemas.Authority, error) {
	return p.h.GetAuthority(ctx, code)
}

// UpdateAuthority implements console.Registry: the registry records the change with its author
// and reason, and in the same transaction as an operator_action event in the audit chain.
func (p *consolePorts) UpdateAuthority(ctx context.Context, code string, patch schemas.AuthorityPatch,
	m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return p.h.UpdateAuthority(store.AsOperator(ctx, strings.TrimPrefix(m.By, "console:")), code, patch, m)
}

// Deadlines implements console.DeadlineReader: today is the day in Europe/Kyiv.
func (p *consolePorts) Deadlines(ctx context.Context) ([]console.AuthorityDeadlines, error) {
	now := p.now()
	loc, err := time.LoadLocation(schemas.StatsTimeZone)
	if err != nil {
		return nil, fmt.Errorf("load time zone: %w", err)
	}
	local := now.In(loc)
	start := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	rows, err := p.h.store.DeadlineSummary(ctx, now, start, start.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	out := make([]console.AuthorityDeadlines, len(rows))
	for i, r := range rows {
		out[i] = console.AuthorityDeadlines{Code: r.Code, Name: r.Name, DueToday: r.DueToday, Overdue: r.Overdue, Extended: r.Extended}
	}
	return out, nil
}
