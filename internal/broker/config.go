package broker

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Queue types accepted by Config.QueueType.
const (
	QueueTypeQuorum  = "quorum"
	QueueTypeClassic = "classic"
)

// Queue families of Config.Family.
const (
	// FamilyAuthority: the Deliver exchange and the authority queues (the default).
	FamilyAuthority = "authority"
	// FamilyPortal: the Portal exchange and the portal clients' notification queues.
	FamilyPortal = "portal"
	// FamilySink: the Dead and Unroutable queues, for a Consumer only, whose codes are then
	// SinkDead and SinkUnroutable.
	FamilySink = "sink"
)

// Defaults used by Config.WithDefaults.
const (
	DefaultQueueType      = QueueTypeQuorum
	DefaultDeliveryLimit  = 10
	DefaultHeartbeat      = 10 * time.Second
	DefaultPublishTimeout = 10 * time.Second
	DefaultReconnectMin   = 100 * time.Millisecond
	DefaultReconnectMax   = 10 * time.Second
	DefaultConnectionName = "appealhub"
	// DefaultChannelsPerConnection keeps a consumer connection well under RabbitMQ's default
	// channel_max (2047).
	DefaultChannelsPerConnection = 1000
)

// channelMargin is the number of channels a consumer connection keeps free beyond
// Config.ChannelsPerConnection: one for declaring the base topology and a few for channels
// being replaced.
const channelMargin = 16

// maxChannelMax is the largest channel_max AMQP 0-9-1 can negotiate.
const maxChannelMax = 1<<16 - 1

// Config configures a Publisher, a Consumer and the one-shot helpers (Inspect, Get, Ping).
type Config struct {
	// URL is the AMQP URL (amqp:// or amqps://). Required. It carries credentials: never log it.
	URL string
	// FailoverURLs are further AMQP URLs of the same broker, normally the other nodes of a
	// RabbitMQ cluster. A connection is opened to URL first; after a failed dial or a lost
	// connection, the next attempt goes to the next URL in turn (URL, FailoverURLs[0], …, URL
	// again), so a dead node costs one attempt. The one-shot helpers (Ping, Inspect, Get) try each
	// URL in turn until one connects. Optional. They carry credentials: never log them.
	FailoverURLs []string
	// Names gives the AMQP object names. The zero value is the production naming.
	Names Names
	// Family says which queues a Publisher publishes to and declares, and a Consumer consumes:
	// FamilyAuthority (Names.Deliver() and Names.AuthorityQueue(code)) or FamilyPortal
	// (Names.Portal() and Names.PortalQueue(code), a code being then a portal client's id). Both
	// families share the base topology. FamilySink (codes SinkDead and SinkUnroutable) lets a
	// Consumer consume Names.Dead() and Names.Unroutable(). Defaults to FamilyAuthority.
	Family string
	// QueueType is the type of the authority, dead and unroutable queues: "quorum" or "classic".
	// Defaults to "quorum".
	QueueType string
	// DeliveryLimit is x-delivery-limit on quorum authority queues: a message delivered more
	// often is dead-lettered to Names.Dead(). Ignored for classic queues. Defaults to 10.
	DeliveryLimit int
	// Heartbeat is the AMQP heartbeat interval; a dead peer is noticed after about three of them.
	// Defaults to 10s.
	Heartbeat time.Duration
	// PublishTimeout bounds one PublishBatch (all publishes and all confirms). Defaults to 10s.
	PublishTimeout time.Duration
	// ReconnectMin is the first reconnect backoff; it doubles (with jitter) up to ReconnectMax.
	// Defaults to 100ms.
	ReconnectMin time.Duration
	// ReconnectMax caps the reconnect backoff. Defaults to 10s.
	ReconnectMax time.Duration
	// ConnectionName prefixes the client-provided connection name shown by the broker
	// ("<name>.publish", "<name>.consume"; further consumer connections are "<name>.consume.1",
	// "<name>.consume.2", ...). Defaults to "appealhub".
	ConnectionName string
	// ChannelsPerConnection is how many authority subscriptions (one channel each) a Consumer
	// puts on one connection before it opens another: RabbitMQ caps the channels of a connection
	// (channel_max, 2047 by default), so 10,000 authorities need several connections. A code
	// keeps its connection across reconnects; a new code goes to the least loaded connection
	// with room, or to a new one. Must be >= 1; a connection whose negotiated channel_max is
	// below ChannelsPerConnection + 16 is refused (and retried, with the reason in
	// Status.LastError). The Publisher ignores it. Defaults to 1000.
	ChannelsPerConnection int
	// Declarations, when set, is shared by a Consumer and a Publisher of one process: the
	// Consumer records the queues it declared, and the Publisher does not declare them again
	// (see Declarations). Optional.
	Declarations *Declarations
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Family = cmp.Or(c.Family, FamilyAuthority)
	c.QueueType = cmp.Or(c.QueueType, DefaultQueueType)
	c.DeliveryLimit = cmp.Or(c.DeliveryLimit, DefaultDeliveryLimit)
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultHeartbeat)
	c.PublishTimeout = cmp.Or(c.PublishTimeout, DefaultPublishTimeout)
	c.ReconnectMin = cmp.Or(c.ReconnectMin, DefaultReconnectMin)
	c.ReconnectMax = cmp.Or(c.ReconnectMax, DefaultReconnectMax)
	c.ConnectionName = cmp.Or(c.ConnectionName, DefaultConnectionName)
	c.ChannelsPerConnection = cmp.Or(c.ChannelsPerConnection, DefaultChannelsPerConnection)
	return c
}

