package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Proxies is an in-process toxiproxy server (the library, without its HTTP API): one TCP proxy per
// dependency of the hub, on which toxics (latency, timeout, reset_peer, limit_data, slicer, …) are
// added and removed, and which can be taken down and up. Safe for concurrent use.
type Proxies struct {
	server *toxiproxy.ApiServer
}

// NewProxies returns an empty proxy server; Close stops every proxy.
func NewProxies() *Proxies {
	return &Proxies{server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
}

// Proxy is one proxy in front of one upstream.
type Proxy struct {
	p *toxiproxy.Proxy
}

// Add starts a proxy named name on a free port of 127.0.0.1 in front of upstream (host:port).
func (ps *Proxies) Add(name, upstream string) (*Proxy, error) {
	p := toxiproxy.NewProxy(ps.server, name, "127.0.0.1:0", upstream)
	if err := ps.server.Collection.Add(p, true); err != nil {
		return nil, fmt.Errorf("add proxy %s: %w", name, err)
	}
	return &Proxy{p: p}, nil
}

// Close stops every proxy and cuts their connections.
func (ps *Proxies) Close() {
	_ = ps.server.Collection.Clear()
}

// Addr is the proxy's listening host:port, which the hub is given instead of the upstream's.
func (p *Proxy) Addr() string {
	p.p.Lock()
	defer p.p.Unlock()
	return p.p.Listen
}

// Toxic is one toxiproxy toxic: Type is latency, bandwidth, slow_close, timeout, reset_peer,
// slicer or limit_data; Stream is "upstream" (towards the dependency) or "downstream" (the
// default); Toxicity is the fraction of connections affected (0 means 1).
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream,omitempty"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// AddToxic adds a toxic to every current and future connection of the proxy.
func (p *Proxy) AddToxic(t Toxic) error {
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	if t.Stream == "" {
		t.Stream = "downstream"
	}
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("add toxic %s: %w", t.Name, err)
	}
	if _, err := p.p.Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("add toxic %s: %w", t.Name, err)
	}
	return nil
}

// RemoveToxic removes a toxic by name.
func (p *Proxy) RemoveToxic(ctx context.Context, name string) error {
	if err := p.p.Toxics.RemoveToxic(ctx, name); err != nil {
		return fmt.Errorf("remove toxic %s: %w", name, err)
	}
	return nil
}

// Down stops the proxy: its listener closes and every connection through it is cut (toxiproxy's
// "down").
func (p *Proxy) Down() { p.p.Stop() }

// Up starts a stopped proxy again on the same address.
func (p *Proxy) Up() error {
	if err := p.p.Start(); err != nil {
		return fmt.Errorf("start proxy %s: %w", p.p.Name, err)
	}
	return nil
}
