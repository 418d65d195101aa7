package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"appealhub/adapters"
	"appealhub/router/delivery"
	"appealhub/schemas"
)

// DefaultInboxVisibility is how long a fetched inbox item stays hidden before it comes back,
// unless its system acknowledges it.
const DefaultInboxVisibility = 5 * time.Minute

// Inbox claims waiting deliveries of a pull-mode authority.
func (h *Hub) Inbox(ctx context.Context, authority string, limit int) ([]schemas.InboxItem, error) {
	items, err := h.store.InboxFetch(ctx, authority, h.clock.Now().UTC(), limit, h.inboxVisibility())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schemas.ErrUnavailable, err)
	}
	return items, nil
}

func (h *Hub) inboxVisibility() time.Duration {
	if h.cfg.Delivery.InboxVisibility > 0 {
		return h.cfg.Delivery.InboxVisibility
	}
	return DefaultInboxVisibility
}

// InboxDocument encodes an inbox item in the authority's format.
func (h *Hub) InboxDocument(ctx context.Context, authority, id string) (string, []byte, error) {
	if _, err := uuid.Parse(id); err != nil {
		return "", nil, schemas.Errorf(schemas.CodeNotFound, "no such inbox item")
	}
	task, err := h.store.InboxTask(ctx, authority, id)
	if errors.Is(err, schemas.ErrNotFound) {
		h.crossTenant(ctx, authority, "inbox_read", []string{id})
		return "", nil, schemas.Errorf(schemas.CodeNotFound, "no such inbox item")
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", schemas.ErrUnavailable, err)
	}
	ad, ok := h.adapters.Get(task.Adapter)
	if !ok {
		return "", nil, fmt.Errorf("authority %s: no adapter named %q", authority, task.Adapter)
	}
	body, err := delivery.Encode(ad, task, max(task.Attempts, 1))
	if err != nil {
		return "", nil, fmt.Errorf("encode inbox item: %w", err)
	}
	return ad.MediaType(), body, nil
}

// AckInbox takes an item off the authority's inbox: its system has the document.
func (h *Hub) AckInbox(ctx context.Context, authority, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return schemas.Errorf(schemas.CodeNotFound, "no such inbox item")
	}
	err := h.store.InboxAck(ctx, authority, id, h.clock.Now().UTC())
	if errors.Is(err, schemas.ErrNotFound) {
		h.crossTenant(ctx, authority, "inbox_ack", []string{id})
		return schemas.Errorf(schemas.CodeNotFound, "no such inbox item")
	}
	if err != nil {
		return fmt.Errorf("%w: %w", schemas.ErrUnavailable, err)
	}
	return nil
}

// ReceiveMessages decodes what an authority's system sent, with that authority's adapter, and lets
// the tracker apply it.
func (h *Hub) ReceiveMessages(ctx context.Context, authority, mediaType string, body []byte) ([]schemas.MessageResult, error) {
	routes, err := h.store.Authorities(ctx, []string{authority})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schemas.ErrUnavailable, err)
	}
	route, ok := routes[authority]
	if !ok {
		return nil, schemas.Errorf(schemas.CodeNotFound, "no such authority")
	}
	if route.MaxMessageBytes > 0 && int64(len(body)) > route.MaxMessageBytes {
		return nil, schemas.Errorf(schemas.CodeBodyTooLarge, "a message from this system may be at most %d bytes", route.MaxMessageBytes)
	}
	ad, ok := h.adapters.Get(route.Adapter)
	if !ok {
		return nil, fmt.Errorf("authority %s: no adapter named %q", authority, route.Adapter)
	}
	dec, ok := ad.(adapters.MessageDecoder)
	if !ok {
		return nil, schemas.Errorf(schemas.CodeUnsupportedMediaType, "the %s format does not carry messages to the hub", ad.Name())
	}
	msgs, err := dec.DecodeMessages(mediaType, body)
	if err != nil {
		if e, ok := errors.AsType[*schemas.Error](err); ok {
			return nil, e
		}
		return nil, &schemas.Error{Code: schemas.CodeMalformedMessage, Detail: err.Error(), Err: err}
	}
	if len(msgs) == 0 {
		return nil, schemas.Errorf(schemas.CodeMalformedMessage, "the body carries no message")
	}
	results, err := h.tracker.Apply(ctx, authority, msgs)
	if perr, ok := errors.AsType[*schemas.Error](err); ok && perr.Code == schemas.CodeNotFound {
		ids := make([]string, 0, len(msgs))
		for _, m := range msgs {
			ids = append(ids, m.Of)
		}
		h.crossTenant(ctx, authority, "message", ids)
	}
	return results, err
}

// crossTenant records, in the audit chain, an authority's request that named another authority's
// deliveries (the answer is 404 all the same; a failure to record is logged).
func (h *Hub) crossTenant(ctx context.Context, authority, action string, deliveryIDs []string) {
	recorded, err := h.store.RecordCrossTenantAccess(ctx, authority, action, deliveryIDs, h.clock.Now().UTC())
	switch {
	case err != nil:
		h.logger.Error("a cross-tenant request could not be recorded", zap.String("authority", authority), zap.Error(err))
	case recorded:
		h.logger.Warn("an authority asked for another authority's delivery", zap.String("authority", authority),
			zap.String("action", action))
	}
}

// AccessDenied implements httpapi.AccessAuditor: an authority's client on another authority's path.
func (h *Hub) AccessDenied(ctx context.Context, clientID, action, object string) {
	if !utf8.ValidString(object) || strings.ContainsRune(object, 0) || len(object) > 64 {
		return // not a code of the registry
	}
	recorded, err := h.store.RecordPathAccessDenied(ctx, clientID, action, object, h.clock.Now().UTC())
	switch {
	case err != nil:
		h.logger.Error("a denied access could not be recorded", zap.String("client_id", clientID), zap.Error(err))
	case recorded:
		h.logger.Warn("a client asked for another authority's path", zap.String("client_id", clientID), zap.String("action", action))
	}
}
