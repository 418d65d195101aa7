package intake_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/internal/clock"
	"appealhub/router/intake"
	"appealhub/router/recipient"
	"appealhub/schemas"
)

// fakeStore is the database and the registry (recipient.Candidates) of intake tests.
type fakeStore struct {
	routes   map[string]schemas.Authority
	created  []schemas.NewCase
	prefixes []string
	existing *schemas.StoredCase
	err      error
}

func (f *fakeStore) RoutingEntries(_ context.Context, codes []string) (map[string]schemas.Authority, error) {
	out := map[string]schemas.Authority{}
	for _, c := range codes {
		if r, ok := f.routes[c]; ok {
			out[c] = r
		}
	}
	return out, f.err
}

func (f *fakeStore) RoutingCandidates(_ context.Context, topic string, territories []string) ([]schemas.Authority, error) {
	var out []schemas.Authority
	for _, a := range f.routes {
		if (slices.Contains(territories, a.Territory) || a.Kind == schemas.AuthorityKindCentral) &&
			(slices.Contains(a.Topics, topic) || slices.Contains(a.Topics, schemas.AnyTopic)) {
			out = append(out, a)
		}
	}
	return out, f.err
}

func (f *fakeStore) CreateCase(_ context.Context, nc schemas.NewCase, prefix string) (schemas.StoredCase, error) {
	if f.existing != nil {
		return *f.existing, nil
	}
	f.created = append(f.created, nc)
	f.prefixes = append(f.prefixes, prefix)
	return schemas.StoredCase{ID: nc.ID, TrackingNumber: prefix + "00000001", ReceivedAt: nc.ReceivedAt, RequestSHA256: nc.RequestSHA256, Created: true}, nil
}

func newIntake(t *testing.T, st *fakeStore, now time.Time) *intake.Intake {
	t.Helper()
	if st.routes == nil {
		both := []string{"appeal", "info_request"}
		st.routes = map[string]schemas.Authority{
			"00000001": {Code: "00000001", Status: "active", Accepts: both},
			"00000002": {Code: "00000002", Status: "active", Accepts: both, Kind: schemas.AuthorityKindLocal,
				Territory: "UA05628871271542183", Topics: []string{"roads"}},
			"00000003": {Code: "00000003", Status: "suspended", Accepts: both},
			"00000004": {Code: "00000004", Status: "active", Accepts: []string{"appeal"}},
		}
	}
	return intake.New(intake.Config{PublicURL: "https://hub.example/", Clock: clock.NewStub(now)}, st,
		recipient.New(st), zaptest.NewLogger(t))
}

func body(kind string, addressees ...string) []byte {
	q := `"` + strings.Join(addressees, `","`) + `"`
	if len(addressees) == 0 {
		q = ""
	}
	extra := `"appeal_kind":"proposal",`
	if kind == "info_request" {
		extra = ""
	}
	return []byte(`{"case_kind":"` + kind + `",` + extra + `"applicant":{"surname":"С","name":"І"},"addressees":[` + q + `],"subject":"s","text":"t"}`)
}

func TestSubmitStoresOneDeliveryPerAddressee(t *testing.T) {
	t.Parallel()
	st := &fakeStore{}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	in := newIntake(t, st, now)
	r, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k",
		Body: body("appeal", "00000001", "00000002")})
	require.NoError(t, err)
	require.Equal(t, "https://hub.example/v1/appeals/"+r.ID, r.StatusURL)
	require.Equal(t, now, r.ReceivedAt)
	require.Len(t, st.created, 1)
	nc := st.created[0]
	require.Len(t, nc.Deliveries, 2)
	require.NotEqual(t, nc.Deliveries[0].ID, nc.Deliveries[1].ID)
	require.Equal(t, "ZV-2026-", st.prefixes[0])
	require.Equal(t, body("appeal", "00000001", "00000002"), nc.Body, "stored exactly as received")
}

func TestTrackingYearIsKyivTime(t *testing.T) {
	t.Parallel()
	st := &fakeStore{}
	// 22:30 UTC on 31 December is already the new year in Kyiv (UTC+2).
	in := newIntake(t, st, time.Date(2026, 12, 31, 22, 30, 0, 0, time.UTC))
	_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("info_request", "00000001")})
	require.NoError(t, err)
	require.Equal(t, "ZI-2027-", st.prefixes[0])
}

func TestSubmitRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body []byte
		code schemas.Code
	}{
		{"unknown addressee", body("appeal", "00000001", "00000009"), schemas.CodeUnknownAddressee},
		{"suspended addressee", body("appeal", "00000003"), schemas.CodeAddresseeInactive},
		{"addressee does not take the case kind", body("info_request", "00000004"), schemas.CodeAddresseeInactive},
		{"no addressees", []byte(`{"case_kind":"appeal","appeal_kind":"proposal","applicant":{"surname":"С","name":"І"},"topic":"roads","territory":"UA46000000000000000","subject":"s","text":"t"}`), schemas.CodeRoutingUnavailable},
		{"invalid body", []byte(`{"case_kind":"appeal"`), schemas.CodeMalformedJSON},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := &fakeStore{}
			in := newIntake(t, st, time.Now())
			_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: tc.body})
			e, ok := errors.AsType[*schemas.Error](err)
			require.True(t, ok, "a *schemas.Error, got %v", err)
			require.Equal(t, tc.code, e.Code)
			require.Empty(t, st.created, "nothing stored")
		})
	}
}

