package store_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

// The statistics are checked against figures the test computes itself, in Go, from what it did:
// the cases it created and the messages it applied, with their times. Nothing of the expected
// figures is read back from the database.

var kyiv = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Kyiv")
	if err != nil {
		panic(err)
	}
	return loc
}()

// statsNext is a small monotonic state machine for the tests (router/tracker.Next is the real one):
// the forward path moves forward only, and the exits end the delivery.
func statsNext(cur schemas.DeliveryStatus, m schemas.AuthorityMessage) (schemas.DeliveryStatus, bool) {
	rank := map[schemas.DeliveryStatus]int{schemas.StatusAccepted: 0, schemas.StatusQueued: 1, schemas.StatusSent: 2,
		schemas.StatusDelivered: 3, schemas.StatusRegistered: 4}
	r, open := rank[cur]
	if !open {
		return cur, false
	}
	switch m.Type {
	case schemas.MsgDelivered:
		return schemas.StatusDelivered, r < 3
	case schemas.MsgRegistered:
		return schemas.StatusRegistered, r < 4
	case schemas.MsgRefused:
		return schemas.StatusRefused, r < 4
	case schemas.MsgForwarded:
		return schemas.StatusForwarded, true
	case schemas.MsgAnswered:
		return schemas.StatusAnswered, true
	case schemas.MsgReturned:
		return schemas.StatusReturned, true
	}
	return cur, false
}

// statsDelivery is what the test knows of one delivery: its attributes and its fate.
type statsDelivery struct {
	id, authority, region, kind, appealKind, topic, category, client string
	forwardedIn                                                      bool
	received                                                         time.Time
	delivered, registered, refused, forwarded, answered, ended       *time.Time
}

type statsBundle struct {
	*testBundle
	asOf       time.Time
	deliveries []*statsDelivery
	msg        int
}

var statsAuthorities = []struct{ code, territory, region string }{
	{"00000011", "UA46060250010015970", "UA46000000000000000"},
	{"00000012", "UA80000000000093317", "UA80000000000000000"},
	{"00000013", "", ""},
}

func statsSetup(t *testing.T) *statsBundle {
	t.Helper()
	b := setup(t)
	for _, a := range statsAuthorities {
		require.NoError(t, b.store.UpsertAuthority(b.ctx, schemas.AuthorityRoute{Code: a.code, Name: "Body " + a.code, Adapter: "json",
			Endpoint: "http://127.0.0.1:1/"}))
		require.NoError(t, b.store.ExecForTest(b.ctx, `UPDATE authorities SET territory = $2 WHERE code = $1`, a.code, a.territory))
	}
	require.NoError(t, b.store.UpsertClient(b.ctx, schemas.Client{ID: "portal-2", Kind: "portal"}, hash("secret-2")))
	return &statsBundle{testBundle: b, asOf: time.Date(2026, 12, 1, 12, 0, 0, 0, kyiv)}
}

// statsCase describes a case to create: when, through which client, of which kind, topic and
// category, to which authorities.
type statsCase struct {
	at                         time.Time
	client, kind, appealKind   string
	topic, topicCode, category string
	to                         []string
}

func (b *statsBundle) create(t *testing.T, c statsCase) []*statsDelivery {
	t.Helper()
	body := fmt.Sprintf(`{"case_kind":%q,"subject":"s","text":"t","applicant":{"surname":"S","name":"N","category":%q}`, c.kind, c.category)
	if c.topic != "" {
		body += fmt.Sprintf(`,"topic":%q`, c.topic)
	}
	if c.topicCode != "" {
		body += fmt.Sprintf(`,"topic_codes":[%q,"other"]`, c.topicCode)
	}
	body += "}"
	nc := schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: c.client, IdempotencyKey: uuid.NewString(),
		RequestSHA256: hash(body), CaseKind: schemas.CaseKind(c.kind), AppealKind: schemas.AppealKind(c.appealKind),
		Body: []byte(body), ReceivedAt: c.at.UTC()}
	var out []*statsDelivery
	for _, code := range c.to {
		d := &statsDelivery{id: uuid.Must(uuid.NewV7()).String(), authority: code, region: regionOf(code), kind: c.kind,
			appealKind: c.appealKind, topic: c.topic, category: c.category, client: c.client, received: c.at}
		if d.topic == "" {
			d.topic = c.topicCode
		}
		if c.kind == string(schemas.CaseInfoRequest) {
			d.appealKind = ""
		}
		nc.Deliveries = append(nc.Deliveries, schemas.NewDelivery{ID: d.id, Authority: code})
		out = append(out, d)
	}
	_, err := b.store.CreateCase(b.ctx, nc, "ZV-2026-")
	require.NoError(t, err)
	b.deliveries = append(b.deliveries, out...)
	return out
}

