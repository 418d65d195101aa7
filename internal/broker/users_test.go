package broker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"appealhub/internal/broker"
	"appealhub/internal/broker/brokertest"
)

// ---- without RabbitMQ --------------------------------------------------------------------------

func TestAdminConfigWithDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		admin   broker.AdminConfig
		amqpURL string
		want    broker.AdminConfig
	}{
		{"FromAMQPURL", broker.AdminConfig{}, "amqp://hub:s3cret@mq.example:5672/",
			broker.AdminConfig{URL: "http://mq.example:15672", User: "hub", Password: "s3cret", VHost: "/"}},
		{"TLS", broker.AdminConfig{}, "amqps://hub:pw@mq.example/",
			broker.AdminConfig{URL: "https://mq.example:15671", User: "hub", Password: "pw", VHost: "/"}},
		{"AMQPDefaults", broker.AdminConfig{}, "amqp://127.0.0.1",
			broker.AdminConfig{URL: "http://127.0.0.1:15672", User: "guest", Password: "guest", VHost: "/"}},
		{"VHostFromURL", broker.AdminConfig{}, "amqp://hub:pw@[::1]:5672/appeals",
			broker.AdminConfig{URL: "http://[::1]:15672", User: "hub", Password: "pw", VHost: "appeals"}},
		{"CredentialsInAdminURL", broker.AdminConfig{URL: "https://root:adm@mgmt.example/rabbitmq"}, "amqp://hub:pw@mq.example/",
			broker.AdminConfig{URL: "https://root:adm@mgmt.example/rabbitmq", User: "root", Password: "adm", VHost: "/"}},
		{"ExplicitWins", broker.AdminConfig{URL: "http://m:1", User: "u", Password: "p", VHost: "v"}, "not a url",
			broker.AdminConfig{URL: "http://m:1", User: "u", Password: "p", VHost: "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.admin.WithDefaults(tt.amqpURL)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.NoError(t, got.Validate())
		})
	}

	_, err := broker.AdminConfig{}.WithDefaults("ftp://x")
	require.ErrorContains(t, err, "derive management API settings")
	err = broker.AdminConfig{URL: "amqp://x"}.Validate()
	require.ErrorContains(t, err, "url: must be http")
	require.ErrorContains(t, err, "user: must be set")
}

func TestAuthorityPermissionsMatchOnlyTheQueue(t *testing.T) {
	t.Parallel()
	names := broker.Names{Prefix: "t1a2b3c4d5."}
	p := names.AuthorityPermissions("41000001")
	require.Equal(t, `^t1a2b3c4d5\.hub\.authority\.41000001$`, p.Read)
	require.Equal(t, "^$", p.Configure)
	require.Equal(t, "^$", p.Write)
	require.Equal(t, "t1a2b3c4d5.authority-41000001", names.AuthorityUsername("41000001"))

	read := regexp.MustCompile(p.Read)
	require.True(t, read.MatchString(names.AuthorityQueue("41000001")))
	for _, other := range []string{
		names.AuthorityQueue("41000002"),
		names.AuthorityQueue("410000011"),    // a longer code
		names.AuthorityQueue("4100000"),      // a shorter one
		"t1a2b3c4d5xhub.authority.41000001",  // an unescaped dot would match this
		"xt1a2b3c4d5.hub.authority.41000001", // unanchored at the start
		names.Dead(), names.Unroutable(), "amq.default",
	} {
		require.False(t, read.MatchString(other), other)
	}
	for _, name := range []string{names.Deliver(), "amq.default", names.AuthorityQueue("41000001"), "amq.gen-x"} {
		require.False(t, regexp.MustCompile(p.Configure).MatchString(name), name)
		require.False(t, regexp.MustCompile(p.Write).MatchString(name), name)
	}
}

// fakeAdmin is a management API that records requests and answers from a table.
type fakeAdmin struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []fakeRequest
	answer   func(method, path string) (status int, body string)
}

