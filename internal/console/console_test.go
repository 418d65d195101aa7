package console

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"appealhub/schemas"
)

// The password of every fake account, and its hash (computed once: bcrypt is slow on purpose).
const testPassword = "correct horse battery"

var (
	testHashOnce sync.Once
	testHash     string
)

func passwordHash(t *testing.T) string {
	t.Helper()
	testHashOnce.Do(func() {
		h, err := HashPassword(testPassword)
		require.NoError(t, err)
		testHash = h
	})
	return testHash
}

// fakeHub serves every port from memory and records the actions.
type fakeHub struct {
	mu       sync.Mutex
	accounts map[string]Account
	sessions map[string]struct {
		login   string
		expires time.Time
	}
	audit  []string // what was recorded: "signed_in alice", "redrive alice: reason [ids]"
	dead   map[string]DeadLetter
	queues Queues
	// keptAt is when the kept letter it lists was kept; keptLimit the limit it was asked for.
	keptAt    time.Time
	keptLimit int
}

func newFakeHub(t *testing.T) *fakeHub {
	h := passwordHash(t)
	return &fakeHub{
		accounts: map[string]Account{
			"viewer1": {Login: "viewer1", Role: RoleViewer, PasswordHash: h},
			"oper1":   {Login: "oper1", Role: RoleOperator, PasswordHash: h},
			"admin1":  {Login: "admin1", Role: RoleAdmin, PasswordHash: h},
			"gone":    {Login: "gone", Role: RoleAdmin, PasswordHash: h, Disabled: true},
		},
		sessions: map[string]struct {
			login   string
			expires time.Time
		}{},
		dead: map[string]DeadLetter{
			"0190c0de-0000-7000-8000-000000000001": {
				DeadItem: DeadItem{ID: "0190c0de-0000-7000-8000-000000000001", TrackingNumber: "ZV-2026-00000001",
					Authority: "40000001", AuthorityName: "Authority", Attempts: 3, Reason: "gave up after 3 attempts: HTTP 503"},
				Body: []byte(`{"case_kind":"appeal","applicant":{"surname":"Тестенко","name":"Марія","email":"m.testenko@example.org",` +
					`"phone":"+380501234567"},"subject":"Ремонт дороги","text":"Прошу відремонтувати дорогу біля будинку 5."}`),
			},
		},
		queues: Queues{Window: 15 * time.Minute, Dead: QueueDepth{Known: true, Kept: 3}, Unroutable: QueueDepth{Known: true}, Authorities: []AuthorityQueue{
			{Code: "40000001", Name: "Down", Dead: 1, Breaker: "open", LastError: "HTTP 503"},
			{Code: "40000002", Name: "Fine", Waiting: 7, Breaker: "closed"},
		}},
	}
}

func (f *fakeHub) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audit = append(f.audit, s)
}

func (f *fakeHub) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.audit...)
}

func (f *fakeHub) Operator(_ context.Context, login string) (Account, error) {
	a, ok := f.accounts[login]
	if !ok {
		return a, fmt.Errorf("operator %s: %w", login, schemas.ErrNotFound)
	}
	return a, nil
}

func (f *fakeHub) StartSession(_ context.Context, login string, h []byte, _, expires time.Time) error {
	f.mu.Lock()
	f.sessions[hex.EncodeToString(h)] = struct {
		login   string
		expires time.Time
	}{login, expires}
	f.mu.Unlock()
	f.record("signed_in " + login)
	return nil
}

func (f *fakeHub) Session(_ context.Context, h []byte, now time.Time) (Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[hex.EncodeToString(h)]
	if !ok || !now.Before(s.expires) || f.accounts[s.login].Disabled {
		return Account{}, fmt.Errorf("session: %w", schemas.ErrNotFound)
	}
	a := f.accounts[s.login]
	a.PasswordHash = ""
	return a, nil
}

func (f *fakeHub) EndSession(_ context.Context, h []byte, _ time.Time) error {
	f.mu.Lock()
	s, ok := f.sessions[hex.EncodeToString(h)]
	delete(f.sessions, hex.EncodeToString(h))
	f.mu.Unlock()
	if ok {
		f.record("signed_out " + s.login)
	}
	return nil
}

