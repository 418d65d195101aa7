package schemas

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
	// The groupings of the quarterly report (StatsReport).
	StatsByForm       StatsGroupBy = "form"        // the form of receipt: "portal:<client id>" or "forwarded"
	StatsByAppealKind StatsGroupBy = "appeal_kind" // proposal, application, complaint, or info_request
	StatsByCategory   StatsGroupBy = "category"    // the applicant's category ("" when none was stated)
)

// StatsGroupings lists every StatsGroupBy, in declaration order.
func StatsGroupings() []StatsGroupBy {
	return []StatsGroupBy{StatsByAuthority, StatsByRegion, StatsByKind, StatsByTopic, StatsByMonth, StatsByDay,
		StatsByForm, StatsByAppealKind, StatsByCategory}
}

// Valid reports whether g is one of StatsGroupings.
func (g StatsGroupBy) Valid() bool { return slices.Contains(StatsGroupings(), g) }

// StatsTimeZone is the time zone of the month and day groupings and of the quarters.
const StatsTimeZone = "Europe/Kyiv"

// The form of receipt of a delivery (StatsByForm).
const (
	// StatsFormPortalPrefix starts the form of a case received electronically through a portal
	// client: "portal:" and the client's id.
	StatsFormPortalPrefix = "portal:"
	// StatsFormForwarded is the form of a delivery the hub created because another authority
	// forwarded the case to this one.
	StatsFormForwarded = "forwarded"
)

// StatsQuery selects the deliveries received in [From, To) and how to group them; an empty filter
// field selects everything. A delivery is received when the hub received its case, or, for a
// delivery created by a forward, when the hub applied the forward.
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

// Check returns a *Error with code schema_violation naming the first parameter of q that is not
// acceptable (its pointer is the query parameter: /from, /to, /group_by, /authority, /kind), or nil.
func (q StatsQuery) Check() error {
	bad := func(param, msg string) error {
		return &Error{Code: CodeSchemaViolation, Detail: "/" + param + " " + msg,
			Fields: []FieldProblem{{Pointer: "/" + param, Message: msg}}}
	}
	switch {
	case q.From.IsZero():
		return bad("from", "is required")
	case q.To.IsZero():
		return bad("to", "is required")
	case !q.To.After(q.From):
		return bad("to", "must be after from")
	case !q.GroupBy.Valid():
		return bad("group_by", fmt.Sprintf("must be one of %v", StatsGroupings()))
	case q.Authority != "" && !statsAuthority.MatchString(q.Authority):
		return bad("authority", "must be an 8-digit authority code (EDRPOU)")
	case q.Region != "" && !statsRegion.MatchString(q.Region):
		return bad("region", "must be a KATOTTG code of a region: UA, 2 digits, 15 zeros")
	case q.Kind != "" && q.Kind != CaseAppeal && q.Kind != CaseInfoRequest:
		return bad("kind", fmt.Sprintf("must be %q or %q", CaseAppeal, CaseInfoRequest))
	case len(q.Topic) > 200:
		return bad("topic", "must be at most 200 characters")
	}
	return nil
}

var (
	statsAuthority = regexp.MustCompile(`^[0-9]{8}$`)
	statsRegion    = regexp.MustCompile(`^UA[0-9]{2}0{15}$`)
	statsQuarter   = regexp.MustCompile(`^([0-9]{4})Q([1-4])$`)
)

// Quarter returns the bounds [from, to) in Europe/Kyiv of a quarter written as 2026Q4.
func Quarter(s string) (from, to time.Time, err error) {
	m := statsQuarter.FindStringSubmatch(s)
	if m == nil {
		return from, to, fmt.Errorf("quarter %q: must be a year and a quarter, as 2026Q4", s)
	}
	loc, err := time.LoadLocation(StatsTimeZone)
	if err != nil {
		return from, to, fmt.Errorf("load time zone %s: %w", StatsTimeZone, err)
	}
	year, _ := strconv.Atoi(m[1])
	q, _ := strconv.Atoi(m[2])
	from = time.Date(year, time.Month(3*(q-1)+1), 1, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 3, 0), nil
}