func regionOf(code string) string {
	for _, a := range statsAuthorities {
		if a.code == code {
			return a.region
		}
	}
	return ""
}

// send applies one message about d at, and records what it does to d when the test's state
// machine applies it (a stale message changes nothing, as in the store).
func (b *statsBundle) send(t *testing.T, d *statsDelivery, typ schemas.AuthorityMessageType, at time.Time, forwardTo string) *statsDelivery {
	t.Helper()
	b.msg++
	m := schemas.AuthorityMessage{MessageID: fmt.Sprintf("m-%d", b.msg), Of: d.id, Type: typ, ForwardedTo: forwardTo}
	res, err := b.store.ApplyAuthorityMessages(b.ctx, d.authority, []schemas.AuthorityMessage{m}, at.UTC(), statsNext)
	require.NoError(t, err)
	if !res[0].Applied {
		return nil
	}
	at = at.UTC()
	if d.delivered == nil && typ != schemas.MsgRefused {
		d.delivered = &at
	}
	set := func(p **time.Time) {
		if *p == nil {
			*p = &at
		}
	}
	switch typ {
	case schemas.MsgRegistered:
		set(&d.registered)
	case schemas.MsgRefused:
		set(&d.refused)
		set(&d.ended)
	case schemas.MsgForwarded:
		set(&d.forwarded)
		set(&d.ended)
		// The hub created the competent authority's delivery, received at the forward.
		nd := *d
		nd.id, nd.authority, nd.region, nd.forwardedIn, nd.received = b.deliveryOf(t, d, forwardTo), forwardTo, regionOf(forwardTo), true, at
		nd.delivered, nd.registered, nd.refused, nd.forwarded, nd.answered, nd.ended = nil, nil, nil, nil, nil, nil
		b.deliveries = append(b.deliveries, &nd)
		return &nd
	case schemas.MsgAnswered:
		set(&d.answered)
		set(&d.ended)
	case schemas.MsgReturned:
		set(&d.ended)
	}
	return nil
}

// deliveryOf finds the id of the delivery the forward of d to code created.
func (b *statsBundle) deliveryOf(t *testing.T, d *statsDelivery, code string) string {
	t.Helper()
	var id string
	require.NoError(t, b.store.ScanForTest(b.ctx, `SELECT id::text FROM deliveries WHERE forwarded_from = $1 AND authority_code = $2`,
		[]any{d.id, code}, &id))
	return id
}