type fakeRequest struct {
	method, path, user, password, contentType string
	body                                      map[string]any
}

func newFakeAdmin(t *testing.T, answer func(method, path string) (int, string)) *fakeAdmin {
	t.Helper()
	f := &fakeAdmin{answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pw, _ := r.BasicAuth()
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &body)
		}
		f.mu.Lock()
		f.requests = append(f.requests, fakeRequest{r.Method, r.URL.EscapedPath(), user, pw, r.Header.Get("Content-Type"), body})
		f.mu.Unlock()
		status, resp := f.answer(r.Method, r.URL.EscapedPath())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAdmin) recorded() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func TestAuthorityUserRequests(t *testing.T) {
	t.Parallel()
	const user = "p.x.authority-41000001"
	f := newFakeAdmin(t, func(method, path string) (int, string) {
		switch {
		case method == http.MethodGet && path == "/mgmt/api/users/"+user+"/permissions":
			return http.StatusOK, `[{"user":"` + user + `","vhost":"/"},{"user":"` + user + `","vhost":"other"}]`
		case method == http.MethodGet && path == "/mgmt/api/users/"+user+"/topic-permissions":
			return http.StatusOK, `[{"user":"` + user + `","vhost":"/","exchange":"amq.topic"}]`
		case method == http.MethodPut:
			return http.StatusCreated, ""
		default:
			return http.StatusNoContent, ""
		}
	})
	admin := broker.AdminConfig{URL: f.srv.URL + "/mgmt/", User: "adm", Password: "admpw", VHost: "/"}
	got, err := broker.AuthorityUser(t.Context(), admin, broker.Names{Prefix: "p.x."}, "41000001", "pw-secret")
	require.NoError(t, err)
	require.Equal(t, user, got)

	reqs := f.recorded()
	var calls []string
	for _, r := range reqs {
		calls = append(calls, r.method+" "+r.path)
		require.Equal(t, "adm", r.user)
		require.Equal(t, "admpw", r.password)
	}
	require.Equal(t, []string{
		"PUT /mgmt/api/users/" + user,
		"PUT /mgmt/api/permissions/%2F/" + user,
		"GET /mgmt/api/users/" + user + "/permissions",
		"DELETE /mgmt/api/permissions/other/" + user,
		"GET /mgmt/api/users/" + user + "/topic-permissions",
		"DELETE /mgmt/api/topic-permissions/%2F/" + user,
	}, calls)
	require.Equal(t, map[string]any{"password": "pw-secret", "tags": ""}, reqs[0].body)
	require.Equal(t, "application/json", reqs[0].contentType)
	require.Equal(t, map[string]any{"configure": "^$", "write": "^$", "read": `^p\.x\.hub\.authority\.41000001$`}, reqs[1].body)
}

func TestAuthorityUserRefusal(t *testing.T) {
	t.Parallel()
	f := newFakeAdmin(t, func(string, string) (int, string) {
		return http.StatusUnauthorized, `{"error":"not_authorised","reason":"User can only log in via localhost"}`
	})
	admin := broker.AdminConfig{URL: f.srv.URL, User: "hub", Password: "hubpw"}
	_, err := broker.AuthorityUser(t.Context(), admin, broker.Names{}, "41000001", "pw-secret")
	ae, ok := errors.AsType[*broker.AdminError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusUnauthorized, ae.Status)
	require.Equal(t, "User can only log in via localhost", ae.Reason)
	require.ErrorContains(t, err, "create user authority-41000001: 401 Unauthorized")
	require.NotContains(t, err.Error(), "pw-secret")
	require.NotContains(t, err.Error(), "hubpw")
	require.Len(t, f.recorded(), 1, "nothing after the first refusal")
}

func TestAuthorityUserRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFakeAdmin(t, func(string, string) (int, string) { return http.StatusNoContent, "" })
	admin := broker.AdminConfig{URL: f.srv.URL, User: "adm"}
	tests := []struct {
		name, code, password string
		admin                broker.AdminConfig
		want                 string
	}{
		{"EmptyCode", "", "pw", admin, "authority code is empty"},
		{"SpaceInCode", "41 1", "pw", admin, "space or control character"},
		{"EmptyPassword", "41000001", "", admin, "password is empty"},
		{"NoAdminURL", "41000001", "pw", broker.AdminConfig{User: "adm"}, "url: must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := broker.AuthorityUser(t.Context(), tt.admin, broker.Names{}, tt.code, tt.password)
			require.ErrorContains(t, err, tt.want)
		})
	}
	require.Empty(t, f.recorded(), "no request for invalid input")
}

func TestDeleteUserMissingIsNotAnError(t *testing.T) {
	t.Parallel()
	f := newFakeAdmin(t, func(string, string) (int, string) {
		return http.StatusNotFound, `{"error":"Object Not Found","reason":"Not Found"}`
	})
	require.NoError(t, broker.DeleteUser(t.Context(), broker.AdminConfig{URL: f.srv.URL, User: "adm"}, "a/b"))
	require.Equal(t, "/api/users/a%2Fb", f.recorded()[0].path)
	require.ErrorContains(t, broker.DeleteUser(t.Context(), broker.AdminConfig{URL: f.srv.URL, User: "adm"}, ""), "user name is empty")
}

// ---- against RabbitMQ with the management plugin ----------------------------------------------

// newAuthorityUser creates the user of code with a random password and deletes it when the test
// ends.
func newAuthorityUser(t *testing.T, admin broker.AdminConfig, names broker.Names, code string) (user, password string) {
	t.Helper()
	password = rand.Text()
	user, err := broker.AuthorityUser(t.Context(), admin, names, code, password)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, broker.DeleteUser(ctx, admin, user))
	})
	return user, password
}

// dialAs connects to the broker of cfg as user. The connection is closed when the test ends.
func dialAs(t *testing.T, cfg broker.Config, user, password string) (*amqp.Connection, error) {
	t.Helper()
	u, err := url.Parse(cfg.URL)
	require.NoError(t, err)
	u.User = url.UserPassword(user, password)
	conn, err := amqp.DialConfig(u.String(), amqp.Config{Heartbeat: 2 * time.Second, Dial: amqp.DefaultDial(10 * time.Second)})
	if err == nil {
		t.Cleanup(func() { _ = conn.Close() })
	}
	return conn, err
}

func requireAccessRefused(t *testing.T, err error) {
	t.Helper()
	ae, ok := errors.AsType[*amqp.Error](err)
	require.True(t, ok, "want ACCESS_REFUSED, got %v", err)
	require.Equal(t, amqp.AccessRefused, ae.Code, ae.Reason)
}

