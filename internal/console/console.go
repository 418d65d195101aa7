package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"appealhub/schemas"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Defaults of Config.
const (
	DefaultBasePath     = "/console"
	DefaultSessionTTL   = 8 * time.Hour
	DefaultRefreshEvery = 5 * time.Second
)

// Config configures the console. Zero fields take their defaults.
type Config struct {
	// BasePath is the path the console is mounted at, without a final slash. Defaults to
	// "/console".
	BasePath string
	// SessionTTL is how long a session lasts after signing in. Defaults to 8h.
	SessionTTL time.Duration
	// InsecureCookie leaves the Secure attribute off the session cookie, for a console served over
	// plain HTTP on loopback. Defaults to false: the cookie is sent over HTTPS only.
	InsecureCookie bool
	// RefreshEvery is how often the queue page reloads itself. Defaults to 5s.
	RefreshEvery time.Duration
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
}

func (c Config) withDefaults() Config {
	c.BasePath = strings.TrimSuffix(c.BasePath, "/")
	if c.BasePath == "" {
		c.BasePath = DefaultBasePath
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.RefreshEvery <= 0 {
		c.RefreshEvery = DefaultRefreshEvery
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	return c
}

// Deps are the ports the console calls. Accounts and Sessions are required; a nil port leaves its
// page showing that it is unavailable.
type Deps struct {
	Accounts    Accounts
	Sessions    Sessions
	Queues      QueueReader
	DeadLetters DeadLetters
	DeadActions DeadActions
	Kept        KeptLetters
	Traces      CaseTracer
	Registry    Registry
	Deadlines   DeadlineReader
	Stats       StatsReader
	Denials     Denials
}

// Console is the operators' console: an http.Handler serving every page under Config.BasePath. It
// is safe for concurrent use.
type Console struct {
	cfg    Config
	deps   Deps
	logger *zap.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static http.Handler
}

// New returns the console. A nil logger logs nothing. It panics if deps lacks Accounts or
// Sessions, or if an embedded template does not parse (programming errors).
func New(cfg Config, deps Deps, logger *zap.Logger) *Console {
	if deps.Accounts == nil || deps.Sessions == nil {
		panic("console: New needs Deps.Accounts and Deps.Sessions")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	c := &Console{cfg: cfg.withDefaults(), deps: deps, logger: logger.Named("console"), mux: http.NewServeMux()}
	c.pages = mustParsePages()
	staticFS, _ := fs.Sub(assets, "static")
	c.static = http.StripPrefix(c.cfg.BasePath+"/static/", http.FileServer(http.FS(staticFS)))
	c.routes()
	return c
}

// Pattern is the http.ServeMux pattern the console is served at: BasePath with a final slash.
func (c *Console) Pattern() string { return c.cfg.BasePath + "/" }

func (c *Console) routes() {
	b := c.cfg.BasePath
	c.mux.Handle("GET "+b+"/static/", c.static)
	c.mux.HandleFunc("GET "+b+"/signin", c.signInPage)
	c.mux.HandleFunc("POST "+b+"/signin", c.signIn)
	c.mux.HandleFunc("POST "+b+"/signout", c.authed(c.signOut))
	c.mux.HandleFunc("GET "+b+"/{$}", c.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, b+"/queues", http.StatusSeeOther)
	}))
	c.mux.HandleFunc("GET "+b+"/queues", c.authed(c.queuesPage))
	c.mux.HandleFunc("GET "+b+"/dead", c.authed(c.deadPage))
	c.mux.HandleFunc("GET "+b+"/dead/{id}", c.authed(c.deadLetterPage))
	c.mux.HandleFunc("POST "+b+"/dead/redrive", c.authed(c.redrive))
	c.mux.HandleFunc("POST "+b+"/dead/discard", c.authed(c.discard))
	c.mux.HandleFunc("GET "+b+"/kept", c.authed(c.keptPage))
	c.mux.HandleFunc("POST "+b+"/kept/delete", c.authed(c.deleteKept))
	c.mux.HandleFunc("GET "+b+"/trace", c.authed(c.tracePage))
	c.mux.HandleFunc("GET "+b+"/registry", c.authed(c.registryPage))
	c.mux.HandleFunc("GET "+b+"/registry/{code}", c.authed(c.authorityPage))
	c.mux.HandleFunc("POST "+b+"/registry/{code}", c.authed(c.updateAuthority))
	c.mux.HandleFunc("GET "+b+"/deadlines", c.authed(c.deadlinesPage))
	c.mux.HandleFunc("GET "+b+"/stats", c.authed(c.statsPage))
}

// ServeHTTP sets the security headers every answer carries and routes the request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "+
		"frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if _, pattern := c.mux.Handler(r); pattern == "" {
		c.renderError(w, r, nil, http.StatusNotFound, "No such page.")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title   string
	Base    string
	Nav     string
	Account *Account
	CSRF    string
	// Refresh, when positive, makes the page reload itself every so many seconds.
	Refresh int
	Flash   string
	Error   string
	Data    any
}

// render writes the page name with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, p page) {
	p.Base = c.cfg.BasePath
	if s != nil {
		p.Account, p.CSRF = &s.account, s.csrf
	}
	if p.Flash == "" {
		p.Flash = r.URL.Query().Get("done")
	}
	t, ok := c.pages[name]
	if !ok {
		panic("console: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.logger.Error("render page", zap.String("page", name), zap.Error(err))
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError answers with an error page.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	c.render(w, r, s, status, "error", page{Title: http.StatusText(status), Error: msg})
}

// fail answers a port's error: not_found and refusals as such, anything else as unavailable (and
// logged).
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	if errors.Is(err, schemas.ErrNotFound) {
		c.renderError(w, r, s, http.StatusNotFound, "Not found.")
		return
	}
	if e, ok := errors.AsType[*schemas.Error](err); ok {
		if e.Code == schemas.CodeNotFound {
			c.renderError(w, r, s, http.StatusNotFound, e.Detail)
			return
		}
		c.renderError(w, r, s, http.StatusBadRequest, e.Detail)
		return
	}
	if errors.Is(err, context.Canceled) {
		return
	}
	c.logger.Error(what, zap.Error(err))
	c.renderError(w, r, s, http.StatusServiceUnavailable, "The hub could not answer; try again.")
}

// redirect sends the browser to path under the base path with a message shown there.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	u := c.cfg.BasePath + path
	if done != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "done=" + url.QueryEscape(done)
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// funcs are the template functions.
var funcs = template.FuncMap{
	"ago": func(d time.Duration) string { return humanDuration(d) },
	"dur": humanDuration,
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		}
		return fmt.Sprint(t)
	},
	"rate": func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"pct": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return fmt.Sprintf("%.0f%%", *f*100)
	},
	"secs": func(f *float64) string {
		if f == nil {
			return "—"
		}
		return humanDuration(time.Duration(*f * float64(time.Second)))
	},
	"svg": func(s string) template.HTML { return template.HTML(s) }, //nolint:gosec // output of internal/chart, escaped there
}

// humanDuration writes d for people: 45s, 12m, 3h 5m, 2d 4h.
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// pageNames are the templates besides the layout, one per page.
var pageNames = []string{"signin", "error", "queues", "dead", "deadletter", "trace", "registry", "authority", "deadlines", "stats", "kept"}

func mustParsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout").Funcs(funcs).ParseFS(assets, "templates/layout.html"))
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t := template.Must(layout.Clone())
		out[name] = template.Must(t.ParseFS(assets, "templates/"+name+".html"))
	}
	return out
}
