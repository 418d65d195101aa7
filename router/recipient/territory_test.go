package recipient

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTerritoryPrefix(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"UA05000000000000000": "UA05",
		"UA80000000000000000": "UA80",
		"UA05020000000000000": "UA0502",
		"UA05100000000000000": "UA0510",
		"UA05020030000000000": "UA0502003",
		"UA05020030010000000": "UA0502003001",
		"UA05628871271542183": "UA05628871271542183",
		"UA00000000000000000": "UA00",
		"":                    "",
		"UA0500000000000000":  "",
		"ua05000000000000000": "",
		"UA0500000000000000X": "",
	} {
		require.Equal(t, want, TerritoryPrefix(code), code)
	}
}

func TestCoveringListsEveryLevelDeepestFirst(t *testing.T) {
	t.Parallel()
	require.Equal(t, []level{
		{"UA05628871271542183", 17}, {"UA05628871271500000", 12}, {"UA05628871270000000", 10},
		{"UA05628870000000000", 7}, {"UA05620000000000000", 4}, {"UA05000000000000000", 2},
	}, covering("UA05628871271542183"))
	require.Equal(t, []level{{"UA05020030000000000", 7}, {"UA05020000000000000", 4}, {"UA05000000000000000", 2}},
		covering("UA05020030000000000"))
	require.Equal(t, []level{{"UA05000000000000000", 2}}, covering("UA05000000000000000"))
	require.Empty(t, covering("UA05"))
}

// TestCoveringAgreesWithCoverDigits: the store returns the authorities whose territory is one of
// covering(code); the resolver ranks them with coverDigits. Both must describe the same relation, or
// a competent body would be missed or a foreign one chosen.
func TestCoveringAgreesWithCoverDigits(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 5))
	// Codes sharing prefixes, with zeros at level boundaries, so that both relations are exercised.
	code := func() string {
		var b strings.Builder
		b.WriteString("UA")
		digits := []byte("0105")
		for b.Len() < 19 {
			b.WriteByte(digits[rng.IntN(len(digits))])
		}
		s := b.String()
		cut := 2 + rng.IntN(18)
		return s[:cut] + strings.Repeat("0", 19-cut)
	}
	codes := make([]string, 400)
	for i := range codes {
		codes[i] = code()
	}
	covers := 0
	for _, sub := range codes {
		var territories []string
		for _, l := range covering(sub) {
			territories = append(territories, l.code)
			d, ok := coverDigits(l.code, sub)
			require.True(t, ok, "%s covers %s", l.code, sub)
			require.Equal(t, l.digits, d)
		}
		for _, auth := range codes {
			_, ok := coverDigits(auth, sub)
			require.Equal(t, ok, slices.Contains(territories, auth), "authority %s, submission %s", auth, sub)
			if ok {
				covers++
			}
		}
	}
	require.Greater(t, covers, len(codes), "the sample exercises covering beyond a code covering itself")
}
