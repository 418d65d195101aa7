package schemas

import "time"

// Statistics of cases (GET /v1/stats, `appealhub stats report`, the console's statistics page).
// The numbers come from the stored events of deliveries: a delivery counts as received when the
// hub accepted its case, registered / refused / forwarded / answered when the authority's message
// moved it there, answered on time when the answer came by its answer due date, and overdue now
// when its answer due date has passed without an answer.

// StatsGroupBy names how statistics are grouped. The values are part of the API: never rename one.
type StatsGroupBy string

const (
	StatsByAuthority StatsGroupBy = "authority" // the addressed authority's code
	StatsByRegion    StatsGroupBy = "region"    // the authority's region: the first level of its KATOTTG territory
	StatsByKind      StatsGroupBy = "kind"      // the case kind (appeal, info_request)
	StatsByTopic     StatsGroupBy = "topic"     // the submission's topic ("" when it named none)
	StatsByMonth     StatsGroupBy = "month"     // the month of receipt in Europe/Kyiv, as 2026-11
	StatsByDay       StatsGroupBy = "day"       // the day of receipt in Europe/Kyiv, as 2026-11-27
)

// StatsGroupings lists every StatsGroupBy, in declaration order.
func StatsGroupings() []StatsGroupBy {
	return []StatsGroupBy{StatsByAuthority, StatsByRegion, StatsByKind, StatsByTopic, StatsByMonth, StatsByDay}
}

// StatsQuery selects the deliveries of cases received in [From, To) and how to group them; an
// empty filter field selects everything.
type StatsQuery struct {
	From, To  time.Time
	GroupBy   StatsGroupBy
	Authority string
	Region    string
	Kind      CaseKind
	Topic     string
}

// StatsRow holds the figures of one group. Durations are in seconds; nil when nothing was
// registered (answered) in the group.
type StatsRow struct {
	// Group is the group's key in the query's grouping ("" for the total).
	Group string `json:"group"`
	// Label names the group for people (the authority's name, the kind in words), when it has one.
	Label          string `json:"label,omitempty"`
	Received       int64  `json:"received"`
	Registered     int64  `json:"registered"`
	Refused        int64  `json:"refused"`
	Forwarded      int64  `json:"forwarded"`
	Answered       int64  `json:"answered"`
	AnsweredOnTime int64  `json:"answered_on_time"`
	OverdueNow     int64  `json:"overdue_now"`
	// OnTimeRate is AnsweredOnTime / Answered; nil when nothing was answered.
	OnTimeRate               *float64 `json:"on_time_rate"`
	MedianToRegistrationSecs *float64 `json:"median_to_registration_seconds"`
	P90ToRegistrationSecs    *float64 `json:"p90_to_registration_seconds"`
	MedianToAnswerSecs       *float64 `json:"median_to_answer_seconds"`
	P90ToAnswerSecs          *float64 `json:"p90_to_answer_seconds"`
}

// StatsResult is the answer to a StatsQuery: a row per group, in the grouping's natural order
// (time for month and day, else by received, most first), and the total over all of them.
type StatsResult struct {
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	GroupBy StatsGroupBy `json:"group_by"`
	Rows    []StatsRow   `json:"rows"`
	Total   StatsRow     `json:"total"`
	// AsOf is when the figures were computed (overdue_now is as of then).
	AsOf time.Time `json:"as_of"`
}
