package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/internal/demo"
	"appealhub/internal/hubtest"
	"appealhub/internal/store/storetest"
	"appealhub/router/recipient"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// TestRoutingByTopicAndTerritory: a submission that gives a topic and a territory reaches the most
// specific competent authority, a complaint against that authority reaches its superior body, and
// the case shows which rule chose each; one no rule can route is refused saying what was tried.
func TestRoutingByTopicAndTerritory(t *testing.T) {
	t.Parallel()
	const oda, council = "85015894", "85408783" // Вінницька ОДА and Вінницька міська рада
	const city = "UA05628871271542183"
	sys := newSystem(t, "sys", sandboxOptions())
	env := hubtest.NewEnv(t, map[string]string{oda: sys.endpoint(oda), council: sys.endpoint(council)}, nil)
	hub := env.Start(t)
	ctx := context.Background()

	// Describe the two seeded authorities in the registry: the council is competent for housing in
	// the city, the oblast administration for everything in the oblast and is the council's parent.
	describe := func(code, kind, parent, territory string, topics ...string) schemas.AuthorityChange {
		a, err := env.Store.RegistryAuthority(ctx, code)
		require.NoError(t, err)
		a.Kind, a.Parent, a.Territory, a.Topics = kind, parent, territory, topics
		a.Accepts = []string{string(schemas.CaseAppeal), string(schemas.CaseInfoRequest)}
		return schemas.AuthorityChange{Action: schemas.ActionUpdate, ChangedBy: "test", After: &a}
	}
	_, err := env.Store.ApplyAuthorityChanges(ctx, []schemas.AuthorityChange{
		describe(oda, schemas.AuthorityKindRegional, "", "UA05000000000000000", schemas.AnyTopic),
		describe(council, schemas.AuthorityKindLocal, oda, city, "housing", "utilities"),
	})
	require.NoError(t, err)

	submission := func(n int, kind schemas.AppealKind, topic, territory, against string) []byte {
		sub := map[string]any{
			"case_kind": "appeal", "appeal_kind": kind, "topic": topic, "territory": territory,
			"applicant": map[string]any{"surname": "Тестенко", "name": "Марія"},
			"subject":   fmt.Sprintf("Звернення %d", n), "text": "Прошу відремонтувати під'їзд.",
		}
		if against != "" {
			sub["complaint_against"] = against
		}
		b, err := json.Marshal(sub)
		require.NoError(t, err)
		return b
	}
	application := env.MustSubmit(t, hub.URL, "routed-1", submission(1, schemas.AppealApplication, "housing", city, ""))
	complaint := env.MustSubmit(t, hub.URL, "routed-2", submission(2, schemas.AppealComplaint, "housing", city, council))
	env.WaitSettled(t, 30*time.Second)

	delivery := func(r schemas.Receipt) schemas.Delivery {
		t.Helper()
		resp, err := hubtest.Do(ctx, http.MethodGet, hub.URL+"/v1/appeals/"+r.ID, env.Token, nil, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		c := decodeCase(t, resp.Body)
		require.Len(t, c.Deliveries, 1)
		d := c.Deliveries[0]
		require.False(t, d.Status.Pending(), "delivered: %s", d.Status)
		return d
	}
	d := delivery(application)
	require.Equal(t, council, d.Authority)
	require.Equal(t, recipient.RuleTopicTerritory, d.RoutingRule)
	require.Contains(t, d.RoutingReason, `topic "housing" in territory `+city)
	require.Contains(t, d.RoutingReason, "local body at the exact code level")

	d = delivery(complaint)
	require.Equal(t, oda, d.Authority, "a complaint never goes to the body it complains about")
	require.Equal(t, recipient.RuleComplaintParent, d.RoutingRule)
	require.Contains(t, d.RoutingReason, council)

	// Nobody is competent for roads in another oblast: refused, saying what was tried.
	resp, err := env.Submit(ctx, hub.URL, "routed-3", submission(3, schemas.AppealProposal, "roads", "UA46000000000000000", ""))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
	code, pointers := resp.Problem()
	require.Equal(t, string(schemas.CodeRoutingUnavailable), code)
	require.Contains(t, pointers, "/territory")
	var problem struct{ Detail string }
	require.NoError(t, json.Unmarshal(resp.Body, &problem))
	require.Contains(t, problem.Detail, `topic "roads" in territory UA46000000000000000: tried the levels region UA46, national`)
}

// TestTerritoryPrefixIsTheRegistrys: the resolver re-implements router/registry.TerritoryPrefix
// (it may not import the registry); both must say the same of every code.
func TestTerritoryPrefixIsTheRegistrys(t *testing.T) {
	t.Parallel()
	codes := []string{"", "UA", "UA0500000000000000", "ua05000000000000000", "UA0500000000000000X", "UA050000000000000000",
		"05000000000000000UA", "UA00000000000000000"}
	for _, base := range []string{"UA05628871271542183", "UA80000000000000000", "UA46489064427713930", "UA10203040506070809"} {
		for cut := 2; cut <= 19; cut++ {
			for _, pad := range []string{"0", "1"} {
				c := base[:cut]
				for len(c) < 19 {
					c += pad
				}
				codes = append(codes, c)
			}
		}
	}
	for _, c := range codes {
		want, err := registry.TerritoryPrefix(c)
		if err != nil {
			want = ""
		}
		require.Equal(t, want, recipient.TerritoryPrefix(c), c)
	}
}

// TestDemoAddressSpaceRoutesTheDemoSubmissions: the demo's address space, imported into the
// registry over the entries the configuration seeds (as `appealhub demo` does), routes the samples
// that give a topic and a territory to authorities of the fixture, and a complaint against the
// council of the city it concerns to the council's superior body.
func TestDemoAddressSpaceRoutesTheDemoSubmissions(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := t.Context()
	auths, err := demo.Authorities()
	require.NoError(t, err)
	for _, a := range auths {
		require.NoError(t, st.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: a.Code, Name: a.Name, Adapter: a.Adapter,
			Endpoint: "http://127.0.0.1:1/documents/" + a.Code}))
	}
	file, err := demo.AuthoritiesCSV()
	require.NoError(t, err)
	_, err = registry.New(st, []string{"json", "sev1207"}).ImportFile(ctx, "csv", bytes.NewReader(file),
		schemas.AuthorityChangeMeta{By: "test", Reason: "demo address space"})
	require.NoError(t, err)

	resolver := recipient.New(st)
	samples, err := demo.Submissions()
	require.NoError(t, err)
	routed := map[string]schemas.Recipient{}
	total := 0
	for _, body := range samples {
		sub, err := schemas.DecodeSubmission(body)
		require.NoError(t, err)
		rs, err := resolver.Resolve(ctx, sub)
		require.NoError(t, err, sub.Subject)
		total += len(rs)
		if len(sub.Addressees) == 0 {
			require.Len(t, rs, 1)
			routed[sub.Topic] = rs[0]
		}
	}
	require.Equal(t, 9, total, "one delivery per addressee")
	require.Len(t, routed, 2, "two samples give a topic and a territory")
	require.Equal(t, "85015894", routed["transport"].Authority, "Vinnytsia oblast: its administration")
	require.Equal(t, recipient.RuleTopicTerritory, routed["transport"].Rule)
	require.Equal(t, "70344445", routed["utilities"].Authority, "Odesa oblast: its administration, not the council complained of")
	require.Equal(t, recipient.RuleTopicTerritory, routed["utilities"].Rule)

	// The same complaint about the city itself: the council would be chosen, so its superior body is.
	rs, err := resolver.Resolve(ctx, schemas.Submission{CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealComplaint,
		ComplaintAgainst: "94103968", Topic: "utilities", Territory: "UA51632727023720971"})
	require.NoError(t, err)
	require.Equal(t, []string{"70344445"}, []string{rs[0].Authority})
	require.Equal(t, recipient.RuleComplaintParent, rs[0].Rule)
}
