package recipient

import (
	"strings"
)

// territoryLevels are the digits after "UA" at the end of each KATOTTG level: region, district,
// community, settlement, city district, unique code.
var territoryLevels = []int{2, 4, 7, 10, 12, 17}

// National is the level of a central body: it covers the whole country.
const National = 0

// LevelName names a territory level by its number of significant digits.
func LevelName(digits int) string {
	switch digits {
	case National:
		return "national"
	case 2:
		return "region"
	case 4:
		return "district"
	case 7:
		return "community"
	case 10:
		return "settlement"
	case 12:
		return "city district"
	default:
		return "exact code"
	}
}

// TerritoryPrefix returns the prefix shared by a KATOTTG code and every code under it, exactly as
// router/registry.TerritoryPrefix does (a test in package router keeps the two the same): the code
// with its trailing zeros trimmed, extended to the end of its level, never shorter than the region.
// It returns "" when code is not "UA" and 17 digits.
func TerritoryPrefix(code string) string {
	if !katottg(code) {
		return ""
	}
	n := len(strings.TrimRight(code[2:], "0"))
	for _, l := range territoryLevels {
		if n <= l {
			n = l
			break
		}
	}
	return code[:2+n]
}

func katottg(code string) bool {
	if len(code) != 19 || code[:2] != "UA" {
		return false
	}
	for _, c := range code[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// level is one territory that covers a submission's territory: its code and the number of
// significant digits of its prefix.
type level struct {
	code   string
	digits int
}

// covering returns the territory codes whose prefix the code lies under, deepest first: the only
// territories an authority may have to cover it (besides a central body's). It is empty when code
// is not KATOTTG-shaped.
func covering(code string) []level {
	if !katottg(code) {
		return nil
	}
	var out []level
	for i := len(territoryLevels) - 1; i >= 0; i-- {
		l := territoryLevels[i]
		c := code[:2+l] + strings.Repeat("0", 17-l)
		d := len(TerritoryPrefix(c)) - 2
		if len(out) == 0 || out[len(out)-1].code != c {
			out = append(out, level{code: c, digits: d})
		}
	}
	return out
}

// coverDigits returns the level at which territory (an authority's) covers code (a submission's):
// the number of significant digits of its prefix, and false when it does not cover it.
func coverDigits(territory, code string) (int, bool) {
	p := TerritoryPrefix(territory)
	if p == "" || !strings.HasPrefix(code, p) {
		return 0, false
	}
	return len(p) - 2, true
}
