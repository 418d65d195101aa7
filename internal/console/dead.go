package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"appealhub/schemas"
)

// maxSelected bounds the dead letters one action takes.
const maxSelected = 1000

type deadData struct {
	Filter   DeadFilter
	MinAge   string
	MaxAge   string
	Items    []DeadItem
	Total    int
	Now      time.Time
	CanAct   bool
	Filtered string // the filter as a query string, to come back to
}

// deadPage is GET /dead?authority=&reason=&min_age=&max_age=: the dead letters, the most recent
// first, with the forms to redrive or discard the selected ones.
func (c *Console) deadPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.DeadLetters == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "Dead letters are unavailable.")
		return
	}
	q := r.URL.Query()
	d := deadData{Filter: DeadFilter{Authority: strings.TrimSpace(q.Get("authority")), Reason: strings.TrimSpace(q.Get("reason")),
		Limit: 200}, MinAge: q.Get("min_age"), MaxAge: q.Get("max_age"), CanAct: s.account.Role.ActsOnDeadLetters(),
		Now: c.cfg.NowFunc()}
	var err error
	if d.Filter.MinAge, err = parseAge(d.MinAge); err != nil {
		c.renderError(w, r, s, http.StatusBadRequest, "min_age: "+err.Error())
		return
	}
	if d.Filter.MaxAge, err = parseAge(d.MaxAge); err != nil {
		c.renderError(w, r, s, http.StatusBadRequest, "max_age: "+err.Error())
		return
	}
	d.Items, d.Total, err = c.deps.DeadLetters.DeadLetters(r.Context(), d.Filter)
	if err != nil {
		c.fail(w, r, s, "list dead letters", err)
		return
	}
	d.Filtered = r.URL.RawQuery
	c.render(w, r, s, http.StatusOK, "dead", page{Title: "Dead letters", Nav: "dead", Data: d})
}

// parseAge reads an age such as 30m, 2h or 3d ("" is none).
func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("%q is not an age such as 30m, 2h or 3d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not an age such as 30m, 2h or 3d", s)
	}
	return d, nil
}

// shownSubmission is a submission as the page shows it: masked unless the role allows.
type shownSubmission struct {
	Masked     bool
	Applicant  schemas.Applicant
	Subject    string
	Text       string
	Topic      string
	Addressees []string
	Attached   int
	Undecoded  bool
}

type deadLetterData struct {
	L         DeadLetter
	S         shownSubmission
	CanAct    bool
	Discarded bool
}

// deadLetterPage is GET /dead/{id}: one dead letter with its case, personal data masked unless the
// operator's role allows.
func (c *Console) deadLetterPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.DeadLetters == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "Dead letters are unavailable.")
		return
	}
	l, err := c.deps.DeadLetters.DeadLetter(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, s, "open dead letter", err)
		return
	}
	d := deadLetterData{L: l, CanAct: s.account.Role.ActsOnDeadLetters() && l.DiscardedAt == nil, Discarded: l.DiscardedAt != nil}
	d.S = showSubmission(l.Body, !s.account.Role.SeesPersonalData())
	d.L.Body = nil
	c.render(w, r, s, http.StatusOK, "deadletter", page{Title: "Dead letter " + l.TrackingNumber, Nav: "dead", Data: d})
}

// showSubmission decodes a stored submission for the page, masked when mask is set.
func showSubmission(body []byte, mask bool) shownSubmission {
	var sub schemas.Submission
	if err := json.Unmarshal(body, &sub); err != nil {
		return shownSubmission{Undecoded: true, Masked: mask}
	}
	out := shownSubmission{Masked: mask, Applicant: sub.Applicant, Subject: sub.Subject, Text: sub.Text, Topic: sub.Topic,
		Addressees: sub.Addressees, Attached: len(sub.Attachments)}
	if mask {
		a := &out.Applicant
		a.Surname, a.Name, a.Patronymic = maskWords(a.Surname), maskWords(a.Name), maskWords(a.Patronymic)
		a.Address, a.Email, a.Phone = maskWords(a.Address), maskEmail(a.Email), maskPhone(a.Phone)
		out.Subject = hidden(sub.Subject)
		out.Text = hidden(sub.Text)
	}
	return out
}

// redrive is POST /dead/redrive (id…, reason, back): sends the selected dead letters again.
func (c *Console) redrive(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, c.deadAction("redrive", "redriven", func(ids []string, a Action) ([]string, error) {
		return c.deps.DeadActions.Redrive(r.Context(), ids, a)
	}))
}

// discard is POST /dead/discard (id…, reason, back): discards the selected dead letters.
func (c *Console) discard(w http.ResponseWriter, r *http.Request, s *session) {
	c.act(w, r, s, c.deadAction("discard", "discarded", func(ids []string, a Action) ([]string, error) {
		return c.deps.DeadActions.Discard(r.Context(), ids, a)
	}))
}

func (c *Console) deadAction(verb, done string, do func([]string, Action) ([]string, error)) bulkAction {
	return bulkAction{verb: verb, done: done, noun: "dead letters", one: "dead letter", object: "dead_" + verb, back: "/dead",
		available: c.deps.DeadActions != nil, do: do}
}

// bulkAction is an action an operator takes on selected items with a reason (kept in the audit
// chain by do).
type bulkAction struct {
	verb, done string // "redrive", "redriven"
	noun, one  string // "dead letters", "dead letter"
	object     string // the action named when a role is denied it: "dead_redrive"
	back       string // the page to go back to: "/dead"
	available  bool   // the port that acts is set
	do         func(ids []string, a Action) ([]string, error)
}

// act is POST of a bulk action (id…, reason, back): it checks the role, the selection and the
// reason, acts, and goes back to the page with what was done.
func (c *Console) act(w http.ResponseWriter, r *http.Request, s *session, a bulkAction) {
	if !s.account.Role.ActsOnDeadLetters() {
		c.denied(r, s, a.object, strings.Join(r.PostForm["id"], ","))
		c.renderError(w, r, s, http.StatusForbidden, "Your role ("+string(s.account.Role)+") may not "+a.verb+" "+a.noun+".")
		return
	}
	if !a.available {
		c.renderError(w, r, s, http.StatusServiceUnavailable, strings.ToUpper(a.noun[:1])+a.noun[1:]+" are unavailable.")
		return
	}
	ids := r.PostForm["id"]
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch {
	case len(ids) == 0:
		c.renderError(w, r, s, http.StatusBadRequest, "Select at least one "+a.one+".")
		return
	case len(ids) > maxSelected:
		c.renderError(w, r, s, http.StatusBadRequest, fmt.Sprintf("Select at most %d %s at once.", maxSelected, a.noun))
		return
	case reason == "":
		c.renderError(w, r, s, http.StatusBadRequest, "Give a reason: it is kept in the audit chain.")
		return
	}
	got, err := a.do(ids, Action{Actor: s.account.Login, Reason: reason})
	if err != nil {
		c.fail(w, r, s, a.verb+" "+a.noun, err)
		return
	}
	c.logger.Info(a.noun+" "+a.done, zap.String("operator", s.account.Login), zap.Strings("ids", got),
		zap.Int("selected", len(ids)))
	back := a.back
	if q := r.PostFormValue("back"); q != "" {
		if v, err := url.ParseQuery(q); err == nil {
			v.Del("done")
			if len(v) > 0 {
				back += "?" + v.Encode()
			}
		}
	}
	c.redirect(w, r, back, fmt.Sprintf("%d of %d %s", len(got), len(ids), a.done))
}