// scenario creates cases with known fates: registered, refused, forwarded, answered on time,
// answered late, overdue now, still in time, a stale refusal, across months and days in Kyiv.
func (b *statsBundle) scenario(t *testing.T) {
	t.Helper()
	h := time.Hour
	oct := func(day, hour, minute int) time.Time { return time.Date(2026, 10, day, hour, minute, 0, 0, kyiv) }
	nov := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, kyiv) }
	appeal := func(at time.Time, client, appealKind, topic, category string, to ...string) []*statsDelivery {
		return b.create(t, statsCase{at: at, client: client, kind: "appeal", appealKind: appealKind, topic: topic, category: category, to: to})
	}

	// Registered, then answered within the stub's 24 hours: on time.
	d := appeal(oct(2, 10, 0), "portal", "complaint", "roads", "veteran", "00000011")[0]
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")
	b.send(t, d, schemas.MsgRegistered, d.received.Add(2*h), "")
	b.send(t, d, schemas.MsgAnswered, d.received.Add(20*h), "")

	// Answered late: 30 hours after delivery.
	d = appeal(oct(2, 23, 30), "portal", "proposal", "roads", "", "00000011")[0]
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")
	b.send(t, d, schemas.MsgRegistered, d.received.Add(3*h), "")
	b.send(t, d, schemas.MsgAnswered, d.received.Add(31*h), "")

	// Registered and never answered: overdue now. A refusal after the registration is stale.
	d = appeal(oct(31, 0, 30), "portal-2", "application", "", "disabled", "00000012")[0]
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h/2), "")
	b.send(t, d, schemas.MsgRegistered, d.received.Add(5*h), "")
	require.Nil(t, b.send(t, d, schemas.MsgRefused, d.received.Add(6*h), ""))

	// Refused registration: ended, never overdue.
	d = appeal(nov(1, 0, 30), "portal", "complaint", "health", "veteran", "00000012")[0]
	b.send(t, d, schemas.MsgRefused, d.received.Add(4*h), "")

	// To two authorities: one forwards to the third, which registers; the other only delivered,
	// overdue now.
	ds := appeal(nov(3, 9, 15), "portal", "application", "", "", "00000011", "00000012")
	b.send(t, ds[0], schemas.MsgDelivered, ds[0].received.Add(h), "")
	fwd := b.send(t, ds[0], schemas.MsgForwarded, ds[0].received.Add(26*h), "00000013")
	require.NotNil(t, fwd)
	b.send(t, fwd, schemas.MsgDelivered, fwd.received.Add(h), "")
	b.send(t, fwd, schemas.MsgRegistered, fwd.received.Add(7*h), "")
	b.send(t, ds[1], schemas.MsgDelivered, ds[1].received.Add(2*h), "")

	// Requests for public information: topic from topic_codes; one answered on time, one returned,
	// one received and never delivered (nothing is due).
	info := func(at time.Time, client, topicCode, category string, to ...string) *statsDelivery {
		return b.create(t, statsCase{at: at, client: client, kind: "info_request", topicCode: topicCode, category: category, to: to})[0]
	}
	d = info(nov(10, 14, 0), "portal-2", "digital", "", "00000012")
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")
	b.send(t, d, schemas.MsgRegistered, d.received.Add(90*time.Minute), "")
	b.send(t, d, schemas.MsgAnswered, d.received.Add(4*h), "")
	d = info(nov(10, 15, 0), "portal", "digital", "journalist", "00000013")
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")
	b.send(t, d, schemas.MsgReturned, d.received.Add(3*h), "")
	info(nov(30, 23, 59), "portal", "", "", "00000011")

	// Registered and answered, on time, in another month; and one delivered on the eve of asOf:
	// its answer is not due yet.
	d = appeal(nov(20, 8, 0), "portal-2", "proposal", "health", "veteran", "00000013")[0]
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")
	b.send(t, d, schemas.MsgRegistered, d.received.Add(h+30*time.Minute), "")
	b.send(t, d, schemas.MsgAnswered, d.received.Add(10*h), "")
	d = appeal(nov(30, 20, 0), "portal", "complaint", "roads", "", "00000011")[0]
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")

	// Outside the period asked for: received in September.
	d = appeal(time.Date(2026, 9, 30, 23, 0, 0, 0, kyiv), "portal", "complaint", "roads", "", "00000011")[0]
	b.send(t, d, schemas.MsgDelivered, d.received.Add(h), "")
}

// settleStats seals every event, keeps the due dates (the stub: an answer is due 24 hours after
// delivery), seals the keeper's events and brings the stats rows up to the chain head.
func (b *statsBundle) settleStats(t *testing.T) {
	t.Helper()
	b.settle(t)
	waitSealed(t, b.store)
	_, err := b.store.CatchUpStats(b.ctx, 7) // small steps: many steps, each over part of the chain
	require.NoError(t, err)
	st, err := b.store.ChainStatus(b.ctx)
	require.NoError(t, err)
	pos, err := b.store.StatsCursor(b.ctx)
	require.NoError(t, err)
	require.Equal(t, st.Head.Pos, pos, "the stats cursor is at the chain head")
}

