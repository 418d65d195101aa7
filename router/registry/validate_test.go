package registry_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/router/registry"
	"appealhub/schemas"
)

// fixturePath is the project copy of ../shared/fixtures/authorities.csv.
func fixturePath(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..", "internal", "demo", "data", "authorities.csv")
}

// checkDigit is the test's own reading of the EDRPOU algorithm (../shared/fixtures/README.md),
// written independently of the package's.
func checkDigit(first7 string, n int) int {
	w := [7]int{1, 2, 3, 4, 5, 6, 7}
	if n >= 30000000 && n <= 60000000 {
		w = [7]int{7, 1, 2, 3, 4, 5, 6}
	}
	for round := 0; round < 2; round++ {
		s := 0
		for i := 0; i < 7; i++ {
			s += int(first7[i]-'0') * (w[i] + 2*round)
		}
		if r := s % 11; r != 10 {
			return r
		}
	}
	return 0
}

// validCode completes seven digits with their check digit: the digit that agrees with the weights
// the whole code selects (at the 60000000 bound only one does).
func validCode(first7 string) string {
	for d := 0; d <= 9; d++ {
		var n int
		_, _ = fmt.Sscanf(first7+fmt.Sprint(d), "%d", &n)
		if checkDigit(first7, n) == d {
			return first7 + fmt.Sprint(d)
		}
	}
	panic("no check digit for " + first7)
}

func TestCheckDigitAgreesWithEveryFixtureCode(t *testing.T) {
	t.Parallel()
	f, err := os.Open(fixturePath(t))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Greater(t, len(recs), 50)
	for _, rec := range recs[1:] {
		code := rec[0]
		require.NoError(t, registry.CheckEDRPOU(code), code)
		require.Equal(t, validCode(code[:7]), code, "the test's own algorithm agrees on %s", code)
		require.Equal(t, int(code[7]-'0'), registry.CheckDigit(code))
	}
}

func TestCheckEDRPOU(t *testing.T) {
	t.Parallel()
	// Codes on both weight schemes, on both sides of the range bounds, and ones whose first
	// remainder is 10 (the +2 round) and whose second is 10 too (digit 0).
	var firstTen, secondTen string
	for i := 1000000; i < 2000000 && (firstTen == "" || secondTen == ""); i++ {
		p := fmt.Sprintf("%07d", i)
		s1, s2 := 0, 0
		for j := 0; j < 7; j++ {
			s1 += int(p[j]-'0') * (j + 1)
			s2 += int(p[j]-'0') * (j + 3)
		}
		if s1%11 == 10 && s2%11 != 10 && firstTen == "" {
			firstTen = p
		}
		if s1%11 == 10 && s2%11 == 10 && secondTen == "" {
			secondTen = p
		}
	}
	require.NotEmpty(t, firstTen)
	require.NotEmpty(t, secondTen)
	prefixes := []string{"0000043", "1986393", "2999999", "3000000", "3094071", "4203768", "5999999", "6000000",
		"6000001", "9999999", firstTen, secondTen}
	for _, p := range prefixes {
		code := validCode(p)
		require.NoError(t, registry.CheckEDRPOU(code), code)
		for d := 0; d <= 9; d++ {
			wrong := p + fmt.Sprint(d)
			if wrong == code {
				continue
			}
			require.ErrorContains(t, registry.CheckEDRPOU(wrong), "check digit", wrong)
		}
	}
	require.Equal(t, byte('0'), validCode(secondTen)[7], "a second remainder of 10 gives 0")
	for _, bad := range []string{"", "1234567", "123456789", "1234567a", "１２３４５６７８", " 0000043"} {
		require.ErrorContains(t, registry.CheckEDRPOU(bad), "8 digits", bad)
	}
}

func TestTerritoryPrefix(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"UA05000000000000000": "UA05",
		"UA80000000000000000": "UA80",
		"UA10000000000000000": "UA10",
		"UA05020000000000000": "UA0502",
		"UA05100000000000000": "UA0510",
		"UA05020030000000000": "UA0502003",
		"UA05020030010000000": "UA0502003001",
		"UA05628871271542183": "UA05628871271542183",
		"UA00000000000000000": "UA00",
	} {
		got, err := registry.TerritoryPrefix(code)
		require.NoError(t, err, code)
		require.Equal(t, want, got, code)
	}
	for _, bad := range []string{"", "UA0500000000000000", "ua05000000000000000", "UA0500000000000000X", "05000000000000000UA"} {
		_, err := registry.TerritoryPrefix(bad)
		require.Error(t, err, bad)
	}
}

