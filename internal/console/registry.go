package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"appealhub/schemas"
)

type registryData struct {
	Query, Status string
	Page          schemas.AuthorityPage
}

// registryPage is GET /registry?q=&status=: the authorities of the registry.
func (c *Console) registryPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Registry == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "The registry is unavailable.")
		return
	}
	q := r.URL.Query()
	d := registryData{Query: strings.TrimSpace(q.Get("q")), Status: q.Get("status")}
	p, err := c.deps.Registry.ListAuthorities(r.Context(), schemas.AuthorityFilter{Query: d.Query, Status: d.Status, Limit: 200})
	if err != nil {
		c.fail(w, r, s, "list authorities", err)
		return
	}
	d.Page = p
	c.render(w, r, s, http.StatusOK, "registry", page{Title: "Registry", Nav: "registry", Data: d})
}

type authorityData struct {
	A       schemas.Authority
	CanEdit bool
	Timeout string
	Topics  string
	Accepts string
}

// authorityPage is GET /registry/{code}: one entry, with the edit form for admins.
func (c *Console) authorityPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Registry == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "The registry is unavailable.")
		return
	}
	a, err := c.deps.Registry.GetAuthority(r.Context(), r.PathValue("code"))
	if err != nil {
		c.fail(w, r, s, "read authority", err)
		return
	}
	c.showAuthority(w, r, s, http.StatusOK, a, "")
}

func (c *Console) showAuthority(w http.ResponseWriter, r *http.Request, s *session, status int, a schemas.Authority, msg string) {
	d := authorityData{A: a, CanEdit: s.account.Role.EditsRegistry(), Topics: strings.Join(a.Topics, ", "),
		Accepts: strings.Join(a.Accepts, ", ")}
	if a.RequestTimeout > 0 {
		d.Timeout = time.Duration(a.RequestTimeout).String()
	}
	c.render(w, r, s, status, "authority", page{Title: a.Name, Nav: "registry", Error: msg, Data: d})
}

// updateAuthority is POST /registry/{code} (admins): changes the entry's name, endpoint, mode,
// concurrency, request timeout, topics, accepted kinds and status, against the version the form
// was drawn from, with a reason. The registry records the change with the operator as its author,
// and the change is an event in the audit chain.
func (c *Console) updateAuthority(w http.ResponseWriter, r *http.Request, s *session) {
	if !s.account.Role.EditsRegistry() {
		c.denied(r, s, "registry_update", r.PathValue("code"))
		c.renderError(w, r, s, http.StatusForbidden, "Your role ("+string(s.account.Role)+") may not edit the registry.")
		return
	}
	if c.deps.Registry == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "The registry is unavailable.")
		return
	}
	code := r.PathValue("code")
	cur, err := c.deps.Registry.GetAuthority(r.Context(), code)
	if err != nil {
		c.fail(w, r, s, "read authority", err)
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	version, _ := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	patch, err := authorityPatch(r, cur)
	switch {
	case err != nil:
		c.showAuthority(w, r, s, http.StatusBadRequest, cur, err.Error())
		return
	case reason == "":
		c.showAuthority(w, r, s, http.StatusBadRequest, cur, "Give a reason: it is kept with the change and in the audit chain.")
		return
	}
	a, pending, err := c.deps.Registry.UpdateAuthority(r.Context(), code, patch,
		schemas.AuthorityChangeMeta{By: "console:" + s.account.Login, Reason: reason, IfVersion: version})
	if errors.Is(err, schemas.ErrVersionConflict) {
		c.showAuthority(w, r, s, http.StatusConflict, cur, "Someone changed this entry since you opened it: here it is as it is now.")
		return
	}
	if err != nil {
		if e, ok := errors.AsType[*schemas.Error](err); ok {
			c.showAuthority(w, r, s, http.StatusBadRequest, cur, e.Detail)
			return
		}
		c.fail(w, r, s, "update authority", err)
		return
	}
	c.logger.Info("registry entry changed from the console", zap.String("operator", s.account.Login),
		zap.String("authority", code), zap.Int64("version", a.Version))
	done := fmt.Sprintf("saved as version %d", a.Version)
	if pending != nil {
		done = "scheduled for " + pending.EffectiveAt.UTC().Format(time.RFC3339)
	}
	c.redirect(w, r, "/registry/"+code, done)
}

// authorityPatch reads the edit form into a patch of the fields that differ from cur.
func authorityPatch(r *http.Request, cur schemas.Authority) (schemas.AuthorityPatch, error) {
	var p schemas.AuthorityPatch
	str := func(field, old string, dst **string) {
		if v := strings.TrimSpace(r.PostFormValue(field)); v != old {
			*dst = &v
		}
	}
	str("name", cur.Name, &p.Name)
	str("endpoint", cur.Endpoint, &p.Endpoint)
	str("mode", cur.Mode, &p.Mode)
	str("status", cur.Status, &p.Status)
	list := func(field string, old []string, dst **[]string) {
		var v []string
		for _, f := range strings.Split(r.PostFormValue(field), ",") {
			if f = strings.TrimSpace(f); f != "" {
				v = append(v, f)
			}
		}
		if strings.Join(v, ",") != strings.Join(old, ",") {
			*dst = &v
		}
	}
	list("topics", cur.Topics, &p.Topics)
	list("accepts", cur.Accepts, &p.Accepts)
	if v := strings.TrimSpace(r.PostFormValue("concurrency")); v != "" || cur.Concurrency != 0 {
		n := 0
		if v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 0 {
				return p, fmt.Errorf("concurrency: %q is not a whole number", v)
			}
		}
		if n != cur.Concurrency {
			p.Concurrency = &n
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("request_timeout")); v != "" || cur.RequestTimeout != 0 {
		var d time.Duration
		if v != "" {
			var err error
			if d, err = time.ParseDuration(v); err != nil || d < 0 {
				return p, fmt.Errorf("request timeout: %q is not a duration such as 30s", v)
			}
		}
		if schemas.Duration(d) != cur.RequestTimeout {
			sd := schemas.Duration(d)
			p.RequestTimeout = &sd
		}
	}
	return p, nil
}

// deadlinesPage is GET /deadlines: per authority, the answers due today, overdue and extended.
func (c *Console) deadlinesPage(w http.ResponseWriter, r *http.Request, s *session) {
	if c.deps.Deadlines == nil {
		c.renderError(w, r, s, http.StatusServiceUnavailable, "Deadlines are unavailable.")
		return
	}
	rows, err := c.deps.Deadlines.Deadlines(r.Context())
	if err != nil {
		c.fail(w, r, s, "read deadlines", err)
		return
	}
	var total AuthorityDeadlines
	for _, a := range rows {
		total.DueToday += a.DueToday
		total.Overdue += a.Overdue
		total.Extended += a.Extended
	}
	c.render(w, r, s, http.StatusOK, "deadlines", page{Title: "Deadlines", Nav: "deadlines",
		Data: struct {
			Rows  []AuthorityDeadlines
			Total AuthorityDeadlines
		}{rows, total}})
}
