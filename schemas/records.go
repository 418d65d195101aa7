package schemas

import (
	"errors"
	"time"
)

// ErrNotFound is wrapped by lower layers when a record does not exist (or is not visible to the caller).
var ErrNotFound = errors.New("not found")

// ErrConflict is wrapped by lower layers when an id was used before for something else.
var ErrConflict = errors.New("id reused with other content")

// The records below travel between the router's stages and the store. They are the hub's internal
// vocabulary, kept here so that no stage imports the store and the store imports no stage.

// NewCase is everything intake stores for an accepted submission, in one transaction.
type NewCase struct {
	ID             string
	ClientID       string
	IdempotencyKey string
	RequestSHA256  []byte // hash of the request body, to tell a replay from a key reused with another body
	CaseKind       CaseKind
	AppealKind     AppealKind
	Body           []byte // the submission exactly as received
	TraceParent    string
	ReceivedAt     time.Time
	Deliveries     []NewDelivery
	// Signatures are the signatures intake verified, stored with the case in the same transaction.
	Signatures []VerifiedSignature
}

// NewDelivery is one addressee of a new case.
type NewDelivery struct {
	ID        string
	Authority string
	// RoutingRule and RoutingReason say why this authority receives the case (see Recipient).
	RoutingRule   string
	RoutingReason string
}

// Recipient is one authority chosen for a submission by router/recipient, with the rule that chose
// it: Rule is a stable machine-readable name ("explicit", "topic_territory", "parent_fallback",
// "complaint_parent"), Reason a sentence for people. Both are stored on the delivery and shown.
type Recipient struct {
	Authority string
	Rule      string
	Reason    string
}

// StoredCase is what the store returns for an accepted submission: the new one, or the one first
// accepted under the same idempotency key.
type StoredCase struct {
	ID             string
	TrackingNumber string
	ReceivedAt     time.Time
	RequestSHA256  []byte
	Created        bool // false when an existing case was returned for a replayed idempotency key
}

// OutboxMessage is one outbox row ready to publish: a delivery to send (first send or retry).
type OutboxMessage struct {
	ID             int64
	DeliveryID     string
	AppealID       string
	TrackingNumber string
	Authority      string
	Attempt        int // attempts already made before this one
	TraceParent    string
}

// DeliveryTask is what the delivery worker needs to send one delivery.
type DeliveryTask struct {
	DeliveryID     string
	AppealID       string
	TrackingNumber string
	Authority      string
	Status         DeliveryStatus
	Attempts       int
	ReceivedAt     time.Time
	Body           []byte
	TraceParent    string
	// Signatures are the signatures intake verified, with their signers' facts.
	Signatures []VerifiedSignature
	// The authority's connection, from the registry.
	AuthorityStatus string
	Mode            string // push or pull
	Adapter         string
	Endpoint        string
	Token           string
	TLSClient       string // the configured client certificate for mTLS, if any
	MaxMessageBytes int64  // the largest document the system takes; 0: no limit of its own
	// RequestTimeout bounds one send to the system; 0: the hub's delivery.request_timeout.
	RequestTimeout time.Duration
}

// DeliveryOutcome is the result of one attempt, recorded by the delivery worker.
type DeliveryOutcome struct {
	DeliveryID    string
	Attempt       int            // the number of this attempt (attempts before it + 1)
	Status        DeliveryStatus // delivered, sent, queued (retry scheduled) or dead
	Error         string         // the failure, for operators; never personal data
	NextAttemptAt time.Time      // when Status is queued
	Reference     string         // the authority system's own id, if it gave one
	At            time.Time
}

// AuthorityRoute is the part of an authority's registry entry that delivery needs.
type AuthorityRoute struct {
	Code      string
	Name      string
	Status    string // active, suspended, closed
	Mode      string // push (the hub sends) or pull (the system fetches its inbox); empty means push
	Adapter   string
	Endpoint  string
	Token     string
	TLSClient string // the configured client certificate the hub presents (mTLS), if any
	// MaxMessageBytes is the largest message the authority's system takes or sends; 0: no limit
	// beyond the hub's own.
	MaxMessageBytes int64
	// Concurrency and RequestTimeout are the authority's own delivery limits; 0: the hub's defaults.
	Concurrency    int
	RequestTimeout time.Duration
}

// AuthorityLimits are an authority's own delivery limits, which isolate it from the others; zero
// values mean the hub's configured defaults.
type AuthorityLimits struct {
	Code string
	// Concurrency is the consumer prefetch and the number of parallel sends (delivery.concurrency).
	Concurrency int
	// RequestTimeout bounds one send to the authority's system (delivery.request_timeout).
	RequestTimeout time.Duration
}

// Client is an API client: the portal, an authority's system, or an operator.
type Client struct {
	ID        string
	Kind      string
	Authority string
}

// DeliveryMessage is the body of the AMQP message that asks a delivery worker to make an attempt. It
// refers to the stored delivery and never copies the submission: the worker reads it from the store.
type DeliveryMessage struct {
	DeliveryID     string `json:"delivery_id"`
	AppealID       string `json:"appeal_id"`
	TrackingNumber string `json:"tracking_number"`
	Authority      string `json:"authority"`
	Attempt        int    `json:"attempt"` // attempts already made; the worker makes attempt Attempt+1
}

// Delivery modes of an authority.
const (
	ModePush = "push"
	ModePull = "pull"
)

// InboxItem is a delivery waiting for a pull-mode authority's system to fetch it.
type InboxItem struct {
	DeliveryID     string    `json:"id"`
	TrackingNumber string    `json:"tracking_number"`
	FetchCount     int       `json:"fetch_count"`
	VisibleUntil   time.Time `json:"visible_until"`
}

// MessageResult says what the hub did with one authority message.
type MessageResult struct {
	MessageID string         `json:"message_id"`
	Of        string         `json:"of"`
	Duplicate bool           `json:"duplicate"` // the message id was seen before: nothing changed
	Applied   bool           `json:"applied"`   // the message took effect (moved the delivery, or was recorded: status, extended)
	Status    DeliveryStatus `json:"status"`    // the delivery's state after the message
}