// expected computes the figures of q from what the test did.
func (b *statsBundle) expected(q schemas.StatsQuery) schemas.StatsResult {
	key := func(d *statsDelivery) string {
		switch q.GroupBy {
		case schemas.StatsByAuthority:
			return d.authority
		case schemas.StatsByRegion:
			return d.region
		case schemas.StatsByKind:
			return d.kind
		case schemas.StatsByTopic:
			return d.topic
		case schemas.StatsByMonth:
			return d.received.In(kyiv).Format("2006-01")
		case schemas.StatsByDay:
			return d.received.In(kyiv).Format("2006-01-02")
		case schemas.StatsByForm:
			if d.forwardedIn {
				return "forwarded"
			}
			return "portal:" + d.client
		case schemas.StatsByAppealKind:
			if d.kind == "appeal" {
				return d.appealKind
			}
			return d.kind
		case schemas.StatsByCategory:
			return d.category
		}
		panic("unknown grouping " + q.GroupBy)
	}
	groups := map[string][]*statsDelivery{}
	var all []*statsDelivery
	for _, d := range b.deliveries {
		if d.received.Before(q.From) || !d.received.Before(q.To) ||
			(q.Authority != "" && d.authority != q.Authority) || (q.Region != "" && d.region != q.Region) ||
			(q.Kind != "" && d.kind != string(q.Kind)) || (q.Topic != "" && d.topic != q.Topic) {
			continue
		}
		groups[key(d)] = append(groups[key(d)], d)
		all = append(all, d)
	}
	out := schemas.StatsResult{Rows: []schemas.StatsRow{}, Total: b.figures("", all)}
	for g, ds := range groups {
		out.Rows = append(out.Rows, b.figures(g, ds))
	}
	schemas.SortStatsRows(q.GroupBy, out.Rows)
	return out
}

func (b *statsBundle) figures(group string, ds []*statsDelivery) schemas.StatsRow {
	r := schemas.StatsRow{Group: group}
	var toReg, toAnswer []float64
	for _, d := range ds {
		r.Received++
		due := time.Time{}
		if d.delivered != nil {
			due = d.delivered.Add(24 * time.Hour)
		}
		if d.registered != nil {
			r.Registered++
			toReg = append(toReg, d.registered.Sub(d.received).Seconds())
		}
		if d.refused != nil {
			r.Refused++
		}
		if d.forwarded != nil {
			r.Forwarded++
		}
		if d.answered != nil {
			r.Answered++
			toAnswer = append(toAnswer, d.answered.Sub(d.received).Seconds())
			if d.answered.Before(due) {
				r.AnsweredOnTime++
			}
		}
		if d.ended == nil && d.delivered != nil && !due.After(b.asOf) {
			r.OverdueNow++
		}
	}
	if r.Answered > 0 {
		rate := float64(r.AnsweredOnTime) / float64(r.Answered)
		r.OnTimeRate = &rate
	}
	r.MedianToRegistrationSecs, r.P90ToRegistrationSecs = percentileCont(toReg, 0.5), percentileCont(toReg, 0.9)
	r.MedianToAnswerSecs, r.P90ToAnswerSecs = percentileCont(toAnswer, 0.5), percentileCont(toAnswer, 0.9)
	return r
}

// percentileCont is PostgreSQL's percentile_cont: linear interpolation between the closest ranks.
func percentileCont(vs []float64, p float64) *float64 {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	pos := p * float64(len(s)-1)
	lo, hi := math.Floor(pos), math.Ceil(pos)
	v := s[int(lo)] + (pos-lo)*(s[int(hi)]-s[int(lo)])
	return &v
}

// requireStats compares figures, labels aside, durations within a microsecond.
func requireStats(t *testing.T, want, got schemas.StatsResult, msg string) {
	t.Helper()
	strip := func(rows []schemas.StatsRow) []schemas.StatsRow {
		out := make([]schemas.StatsRow, len(rows))
		for i, r := range rows {
			r.Label = ""
			for _, p := range []**float64{&r.OnTimeRate, &r.MedianToRegistrationSecs, &r.P90ToRegistrationSecs,
				&r.MedianToAnswerSecs, &r.P90ToAnswerSecs} {
				if *p != nil {
					v := math.Round(**p*1e6) / 1e6
					*p = &v
				}
			}
			out[i] = r
		}
		return out
	}
	require.Equal(t, strip(want.Rows), strip(got.Rows), msg)
	require.Equal(t, strip([]schemas.StatsRow{want.Total}), strip([]schemas.StatsRow{got.Total}), msg+": total")
}