// publishOn publishes on a fresh channel and returns the channel exception that follows, or nil
// if the publish was confirmed.
func publishOn(ctx context.Context, conn *amqp.Connection, exchange, key string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.Confirm(false); err != nil {
		return err
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, amqp.Publishing{Body: []byte("rogue")})
	if err != nil {
		return err
	}
	select {
	case e := <-closed:
		return e
	case <-dc.Done():
		select { // the exception, if any, comes before the confirm would
		case e := <-closed:
			return e
		default:
			return nil
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestAuthorityUserConsumesOnlyItsQueue(t *testing.T) {
	t.Parallel()
	const a, b = "41000001", "41000002"
	bu := setup(t, []string{a, b})
	cfg, names := bu.cfg, bu.cfg.Names
	admin := brokertest.Admin(t, cfg)
	requireAllConfirmed(t, bu.pub.PublishBatch(t.Context(), []broker.Message{msg(a, "a-1"), msg(b, "b-1")}))
	waitDepth(t, cfg, names.AuthorityQueue(a), 1)

	user, password := newAuthorityUser(t, admin, names, a)
	require.Equal(t, names.Prefix+"authority-"+a, user)
	conn, err := dialAs(t, cfg, user, password)
	require.NoError(t, err)

	t.Run("ConsumesAndAcksItsQueue", func(t *testing.T) {
		consumeOne := func(want string) {
			t.Helper()
			ch, err := conn.Channel()
			require.NoError(t, err)
			require.NoError(t, ch.Qos(1, 0, false))
			deliveries, err := ch.Consume(names.AuthorityQueue(a), "", false, false, false, false, nil)
			require.NoError(t, err)
			d := receive(t, deliveries, "a message of "+a)
			require.Equal(t, want, d.MessageId)
			require.False(t, d.Redelivered, "an earlier ack was lost")
			require.NoError(t, d.Ack(false))
			// A refused or failed ack would have closed the channel before this close-ok.
			require.NoError(t, ch.Close())
		}
		consumeOne("a-1")
		// Had the ack not taken, a-1 would come back (redelivered) before a-2.
		requireAllConfirmed(t, bu.pub.PublishBatch(t.Context(), []broker.Message{msg(a, "a-2")}))
		consumeOne("a-2")
		waitDepth(t, cfg, names.AuthorityQueue(a), 0)
	})

	refusals := []struct {
		name string
		op   func(ch *amqp.Channel) error
	}{
		{"ConsumeAnotherAuthoritysQueue", func(ch *amqp.Channel) error {
			_, err := ch.Consume(names.AuthorityQueue(b), "", false, false, false, false, nil)
			return err
		}},
		{"GetFromAnotherAuthoritysQueue", func(ch *amqp.Channel) error {
			_, _, err := ch.Get(names.AuthorityQueue(b), false)
			return err
		}},
		{"ConsumeDeadLetters", func(ch *amqp.Channel) error {
			_, err := ch.Consume(names.Dead(), "", false, false, false, false, nil)
			return err
		}},
		{"DeclareQueue", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare(names.Prefix+"rogue", false, true, false, false, nil)
			return err
		}},
		{"DeclareServerNamedQueue", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("", false, true, true, false, nil)
			return err
		}},
		{"RedeclareItsOwnQueue", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare(names.AuthorityQueue(a), true, false, false, false, broker.AuthorityQueueArgs(cfg.WithDefaults()))
			return err
		}},
		{"DeleteItsOwnQueue", func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete(names.AuthorityQueue(a), false, false, false)
			return err
		}},
		{"BindItsOwnQueue", func(ch *amqp.Channel) error {
			return ch.QueueBind(names.AuthorityQueue(a), b, names.Deliver(), false, nil)
		}},
		{"DeclareExchange", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare(names.Prefix+"rogue", amqp.ExchangeFanout, false, true, false, false, nil)
		}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := conn.Channel()
			require.NoError(t, err)
			defer func() { _ = ch.Close() }()
			requireAccessRefused(t, tt.op(ch))
		})
	}
	t.Run("PublishToDeliver", func(t *testing.T) {
		requireAccessRefused(t, publishOn(t.Context(), conn, names.Deliver(), b))
	})
	t.Run("PublishToDefaultExchange", func(t *testing.T) {
		requireAccessRefused(t, publishOn(t.Context(), conn, "", names.AuthorityQueue(a)))
	})
	t.Run("NoManagementAccess", func(t *testing.T) {
		err := broker.PingAdmin(t.Context(), broker.AdminConfig{URL: admin.URL, User: user, Password: password})
		ae, ok := errors.AsType[*broker.AdminError](err)
		require.True(t, ok, "%v", err)
		require.Equal(t, http.StatusUnauthorized, ae.Status)
	})

	// The refusals closed channels only: the connection still consumes, and nothing was lost.
	require.False(t, conn.IsClosed())
	n, _, err := broker.Inspect(t.Context(), cfg, names.AuthorityQueue(b))
	require.NoError(t, err)
	require.Equal(t, 1, n, "b's message untouched")
}

