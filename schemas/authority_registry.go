package schemas

import "time"

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
)

// Authority is one entry of the authority registry.
type Authority struct {
	// Code is the EDRPOU code: 8 digits, the last a check digit.
	Code      string `json:"code" yaml:"code"`
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
	MaxMessageBytes int64  `json:"max_message_bytes,omitempty" yaml:"max_message_bytes,omitempty"`
	ITContact       string `json:"it_contact,omitempty" yaml:"it_contact,omitempty"`
	// Status is active, suspended or closed; Successor is the body that took over a closed one.
	Status    string `json:"status" yaml:"status,omitempty"`
	Successor string `json:"successor,omitempty" yaml:"successor,omitempty"`
	// EffectiveFrom is when the current entry took effect.
	EffectiveFrom time.Time `json:"effective_from" yaml:"-"`
	UpdatedAt     time.Time `json:"updated_at" yaml:"-"`
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
	ITContact       *string   `json:"it_contact,omitempty" yaml:"it_contact,omitempty"`
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
	return a
}

// AuthorityChangeMeta says who makes a change, when it takes effect (zero: now) and why.
type AuthorityChangeMeta struct {
	// By is the API client id, "cli:<user>" or "config".
	By          string
	Reason      string
	EffectiveAt time.Time
}