// Validate reports every invalid field of c (after WithDefaults) at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: must be set"))
	}
	for i, u := range c.FailoverURLs {
		if u == "" {
			errs = append(errs, fmt.Errorf("failover_urls[%d]: must be set", i))
		}
	}
	if c.QueueType != QueueTypeQuorum && c.QueueType != QueueTypeClassic {
		errs = append(errs, fmt.Errorf("queue_type: must be %q or %q, got %q", QueueTypeQuorum, QueueTypeClassic, c.QueueType))
	}
	if c.Family != FamilyAuthority && c.Family != FamilyPortal && c.Family != FamilySink {
		errs = append(errs, fmt.Errorf("family: must be %q, %q or %q, got %q", FamilyAuthority, FamilyPortal, FamilySink, c.Family))
	}
	if c.DeliveryLimit < 1 {
		errs = append(errs, fmt.Errorf("delivery_limit: must be > 0, got %d", c.DeliveryLimit))
	}
	if c.Heartbeat < time.Second {
		errs = append(errs, fmt.Errorf("heartbeat: must be >= 1s, got %s", c.Heartbeat))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, fmt.Errorf("publish_timeout: must be > 0, got %s", c.PublishTimeout))
	}
	if c.ReconnectMin <= 0 {
		errs = append(errs, fmt.Errorf("reconnect_min: must be > 0, got %s", c.ReconnectMin))
	}
	if c.ReconnectMax < c.ReconnectMin {
		errs = append(errs, fmt.Errorf("reconnect_max: must be >= reconnect_min (%s), got %s", c.ReconnectMin, c.ReconnectMax))
	}
	if c.ChannelsPerConnection < 1 || c.ChannelsPerConnection > maxChannelMax-channelMargin {
		errs = append(errs, fmt.Errorf("channels_per_connection: must be between 1 and %d, got %d",
			maxChannelMax-channelMargin, c.ChannelsPerConnection))
	}
	if len(c.Names.Dead()) > maxNameLen {
		errs = append(errs, fmt.Errorf("names.prefix: too long (%d bytes)", len(c.Names.Prefix)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid broker config: %w", err)
	}
	return nil
}

// urls returns the URLs connections try, in turn: URL, then FailoverURLs.
func (c Config) urls() []string {
	return append([]string{c.URL}, c.FailoverURLs...)
}

// nodeOf returns the host:port of an AMQP URL, which names a broker node in logs without the
// credentials; "" if the URL does not parse.
func nodeOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// exchange is the exchange of c's family: the one a Publisher publishes to and queues are bound to
// ("" for FamilySink, whose queues are bound to fanout exchanges of their own names).
func (c Config) exchange() string {
	switch c.Family {
	case FamilyPortal:
		return c.Names.Portal()
	case FamilySink:
		return ""
	}
	return c.Names.Deliver()
}

// queue is the queue of code in c's family.
func (c Config) queue(code string) string {
	switch c.Family {
	case FamilyPortal:
		return c.Names.PortalQueue(code)
	case FamilySink:
		return c.Names.Sink(code)
	}
	return c.Names.AuthorityQueue(code)
}
