package router

import (
	"bytes"
	"context"

	"appealhub/internal/httpapi"
	"appealhub/router/registry"
	"appealhub/schemas"
)

var _ httpapi.Registry = (*Hub)(nil)

// newRegistry builds the authority registry over the hub's store, knowing the registered adapters,
// on the hub's clock (which decides when scheduled changes are due).
func (h *Hub) newRegistry() *registry.Service {
	return registry.New(h.store, h.adapters.Names(), registry.WithClock(h.clock))
}

// Registry returns the hub's authority registry (for the CLI and tests).
func (h *Hub) Registry() *registry.Service { return h.registry }

// ListAuthorities lists registry entries.
func (h *Hub) ListAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	return h.registry.List(ctx, f)
}

// GetAuthority returns a registry entry.
func (h *Hub) GetAuthority(ctx context.Context, code string) (schemas.Authority, error) {
	return h.registry.Get(ctx, code)
}

// AddAuthority registers an authority.
func (h *Hub) AddAuthority(ctx context.Context, a schemas.Authority, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	return h.registry.Add(ctx, a, m)
}

// UpdateAuthority changes some fields of an authority.
func (h *Hub) UpdateAuthority(ctx context.Context, code string, p schemas.AuthorityPatch, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return h.registry.Update(ctx, code, p, m)
}

// SuspendAuthority suspends an authority.
func (h *Hub) SuspendAuthority(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return h.registry.Suspend(ctx, code, m)
}

// ResumeAuthority resumes a suspended authority.
func (h *Hub) ResumeAuthority(ctx context.Context, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return h.registry.Resume(ctx, code, m)
}

// CloseAuthority closes an authority, naming its successor if any.
func (h *Hub) CloseAuthority(ctx context.Context, code, successor string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
	return h.registry.Close(ctx, code, successor, m)
}

// CancelAuthorityChange withdraws a scheduled change of an authority.
func (h *Hub) CancelAuthorityChange(ctx context.Context, code string, id int64, m schemas.AuthorityChangeMeta) (schemas.Authority, error) {
	return h.registry.Cancel(ctx, code, id, m)
}

// AuthorityChanges returns an authority's history.
func (h *Hub) AuthorityChanges(ctx context.Context, code string) ([]schemas.AuthorityChange, error) {
	return h.registry.History(ctx, code)
}

// ImportAuthorities applies a CSV or YAML file, all rows or none.
func (h *Hub) ImportAuthorities(ctx context.Context, format string, body []byte, m schemas.AuthorityChangeMeta) (int, error) {
	return h.registry.ImportFile(ctx, format, bytes.NewReader(body), m)
}

// Directory is the public directory.
func (h *Hub) Directory(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error) {
	return h.registry.Directory(ctx, f)
}