func goodAuthority() schemas.Authority {
	return schemas.Authority{Code: validCode("1986393"), Name: "Міністерство цифрової трансформації України",
		ShortName: "Мінцифри", Kind: schemas.AuthorityKindCentral, Parent: validCode("0000043"),
		Territory: "UA80000000000000000", Topics: []string{"digital", "e_services"},
		Accepts: []string{"appeal", "info_request"}, Adapter: "sev1207", Mode: "push", Status: "active",
		Endpoint: "https://sev.example/inbox", MaxMessageBytes: 1 << 20, ITContact: "it@example.gov.ua",
		Subsystem: "sed.main-1", Calendar: "UA", Concurrency: 4, RequestTimeout: schemas.Duration(45 * time.Second)}
}

func TestValidatorRules(t *testing.T) {
	t.Parallel()
	v := registry.Validator{Adapters: []string{"json", "sev1207"}}
	require.Empty(t, v.Check(goodAuthority()))
	anyTopic := goodAuthority()
	anyTopic.Topics = []string{"*"}
	require.Empty(t, v.Check(anyTopic))
	closed := goodAuthority()
	closed.Status, closed.Successor = "closed", validCode("4203768")
	require.Empty(t, v.Check(closed))
	minimal := goodAuthority()
	minimal.Parent, minimal.ShortName, minimal.Endpoint, minimal.ITContact, minimal.Topics, minimal.Accepts = "", "", "", "", nil, nil
	minimal.Mode = "pull"
	minimal.Subsystem, minimal.Calendar, minimal.Concurrency, minimal.RequestTimeout = "", "", 0, 0
	require.Empty(t, v.Check(minimal), "no subsystem, the default calendar, the hub's delivery defaults")
	bounds := goodAuthority()
	bounds.Concurrency, bounds.RequestTimeout = registry.MaxConcurrency, schemas.Duration(registry.MaxRequestTimeout)
	bounds.Subsystem, bounds.Calendar = strings.Repeat("a", 64), "UA-KYIV.2027_x"
	require.Empty(t, v.Check(bounds))
	bounds.Concurrency, bounds.RequestTimeout = 1, schemas.Duration(registry.MinRequestTimeout)
	require.Empty(t, v.Check(bounds))

	cases := []struct {
		name    string
		mutate  func(a *schemas.Authority)
		pointer string
		message string
	}{
		{"code shape", func(a *schemas.Authority) { a.Code = "1234" }, "/code", "8 digits"},
		{"code check digit", func(a *schemas.Authority) { a.Code = a.Code[:7] + fmt.Sprint((int(a.Code[7]-'0')+1)%10) }, "/code", "check digit"},
		{"name required", func(a *schemas.Authority) { a.Name = " " }, "/name", "required"},
		{"name too long", func(a *schemas.Authority) { a.Name = strings.Repeat("я", registry.MaxNameLen+1) }, "/name", "at most"},
		{"name control", func(a *schemas.Authority) { a.Name = "a\nb" }, "/name", "control"},
		{"name spaces", func(a *schemas.Authority) { a.Name = " Мінцифри" }, "/name", "spaces"},
		{"short name too long", func(a *schemas.Authority) { a.ShortName = strings.Repeat("я", registry.MaxShortNameLen+1) }, "/short_name", "at most"},
		{"kind unknown", func(a *schemas.Authority) { a.Kind = "ministry" }, "/kind", "one of"},
		{"kind empty", func(a *schemas.Authority) { a.Kind = "" }, "/kind", "one of"},
		{"parent check digit", func(a *schemas.Authority) { a.Parent = "00000430" }, "/parent", "check digit"},
		{"parent self", func(a *schemas.Authority) { a.Parent = a.Code }, "/parent", "own parent"},
		{"territory shape", func(a *schemas.Authority) { a.Territory = "UA8000000000000000" }, "/territory", "KATOTTG"},
		{"territory empty", func(a *schemas.Authority) { a.Territory = "" }, "/territory", "KATOTTG"},
		{"topic upper", func(a *schemas.Authority) { a.Topics = []string{"Digital"} }, "/topics/0", "lowercase"},
		{"topic spaces", func(a *schemas.Authority) { a.Topics = []string{"e services"} }, "/topics/0", "lowercase"},
		{"topic cyrillic", func(a *schemas.Authority) { a.Topics = []string{"освіта"} }, "/topics/0", "lowercase"},
		{"topic twice", func(a *schemas.Authority) { a.Topics = []string{"digital", "digital"} }, "/topics/1", "twice"},
		{"any topic with others", func(a *schemas.Authority) { a.Topics = []string{"*", "digital"} }, "/topics/0", "only topic"},
		{"accepts unknown", func(a *schemas.Authority) { a.Accepts = []string{"appeal", "complaint"} }, "/accepts/1", "one of"},
		{"accepts twice", func(a *schemas.Authority) { a.Accepts = []string{"appeal", "appeal"} }, "/accepts/1", "twice"},
		{"adapter unregistered", func(a *schemas.Authority) { a.Adapter = "smtp" }, "/adapter", "not a registered adapter"},
		{"mode", func(a *schemas.Authority) { a.Mode = "poll" }, "/mode", "push or pull"},
		{"endpoint", func(a *schemas.Authority) { a.Endpoint = "ftp://x" }, "/endpoint", "http"},
		{"endpoint relative", func(a *schemas.Authority) { a.Endpoint = "/inbox" }, "/endpoint", "http"},
		{"max message bytes", func(a *schemas.Authority) { a.MaxMessageBytes = -1 }, "/max_message_bytes", "negative"},
		{"status", func(a *schemas.Authority) { a.Status = "deleted" }, "/status", "active, suspended or closed"},
		{"successor while active", func(a *schemas.Authority) { a.Successor = validCode("4203768") }, "/successor", "only a closed"},
		{"successor self", func(a *schemas.Authority) { a.Status, a.Successor = "closed", a.Code }, "/successor", "succeed itself"},
		{"successor check digit", func(a *schemas.Authority) { a.Status, a.Successor = "closed", "42037680" }, "/successor", "check digit"},
		{"subsystem too long", func(a *schemas.Authority) { a.Subsystem = strings.Repeat("a", 65) }, "/subsystem", "1 to 64"},
		{"subsystem spaces", func(a *schemas.Authority) { a.Subsystem = "sed main" }, "/subsystem", "1 to 64"},
		{"subsystem slash", func(a *schemas.Authority) { a.Subsystem = "../x" }, "/subsystem", "1 to 64"},
		{"subsystem cyrillic", func(a *schemas.Authority) { a.Subsystem = "сед" }, "/subsystem", "1 to 64"},
		{"calendar too long", func(a *schemas.Authority) { a.Calendar = strings.Repeat("U", 33) }, "/calendar", "1 to 32"},
		{"calendar shape", func(a *schemas.Authority) { a.Calendar = "UA;DROP" }, "/calendar", "working calendar"},
		{"concurrency negative", func(a *schemas.Authority) { a.Concurrency = -1 }, "/concurrency", "from 1 to 256"},
		{"concurrency too high", func(a *schemas.Authority) { a.Concurrency = registry.MaxConcurrency + 1 }, "/concurrency", "from 1 to 256"},
		{"timeout too short", func(a *schemas.Authority) { a.RequestTimeout = schemas.Duration(99 * time.Millisecond) }, "/request_timeout", "from 100ms to 10m0s"},
		{"timeout too long", func(a *schemas.Authority) { a.RequestTimeout = schemas.Duration(10*time.Minute + time.Millisecond) }, "/request_timeout", "from 100ms"},
		{"timeout negative", func(a *schemas.Authority) { a.RequestTimeout = -schemas.Duration(time.Second) }, "/request_timeout", "from 100ms"},
		{"timeout sub-millisecond", func(a *schemas.Authority) { a.RequestTimeout = schemas.Duration(150500 * time.Microsecond) }, "/request_timeout", "whole number of milliseconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := goodAuthority()
			tc.mutate(&a)
			ps := v.Check(a)
			require.Len(t, ps, 1, "%v", ps)
			require.Equal(t, tc.pointer, ps[0].Pointer)
			require.Contains(t, ps[0].Message, tc.message)
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		t.Parallel()
		a := schemas.Authority{Code: "12345670", Kind: "x", Territory: "UA1", Topics: []string{"A"},
			Accepts: []string{"x"}, Adapter: "none", Mode: "x", Status: "x"}
		var pointers []string
		for _, p := range v.Check(a) {
			pointers = append(pointers, p.Pointer)
		}
		require.ElementsMatch(t, []string{"/code", "/name", "/kind", "/territory", "/topics/0", "/accepts/0",
			"/adapter", "/mode", "/status"}, pointers)
	})
}
