package console

import (
	"context"
	"time"

	"appealhub/schemas"
)

// Role is what an operator may do in the console. The values are stored: never rename one.
type Role string

// Roles, each allowed everything the one before is.
const (
	// RoleViewer reads every page; personal data are masked.
	RoleViewer Role = "viewer"
	// RoleOperator also redrives and discards dead deliveries and sees personal data.
	RoleOperator Role = "operator"
	// RoleAdmin also edits the authority registry.
	RoleAdmin Role = "admin"
)

// Roles returns every role, the least allowed first.
func Roles() []Role { return []Role{RoleViewer, RoleOperator, RoleAdmin} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r == RoleViewer || r == RoleOperator || r == RoleAdmin }

// SeesPersonalData reports whether r is shown personal data unmasked.
func (r Role) SeesPersonalData() bool { return r == RoleOperator || r == RoleAdmin }

// ActsOnDeadLetters reports whether r may redrive and discard dead deliveries.
func (r Role) ActsOnDeadLetters() bool { return r == RoleOperator || r == RoleAdmin }

// EditsRegistry reports whether r may change authority registry entries.
func (r Role) EditsRegistry() bool { return r == RoleAdmin }

// Account is an operator's account.
type Account struct {
	Login string
	Role  Role
	// PasswordHash is the bcrypt hash (HashPassword) of the password; empty from Sessions.
	PasswordHash string
	// Disabled accounts cannot sign in.
	Disabled bool
}

// Accounts finds operators' accounts. It is called concurrently. An unknown login is an error
// wrapping schemas.ErrNotFound.
type Accounts interface {
	Operator(ctx context.Context, login string) (Account, error)
}

// Sessions keeps the signed-in sessions, each known by the SHA-256 of its token (the cookie's
// value is never stored). It is called concurrently. Starting and ending a session is an action of
// the operator's and must be recorded in the audit chain in the same transaction.
type Sessions interface {
	// StartSession records a session of login valid until expires.
	StartSession(ctx context.Context, login string, tokenSHA256 []byte, now, expires time.Time) error
	// Session returns the account of a session valid at now; an unknown or expired session, or
	// one whose operator is disabled, is an error wrapping schemas.ErrNotFound.
	Session(ctx context.Context, tokenSHA256 []byte, now time.Time) (Account, error)
	// EndSession ends a session (nothing happens if there is none).
	EndSession(ctx context.Context, tokenSHA256 []byte, now time.Time) error
}

// Denials records, in the audit chain, an action an operator's role did not allow. It is called
// concurrently. Optional: without it refusals are only logged.
type Denials interface {
	RecordDenied(ctx context.Context, login, action, object string, now time.Time) error
}

// QueueReader reports the state of the delivery queues. It is called concurrently and must not
// block past ctx.
type QueueReader interface {
	Queues(ctx context.Context) (Queues, error)
}

// Queues is the state of delivery as the queue page shows it.
type Queues struct {
	// At is when the figures were read.
	At          time.Time
	Authorities []AuthorityQueue
	// OutboxPending counts the outbox rows not yet published, the oldest created OutboxOldest ago.
	OutboxPending int
	OutboxOldest  time.Duration
	// Unroutable and Dead are the broker's hub.unroutable and hub.dead queues.
	Unroutable, Dead QueueDepth
	// Connections are the hub process's broker connections.
	Connections []Connection
	// Window is the period SentInWindow and LatencyP50 are measured over.
	Window time.Duration
}

// AuthorityQueue is one authority's row of the queue page.
type AuthorityQueue struct {
	Code, Name, Status string
	// Waiting: pending deliveries not yet attempted; InFlight: sends under way in this hub
	// process; Retrying: pending after a failed attempt; Dead: dead and not discarded.
	Waiting, InFlight, Retrying, Dead int
	// OldestWaiting is the age of the oldest pending delivery (0: none).
	OldestWaiting time.Duration
	// SentInWindow counts the deliveries that reached the authority's system over Queues.Window,
	// LatencyP50 the median time they took from creation.
	SentInWindow int
	LatencyP50   time.Duration
	// Breaker is this process's circuit breaker state: closed, open or half_open.
	Breaker     string
	LastError   string
	LastErrorAt *time.Time
}

// QueueDepth is the depth of a broker queue, or why it is unknown.
type QueueDepth struct {
	Messages int
	Known    bool
	Error    string
	// Kept counts the messages the hub took from the queue and kept in its database because it
	// could not account for them (docs/adr/0008-sink-queues.md).
	Kept int
}

// Connection is one broker connection of the hub process.
type Connection struct {
	Name      string
	Connected bool
	Detail    string
}

// DeadFilter selects dead letters. Zero fields select everything.
type DeadFilter struct {
	Authority string
	// Reason is a piece of the reason, matched without regard to case.
	Reason string
	// MinAge and MaxAge bound how long ago the deliveries went dead.
	MinAge, MaxAge time.Duration
	Limit          int
}