func (f *fakeHub) Queues(context.Context) (Queues, error) { return f.queues, nil }

func (f *fakeHub) KeptLetters(_ context.Context, limit int) ([]KeptLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keptLimit = limit
	return []KeptLetter{{ID: 7, Sink: "dead", Reason: "rejected", SourceQueue: "hub.authority.40000001", RoutingKey: "40000001",
		MessageID: "garbage/1", Note: "not a delivery message", BodyBytes: 8, ReceivedAt: f.keptAt}}, nil
}

func (f *fakeHub) DeadLetters(context.Context, DeadFilter) ([]DeadItem, int, error) {
	var out []DeadItem
	for _, l := range f.dead {
		out = append(out, l.DeadItem)
	}
	return out, len(out), nil
}

func (f *fakeHub) DeadLetter(_ context.Context, id string) (DeadLetter, error) {
	l, ok := f.dead[id]
	if !ok {
		return l, fmt.Errorf("dead letter: %w", schemas.ErrNotFound)
	}
	return l, nil
}

func (f *fakeHub) Redrive(_ context.Context, ids []string, a Action) ([]string, error) {
	f.record(fmt.Sprintf("redrive %s: %s %v", a.Actor, a.Reason, ids))
	return ids, nil
}

func (f *fakeHub) Discard(_ context.Context, ids []string, a Action) ([]string, error) {
	f.record(fmt.Sprintf("discard %s: %s %v", a.Actor, a.Reason, ids))
	return ids, nil
}

func (f *fakeHub) DeleteKept(_ context.Context, ids []string, a Action) ([]string, error) {
	f.record(fmt.Sprintf("delete kept %s: %s %v", a.Actor, a.Reason, ids))
	return ids, nil
}

