package broker

import "errors"

// Sentinel errors. Callers branch on them with errors.Is; every error this package returns wraps
// one of them or an error of the underlying client.
var (
	// ErrNotConnected means there is no connection to the broker at the moment (or the component
	// is not started or already stopped). Nothing was sent; try again later.
	ErrNotConnected = errors.New("broker: not connected")
	// ErrBlocked means the broker has blocked the publishing connection (memory or disk alarm).
	// Nothing was sent; try again after the alarm clears.
	ErrBlocked = errors.New("broker: connection blocked by the broker")
	// ErrNacked means the broker refused a message with basic.nack (for example a full queue with
	// overflow=reject-publish). The message is not stored.
	ErrNacked = errors.New("broker: message nacked")
	// ErrReturned means the broker returned a mandatory message as unroutable (basic.return):
	// neither an authority queue nor the alternate exchange took it.
	ErrReturned = errors.New("broker: message returned unroutable")
	// ErrPublishTimeout means no confirm arrived within Config.PublishTimeout. The connection is
	// closed and re-established; the message may or may not have been stored, so publish it again.
	ErrPublishTimeout = errors.New("broker: publish timed out")
	// ErrConnectionLost means the channel or connection closed before the broker confirmed the
	// message; it may or may not have been stored, so publish it again.
	ErrConnectionLost = errors.New("broker: connection lost before confirm")
	// ErrQueueNotFound means the queue does not exist.
	ErrQueueNotFound = errors.New("broker: queue not found")
	// ErrStopped means the component was stopped and cannot be started again.
	ErrStopped = errors.New("broker: stopped")
)
