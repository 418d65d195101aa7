package broker

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxNameLen is the longest AMQP short string, the limit on queue and exchange names.
const maxNameLen = 255

// Names are the AMQP object names under a prefix: "" in production, a random prefix such as
// "t3f9a1." in tests, so that tests never collide with each other or with a running hub.
type Names struct {
	Prefix string
}

// Deliver is the direct exchange every delivery is published to, with routing key = authority code.
// It is durable and carries the argument alternate-exchange = Unroutable().
func (n Names) Deliver() string { return n.Prefix + "hub.deliver" }

// Unroutable is the fanout exchange, and the durable queue of the same name bound to it, that
// receives every message Deliver() could not route (an authority without a queue). Anything in it
// is an alarm for an operator.
func (n Names) Unroutable() string { return n.Sink(SinkUnroutable) }

// Dead is the fanout exchange, and the durable queue of the same name bound to it, that the
// authority queues dead-letter to (rejected messages and messages over the delivery limit).
func (n Names) Dead() string { return n.Sink(SinkDead) }

// The codes of the sink queues for a Consumer of FamilySink.
const (
	// SinkDead is the code of Names.Dead().
	SinkDead = "dead"
	// SinkUnroutable is the code of Names.Unroutable().
	SinkUnroutable = "unroutable"
)

// Sink is the fanout exchange, and the queue of the same name bound to it, of a sink code:
// Sink(SinkDead) is Dead(), Sink(SinkUnroutable) is Unroutable().
func (n Names) Sink(code string) string { return n.Prefix + "hub." + code }

// AuthorityQueue is the queue of one authority, bound to Deliver() with routing key = code.
func (n Names) AuthorityQueue(code string) string { return n.Prefix + "hub.authority." + code }

// Portal is the direct exchange portal notifications are published to, with routing key = the
// portal client's id. It is durable and carries the argument alternate-exchange = Unroutable().
func (n Names) Portal() string { return n.Prefix + "hub.portal" }

// PortalQueue is the notification queue of one portal client, bound to Portal() with routing key =
// the client's id.
func (n Names) PortalQueue(client string) string { return n.Prefix + "hub.portal." + client }

// validateCode reports whether code can serve as a routing key and as part of a queue name.
func (n Names) validateCode(code string) error {
	switch {
	case code == "":
		return fmt.Errorf("authority code is empty")
	case !utf8.ValidString(code):
		return fmt.Errorf("authority code is not valid UTF-8")
	case len(n.AuthorityQueue(code)) > maxNameLen:
		return fmt.Errorf("authority code too long: queue name exceeds %d bytes", maxNameLen)
	}
	for _, r := range code {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return fmt.Errorf("authority code contains a space or control character")
		}
	}
	return nil
}
