package recipient_test

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/router/recipient"
	"appealhub/schemas"
)

// fixture is the demo address space (internal/demo/data/authorities.csv, the shared fixture), as
// the store answers the resolver.
type fixture struct {
	all map[string]schemas.Authority
	err error
}

func loadFixture(t *testing.T) *fixture {
	t.Helper()
	f, err := os.Open("../../internal/demo/data/authorities.csv")
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"code", "name", "short", "kind", "parent", "territory", "topics", "accepts", "adapter"}, rows[0])
	fx := &fixture{all: map[string]schemas.Authority{}}
	for _, r := range rows[1:] {
		fx.all[r[0]] = schemas.Authority{Code: r[0], Name: r[1], ShortName: r[2], Kind: r[3], Parent: r[4], Territory: r[5],
			Topics: strings.Split(r[6], ";"), Accepts: strings.Split(r[7], ";"), Adapter: r[8], Status: schemas.AuthorityActive}
	}
	require.Greater(t, len(fx.all), 50)
	return fx
}

func (f *fixture) RoutingCandidates(_ context.Context, topic string, territories []string) ([]schemas.Authority, error) {
	var out []schemas.Authority
	for _, a := range f.all {
		if (slices.Contains(territories, a.Territory) || a.Kind == schemas.AuthorityKindCentral) &&
			(slices.Contains(a.Topics, topic) || slices.Contains(a.Topics, schemas.AnyTopic)) {
			out = append(out, a)
		}
	}
	return out, f.err
}

func (f *fixture) RoutingEntries(_ context.Context, codes []string) (map[string]schemas.Authority, error) {
	out := map[string]schemas.Authority{}
	for _, c := range codes {
		if a, ok := f.all[c]; ok {
			out[c] = a
		}
	}
	return out, f.err
}

func (f *fixture) set(code string, change func(a *schemas.Authority)) {
	a := f.all[code]
	change(&a)
	f.all[a.Code] = a
}

// Codes of the fixture used below.
const (
	kmu        = "00000431" // Кабінет Міністрів України, central, *
	minfin     = "86507027" // Мінфін, central: finance, budget, taxes
	dps        = "33547254" // ДПС, central: taxes
	moz        = "92060091" // МОЗ, central: health
	mincifra   = "19863933" // Мінцифри, central
	kmda       = "74341314" // КМДА, regional, UA80, *
	vinODA     = "85015894" // Вінницька ОДА, regional, UA05, *
	lvivODA    = "02423839" // Львівська ОДА, regional, UA46, *
	lvivCity   = "66784279" // Львівська МР, local, UA46489064427713930: housing, roads, …
	odesaODA   = "70344445" // Одеська ОДА, regional, UA51, *
	odesaCity  = "94103968" // Одеська МР, local, UA51632727023720971
	charity    = "05104425" // БФ «Відкрите місто», non-state, UA80: social; appeals only
	lvivCityTT = "UA46489064427713930"
	odesaTT    = "UA51632727023720971"
)

type want struct {
	authority, rule string
	reason          string // a part of the reason
}