func TestSubmitRecordsTheRoutingRuleOfEachDelivery(t *testing.T) {
	t.Parallel()
	st := &fakeStore{}
	in := newIntake(t, st, time.Now())
	_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: []byte(
		`{"case_kind":"appeal","appeal_kind":"proposal","applicant":{"surname":"С","name":"І"},"topic":"roads","territory":"UA05628871271542183","subject":"s","text":"t"}`)})
	require.NoError(t, err)
	require.Len(t, st.created, 1)
	d := st.created[0].Deliveries
	require.Len(t, d, 1)
	require.Equal(t, "00000002", d[0].Authority)
	require.Equal(t, recipient.RuleTopicTerritory, d[0].RoutingRule)
	require.Contains(t, d[0].RoutingReason, `topic "roads"`)

	_, err = in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k2", Body: body("appeal", "00000001")})
	require.NoError(t, err)
	require.Equal(t, recipient.RuleExplicit, st.created[1].Deliveries[0].RoutingRule)
}

func TestSubmitReusedKeyWithAnotherBodyIsAConflict(t *testing.T) {
	t.Parallel()
	st := &fakeStore{existing: &schemas.StoredCase{ID: "x", TrackingNumber: "ZV-2026-00000001", RequestSHA256: []byte("other")}}
	in := newIntake(t, st, time.Now())
	_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000001")})
	e, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok)
	require.Equal(t, schemas.CodeIdempotencyKeyReused, e.Code)
}

func TestSubmitDatabaseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	st := &fakeStore{err: errors.New("connection refused")}
	in := newIntake(t, st, time.Now())
	_, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000001")})
	require.ErrorIs(t, err, schemas.ErrUnavailable)
}

// replayStore is a fakeStore that finds cases by idempotency key and, as internal/store does,
// answers an insert under a key already used with the stored case.
type replayStore struct {
	fakeStore
	byKey   map[string]schemas.StoredCase
	findErr error
	lookups int
}

func (r *replayStore) CaseByIdempotencyKey(_ context.Context, clientID, key string) (schemas.StoredCase, error) {
	r.lookups++
	if r.findErr != nil {
		return schemas.StoredCase{}, r.findErr
	}
	c, ok := r.byKey[clientID+"/"+key]
	if !ok {
		return c, fmt.Errorf("case: %w", schemas.ErrNotFound)
	}
	return c, nil
}

func (r *replayStore) CreateCase(ctx context.Context, nc schemas.NewCase, prefix string) (schemas.StoredCase, error) {
	if c, ok := r.byKey[nc.ClientID+"/"+nc.IdempotencyKey]; ok {
		return c, nil
	}
	c, err := r.fakeStore.CreateCase(ctx, nc, prefix)
	if err == nil {
		first := c
		first.Created = false
		r.byKey[nc.ClientID+"/"+nc.IdempotencyKey] = first
	}
	return c, err
}

// TestReplayIsAnsweredFromTheStoredCase: a replay is answered from its case whatever checking it
// again says, so an accepted case is never refused later (here its addressee was suspended since);
// another body under the key is idempotency_key_reused; a failed lookup is unavailable.
func TestReplayIsAnsweredFromTheStoredCase(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	b := body("appeal", "00000003") // suspended: a new submission to it is refused
	sum := sha256.Sum256(b)
	stored := schemas.StoredCase{ID: "01a2b3c4-0000-7000-8000-000000000001", TrackingNumber: "ZV-2026-00000042",
		ReceivedAt: now.Add(-time.Hour), RequestSHA256: sum[:]}
	st := &replayStore{byKey: map[string]schemas.StoredCase{"p/k": stored}}
	newIntake(t, &st.fakeStore, now) // fills the routes
	in := intake.New(intake.Config{PublicURL: "https://hub.example", Clock: clock.NewStub(now)}, st, recipient.New(st), zaptest.NewLogger(t))

	r, err := in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.NoError(t, err)
	require.Equal(t, stored.ID, r.ID)
	require.Equal(t, stored.TrackingNumber, r.TrackingNumber)
	require.True(t, r.ReceivedAt.Equal(stored.ReceivedAt), "the time of the first receipt")
	require.Empty(t, r.AccessCode, "a replay shows no access code")
	require.Empty(t, st.created, "nothing stored again")

	_, err = in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: body("appeal", "00000001")})
	requireCode(t, err, schemas.CodeIdempotencyKeyReused)

	_, err = in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "new", Body: b})
	requireCode(t, err, schemas.CodeAddresseeInactive) // a new key is checked as usual

	st.findErr = errors.New("connection refused")
	_, err = in.Submit(context.Background(), intake.Request{ClientID: "p", IdempotencyKey: "k", Body: b})
	require.ErrorIs(t, err, schemas.ErrUnavailable)
}

func requireCode(t *testing.T, err error, code schemas.Code) {
	t.Helper()
	e, ok := errors.AsType[*schemas.Error](err)
	require.True(t, ok, "a refusal: %v", err)
	require.Equal(t, code, e.Code)
}