// StatsReport is the quarterly report (`appealhub stats report --quarter 2026Q4`) in the shape of
// the classifier reports on citizens' appeals: the figures of the quarter by form of receipt, by
// kind and by applicant category, and by topic.
type StatsReport struct {
	Quarter string    `json:"quarter"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Sections are, in order: form_of_receipt, kind, applicant_category, topic.
	Sections []StatsReportSection `json:"sections"`
	// Total is the quarter's figures over every delivery.
	Total StatsRow  `json:"total"`
	AsOf  time.Time `json:"as_of"`
}

// StatsReportSection is one table of the report: a row per group of its grouping.
type StatsReportSection struct {
	// Name is the section's stable name: form_of_receipt, kind, applicant_category or topic.
	Name    string       `json:"name"`
	Title   string       `json:"title"`
	GroupBy StatsGroupBy `json:"group_by"`
	Rows    []StatsRow   `json:"rows"`
}

// StatsReportSections lists the report's sections: name, title and grouping, in report order.
func StatsReportSections() []StatsReportSection {
	return []StatsReportSection{
		{Name: "form_of_receipt", Title: "By form of receipt", GroupBy: StatsByForm},
		{Name: "kind", Title: "By kind of appeal", GroupBy: StatsByAppealKind},
		{Name: "applicant_category", Title: "By category of applicant", GroupBy: StatsByCategory},
		{Name: "topic", Title: "By topic", GroupBy: StatsByTopic},
	}
}

// SortStatsRows puts rows in the grouping's natural order: by time for month and day, else by
// received, most first, then by group.
func SortStatsRows(by StatsGroupBy, rows []StatsRow) {
	slices.SortStableFunc(rows, func(a, b StatsRow) int {
		if by != StatsByMonth && by != StatsByDay && a.Received != b.Received {
			if a.Received > b.Received {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Group, b.Group)
	})
}

// StatsLabel names a group for people when the grouping has words for it ("" otherwise; the
// authority grouping takes the authorities' names from the registry).
func StatsLabel(by StatsGroupBy, group string) string {
	switch by {
	case StatsByKind, StatsByAppealKind:
		return map[string]string{string(CaseAppeal): "citizens' appeal", string(CaseInfoRequest): "request for public information",
			string(AppealProposal): "proposal", string(AppealApplication): "application", string(AppealComplaint): "complaint",
			"": "not stated"}[group]
	case StatsByForm:
		if client, ok := strings.CutPrefix(group, StatsFormPortalPrefix); ok {
			return "electronic, through portal " + client
		}
		if group == StatsFormForwarded {
			return "forwarded by another authority"
		}
	case StatsByCategory, StatsByTopic, StatsByRegion:
		if group == "" {
			return "not stated"
		}
	}
	return ""
}

// StatsCSVHeader is the header of the CSV form of statistics (text/csv): a row per group, then
// the total, whose first column is "total" (the groups' first column is "group").
var StatsCSVHeader = []string{"row", "group", "label", "received", "registered", "refused", "forwarded", "answered",
	"answered_on_time", "overdue_now", "on_time_rate", "median_to_registration_seconds", "p90_to_registration_seconds",
	"median_to_answer_seconds", "p90_to_answer_seconds"}

// WriteCSV writes r as CSV (StatsCSVHeader): a row per group, then the total. Absent figures are
// empty cells; durations are seconds with up to three decimals.
func (r StatsResult) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(StatsCSVHeader)
	for _, row := range r.Rows {
		_ = cw.Write(row.csv("group"))
	}
	_ = cw.Write(r.Total.csv("total"))
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write statistics as CSV: %w", err)
	}
	return nil
}

// WriteCSV writes the report as CSV: StatsCSVHeader with its first column the section's name
// (form_of_receipt, kind, applicant_category, topic), a row per group, then the quarter's total.
func (r StatsReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{"section"}, StatsCSVHeader[1:]...))
	for _, sec := range r.Sections {
		for _, row := range sec.Rows {
			_ = cw.Write(row.csv(sec.Name))
		}
	}
	_ = cw.Write(r.Total.csv("total"))
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write the report as CSV: %w", err)
	}
	return nil
}

func (r StatsRow) csv(first string) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	secs := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(math.Round(*v*1000)/1000, 'f', -1, 64)
	}
	return []string{first, r.Group, r.Label, n(r.Received), n(r.Registered), n(r.Refused), n(r.Forwarded), n(r.Answered),
		n(r.AnsweredOnTime), n(r.OverdueNow), f(r.OnTimeRate), secs(r.MedianToRegistrationSecs), secs(r.P90ToRegistrationSecs),
		secs(r.MedianToAnswerSecs), secs(r.P90ToAnswerSecs)}
}
