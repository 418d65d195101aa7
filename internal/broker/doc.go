// Package broker is Appeal Hub's only user of AMQP 0-9-1 (github.com/rabbitmq/amqp091-go): it
// declares the topology, publishes with publisher confirms and consumes authority queues, over
// connections that its own supervisors keep up.
//
// # Topology
//
// Under a name prefix (Names.Prefix, "" in production):
//
//	hub.deliver        direct exchange, durable, alternate-exchange = hub.unroutable
//	  └─ rk=<code> ──▶ hub.authority.<code>   quorum queue (see AuthorityQueueArgs):
//	                   x-delivery-limit, x-dead-letter-exchange = hub.dead,
//	                   x-dead-letter-strategy = at-least-once, x-overflow = reject-publish
//	hub.portal         direct exchange, durable, alternate-exchange = hub.unroutable
//	  └─ rk=<client> ─▶ hub.portal.<client>   a portal client's notifications, same arguments
//	hub.unroutable     fanout exchange ──▶ queue hub.unroutable (anything here is an alarm)
//	hub.dead           fanout exchange ──▶ queue hub.dead (rejected and over-limit messages)
//
// A Config's Family chooses the side a Publisher and a Consumer work on: the authority queues
// under hub.deliver, or the portal clients' notification queues under hub.portal (the hub runs one
// Publisher and one Consumer of each family). Every connection declares the base topology
// (hub.dead, hub.unroutable, hub.deliver, hub.portal) first
// thing after it opens, before anything else happens on it. Authority queues are declared by
// Publisher.EnsureAuthority (again after a reconnect) and by the Consumer before every
// basic.consume, always on a declaring connection of their own (see declarer): a failed
// declaration the broker answers with a connection-level exception (541 while a quorum queue
// cannot form, 504) then closes neither a publishing nor a consuming connection, and a reconnect
// never waits for thousands of re-declarations. A Publisher declares the new codes of a batch in
// parallel (EnsureAuthorities), and not at all those a Consumer sharing its Config.Declarations
// declared since the Publisher last lost its connection or had a message of the code returned.
// Declarations are idempotent. The policies are queue arguments, so they hold whatever the broker's defaults
// or operator policies are (RabbitMQ 3.x quorum queues have no delivery limit by default, and
// without at-least-once + reject-publish dead-lettering is at-most-once).
//
// Publishing is mandatory and persistent to hub.deliver. A message for an authority without a
// queue is acked by the broker (a confirm does not mean "routed") and lands in hub.unroutable
// through the alternate exchange; only if that fails too does basic.return report it.
//
// # Supervisors
//
// Publisher and Consumer own their connections (publishing and consuming never share one: a
// broker under a memory or disk alarm blocks publishing connections, and consumers must keep
// draining). The Publisher has one for publishing and one for declaring; the Consumer has one per
// Config.ChannelsPerConnection subscriptions (shards, see consumer_shard.go) and one for
// declaring, each with its own supervisor. A supervisor goroutine dials, declares the base topology, lets its owner open
// channels, then waits for the connection to die (NotifyClose) or for Stop. It then drops every
// channel and dials again with exponential backoff and jitter (Config.ReconnectMin doubling up to
// Config.ReconnectMax), forever, until stopped. With Config.FailoverURLs (the other nodes of a
// cluster) each attempt after a failed dial or a lost connection goes to the next URL in turn, so
// the connections of a node that died move to a live one at the first reconnect; quorum queues
// are reachable through any node. Status reports the state, including
// connection.blocked (NotifyBlocked is watched), for readiness checks.
//
// Every Notify* channel is buffered and always drained: amqp091-go drops a notification after
// 5 s when a listener is full. Publisher confirms use PublishWithDeferredConfirmWithContext and
// DeferredConfirmation (never NotifyPublish). Every PublishBatch is bounded by a timer: a
// blocked broker stops reading the socket, the write hangs and ignores its context, so on
// timeout the socket is closed under the library and the supervisor reconnects.
//
// # Why the library's Recovery stays off
//
// amqp091-go (v1.12+) can recover connections itself (Config.Recovery). It is left nil. Its
// recovery reuses the same *Channel with delivery tags restarting at 1, and Channel.Ack has no
// generation check, so an ack for a delivery received before a reconnect could ack a different
// message after it. It also gives up after a fixed number of retries and skips topology it
// failed to re-declare. The supervisors here build fresh connections and channels instead: a
// delivery is settled on the channel it came from, so a late ack fails with a closed-channel
// error (logged; the broker redelivers) and can never settle another message.
//
// # Consuming
//
// Each subscription (one authority) has its own channel with Qos(prefetch = concurrency) and
// concurrency handler goroutines, so a slow authority never holds up another. Handlers return
// an Outcome: Ack, Requeue (basic.reject with requeue, counted toward the delivery limit) or
// Reject (dead-letters to hub.dead). Stop cancels the consumers, lets in-flight handlers finish
// and settle until its context ends, then cancels them.
package broker
