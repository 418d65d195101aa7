package schemas

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The authority registry (DESIGN.md §3): the address space of every body that receives appeals.
// router/registry validates and changes it; internal/store keeps it with its history.

// Kinds of authority.
const (
	AuthorityKindCentral  = "central"   // ministries and other central executive bodies
	AuthorityKindRegional = "regional"  // oblast and Kyiv city state administrations
	AuthorityKindLocal    = "local"     // local self-government: councils of territorial communities
	AuthorityKindNonState = "non_state" // non-state bodies that joined the address space
)

// AuthorityKinds returns every kind of authority.
func AuthorityKinds() []string {
	return []string{AuthorityKindCentral, AuthorityKindRegional, AuthorityKindLocal, AuthorityKindNonState}
}

// Statuses and modes of an authority.
const (
	AuthorityActive    = "active"
	AuthoritySuspended = "suspended"
	AuthorityClosed    = "closed"

	AuthorityModePush = "push"
	AuthorityModePull = "pull"
)

// AnyTopic in Authority.Topics means the authority is competent for every topic.
const AnyTopic = "*"

// Actions of an authority change.
const (
	ActionAdd     = "add"
	ActionUpdate  = "update"
	ActionSuspend = "suspend"
	ActionResume  = "resume"
	ActionClose   = "close"
	ActionImport  = "import"
	// ActionSchedule records a change scheduled for a later effective time (AuthorityChange.Pending
	// describes it); the applied change is recorded again, under its own action, when it takes effect.
	ActionSchedule = "schedule"
	// ActionCancel records a scheduled change withdrawn before it took effect: by an operator, or by
	// the registry when the change was no longer valid at its effective time.
	ActionCancel = "cancel"
)

// DefaultCalendar is the working calendar of an authority that names none: the national one.
const DefaultCalendar = "UA"

// ErrVersionConflict is wrapped by lower layers when a change names a version of an authority that
// is not its current one (optimistic locking).
var ErrVersionConflict = errors.New("version conflict")

// Duration is a time.Duration written as Go duration text ("500ms", "30s", "1m30s") in JSON, YAML
// and CSV. The zero Duration is written as "" and read from "" or "0s".
type Duration time.Duration

// DurationError is the error of Duration.UnmarshalText.
type DurationError struct{ Text string }

func (e *DurationError) Error() string {
	return "must be a duration such as 500ms, 30s or 2m"
}

// MarshalText writes d as Go duration text, or "" for zero.
func (d Duration) MarshalText() ([]byte, error) {
	if d == 0 {
		return []byte{}, nil
	}
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText reads Go duration text; "" is zero. Anything else is a *DurationError.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDuration reads Go duration text ("" is zero), or returns a *DurationError.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, &DurationError{Text: s}
	}
	return Duration(v), nil
}

// String returns the Go duration text of d ("0s" for zero).
func (d Duration) String() string { return time.Duration(d).String() }

// Authority is one entry of the authority registry.
type Authority struct {
	// Code is the EDRPOU code: 8 digits, the last a check digit.
	Code string `json:"code" yaml:"code"`
	// Subsystem identifies the document system of a subdivision or subsystem of the body, when
	// deliveries go to one rather than to the body's main system: 1 to 64 of A-Z a-z 0-9 . _ -.
	Subsystem string `json:"subsystem,omitempty" yaml:"subsystem,omitempty"`
	Name      string `json:"name" yaml:"name"`
	ShortName string `json:"short_name,omitempty" yaml:"short_name,omitempty"`
	// Kind is one of AuthorityKinds(); empty only for entries seeded from the configuration.
	Kind string `json:"kind" yaml:"kind"`
	// Parent is the code of the superior body, if any.
	Parent string `json:"parent,omitempty" yaml:"parent,omitempty"`
	// Territory is a KATOTTG code: "UA" and 17 digits.
	Territory string `json:"territory" yaml:"territory"`
	// Topics the authority is competent for: lowercase words, or AnyTopic.
	Topics []string `json:"topics" yaml:"topics"`
	// Accepts lists the case kinds it receives (appeal, info_request).
	Accepts []string `json:"accepts" yaml:"accepts"`
	// Adapter names the registered wire format; Mode is push or pull.
	Adapter  string `json:"adapter" yaml:"adapter"`
	Mode     string `json:"mode" yaml:"mode,omitempty"`
	Endpoint string `json:"endpoint,omitempty" yaml:"endpoint,omitempty"`
	// Token is a credential: never shown, never kept in the history.
	Token     string `json:"-" yaml:"-"`
	TLSClient string `json:"tls_client,omitempty" yaml:"tls_client,omitempty"`
	// MaxMessageBytes bounds one delivery to this authority; 0 means the hub's default.
	MaxMessageBytes int64 `json:"max_message_bytes,omitempty" yaml:"max_message_bytes,omitempty"`
	// Concurrency is the authority's own number of parallel sends and consumer prefetch;
	// RequestTimeout bounds one send to its system. Zero means the hub's default
	// (delivery.concurrency, delivery.request_timeout).
	Concurrency    int      `json:"concurrency,omitempty" yaml:"concurrency,omitempty"`
	RequestTimeout Duration `json:"request_timeout,omitempty" yaml:"request_timeout,omitempty"`
	// Calendar names the working calendar the body's legal terms are counted by; DefaultCalendar
	// (the national calendar) unless the registry says otherwise.
	Calendar  string `json:"calendar,omitempty" yaml:"calendar,omitempty"`
	ITContact string `json:"it_contact,omitempty" yaml:"it_contact,omitempty"`
	// Status is active, suspended or closed; Successor is the body that took over a closed one.
	Status    string `json:"status" yaml:"status,omitempty"`
	Successor string `json:"successor,omitempty" yaml:"successor,omitempty"`
	// EffectiveFrom is when the current entry took effect.
	EffectiveFrom time.Time `json:"effective_from" yaml:"-"`
	UpdatedAt     time.Time `json:"updated_at" yaml:"-"`
	// Version counts the entry's changes (1 when it is created); a change may name the version it
	// was made against and is refused if the entry has moved on (ErrVersionConflict).
	Version int64 `json:"version" yaml:"-"`
	// Pending lists the changes scheduled for later, soonest first (filled when one entry is read).
	Pending []PendingAuthorityChange `json:"pending,omitempty" yaml:"-"`
}