// testBundle is a console over a fakeHub, served by httptest, with a clock the test moves.
type testBundle struct {
	hub *fakeHub
	srv *httptest.Server
	mu  sync.Mutex
	now time.Time
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	b := &testBundle{hub: newFakeHub(t), now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	c := New(Config{SessionTTL: time.Hour, InsecureCookie: true, NowFunc: b.clock}, Deps{Accounts: b.hub, Sessions: b.hub,
		Queues: b.hub, DeadLetters: b.hub, DeadActions: b.hub, Kept: b.hub}, zaptest.NewLogger(t))
	mux := http.NewServeMux()
	mux.Handle(c.Pattern(), c)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *testBundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t   *testing.T
	b   *testBundle
	hc  *http.Client
	jar *cookiejar.Jar
}

func (b *testBundle) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, b: b, jar: jar, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type answer struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (br *browser) do(method, path string, form url.Values) answer {
	br.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, br.b.srv.URL+path, body)
	require.NoError(br.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := br.hc.Do(req)
	require.NoError(br.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	return answer{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location"), header: resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the first form of a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, m, "no csrf field in the page")
	return m[1]
}

// signIn signs in through the form and returns the answer to the POST.
func (br *browser) signIn(login, password string) answer {
	br.t.Helper()
	form := br.do(http.MethodGet, "/console/signin", nil)
	require.Equal(br.t, http.StatusOK, form.status)
	return br.do(http.MethodPost, "/console/signin", url.Values{"csrf": {csrfOf(br.t, form.body)}, "login": {login},
		"password": {password}, "next": {"/console/dead"}})
}

func (br *browser) mustSignIn(login string) {
	br.t.Helper()
	a := br.signIn(login, testPassword)
	require.Equal(br.t, http.StatusSeeOther, a.status, a.body)
	require.Equal(br.t, "/console/dead", a.location)
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, login, password string
		ok                    bool
	}{
		{"right password", "oper1", testPassword, true},
		{"login in capitals", "OPER1", testPassword, true},
		{"bad password", "oper1", "wrong password!!", false},
		{"unknown login", "nobody", testPassword, false},
		{"disabled account", "gone", testPassword, false},
		{"empty password", "oper1", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			br := b.browser(t)
			a := br.signIn(tc.login, tc.password)
			if !tc.ok {
				require.Equal(t, http.StatusUnauthorized, a.status)
				require.Contains(t, a.body, "Wrong login or password.")
				require.Empty(t, b.hub.recorded(), "no session, nothing recorded")
				require.Equal(t, http.StatusSeeOther, br.do(http.MethodGet, "/console/queues", nil).status)
				return
			}
			require.Equal(t, http.StatusSeeOther, a.status)
			require.Equal(t, []string{"signed_in oper1"}, b.hub.recorded())
			page := br.do(http.MethodGet, "/console/queues", nil)
			require.Equal(t, http.StatusOK, page.status)
			require.Contains(t, page.body, "oper1 (operator)")
		})
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	a := br.signIn("oper1", testPassword)
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	require.Equal(t, "/console/", cookie.Path)
	require.False(t, cookie.Secure, "configured for plain HTTP on loopback")

	secure := New(Config{}, Deps{Accounts: b.hub, Sessions: b.hub}, nil)
	require.True(t, secure.cookie(sessionCookie, "x", 1).Secure, "Secure by default")
}

func TestUnauthenticatedAndExpiredSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	a := br.do(http.MethodGet, "/console/dead?authority=40000001", nil)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/console/signin?next=%2Fconsole%2Fdead%3Fauthority%3D40000001", a.location)
	require.Equal(t, http.StatusForbidden, br.do(http.MethodPost, "/console/dead/redrive", url.Values{}).status)

	br.mustSignIn("oper1")
	require.Equal(t, http.StatusOK, br.do(http.MethodGet, "/console/dead", nil).status)
	b.advance(59 * time.Minute)
	page := br.do(http.MethodGet, "/console/dead", nil)
	require.Equal(t, http.StatusOK, page.status)
	token := csrfOf(t, page.body)

	b.advance(time.Minute) // the session's hour is up
	a = br.do(http.MethodGet, "/console/dead", nil)
	require.Equal(t, http.StatusSeeOther, a.status, "an expired session signs in again")
	require.True(t, strings.HasPrefix(a.location, "/console/signin"))
	a = br.do(http.MethodPost, "/console/dead/redrive", url.Values{"csrf": {token}, "id": {"x"}, "reason": {"r"}})
	require.Equal(t, http.StatusForbidden, a.status)
	require.Equal(t, []string{"signed_in oper1"}, b.hub.recorded(), "nothing done after expiry")
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	id := "0190c0de-0000-7000-8000-000000000001"
	tests := []struct {
		name   string
		token  func(real string) []string
		status int
	}{
		{"missing token", func(string) []string { return nil }, http.StatusForbidden},
		{"empty token", func(string) []string { return []string{""} }, http.StatusForbidden},
		{"wrong token", func(real string) []string { return []string{strings.Repeat("0", len(real))} }, http.StatusForbidden},
		{"another session's token", func(string) []string { return []string{csrfFor("another session")} }, http.StatusForbidden},
		{"right token", func(real string) []string { return []string{real} }, http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			br := b.browser(t)
			br.mustSignIn("oper1")
			token := csrfOf(t, br.do(http.MethodGet, "/console/dead", nil).body)
			form := url.Values{"id": {id}, "reason": {"system back"}}
			if v := tc.token(token); v != nil {
				form["csrf"] = v
			}
			for _, path := range []string{"/console/dead/redrive", "/console/dead/discard", "/console/signout"} {
				a := br.do(http.MethodPost, path, form)
				require.Equal(t, tc.status, a.status, path)
				if tc.status == http.StatusSeeOther {
					break // the redrive went through; the others are tested elsewhere
				}
			}
			if tc.status == http.StatusForbidden {
				require.Equal(t, []string{"signed_in oper1"}, b.hub.recorded(), "nothing done")
			} else {
				require.Equal(t, []string{"signed_in oper1", "redrive oper1: system back [" + id + "]"}, b.hub.recorded())
			}
		})
	}
}

func TestSignInFormNeedsItsToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.do(http.MethodGet, "/console/signin", nil)
	a := br.do(http.MethodPost, "/console/signin", url.Values{"login": {"oper1"}, "password": {testPassword}})
	require.Equal(t, http.StatusForbidden, a.status)
	require.Empty(t, b.hub.recorded())
}

