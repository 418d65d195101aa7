package store_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

func TestRoutingCandidatesAndEntries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	add := func(code, name, kind, parent, territory, status string, topics ...string) schemas.AuthorityChange {
		a := entry(code, name, parent)
		a.Kind, a.Territory, a.Topics, a.Status = kind, territory, topics, status
		return schemas.AuthorityChange{Action: schemas.ActionImport, ChangedBy: "t", After: a}
	}
	_, err := b.store.ApplyAuthorityChanges(b.ctx, []schemas.AuthorityChange{
		add("00000431", "КМУ", schemas.AuthorityKindCentral, "", "UA80000000000000000", "active", "*"),
		add("86507027", "Мінфін", schemas.AuthorityKindCentral, "00000431", "UA80000000000000000", "active", "taxes"),
		add("85015894", "Вінницька ОДА", schemas.AuthorityKindRegional, "00000431", "UA05000000000000000", "active", "*"),
		add("85408783", "Вінницька МР", schemas.AuthorityKindLocal, "85015894", "UA05628871271542183", "suspended", "roads"),
		add("17849544", "Луцька МР", schemas.AuthorityKindLocal, "", "UA07252492022108112", "active", "roads"),
		add("05104425", "БФ", schemas.AuthorityKindNonState, "", "UA05000000000000000", "active", "social"),
	})
	require.NoError(t, err)

	codes := func(as []schemas.Authority) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.Code)
		}
		return out
	}
	vinnytsia := []string{"UA05628871271542183", "UA05628871271500000", "UA05628871270000000", "UA05628870000000000",
		"UA05620000000000000", "UA05000000000000000"}
	got, err := b.store.RoutingCandidates(b.ctx, "roads", vinnytsia)
	require.NoError(t, err)
	require.Equal(t, []string{"00000431", "85015894", "85408783"}, codes(got),
		"competent for the topic or *, at one of the territories or central, whatever the status; ordered by code")
	require.Equal(t, schemas.AuthoritySuspended, got[2].Status)
	require.Equal(t, "85015894", got[2].Parent)
	require.Equal(t, []string{"roads"}, got[2].Topics)
	require.Equal(t, []string{"appeal"}, got[2].Accepts)
	require.Empty(t, got[2].Token, "credentials are never read for routing")

	got, err = b.store.RoutingCandidates(b.ctx, "taxes", []string{"UA07000000000000000"})
	require.NoError(t, err)
	require.Equal(t, []string{"00000431", "86507027"}, codes(got))
	got, err = b.store.RoutingCandidates(b.ctx, "social", []string{"UA05000000000000000"})
	require.NoError(t, err)
	require.Equal(t, []string{"00000431", "05104425", "85015894"}, codes(got))

	entries, err := b.store.RoutingEntries(b.ctx, []string{"85408783", "99999999", "00000431"})
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Equal(t, "Вінницька МР", entries["85408783"].Name)
	require.Equal(t, schemas.AuthorityKindLocal, entries["85408783"].Kind)
	require.Equal(t, "UA05628871271542183", entries["85408783"].Territory)
}

func TestCaseShowsTheRoutingRuleOfEachDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: "k",
		RequestSHA256: hash("k"), CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealProposal,
		Body: []byte(`{"x":1}`), ReceivedAt: b.now, Deliveries: []schemas.NewDelivery{
			{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000001", RoutingRule: "topic_territory", RoutingReason: "most specific"},
			{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000002"},
		}}
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	c, err := b.store.Case(b.ctx, "portal", nc.ID)
	require.NoError(t, err)
	require.Len(t, c.Deliveries, 2)
	require.Equal(t, "topic_territory", c.Deliveries[0].RoutingRule)
	require.Equal(t, "most specific", c.Deliveries[0].RoutingReason)
	require.Empty(t, c.Deliveries[1].RoutingRule)
}