// ETag returns the entity tag of the entry's version: "v<version>", quoted.
func (a Authority) ETag() string { return fmt.Sprintf(`"v%d"`, a.Version) }

// PendingAuthorityChange is a change of an authority scheduled for a later effective time. It is
// applied once, when its time comes, to the entry as it then stands (and validated again then).
type PendingAuthorityChange struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
	// Action is ActionUpdate, ActionSuspend, ActionResume or ActionClose.
	Action string `json:"action"`
	// Patch holds the fields an update changes (its token is never shown: SetsToken says whether
	// it changes the token); Successor the successor a close names.
	Patch       *AuthorityPatch `json:"patch,omitempty"`
	SetsToken   bool            `json:"sets_token,omitempty"`
	Successor   string          `json:"successor,omitempty"`
	EffectiveAt time.Time       `json:"effective_at"`
	CreatedAt   time.Time       `json:"created_at"`
	CreatedBy   string          `json:"created_by"`
	Reason      string          `json:"reason,omitempty"`
}

// Shown returns p as it may be shown and recorded: without the token its patch sets (SetsToken
// then says that it sets one).
func (p PendingAuthorityChange) Shown() PendingAuthorityChange {
	if p.Patch != nil && p.Patch.Token != nil {
		patch := *p.Patch
		patch.Token = nil
		p.Patch, p.SetsToken = &patch, true
	}
	return p
}

// AcceptsSubmissions reports whether the authority is active and receives some case kind.
func (a Authority) AcceptsSubmissions() bool {
	return a.Status == AuthorityActive && len(a.Accepts) > 0
}

// AuthorityChange is one entry of an authority's history: who changed what, when, why.
type AuthorityChange struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
	// Action is one of the Action… constants.
	Action    string    `json:"action"`
	ChangedAt time.Time `json:"changed_at"`
	// ChangedBy is the API client id, "cli:<user>" or "config".
	ChangedBy   string     `json:"changed_by"`
	EffectiveAt time.Time  `json:"effective_at"`
	Reason      string     `json:"reason,omitempty"`
	Before      *Authority `json:"before,omitempty"`
	After       *Authority `json:"after,omitempty"`
	// Pending is the scheduled change a schedule or cancel entry is about, or that an applied
	// change came from.
	Pending *PendingAuthorityChange `json:"pending,omitempty"`
	// IfVersion, when positive, makes the store refuse the change (ErrVersionConflict) unless the
	// entry is at this version when it is written. It is not recorded.
	IfVersion int64 `json:"-"`
}

// AuthorityFilter selects registry entries. Zero fields do not filter.
type AuthorityFilter struct {
	// Query matches the name or short name: every word of it, case-insensitively, as part of a word.
	Query string
	// Territory matches this KATOTTG code and every code under it (see router/registry.TerritoryPrefix).
	Territory string
	// TerritoryPrefix is the prefix Territory stands for (set by the registry, used by the store).
	TerritoryPrefix string
	Kind            string
	// Topic matches authorities competent for it (listing it, or AnyTopic).
	Topic  string
	Status string
	Parent string
	// Directory keeps only active authorities that accept some case kind and are described in the
	// registry (entries seeded from the configuration without a kind are not listed).
	Directory bool
	// Offset and Limit page the result (ordered by name, then code); Limit 0 means no limit.
	Offset int
	Limit  int
	// CountLimit, when positive, stops counting the matches there: Total is then at most
	// CountLimit and TotalIsLowerBound says whether there are more. Broad searches stay cheap.
	CountLimit int
}

