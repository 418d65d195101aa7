package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"appealhub/schemas"
)

// Cookie names.
const (
	sessionCookie = "appealhub_console"
	// signInCookie carries the token of the sign-in form (double-submit), before there is a session.
	signInCookie = "appealhub_console_signin"
)

// csrfField is the form field every POST carries its CSRF token in.
const csrfField = "csrf"

// Password rules.
const (
	// MinPasswordLen is the fewest characters a password has.
	MinPasswordLen = 12
	// MaxPasswordBytes is the most bytes a password has (bcrypt reads no more).
	MaxPasswordBytes = 72
	// bcryptCost is the bcrypt work factor of new hashes.
	bcryptCost = 12
)

// ErrWeakPassword is returned by HashPassword for a password that is too short or too long.
var ErrWeakPassword = fmt.Errorf("password must have at least %d characters and at most %d bytes", MinPasswordLen, MaxPasswordBytes)

// HashPassword returns the bcrypt hash of password, which must have at least MinPasswordLen
// characters and at most MaxPasswordBytes bytes (ErrWeakPassword otherwise).
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLen || len(password) > MaxPasswordBytes {
		return "", ErrWeakPassword
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// dummyHash is compared against when the login is unknown, so that a sign-in takes as long
// whether the login exists or not.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("appealhub-console-no-such-operator"), bcryptCost)

// checkPassword reports whether password matches hash (a bcrypt hash; "" never matches).
func checkPassword(hash, password string) bool {
	if hash == "" || len(password) > MaxPasswordBytes {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// session is a signed-in request's session.
type session struct {
	account Account
	// csrf is the token its forms carry: derived from the session token, which only the browser
	// (HttpOnly cookie) knows.
	csrf string
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func csrfFor(token string) string {
	sum := sha256.Sum256([]byte("appealhub-console-csrf\x00" + token))
	return hex.EncodeToString(sum[:])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie returns a cookie of the console: HttpOnly, SameSite=Strict, Secure unless configured off,
// scoped to the base path.
func (c *Console) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: c.cfg.BasePath + "/", MaxAge: maxAge, HttpOnly: true,
		Secure: !c.cfg.InsecureCookie, SameSite: http.SameSiteStrictMode}
}

// authed wraps a page that needs a signed-in operator. Without a valid session a GET is sent to the
// sign-in page (and back afterwards), anything else is refused. Every POST must carry the
// session's CSRF token, else 403.
func (c *Console) authed(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if !errors.Is(err, schemas.ErrNotFound) {
				c.fail(w, r, nil, "read session", err)
				return
			}
			if r.Method != http.MethodGet {
				c.renderError(w, r, nil, http.StatusForbidden, "Your session has ended: sign in again.")
				return
			}
			c.redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), "")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !c.checkForm(w, r, s) {
				return
			}
			if !sameToken(r.PostFormValue(csrfField), s.csrf) {
				c.logger.Warn("console request without a valid CSRF token", zap.String("operator", s.account.Login),
					zap.String("path", r.URL.Path))
				c.renderError(w, r, s, http.StatusForbidden, "The form is stale or forged (CSRF check failed): reload the page.")
				return
			}
		}
		next(w, r, s)
	}
}

// session returns the request's session, or an error wrapping schemas.ErrNotFound.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, fmt.Errorf("no session cookie: %w", schemas.ErrNotFound)
	}
	acc, err := c.deps.Sessions.Session(r.Context(), tokenHash(ck.Value), c.cfg.NowFunc().UTC())
	if err != nil {
		return nil, err
	}
	return &session{account: acc, csrf: csrfFor(ck.Value)}, nil
}

type signInData struct {
	Login string
	Next  string
}

// signInPage is GET /signin: the form, with a fresh double-submit token.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.session(r); err == nil {
		http.Redirect(w, r, c.next(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showSignIn(w, r, http.StatusOK, "", signInData{Next: r.URL.Query().Get("next")})
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, msg string, d signInData) {
	token := newToken()
	http.SetCookie(w, c.cookie(signInCookie, token, 600))
	c.render(w, r, nil, status, "signin", page{Title: "Sign in", CSRF: token, Error: msg, Data: d})
}

// signIn is POST /signin: checks the form's token against its cookie, then the password; on
// success starts a session (recorded in the audit chain) and goes on.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if !c.checkForm(w, r, nil) {
		return
	}
	ck, err := r.Cookie(signInCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), ck.Value) {
		c.renderError(w, r, nil, http.StatusForbidden, "The sign-in form is stale or forged (CSRF check failed): reload it.")
		return
	}
	login := strings.ToLower(strings.TrimSpace(r.PostFormValue("login")))
	password := r.PostFormValue("password")
	d := signInData{Login: login, Next: r.PostFormValue("next")}
	acc, err := c.deps.Accounts.Operator(r.Context(), login)
	switch {
	case errors.Is(err, schemas.ErrNotFound) || login == "":
		checkPassword("", password)
		c.logger.Info("console sign-in refused: unknown login")
		c.showSignIn(w, r, http.StatusUnauthorized, "Wrong login or password.", d)
		return
	case err != nil:
		c.fail(w, r, nil, "read operator", err)
		return
	}
	if !checkPassword(acc.PasswordHash, password) || acc.Disabled {
		c.logger.Info("console sign-in refused", zap.String("operator", acc.Login))
		c.showSignIn(w, r, http.StatusUnauthorized, "Wrong login or password.", d)
		return
	}
	token := newToken()
	now := c.cfg.NowFunc().UTC()
	if err := c.deps.Sessions.StartSession(r.Context(), acc.Login, tokenHash(token), now, now.Add(c.cfg.SessionTTL)); err != nil {
		c.fail(w, r, nil, "start session", err)
		return
	}
	c.logger.Info("operator signed in", zap.String("operator", acc.Login), zap.String("role", string(acc.Role)))
	http.SetCookie(w, c.cookie(signInCookie, "", -1))
	http.SetCookie(w, c.cookie(sessionCookie, token, int(c.cfg.SessionTTL.Seconds())))
	http.Redirect(w, r, c.next(d.Next), http.StatusSeeOther)
}

// next returns where to go after signing in: a path of the console, else the queue page.
func (c *Console) next(p string) string {
	if strings.HasPrefix(p, c.cfg.BasePath+"/") && !strings.HasPrefix(p, "//") && !strings.Contains(p, "\\") &&
		!strings.HasPrefix(p, c.cfg.BasePath+"/signin") {
		return p
	}
	return c.cfg.BasePath + "/queues"
}

// signOut is POST /signout: ends the session (recorded in the audit chain).
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	ck, _ := r.Cookie(sessionCookie)
	if err := c.deps.Sessions.EndSession(r.Context(), tokenHash(ck.Value), c.cfg.NowFunc().UTC()); err != nil {
		c.fail(w, r, s, "end session", err)
		return
	}
	c.logger.Info("operator signed out", zap.String("operator", s.account.Login))
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	c.redirect(w, r, "/signin", "")
}