func TestAuthorityUserUpdateNarrowsAnExistingUser(t *testing.T) {
	t.Parallel()
	const a = "41000003"
	cfg := setup(t, []string{a}).cfg
	admin := brokertest.Admin(t, cfg)
	user, oldPassword := newAuthorityUser(t, admin, cfg.Names, a)

	// An operator widened the user by hand: administrator tag, full rights here and on another vhost.
	otherVHost := cfg.Names.Prefix + "vhost"
	adminDo(t, admin, http.MethodPut, "vhosts/"+url.PathEscape(otherVHost), map[string]any{}, http.StatusCreated)
	t.Cleanup(func() {
		adminDo(t, admin, http.MethodDelete, "vhosts/"+url.PathEscape(otherVHost), nil, http.StatusNoContent)
	})
	adminDo(t, admin, http.MethodPut, "users/"+url.PathEscape(user), map[string]any{"password": oldPassword, "tags": "administrator"}, http.StatusNoContent)
	all := map[string]string{"configure": ".*", "write": ".*", "read": ".*"}
	adminDo(t, admin, http.MethodPut, "permissions/%2F/"+url.PathEscape(user), all, http.StatusNoContent)
	adminDo(t, admin, http.MethodPut, "permissions/"+url.PathEscape(otherVHost)+"/"+url.PathEscape(user), all, http.StatusCreated)
	adminDo(t, admin, http.MethodPut, "topic-permissions/%2F/"+url.PathEscape(user),
		map[string]string{"exchange": "amq.topic", "write": ".*", "read": ".*"}, http.StatusCreated)

	newPassword := rand.Text()
	got, err := broker.AuthorityUser(t.Context(), admin, cfg.Names, a, newPassword)
	require.NoError(t, err)
	require.Equal(t, user, got)

	var grants []struct{ VHost, Configure, Write, Read string }
	require.NoError(t, json.Unmarshal(adminDo(t, admin, http.MethodGet, "users/"+url.PathEscape(user)+"/permissions", nil, http.StatusOK), &grants))
	require.Len(t, grants, 1)
	p := cfg.Names.AuthorityPermissions(a)
	require.Equal(t, struct{ VHost, Configure, Write, Read string }{"/", p.Configure, p.Write, p.Read}, grants[0])
	require.JSONEq(t, "[]", string(adminDo(t, admin, http.MethodGet, "users/"+url.PathEscape(user)+"/topic-permissions", nil, http.StatusOK)))
	var info struct{ Tags any }
	require.NoError(t, json.Unmarshal(adminDo(t, admin, http.MethodGet, "users/"+url.PathEscape(user), nil, http.StatusOK), &info))
	require.Empty(t, info.Tags)

	// RabbitMQ answers a failed login after about 3 s; this is the one such login of the package.
	_, err = dialAs(t, cfg, user, oldPassword)
	require.ErrorIs(t, err, amqp.ErrCredentials, "the old password still works")
	conn, err := dialAs(t, cfg, user, newPassword)
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(cfg.Names.Prefix+"rogue", false, true, false, false, nil)
	requireAccessRefused(t, err)

	require.NoError(t, broker.DeleteUser(t.Context(), admin, user))
	adminDo(t, admin, http.MethodGet, "users/"+url.PathEscape(user), nil, http.StatusNotFound)
	require.NoError(t, broker.DeleteUser(t.Context(), admin, user), "deleting twice")
}

// adminDo sends one raw management API request and requires the given status; it returns the body.
func adminDo(t *testing.T, admin broker.AdminConfig, method, path string, in any, want int) []byte {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, strings.TrimSuffix(admin.URL, "/")+"/api/"+path, body)
	require.NoError(t, err)
	req.SetBasicAuth(admin.User, admin.Password)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, "%s %s: %s", method, path, out)
	return out
}