func TestRolesOnDeadLetters(t *testing.T) {
	t.Parallel()
	id := "0190c0de-0000-7000-8000-000000000001"
	tests := []struct {
		login  string
		status int
		masked bool
	}{
		{"viewer1", http.StatusForbidden, true},
		{"oper1", http.StatusSeeOther, false},
		{"admin1", http.StatusSeeOther, false},
	}
	for _, tc := range tests {
		t.Run(tc.login, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			br := b.browser(t)
			br.mustSignIn(tc.login)
			page := br.do(http.MethodGet, "/console/dead/"+id, nil)
			require.Equal(t, http.StatusOK, page.status)
			if tc.masked {
				for _, secret := range []string{"Тестенко", "Марія", "m.testenko", "example.org", "501234567", "Ремонт дороги", "будинку"} {
					require.NotContains(t, page.body, secret)
				}
				require.Contains(t, page.body, "Т••• М•••")
				require.Contains(t, page.body, "m•••@•••.org")
				require.Contains(t, page.body, "[hidden: 13 characters]")
				require.Contains(t, page.body, "personal data masked")
				require.NotContains(t, page.body, `id="redrive"`, "no action buttons for a viewer")
			} else {
				require.Contains(t, page.body, "Тестенко Марія")
				require.Contains(t, page.body, "m.testenko@example.org")
				require.Contains(t, page.body, "Прошу відремонтувати дорогу")
				require.Contains(t, page.body, `id="redrive"`)
			}
			a := br.do(http.MethodPost, "/console/dead/redrive", url.Values{"csrf": {csrfOf(t, page.body)}, "id": {id},
				"reason": {"retry"}})
			require.Equal(t, tc.status, a.status)
			want := []string{"signed_in " + tc.login}
			if tc.status == http.StatusSeeOther {
				want = append(want, "redrive "+tc.login+": retry ["+id+"]")
				require.Equal(t, "/console/dead?done=1+of+1+redriven", a.location)
			}
			require.Equal(t, want, b.hub.recorded())
		})
	}
}

// TestRolesOnKeptMessages: operators and admins delete kept messages with a reason (a viewer sees
// no checkbox and is refused); the console goes back to the list with what was done.
func TestRolesOnKeptMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		login  string
		status int
	}{{"viewer1", http.StatusForbidden}, {"oper1", http.StatusSeeOther}, {"admin1", http.StatusSeeOther}} {
		t.Run(tc.login, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			br := b.browser(t)
			br.mustSignIn(tc.login)
			page := br.do(http.MethodGet, "/console/kept", nil)
			require.Equal(t, http.StatusOK, page.status)
			require.Equal(t, tc.status == http.StatusSeeOther, strings.Contains(page.body, `id="deletekept"`))
			a := br.do(http.MethodPost, "/console/kept/delete", url.Values{"csrf": {csrfOf(t, page.body)}, "id": {"7"},
				"reason": {"read, a test message"}})
			require.Equal(t, tc.status, a.status)
			want := []string{"signed_in " + tc.login}
			if tc.status == http.StatusSeeOther {
				want = append(want, "delete kept "+tc.login+": read, a test message [7]")
				require.Equal(t, "/console/kept?done=1+of+1+deleted", a.location)
			}
			require.Equal(t, want, b.hub.recorded())
			if tc.status == http.StatusSeeOther {
				a = br.do(http.MethodPost, "/console/kept/delete", url.Values{"csrf": {csrfOf(t, page.body)}, "id": {"7"}})
				require.Equal(t, http.StatusBadRequest, a.status, "no reason")
			}
		})
	}
}

func TestActionsNeedAReasonAndASelection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.mustSignIn("oper1")
	token := csrfOf(t, br.do(http.MethodGet, "/console/dead", nil).body)
	a := br.do(http.MethodPost, "/console/dead/discard", url.Values{"csrf": {token}, "id": {"x"}, "reason": {"  "}})
	require.Equal(t, http.StatusBadRequest, a.status)
	a = br.do(http.MethodPost, "/console/dead/discard", url.Values{"csrf": {token}, "reason": {"dup"}})
	require.Equal(t, http.StatusBadRequest, a.status)
	a = br.do(http.MethodPost, "/console/dead/discard", url.Values{"csrf": {token}, "id": {"a", "b"}, "reason": {"dup"},
		"back": {"authority=40000001&done=old"}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, "/console/dead?authority=40000001&done=2+of+2+discarded", a.location)
	require.Equal(t, []string{"signed_in oper1", "discard oper1: dup [a b]"}, b.hub.recorded())
}