// AuthorityPage is one page of a listing.
type AuthorityPage struct {
	Items []Authority `json:"items"`
	Total int         `json:"total"`
	// TotalIsLowerBound: the count stopped at the filter's CountLimit; there are more matches.
	TotalIsLowerBound bool `json:"total_is_lower_bound,omitempty"`
}

// AuthorityPatch changes some fields of an entry: nil fields are left as they are. Imports use it
// too (a column or key the file does not have keeps the entry's value).
type AuthorityPatch struct {
	Subsystem       *string   `json:"subsystem,omitempty" yaml:"subsystem,omitempty"`
	Name            *string   `json:"name,omitempty" yaml:"name,omitempty"`
	ShortName       *string   `json:"short_name,omitempty" yaml:"short_name,omitempty"`
	Kind            *string   `json:"kind,omitempty" yaml:"kind,omitempty"`
	Parent          *string   `json:"parent,omitempty" yaml:"parent,omitempty"`
	Territory       *string   `json:"territory,omitempty" yaml:"territory,omitempty"`
	Topics          *[]string `json:"topics,omitempty" yaml:"topics,omitempty"`
	Accepts         *[]string `json:"accepts,omitempty" yaml:"accepts,omitempty"`
	Adapter         *string   `json:"adapter,omitempty" yaml:"adapter,omitempty"`
	Mode            *string   `json:"mode,omitempty" yaml:"mode,omitempty"`
	Endpoint        *string   `json:"endpoint,omitempty" yaml:"endpoint,omitempty"`
	Token           *string   `json:"token,omitempty" yaml:"token,omitempty"`
	TLSClient       *string   `json:"tls_client,omitempty" yaml:"tls_client,omitempty"`
	MaxMessageBytes *int64    `json:"max_message_bytes,omitempty" yaml:"max_message_bytes,omitempty"`
	// Concurrency 0 and RequestTimeout "" (or "0s") return to the hub's defaults.
	Concurrency    *int      `json:"concurrency,omitempty" yaml:"concurrency,omitempty"`
	RequestTimeout *Duration `json:"request_timeout,omitempty" yaml:"request_timeout,omitempty"`
	Calendar       *string   `json:"calendar,omitempty" yaml:"calendar,omitempty"`
	ITContact      *string   `json:"it_contact,omitempty" yaml:"it_contact,omitempty"`
	// Status and Successor are set by imports only; the API and the CLI use suspend, resume, close.
	Status    *string `json:"status,omitempty" yaml:"status,omitempty"`
	Successor *string `json:"successor,omitempty" yaml:"successor,omitempty"`
}

// Apply returns a with the patch's fields set.
func (p AuthorityPatch) Apply(a Authority) Authority {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.Subsystem, p.Subsystem)
	set(&a.Name, p.Name)
	set(&a.ShortName, p.ShortName)
	set(&a.Kind, p.Kind)
	set(&a.Parent, p.Parent)
	set(&a.Territory, p.Territory)
	set(&a.Adapter, p.Adapter)
	set(&a.Mode, p.Mode)
	set(&a.Endpoint, p.Endpoint)
	set(&a.Token, p.Token)
	set(&a.TLSClient, p.TLSClient)
	set(&a.Calendar, p.Calendar)
	set(&a.ITContact, p.ITContact)
	set(&a.Status, p.Status)
	set(&a.Successor, p.Successor)
	if p.Topics != nil {
		a.Topics = append([]string{}, (*p.Topics)...)
	}
	if p.Accepts != nil {
		a.Accepts = append([]string{}, (*p.Accepts)...)
	}
	if p.MaxMessageBytes != nil {
		a.MaxMessageBytes = *p.MaxMessageBytes
	}
	if p.Concurrency != nil {
		a.Concurrency = *p.Concurrency
	}
	if p.RequestTimeout != nil {
		a.RequestTimeout = *p.RequestTimeout
	}
	return a
}

// AuthorityChangeMeta says who makes a change, when it takes effect (zero: now) and why. A change
// of an existing entry (update, suspend, resume, close) whose EffectiveAt is later than now is
// scheduled rather than applied.
type AuthorityChangeMeta struct {
	// By is the API client id, "cli:<user>" or "config".
	By          string
	Reason      string
	EffectiveAt time.Time
	// IfVersion, when positive, is the version the change was made against (If-Match): the change
	// is refused with ErrVersionConflict if the entry is at another one.
	IfVersion int64
}
