package sev1207

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	_ "time/tzdata" // DefaultLocation must load on machines without a zoneinfo database

	"appealhub/adapters"
)

const (
	// Name is the adapter's stable registry name.
	Name = "sev1207"
	// MediaType is the Content-Type of encoded messages.
	MediaType = "application/xml"

	// Standard and Version are the values of the Header's standart and version attributes: the
	// only format this package reads or writes.
	Standard = "1207"
	Version  = "1.5"

	// DefaultMaxMessageBytes is the default of Config.MaxMessageBytes: 25 MiB.
	DefaultMaxMessageBytes int64 = 25 << 20
	// DefaultMaxDepth is the default of Config.MaxDepth.
	DefaultMaxDepth = 64
	// DefaultHubName is the default of Config.HubName.
	DefaultHubName = "Appeal Hub"
	// DefaultHubSystem is the default of Config.HubSystem.
	DefaultHubSystem = "appealhub"
	// DefaultLocation is the name of the default of Config.Location: registration dates (xs:date)
	// are calendar dates in Ukraine.
	DefaultLocation = "Europe/Kyiv"

	// ExpansionOrganization and ExpansionVersion identify the hub's own part of Expansion (the
	// Appeal element), as its organization and exp_ver attributes.
	ExpansionOrganization = "appealhub"
	ExpansionVersion      = "1"
)

// The errors below are wrapped by every decoding error, so callers can branch with errors.Is.
var (
	// ErrNotSEV1207 means the body is XML but not a SEV OVV 1207 v1.5 message: another root
	// element, a namespace, or another standart or version.
	ErrNotSEV1207 = errors.New("not a SEV OVV 1207 v1.5 message")
	// ErrDTD means the body holds a document type or entity declaration, which is never accepted.
	ErrDTD = errors.New("DTD or entity declaration not allowed")
	// ErrTooDeep means elements nest deeper than Config.MaxDepth.
	ErrTooDeep = errors.New("elements nested too deep")
	// ErrTooLarge means the body (or an encoded message) is larger than Config.MaxMessageBytes.
	ErrTooLarge = errors.New("message too large")
	// ErrEncoding means the body declares a character encoding other than UTF-8 or windows-1251,
	// or contradicts itself (a UTF-8 byte-order mark with another declared encoding).
	ErrEncoding = errors.New("unsupported character encoding")
	// ErrMalformed means the body is not well-formed XML, or a 1207 message that lacks or garbles
	// what the hub needs (an attribute, a date, base64 content).
	ErrMalformed = errors.New("malformed message")
	// ErrUnsupported means a well-formed 1207 message that the hub does not apply: a document
	// that refers to no document of the hub's, or an acknowledgement type it does not know.
	ErrUnsupported = errors.New("message not supported by the hub")
)

// Recipient is what the hub knows of an authority's document system for the Header's to_*
// attributes and the Addressee.
type Recipient struct {
	// Name is the authority's full name (to_organization, Addressee/Organization@fullname).
	Name string
	// SystemID is the SEV id of its document system (to_sys_id).
	SystemID string
	// System is the name of its document system (to_system).
	System string
}

// Config configures an Adapter. The zero value of every field means its default.
type Config struct {
	// HubCode is the hub operator's EDRPOU code (from_org_id). Required.
	HubCode string
	// HubSystemID is the hub's SEV system id (from_sys_id). Required.
	HubSystemID string
	// HubName is the hub operator's name (from_organization). Defaults to DefaultHubName.
	HubName string
	// HubSystem is the hub's system name (from_system). Defaults to DefaultHubSystem.
	HubSystem string
	// MaxMessageBytes bounds every message read and written. Defaults to DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// MaxDepth bounds the nesting of elements in a message read (the root is depth 1). Defaults
	// to DefaultMaxDepth.
	MaxDepth int
	// Location is where registration dates (xs:date, which has no zone) are calendar dates.
	// Defaults to DefaultLocation.
	Location *time.Location
	// RecipientFunc, when set, returns what the hub knows of the authority with the given code.
	// It must be pure and fast (Encode calls it). Fields it leaves empty, or all of them when it is
	// nil, fall back to the authority's code for Name and SystemID and to "" for System.
	RecipientFunc func(code string) Recipient
}

// orgCode is an EDRPOU code, or a longer SEV organisation id: digits only (Organization@ogrn is an
// xs:integer).
var orgCode = regexp.MustCompile(`^[0-9]{8,10}$`)

// WithDefaults returns a copy of c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.HubName == "" {
		c.HubName = DefaultHubName
	}
	if c.HubSystem == "" {
		c.HubSystem = DefaultHubSystem
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.Location == nil {
		loc, err := time.LoadLocation(DefaultLocation)
		if err != nil { // cannot happen: time/tzdata is embedded
			loc = time.UTC
		}
		c.Location = loc
	}
	return c
}

// Validate reports every problem of c (after WithDefaults), each with its field name. Encode fails
// with the same problems (permanently) while they last; wiring should call Validate at startup.
func (c Config) Validate() error {
	var errs []error
	if !orgCode.MatchString(c.HubCode) {
		errs = append(errs, errors.New("sev1207.hub_code: must be 8 to 10 digits (EDRPOU)"))
	}
	if c.HubSystemID == "" {
		errs = append(errs, errors.New("sev1207.hub_system_id: must be set"))
	}
	for _, f := range []struct{ name, value string }{
		{"hub_system_id", c.HubSystemID}, {"hub_name", c.HubName}, {"hub_system", c.HubSystem},
	} {
		if err := xmlText(f.value); err != nil {
			errs = append(errs, fmt.Errorf("sev1207.%s: %w", f.name, err))
		}
	}
	if c.MaxDepth < 4 {
		errs = append(errs, fmt.Errorf("sev1207.max_depth: %d is below 4, too shallow for any 1207 message", c.MaxDepth))
	}
	return errors.Join(errs...)
}

// Adapter speaks SEV OVV 1207 v1.5. It holds only its configuration, so one value is safe for
// concurrent use by any number of goroutines; every method is pure and never blocks.
type Adapter struct {
	cfg    Config
	cfgErr error
}

var (
	_ adapters.Adapter        = (*Adapter)(nil)
	_ adapters.MessageDecoder = (*Adapter)(nil)
)

// New returns an adapter for cfg (unset fields at their defaults). It registers nothing: the
// wiring adds it to a registry.
func New(cfg Config) *Adapter {
	cfg = cfg.WithDefaults()
	return &Adapter{cfg: cfg, cfgErr: cfg.Validate()}
}

// Name returns "sev1207".
func (*Adapter) Name() string { return Name }

// MediaType returns "application/xml".
func (*Adapter) MediaType() string { return MediaType }

// Config returns the adapter's configuration, defaults filled in.
func (a *Adapter) Config() Config { return a.cfg }

func (a *Adapter) recipient(code string) Recipient {
	var r Recipient
	if a.cfg.RecipientFunc != nil {
		r = a.cfg.RecipientFunc(code)
	}
	if r.Name == "" {
		r.Name = code
	}
	if r.SystemID == "" {
		r.SystemID = code
	}
	return r
}
