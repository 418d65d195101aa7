package broker

import (
	amqp "github.com/rabbitmq/amqp091-go"
)

// returnTracker drains a channel's NotifyReturn listener for as long as the channel lives, so
// the library never blocks on it (it would drop the return after 5 s), and hands the returns
// collected so far to PublishBatch.
//
// The broker sends basic.return before the basic.ack of the same message and amqp091-go hands
// the return to the listener before it processes the ack, so once every confirm of a batch is in,
// every return of that batch is either in the listener's buffer or already collected: take
// collects both.
type returnTracker struct {
	in    <-chan amqp.Return
	sync  chan chan []amqp.Return
	done  chan struct{}
	final []amqp.Return // written by run before done is closed
}

func newReturnTracker(in <-chan amqp.Return) *returnTracker {
	return &returnTracker{in: in, sync: make(chan chan []amqp.Return), done: make(chan struct{})}
}

// run collects returns until the library closes the listener (channel closed).
func (t *returnTracker) run() {
	var got []amqp.Return
	defer func() {
		t.final = got
		close(t.done)
	}()
	for {
		select {
		case r, ok := <-t.in:
			if !ok {
				return
			}
			got = append(got, r)
		case reply := <-t.sync:
			for drained := false; !drained; {
				select {
				case r, ok := <-t.in:
					if !ok {
						reply <- got
						got = nil
						return
					}
					got = append(got, r)
				default:
					drained = true
				}
			}
			reply <- got
			got = nil
		}
	}
}

// take returns and forgets the returns collected so far. Callers serialize take.
func (t *returnTracker) take() []amqp.Return {
	reply := make(chan []amqp.Return, 1)
	select {
	case t.sync <- reply:
		return <-reply
	case <-t.done:
		rs := t.final
		t.final = nil
		return rs
	}
}