func TestResolve(t *testing.T) {
	t.Parallel()
	appeal := func(kind schemas.AppealKind, topic, territory string, addressees ...string) schemas.Submission {
		return schemas.Submission{CaseKind: schemas.CaseAppeal, AppealKind: kind, Topic: topic, Territory: territory, Addressees: addressees}
	}
	complaint := func(against, topic, territory string, addressees ...string) schemas.Submission {
		s := appeal(schemas.AppealComplaint, topic, territory, addressees...)
		s.ComplaintAgainst = against
		return s
	}
	info := func(topic, territory string, addressees ...string) schemas.Submission {
		return schemas.Submission{CaseKind: schemas.CaseInfoRequest, Topic: topic, Territory: territory, Addressees: addressees}
	}
	cases := []struct {
		name   string
		change func(f *fixture)
		sub    schemas.Submission
		want   []want
		code   schemas.Code
		fields []string // pointers of the refusal
		detail []string // parts of the refusal's detail
	}{
		{name: "explicit addressees fan out, in order",
			sub: appeal(schemas.AppealProposal, "", "", mincifra, kmda),
			want: []want{{mincifra, recipient.RuleExplicit, "named by the submission"},
				{kmda, recipient.RuleExplicit, "named by the submission"}}},
		{name: "explicit addressees win over topic and territory",
			sub:  appeal(schemas.AppealProposal, "roads", lvivCityTT, minfin),
			want: []want{{minfin, recipient.RuleExplicit, ""}}},
		{name: "most specific wins: the council of the city",
			sub:  appeal(schemas.AppealApplication, "roads", lvivCityTT),
			want: []want{{lvivCity, recipient.RuleTopicTerritory, `topic "roads" in territory UA46489064427713930: local body at the exact code level (UA46489064427713930), competent for "roads"`}}},
		{name: "falls back up the territory tree when the council is not competent",
			sub:  appeal(schemas.AppealApplication, "health", lvivCityTT),
			want: []want{{lvivODA, recipient.RuleTopicTerritory, "regional body at the region level (UA46), competent for every topic"}}},
		{name: "region-wide submission goes to the oblast administration (demo proposal)",
			sub:  appeal(schemas.AppealProposal, "transport", "UA05000000000000000"),
			want: []want{{vinODA, recipient.RuleTopicTerritory, "region level (UA05)"}}},
		{name: "a territory without regional bodies falls back to the national level, topic-specific before *",
			sub:  appeal(schemas.AppealApplication, "health", "UA01000000000000000"),
			want: []want{{moz, recipient.RuleTopicTerritory, `central body at the national level (a central body), competent for "health"`}}},
		{name: "equally specific bodies each receive it",
			sub: appeal(schemas.AppealApplication, "taxes", "UA01000000000000000"),
			want: []want{{dps, recipient.RuleTopicTerritory, "one of 2 equally specific"},
				{minfin, recipient.RuleTopicTerritory, "one of 2 equally specific"}}},
		{name: "no one competent for the topic but *",
			sub:  appeal(schemas.AppealApplication, "space", "UA01000000000000000"),
			want: []want{{kmu, recipient.RuleTopicTerritory, "competent for every topic"}}},
		{name: "local before regional at the same level, even before a regional body listing the topic",
			change: func(f *fixture) {
				f.set(kmda, func(a *schemas.Authority) { a.Topics = []string{"roads"} })
				f.all["11111111"] = schemas.Authority{Code: "11111111", Name: "Київська міська рада", Kind: schemas.AuthorityKindLocal,
					Parent: kmda, Territory: "UA80000000000000000", Topics: []string{schemas.AnyTopic},
					Accepts: []string{"appeal", "info_request"}, Status: schemas.AuthorityActive}
			},
			sub:  appeal(schemas.AppealApplication, "roads", "UA80000000000000000"),
			want: []want{{"11111111", recipient.RuleTopicTerritory, "local body at the region level (UA80)"}}},
		{name: "a non-state body is never chosen by topic",
			sub:  appeal(schemas.AppealApplication, "social", "UA80000000000000000"),
			want: []want{{kmda, recipient.RuleTopicTerritory, "regional body"}}},
		{name: "parent fallback when the competent council is suspended",
			change: func(f *fixture) {
				f.set(lvivCity, func(a *schemas.Authority) { a.Status = schemas.AuthoritySuspended })
			},
			sub:  appeal(schemas.AppealApplication, "roads", lvivCityTT),
			want: []want{{lvivODA, recipient.RuleParentFallback, "parent body of Львівська міська рада (66784279), the most specific authority for topic \"roads\" in territory UA46489064427713930, which is suspended"}}},
		{name: "case kind filter: a council taking appeals only passes an information request to its parent",
			change: func(f *fixture) { f.set(lvivCity, func(a *schemas.Authority) { a.Accepts = []string{"appeal"} }) },
			sub:    info("roads", lvivCityTT),
			want:   []want{{lvivODA, recipient.RuleParentFallback, "does not accept info_request submissions"}}},
		{name: "case kind filter on an explicit addressee",
			sub: info("", "", charity), code: schemas.CodeAddresseeInactive, fields: []string{"/addressees/0"},
			detail: []string{"does not accept this submission"}},
		{name: "a parent not competent for the topic is skipped for the next one up",
			change: func(f *fixture) {
				f.set(lvivCity, func(a *schemas.Authority) { a.Status = schemas.AuthoritySuspended })
				f.set(lvivODA, func(a *schemas.Authority) { a.Topics = []string{"education"} })
			},
			sub:  appeal(schemas.AppealApplication, "roads", lvivCityTT),
			want: []want{{kmu, recipient.RuleParentFallback, "Львівська міська рада"}}},
		{name: "a complaint routed by topic goes to the superior body of the body complained of",
			sub:  complaint(odesaCity, "utilities", odesaTT),
			want: []want{{odesaODA, recipient.RuleComplaintParent, "superior body of Одеська міська рада (94103968), which the complaint is against and would have been chosen"}}},
		{name: "a complaint against a body that is not chosen is routed as usual (demo complaint)",
			sub:  complaint(odesaCity, "utilities", "UA51000000000000000"),
			want: []want{{odesaODA, recipient.RuleTopicTerritory, "region level (UA51)"}}},
		{name: "a complaint naming the body complained of goes to its superior body instead",
			sub:  complaint(odesaCity, "", "", odesaCity),
			want: []want{{odesaODA, recipient.RuleComplaintParent, "was named as the addressee"}}},
		{name: "a complaint naming both the body and its superior body reaches the superior once",
			sub:  complaint(odesaCity, "", "", odesaCity, odesaODA),
			want: []want{{odesaODA, recipient.RuleComplaintParent, ""}}},
		{name: "complaint_against means nothing outside a complaint",
			sub: func() schemas.Submission {
				s := appeal(schemas.AppealApplication, "", "", odesaCity)
				s.ComplaintAgainst = odesaCity
				return s
			}(),
			want: []want{{odesaCity, recipient.RuleExplicit, ""}}},
		{name: "a complaint against the top body, naming it, is refused",
			sub: complaint(kmu, "", "", kmu), code: schemas.CodeRoutingUnavailable, fields: []string{"/addressees/0"}},
		{name: "unknown addressee", sub: appeal(schemas.AppealProposal, "", "", kmu, "12345678"),
			code: schemas.CodeUnknownAddressee, fields: []string{"/addressees/1"}},
		{name: "suspended addressee",
			change: func(f *fixture) { f.set(minfin, func(a *schemas.Authority) { a.Status = schemas.AuthoritySuspended }) },
			sub:    appeal(schemas.AppealProposal, "", "", kmu, minfin), code: schemas.CodeAddresseeInactive, fields: []string{"/addressees/1"}},
		{name: "unroutable: says what was tried and why each competent body was passed over",
			change: func(f *fixture) { f.set(kmu, func(a *schemas.Authority) { a.Status = schemas.AuthoritySuspended }) },
			sub:    appeal(schemas.AppealApplication, "space", "UA01234567890123456"),
			code:   schemas.CodeRoutingUnavailable, fields: []string{"/topic", "/territory"},
			detail: []string{`on topic "space" in territory UA01234567890123456`,
				"tried the levels exact code UA01234567890123456, city district UA012345678901, settlement UA0123456789, community UA0123456, district UA0123, region UA01, national",
				"Кабінет Міністрів України (00000431) is suspended and none of its parent bodies can receive it"}},
		{name: "unroutable: no competent state body at all",
			change: func(f *fixture) { f.set(kmu, func(a *schemas.Authority) { a.Topics = []string{"government"} }) },
			sub:    appeal(schemas.AppealApplication, "space", "UA01000000000000000"),
			code:   schemas.CodeRoutingUnavailable, detail: []string{"tried the levels region UA01, national; no state body is competent"}},
		{name: "neither addressees nor topic and territory",
			sub: appeal(schemas.AppealProposal, "roads", ""), code: schemas.CodeRoutingUnavailable, fields: []string{"/addressees"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := loadFixture(t)
			if tc.change != nil {
				tc.change(fx)
			}
			got, err := recipient.New(fx).Resolve(t.Context(), tc.sub)
			if tc.code != "" {
				e, ok := errors.AsType[*schemas.Error](err)
				require.True(t, ok, "a refusal, got %v and %v", got, err)
				require.Equal(t, tc.code, e.Code)
				var pointers []string
				for _, f := range e.Fields {
					pointers = append(pointers, f.Pointer)
				}
				for _, p := range tc.fields {
					require.Contains(t, pointers, p)
				}
				for _, d := range tc.detail {
					require.Contains(t, e.Detail, d)
				}
				return
			}
			require.NoError(t, err)
			require.Len(t, got, len(tc.want), "%+v", got)
			for i, w := range tc.want {
				require.Equal(t, w.authority, got[i].Authority, "%+v", got)
				require.Equal(t, w.rule, got[i].Rule)
				require.Contains(t, got[i].Reason, w.reason)
				require.NotEmpty(t, got[i].Reason)
			}
		})
	}
}

func TestResolveRegistryFailureIsNotARefusal(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t)
	fx.err = errors.New("connection refused")
	for _, sub := range []schemas.Submission{
		{CaseKind: schemas.CaseInfoRequest, Addressees: []string{kmu}},
		{CaseKind: schemas.CaseInfoRequest, Topic: "roads", Territory: lvivCityTT},
	} {
		_, err := recipient.New(fx).Resolve(t.Context(), sub)
		require.ErrorIs(t, err, fx.err)
		_, refused := errors.AsType[*schemas.Error](err)
		require.False(t, refused)
	}
}

func TestRuleNamesAreStable(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"explicit", "topic_territory", "parent_fallback", "complaint_parent"}, recipient.Rules())
}