func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.mustSignIn("admin1")
	token := csrfOf(t, br.do(http.MethodGet, "/console/queues", nil).body)
	a := br.do(http.MethodPost, "/console/signout", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, []string{"signed_in admin1", "signed_out admin1"}, b.hub.recorded())
	require.Equal(t, http.StatusSeeOther, br.do(http.MethodGet, "/console/queues", nil).status)
}

func TestQueuesPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	br.mustSignIn("viewer1")
	page := br.do(http.MethodGet, "/console/queues?sort=waiting", nil)
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `<meta http-equiv="refresh" content="5">`)
	require.Less(t, strings.Index(page.body, `id="q-40000002"`), strings.Index(page.body, `id="q-40000001"`), "most waiting first")
	require.Contains(t, page.body, `class="breaker-open"`)
	require.Contains(t, page.body, `<a href="/console/kept" class="warn" id="deadkept">3 kept</a>`, "what the hub kept from hub.dead")
	require.NotContains(t, page.body, `id="unroutablekept"`, "nothing kept from hub.unroutable")
	b.hub.mu.Lock()
	b.hub.keptAt = b.now.Add(-2 * time.Hour)
	b.hub.mu.Unlock()
	kept := br.do(http.MethodGet, "/console/kept", nil)
	require.Equal(t, http.StatusOK, kept.status)
	require.Contains(t, kept.body, `<tr id="k-7">`)
	for _, cell := range []string{"2h 0m ago", "rejected", "hub.authority.40000001", "garbage/1", "not a delivery message"} {
		require.Contains(t, kept.body, cell)
	}
	require.Equal(t, 200, b.hub.keptLimit)
	require.Equal(t, "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		page.header.Get("Content-Security-Policy"))

	page = br.do(http.MethodGet, "/console/queues?problems=1", nil)
	require.Contains(t, page.body, `id="q-40000001"`)
	require.NotContains(t, page.body, `id="q-40000002"`)
	page = br.do(http.MethodGet, "/console/queues?q=fine", nil)
	require.NotContains(t, page.body, `id="q-40000001"`)
	require.Contains(t, page.body, `id="q-40000002"`)

	require.Equal(t, http.StatusServiceUnavailable, br.do(http.MethodGet, "/console/trace", nil).status, "no tracer configured")
	stats := br.do(http.MethodGet, "/console/stats", nil)
	require.Equal(t, http.StatusOK, stats.status)
	require.Contains(t, stats.body, "Statistics unavailable.")
	css := br.do(http.MethodGet, "/console/static/console.css", nil)
	require.Equal(t, http.StatusOK, css.status)
	require.Contains(t, css.body, "--accent")
}

func TestNextIsKeptInsideTheConsole(t *testing.T) {
	t.Parallel()
	c := New(Config{}, Deps{Accounts: newFakeHub(t), Sessions: newFakeHub(t)}, nil)
	for in, want := range map[string]string{
		"/console/dead?x=1":     "/console/dead?x=1",
		"https://evil.example/": "/console/queues",
		"//evil.example/":       "/console/queues",
		"/console/signin":       "/console/queues",
		"/other":                "/console/queues",
		"":                      "/console/queues",
	} {
		require.Equal(t, want, c.next(in), in)
	}
}

func TestHashPassword(t *testing.T) {
	t.Parallel()
	_, err := HashPassword("short")
	require.ErrorIs(t, err, ErrWeakPassword)
	_, err = HashPassword(strings.Repeat("x", MaxPasswordBytes+1))
	require.ErrorIs(t, err, ErrWeakPassword)
	h := passwordHash(t)
	require.True(t, checkPassword(h, testPassword))
	require.False(t, checkPassword(h, testPassword+"!"))
	require.False(t, checkPassword("", testPassword))
}

func TestParseAge(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": 0, "30m": 30 * time.Minute, "2h": 2 * time.Hour, "3d": 72 * time.Hour} {
		got, err := parseAge(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"x", "-1h", "1.5d", "d"} {
		_, err := parseAge(bad)
		require.Error(t, err, bad)
	}
}