// DeadItem is a dead delivery in the list.
type DeadItem struct {
	ID             string
	AppealID       string
	TrackingNumber string
	Authority      string
	AuthorityName  string
	Attempts       int
	Reason         string
	CreatedAt      time.Time
	DeadAt         time.Time
}

// DeadLetter is one dead delivery opened, with the case it carries.
type DeadLetter struct {
	DeadItem
	CaseKind      schemas.CaseKind
	DiscardedAt   *time.Time
	DiscardedBy   string
	DiscardReason string
	// Body is the submission as received: personal data.
	Body []byte
	// Events are the delivery's events.
	Events []schemas.Event
}

// DeadLetters lists and opens dead deliveries. It is called concurrently. An unknown id is an
// error wrapping schemas.ErrNotFound.
type DeadLetters interface {
	DeadLetters(ctx context.Context, f DeadFilter) (items []DeadItem, total int, err error)
	DeadLetter(ctx context.Context, id string) (DeadLetter, error)
}

// KeptLetters reads the messages the hub took from the broker's sink queues and kept in its
// database because they were no delivery in transit (docs/adr/0008-sink-queues.md).
type KeptLetters interface {
	KeptLetters(ctx context.Context, limit int) ([]KeptLetter, error)
	// DeleteKept deletes the kept letters ids (decimal) with an event in the audit chain written
	// in the same transaction, and returns the ids it deleted.
	DeleteKept(ctx context.Context, ids []string, a Action) ([]string, error)
}

// KeptLetter is one kept message as the console shows it: never its body (it may hold personal
// data), only where it came from and why it was kept.
type KeptLetter struct {
	ID int64
	// Sink is "dead" or "unroutable".
	Sink string
	// Reason and SourceQueue are the broker's x-first-death-reason and x-first-death-queue.
	Reason, SourceQueue   string
	RoutingKey, MessageID string
	// Note says why the hub kept it.
	Note       string
	BodyBytes  int
	ReceivedAt time.Time
}

// Action is who does something and why.
type Action struct {
	Actor  string
	Reason string
}

// DeadActions redrives and discards dead deliveries, each with an event in the audit chain
// written in the same transaction. Each returns the ids it acted on; the others are left alone.
type DeadActions interface {
	Redrive(ctx context.Context, ids []string, a Action) ([]string, error)
	Discard(ctx context.Context, ids []string, a Action) ([]string, error)
}

// Trace is the whole way of a case.
type Trace struct {
	Case     schemas.Case
	Outbox   []OutboxRow
	Messages []MessageRow
	Receipts []ReceiptRow
}

// OutboxRow is one attempt handed to the broker.
type OutboxRow struct {
	DeliveryID      string
	Attempt         int
	Status          string
	AvailableAt     time.Time
	PublishedAt     *time.Time
	PublishFailures int
	LastError       string
}

// MessageRow is one message of an authority's system about a delivery.
type MessageRow struct {
	DeliveryID, Authority, MessageID, Type string
	Applied                                bool
	ReceivedAt                             time.Time
}

// ReceiptRow is one hub-signed receipt.
type ReceiptRow struct {
	ID, Type, DeliveryID string
	CreatedAt            time.Time
}

// CaseTracer finds a case by its id or tracking number. It is called concurrently. An unknown
// case is an error wrapping schemas.ErrNotFound.
type CaseTracer interface {
	Trace(ctx context.Context, ref string) (Trace, error)
}

// Registry reads and edits the authority registry (router/registry). It is called concurrently.
// Refusals are *schemas.Error; a stale version wraps schemas.ErrVersionConflict. An edit is an
// action of the operator's: the implementation records it in the audit chain.
type Registry interface {
	ListAuthorities(ctx context.Context, f schemas.AuthorityFilter) (schemas.AuthorityPage, error)
	GetAuthority(ctx context.Context, code string) (schemas.Authority, error)
	UpdateAuthority(ctx context.Context, code string, p schemas.AuthorityPatch, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error)
}

// AuthorityDeadlines counts one authority's open due dates.
type AuthorityDeadlines struct {
	Code, Name string
	// DueToday: open answer due dates falling today (Europe/Kyiv); Overdue: open ones past;
	// Extended: open ones the authority extended.
	DueToday, Overdue, Extended int
}

// DeadlineReader summarises the due dates per authority. It is called concurrently.
type DeadlineReader interface {
	Deadlines(ctx context.Context) ([]AuthorityDeadlines, error)
}

// StatsReader computes statistics (the Hub's GET /v1/stats). A query it cannot answer is a
// *schemas.Error.
type StatsReader interface {
	Stats(ctx context.Context, q schemas.StatsQuery) (schemas.StatsResult, error)
}
