package registry

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"appealhub/schemas"
)

// Limits of the registry's text fields (characters).
const (
	MaxNameLen      = 500
	MaxShortNameLen = 200
	MaxContactLen   = 300
	MaxEndpointLen  = 2000
)

// Bounds of an authority's own delivery settings (zero in either means the hub's default).
const (
	MaxConcurrency    = 256
	MinRequestTimeout = 100 * time.Millisecond
	MaxRequestTimeout = 10 * time.Minute
)

var (
	edrpouShape    = regexp.MustCompile(`^[0-9]{8}$`)
	katottgShape   = regexp.MustCompile(`^UA[0-9]{17}$`)
	topicShape     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	subsystemShape = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	calendarShape  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
	acceptedKinds  = []string{string(schemas.CaseAppeal), string(schemas.CaseInfoRequest)}
	knownStatuses  = []string{schemas.AuthorityActive, schemas.AuthoritySuspended, schemas.AuthorityClosed}
	knownModes     = []string{schemas.AuthorityModePush, schemas.AuthorityModePull}
	territoryLevel = []int{2, 4, 7, 10, 12, 17} // digits after "UA" at the end of each KATOTTG level
)

// CheckDigit returns the EDRPOU check digit of the first seven digits of code (which must hold at
// least seven ASCII digits): weights 1..7 (7,1,2,3,4,5,6 when the code lies between 30000000 and
// 60000000), the sum mod 11; a remainder of 10 is recomputed with every weight plus 2, and a second
// 10 gives 0.
func CheckDigit(code string) int {
	weights := []int{1, 2, 3, 4, 5, 6, 7}
	n := 0
	for i := range 8 {
		d := 0
		if i < len(code) {
			d = int(code[i] - '0')
		}
		n = n*10 + d
	}
	if n >= 30000000 && n <= 60000000 {
		weights = []int{7, 1, 2, 3, 4, 5, 6}
	}
	sum := func(add int) int {
		s := 0
		for i, w := range weights {
			s += int(code[i]-'0') * (w + add)
		}
		return s % 11
	}
	r := sum(0)
	if r == 10 {
		r = sum(2)
		if r == 10 {
			r = 0
		}
	}
	return r
}

// CheckEDRPOU returns nil when code is 8 digits with a correct check digit.
func CheckEDRPOU(code string) error {
	if !edrpouShape.MatchString(code) {
		return fmt.Errorf("must be 8 digits")
	}
	if want := CheckDigit(code); int(code[7]-'0') != want {
		return fmt.Errorf("wrong check digit: %d, expected %d", code[7]-'0', want)
	}
	return nil
}

// CheckKATOTTG returns nil when code has the KATOTTG shape: "UA" and 17 digits.
func CheckKATOTTG(code string) error {
	if !katottgShape.MatchString(code) {
		return fmt.Errorf("must be a KATOTTG code: UA and 17 digits")
	}
	return nil
}

// TerritoryPrefix returns the prefix shared by a KATOTTG code and every code under it: the code
// with its trailing zeros trimmed, then extended (with the zeros it had) to the end of its level
// (2 digits region, 2 district, 3 community, 3 settlement, 2 city district, 5 unique), and never
// shorter than the region. So UA05000000000000000 (Vinnytsia oblast) covers every UA05…,
// UA80000000000000000 (Kyiv) covers UA80… but not UA85…, and a full code covers only itself.
func TerritoryPrefix(code string) (string, error) {
	if err := CheckKATOTTG(code); err != nil {
		return "", err
	}
	digits := strings.TrimRight(code[2:], "0")
	n := len(digits)
	for _, l := range territoryLevel {
		if n <= l {
			n = l
			break
		}
	}
	return code[:2+n], nil
}

// Validator checks registry entries against the rules that need no store.
type Validator struct {
	// Adapters are the registered adapter names.
	Adapters []string
}

