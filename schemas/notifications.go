package schemas

import "time"

// NotificationMode is how a portal client takes the events of its cases. The values are stored
// and sent: never rename one.
type NotificationMode string

const (
	// NotifyWebhook: the hub POSTs each event to the client's HTTPS URL, signed with HMAC-SHA256.
	NotifyWebhook NotificationMode = "webhook"
	// NotifyAMQP: each event lands in the client's own queue hub.portal.<client>.
	NotifyAMQP NotificationMode = "amqp"
)

// SubscriptionRequest is the body of PUT /v1/notifications.
type SubscriptionRequest struct {
	Mode NotificationMode `json:"mode"`
	// URL is where webhooks go (mode webhook only): an absolute https URL.
	URL string `json:"url,omitempty"`
	// RotateSecret asks for a new webhook secret when the client already has one.
	RotateSecret bool `json:"rotate_secret,omitempty"`
}

// Subscription is how a portal client takes the events of its cases: GET and PUT
// /v1/notifications.
type Subscription struct {
	Client string           `json:"client"`
	Mode   NotificationMode `json:"mode"`
	// URL is the webhook's address (mode webhook).
	URL string `json:"url,omitempty"`
	// Exchange and Queue name the client's queue and the exchange it is bound to (mode amqp), with
	// the broker's name prefix.
	Exchange string `json:"exchange,omitempty"`
	Queue    string `json:"queue,omitempty"`
	// Secret is the webhook's HMAC-SHA256 key, only in the answer that issued it: the hub never
	// shows it again.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SubscriptionRecord is a stored subscription: the webhook secret sealed (router/notify.SecretBox).
type SubscriptionRecord struct {
	Client       string
	Mode         NotificationMode
	URL          string
	SealedSecret []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NotificationStatus is where one portal notification stands. The values are stored and shown:
// never rename one.
type NotificationStatus string

const (
	// NotificationPending: waiting for the relay (first publish, a retry, or a redrive).
	NotificationPending NotificationStatus = "pending"
	// NotificationPublished: in the broker: in the client's queue (amqp), or on its way to the
	// hub's webhook worker.
	NotificationPublished NotificationStatus = "published"
	// NotificationDelivered: the client's webhook answered 2xx.
	NotificationDelivered NotificationStatus = "delivered"
	// NotificationDead: the webhook failed on its last attempt, or refused it for good; the events
	// after it of the same delivery wait until it is redriven.
	NotificationDead NotificationStatus = "dead"
)

// NotificationSource is a sealed event of a subscribed client's case, for the notifier to turn
// into a notification.
type NotificationSource struct {
	Event CaseEvent
	// Previous is the status of the delivery's event before Event ("" when none).
	Previous DeliveryStatus
	ChainPos int64
	Client   string
	// Deadline holds the facts the due dates of the event's delivery depend on, as the hub knows
	// them now (nil for an event of no delivery), and Calendar the current working-day calendar:
	// with them the notifier derives the due date in force at the event (DeadlineFacts.AsOf).
	Deadline *DeadlineFacts
	Calendar StoredCalendar
}

// NewNotification is a notification the notifier makes of a NotificationSource.
type NewNotification struct {
	State   PortalState
	Payload []byte // the body sent: a PortalEvent as JSON
}

// PortalMessage is one notification ready to publish to the client's queue.
type PortalMessage struct {
	ID             int64
	Client         string
	EventID        int64
	CaseID         string
	DeliveryID     string
	TrackingNumber string
	Attempt        int // attempts already made (webhook)
	Payload        []byte
}

// WebhookTask is what the webhook worker needs to POST one notification.
type WebhookTask struct {
	ID       int64
	Client   string
	EventID  int64
	Status   NotificationStatus
	Attempts int
	// Mode, URL and SealedSecret are the client's subscription now; Mode is "" when it has none.
	Mode         NotificationMode
	URL          string
	SealedSecret []byte
	Payload      []byte
}

// WebhookOutcome is the result of one webhook attempt.
type WebhookOutcome struct {
	ID      int64
	Attempt int                // the number of this attempt (attempts before it + 1)
	Status  NotificationStatus // delivered, pending (retry scheduled) or dead
	Error   string             // the failure, for operators
	// NextAttemptAt is when a retry is due (Status pending).
	NextAttemptAt time.Time
	At            time.Time
}

// NotificationRecord is one notification as operators and its client see it (GET
// /v1/notifications/dead).
type NotificationRecord struct {
	ID         int64              `json:"id"`
	Client     string             `json:"client"`
	EventID    int64              `json:"event_id"`
	CaseID     string             `json:"case_id"`
	DeliveryID string             `json:"delivery_id,omitempty"`
	State      PortalState        `json:"state"`
	Status     NotificationStatus `json:"status"`
	Attempts   int                `json:"attempts"`
	LastError  string             `json:"last_error,omitempty"`
	UpdatedAt  time.Time          `json:"updated_at"`
}