func TestStatsAgreeWithAnIndependentCount(t *testing.T) {
	t.Parallel()
	b := statsSetup(t)
	b.scenario(t)
	b.settleStats(t)

	from, to := time.Date(2026, 10, 1, 0, 0, 0, 0, kyiv), time.Date(2026, 12, 1, 0, 0, 0, 0, kyiv)
	var total schemas.StatsRow
	for _, by := range schemas.StatsGroupings() {
		q := schemas.StatsQuery{From: from, To: to, GroupBy: by}
		require.NoError(t, q.Check())
		got, err := b.store.Stats(b.ctx, q, b.asOf)
		require.NoError(t, err)
		want := b.expected(q)
		requireStats(t, want, got, string(by))
		require.Equal(t, by, got.GroupBy)
		require.True(t, b.asOf.Equal(got.AsOf))
		total = got.Total
	}
	// The scenario covers every fate.
	require.Equal(t, int64(12), total.Received, "11 deliveries of cases and one forwarded; September's left out")
	require.Equal(t, int64(6), total.Registered)
	require.Equal(t, int64(1), total.Refused, "the stale refusal after a registration does not count")
	require.Equal(t, int64(1), total.Forwarded)
	require.Equal(t, int64(4), total.Answered)
	require.Equal(t, int64(3), total.AnsweredOnTime)
	require.Equal(t, int64(3), total.OverdueNow)

	// Filters, alone and together.
	for _, q := range []schemas.StatsQuery{
		{GroupBy: schemas.StatsByDay, Authority: "00000011"},
		{GroupBy: schemas.StatsByAuthority, Region: "UA80000000000000000"},
		{GroupBy: schemas.StatsByTopic, Kind: schemas.CaseInfoRequest},
		{GroupBy: schemas.StatsByMonth, Topic: "roads", Kind: schemas.CaseAppeal},
		{GroupBy: schemas.StatsByRegion, Authority: "00000013"},
	} {
		q.From, q.To = from, to
		got, err := b.store.Stats(b.ctx, q, b.asOf)
		require.NoError(t, err)
		requireStats(t, b.expected(q), got, fmt.Sprintf("%+v", q))
	}

	// A period with nothing: no rows, zero totals, no medians.
	empty, err := b.store.Stats(b.ctx, schemas.StatsQuery{From: to, To: to.AddDate(0, 1, 0), GroupBy: schemas.StatsByKind}, b.asOf)
	require.NoError(t, err)
	require.Empty(t, empty.Rows)
	require.Zero(t, empty.Total.Received)
	require.Nil(t, empty.Total.MedianToAnswerSecs)
	require.Nil(t, empty.Total.OnTimeRate)
}

func TestStatsLabelsAndOrder(t *testing.T) {
	t.Parallel()
	b := statsSetup(t)
	b.scenario(t)
	b.settleStats(t)
	from, to := time.Date(2026, 10, 1, 0, 0, 0, 0, kyiv), time.Date(2026, 12, 1, 0, 0, 0, 0, kyiv)

	byAuthority, err := b.store.Stats(b.ctx, schemas.StatsQuery{From: from, To: to, GroupBy: schemas.StatsByAuthority}, b.asOf)
	require.NoError(t, err)
	require.Equal(t, "00000011", byAuthority.Rows[0].Group, "most received first")
	for _, r := range byAuthority.Rows {
		require.Equal(t, "Body "+r.Group, r.Label)
	}
	byDay, err := b.store.Stats(b.ctx, schemas.StatsQuery{From: from, To: to, GroupBy: schemas.StatsByDay}, b.asOf)
	require.NoError(t, err)
	days := make([]string, len(byDay.Rows))
	for i, r := range byDay.Rows {
		days[i] = r.Group
	}
	require.True(t, slices.IsSorted(days), "days in order: %v", days)
	require.Contains(t, days, "2026-10-31", "00:30 in Kyiv on 31 October is that day, not the UTC 30th")
	require.Contains(t, days, "2026-11-01")

	byForm, err := b.store.Stats(b.ctx, schemas.StatsQuery{From: from, To: to, GroupBy: schemas.StatsByForm}, b.asOf)
	require.NoError(t, err)
	labels := map[string]string{}
	for _, r := range byForm.Rows {
		labels[r.Group] = r.Label
	}
	require.Equal(t, map[string]string{"portal:portal": "electronic, through portal portal",
		"portal:portal-2": "electronic, through portal portal-2", "forwarded": "forwarded by another authority"}, labels)
}