// Check returns every problem of a, each with the JSON pointer of its field ("" when none).
func (v Validator) Check(a schemas.Authority) []schemas.FieldProblem {
	var ps []schemas.FieldProblem
	bad := func(field, format string, args ...any) {
		ps = append(ps, schemas.FieldProblem{Pointer: "/" + field, Message: fmt.Sprintf(format, args...)})
	}
	if err := CheckEDRPOU(a.Code); err != nil {
		bad("code", "%v", err)
	}
	text := func(field, s string, required bool, limit int) {
		switch {
		case required && strings.TrimSpace(s) == "":
			bad(field, "is required")
		case !utf8.ValidString(s):
			bad(field, "must be UTF-8")
		case utf8.RuneCountInString(s) > limit:
			bad(field, "must be at most %d characters", limit)
		case strings.ContainsFunc(s, unicode.IsControl):
			bad(field, "must not contain control characters")
		case s != strings.TrimSpace(s):
			bad(field, "must not start or end with spaces")
		}
	}
	text("name", a.Name, true, MaxNameLen)
	text("short_name", a.ShortName, false, MaxShortNameLen)
	text("it_contact", a.ITContact, false, MaxContactLen)
	if !slices.Contains(schemas.AuthorityKinds(), a.Kind) {
		bad("kind", "must be one of %s", strings.Join(schemas.AuthorityKinds(), ", "))
	}
	if a.Parent != "" {
		if err := CheckEDRPOU(a.Parent); err != nil {
			bad("parent", "%v", err)
		} else if a.Parent == a.Code {
			bad("parent", "an authority cannot be its own parent")
		}
	}
	if err := CheckKATOTTG(a.Territory); err != nil {
		bad("territory", "%v", err)
	}
	for i, t := range a.Topics {
		switch {
		case t == schemas.AnyTopic && len(a.Topics) > 1:
			bad(fmt.Sprintf("topics/%d", i), "%q (any topic) must be the only topic", schemas.AnyTopic)
		case t != schemas.AnyTopic && !topicShape.MatchString(t):
			bad(fmt.Sprintf("topics/%d", i), "must be a lowercase word (a-z, digits, _) or %q", schemas.AnyTopic)
		case slices.Index(a.Topics, t) < i:
			bad(fmt.Sprintf("topics/%d", i), "%q is listed twice", t)
		}
	}
	for i, k := range a.Accepts {
		switch {
		case !slices.Contains(acceptedKinds, k):
			bad(fmt.Sprintf("accepts/%d", i), "must be one of %s", strings.Join(acceptedKinds, ", "))
		case slices.Index(a.Accepts, k) < i:
			bad(fmt.Sprintf("accepts/%d", i), "%q is listed twice", k)
		}
	}
	if !slices.Contains(v.Adapters, a.Adapter) {
		bad("adapter", "%q is not a registered adapter (registered: %s)", a.Adapter, strings.Join(v.Adapters, ", "))
	}
	if !slices.Contains(knownModes, a.Mode) {
		bad("mode", "must be push or pull")
	}
	if a.Endpoint != "" {
		u, err := url.Parse(a.Endpoint)
		switch {
		case len(a.Endpoint) > MaxEndpointLen:
			bad("endpoint", "must be at most %d characters", MaxEndpointLen)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("endpoint", "must be an absolute http or https URL")
		}
	}
	if a.MaxMessageBytes < 0 {
		bad("max_message_bytes", "must not be negative")
	}
	if a.Subsystem != "" && !subsystemShape.MatchString(a.Subsystem) {
		bad("subsystem", "must be 1 to 64 of A-Z a-z 0-9 . _ -")
	}
	if a.Calendar != "" && !calendarShape.MatchString(a.Calendar) {
		bad("calendar", "must be 1 to 32 of A-Z a-z 0-9 . _ - (the name of a working calendar)")
	}
	if a.Concurrency != 0 && (a.Concurrency < 1 || a.Concurrency > MaxConcurrency) {
		bad("concurrency", "must be from 1 to %d (0: the hub's default)", MaxConcurrency)
	}
	switch d := time.Duration(a.RequestTimeout); {
	case d == 0:
	case d < MinRequestTimeout || d > MaxRequestTimeout:
		bad("request_timeout", "must be from %s to %s (empty: the hub's default)", MinRequestTimeout, MaxRequestTimeout)
	case d%time.Millisecond != 0:
		bad("request_timeout", "must be a whole number of milliseconds")
	}
	if !slices.Contains(knownStatuses, a.Status) {
		bad("status", "must be active, suspended or closed")
	}
	if a.Successor != "" {
		switch err := CheckEDRPOU(a.Successor); {
		case err != nil:
			bad("successor", "%v", err)
		case a.Successor == a.Code:
			bad("successor", "an authority cannot succeed itself")
		case a.Status != schemas.AuthorityClosed:
			bad("successor", "only a closed authority has a successor")
		}
	}
	return ps
}

// normalize fills the defaults of an entry: push mode, active status, the national calendar,
// empty lists.
func normalize(a schemas.Authority) schemas.Authority {
	if a.Calendar == "" {
		a.Calendar = schemas.DefaultCalendar
	}
	if a.Mode == "" {
		a.Mode = schemas.AuthorityModePush
	}
	if a.Status == "" {
		a.Status = schemas.AuthorityActive
	}
	if a.Topics == nil {
		a.Topics = []string{}
	}
	if a.Accepts == nil {
		a.Accepts = []string{}
	}
	return a
}