func TestStatsCSV(t *testing.T) {
	t.Parallel()
	b := statsSetup(t)
	b.scenario(t)
	b.settleStats(t)
	q := schemas.StatsQuery{From: time.Date(2026, 10, 1, 0, 0, 0, 0, kyiv), To: time.Date(2026, 12, 1, 0, 0, 0, 0, kyiv),
		GroupBy: schemas.StatsByKind}
	res, err := b.store.Stats(b.ctx, q, b.asOf)
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.WriteCSV(&buf))
	records, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, schemas.StatsCSVHeader, records[0])
	require.Len(t, records, 1+2+1, "the header, appeal and info_request, the total")
	want := b.expected(q)
	for i, r := range want.Rows {
		rec := records[1+i]
		require.Equal(t, []string{"group", r.Group, schemas.StatsLabel(q.GroupBy, r.Group), strconv.FormatInt(r.Received, 10),
			strconv.FormatInt(r.Registered, 10), strconv.FormatInt(r.Refused, 10), strconv.FormatInt(r.Forwarded, 10),
			strconv.FormatInt(r.Answered, 10), strconv.FormatInt(r.AnsweredOnTime, 10), strconv.FormatInt(r.OverdueNow, 10)}, rec[:10])
	}
	last := records[len(records)-1]
	require.Equal(t, "total", last[0])
	require.Equal(t, strconv.FormatInt(want.Total.Received, 10), last[3])
	median, err := strconv.ParseFloat(last[13], 64)
	require.NoError(t, err)
	require.InDelta(t, *want.Total.MedianToAnswerSecs, median, 0.001)
}

func TestStatsQuarterlyReport(t *testing.T) {
	t.Parallel()
	b := statsSetup(t)
	b.scenario(t)
	b.settleStats(t)

	rep, err := b.store.StatsReport(b.ctx, "2026Q4", b.asOf)
	require.NoError(t, err)
	require.Equal(t, "2026Q4", rep.Quarter)
	require.True(t, time.Date(2026, 10, 1, 0, 0, 0, 0, kyiv).Equal(rep.From))
	require.True(t, time.Date(2027, 1, 1, 0, 0, 0, 0, kyiv).Equal(rep.To))
	names := make([]string, len(rep.Sections))
	for i, sec := range rep.Sections {
		names[i] = sec.Name
		want := b.expected(schemas.StatsQuery{From: rep.From, To: rep.To, GroupBy: sec.GroupBy})
		requireStats(t, want, schemas.StatsResult{Rows: sec.Rows, Total: rep.Total}, sec.Name)
		var sum int64
		for _, r := range sec.Rows {
			sum += r.Received
		}
		require.Equal(t, rep.Total.Received, sum, "%s adds up to the total", sec.Name)
	}
	require.Equal(t, []string{"form_of_receipt", "kind", "applicant_category", "topic"}, names)
	require.Equal(t, int64(12), rep.Total.Received, "the quarter leaves September out")

	var buf bytes.Buffer
	require.NoError(t, rep.WriteCSV(&buf))
	records, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "section", records[0][0])
	require.Equal(t, []string{"total", "", ""}, records[len(records)-1][:3])

	_, err = b.store.StatsReport(b.ctx, "2026Q5", b.asOf)
	require.Error(t, err)
}

func TestStatsStepFollowsLaterEvents(t *testing.T) {
	t.Parallel()
	b := statsSetup(t)
	at := time.Date(2026, 10, 5, 10, 0, 0, 0, kyiv)
	d := b.create(t, statsCase{at: at, client: "portal", kind: "appeal", appealKind: "complaint", topic: "roads", to: []string{"00000011"}})[0]
	b.settleStats(t)
	q := schemas.StatsQuery{From: at.Add(-time.Hour), To: at.Add(time.Hour), GroupBy: schemas.StatsByKind}
	res, err := b.store.Stats(b.ctx, q, b.asOf)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Total.Received)
	require.Zero(t, res.Total.Registered)

	b.send(t, d, schemas.MsgDelivered, at.Add(time.Hour), "")
	b.send(t, d, schemas.MsgRegistered, at.Add(2*time.Hour), "")
	res, err = b.store.Stats(b.ctx, q, b.asOf)
	require.NoError(t, err)
	require.Zero(t, res.Total.Registered, "not yet derived: the events are after the cursor")
	b.settleStats(t)
	res, err = b.store.Stats(b.ctx, q, b.asOf)
	require.NoError(t, err)
	requireStats(t, b.expected(q), res, "after the step")
	require.Equal(t, int64(1), res.Total.Registered)
	require.Equal(t, int64(1), res.Total.OverdueNow, "delivered on 5 October, due 24 hours later, unanswered on 1 December")
}
