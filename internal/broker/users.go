package broker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Defaults used by AdminConfig.WithDefaults and the management API calls.
const (
	// DefaultAdminPort is the management API port derived for an amqp:// URL (plain HTTP).
	DefaultAdminPort = "15672"
	// DefaultAdminTLSPort is the management API port derived for an amqps:// URL (HTTPS).
	DefaultAdminTLSPort = "15671"
	// DefaultAdminTimeout bounds each management API request when AdminConfig.HTTPClient is nil.
	DefaultAdminTimeout = 30 * time.Second
	// DefaultVHost is the virtual host when neither AdminConfig.VHost nor the AMQP URL names one.
	DefaultVHost = "/"
)

// maxAdminErrorBody is how much of a refusal's body is read for its reason.
const maxAdminErrorBody = 64 << 10

// adminTransport is the transport of the default management API client. Calls are rare, so it
// keeps no idle connections (and so no goroutines) once a call has returned.
var adminTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	return t
}()

// AdminConfig locates the RabbitMQ management HTTP API (the rabbitmq_management plugin) and the
// administrator that calls it. The hub never runs on the broker host in production, so users are
// managed over this API, never with rabbitmqctl.
type AdminConfig struct {
	// URL is the base of the management API, such as "http://127.0.0.1:15672" (a path prefix is
	// kept: "https://mq.example/rabbitmq"). Credentials in it ("http://admin:pw@host:15672") are
	// used when User is empty; they are never sent as part of a request URL. Defaults to the host
	// of the AMQP URL with port 15672 over http (amqp://) or 15671 over https (amqps://).
	URL string
	// User and Password authenticate to the management API with HTTP basic auth; the user needs
	// the "administrator" tag. Default to the credentials in URL, else to those of the AMQP URL.
	User, Password string
	// VHost is the virtual host the authority users get access to. Defaults to the vhost of the
	// AMQP URL, which defaults to "/".
	VHost string
	// HTTPClient sends the requests (set it for a private CA or a client certificate). Defaults to
	// a client with a DefaultAdminTimeout timeout that keeps no idle connections.
	HTTPClient *http.Client
}

// WithDefaults returns a copy of a with every empty field derived from amqpURL, the hub's AMQP
// URL (see the field comments). It fails only if it needs amqpURL and cannot parse it.
func (a AdminConfig) WithDefaults(amqpURL string) (AdminConfig, error) {
	if a.URL != "" && a.User == "" {
		if u, err := url.Parse(a.URL); err == nil && u.User != nil {
			a.User = u.User.Username()
			a.Password, _ = u.User.Password()
		}
	}
	if a.URL != "" && a.User != "" && a.VHost != "" {
		return a, nil
	}
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return a, fmt.Errorf("derive management API settings from the AMQP URL: %w", err)
	}
	if a.URL == "" {
		scheme, port := "http", DefaultAdminPort
		if uri.Scheme == "amqps" {
			scheme, port = "https", DefaultAdminTLSPort
		}
		a.URL = scheme + "://" + net.JoinHostPort(uri.Host, port)
	}
	if a.User == "" {
		a.User, a.Password = uri.Username, uri.Password
	}
	a.VHost = cmp.Or(a.VHost, uri.Vhost, DefaultVHost)
	return a, nil
}

// Validate reports every missing or invalid field of a (after WithDefaults) at once.
func (a AdminConfig) Validate() error {
	var errs []error
	if a.URL == "" {
		errs = append(errs, errors.New("url: must be set"))
	} else if u, err := url.Parse(a.URL); err != nil {
		errs = append(errs, errors.New("url: cannot be parsed")) // err would repeat the secret
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: must be http://HOST[:PORT] or https://HOST[:PORT], got scheme %q", u.Scheme))
	}
	if a.User == "" {
		errs = append(errs, errors.New("user: must be set"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid management API config: %w", err)
	}
	return nil
}

// AdminError is a refusal of the management API: an answer other than 2xx.
type AdminError struct {
	// Op is what was attempted ("create user authority-123").
	Op string
	// Status is the HTTP status code (401: bad credentials or not an administrator).
	Status int
	// Reason is the API's own explanation, when it gave one.
	Reason string
}

func (e *AdminError) Error() string {
	s := fmt.Sprintf("management API: %s: %d %s", e.Op, e.Status, http.StatusText(e.Status))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Permissions are the three regular expressions of a RabbitMQ user's permissions on one vhost:
// which resource names it may configure (declare, delete), write (publish to, bind) and read
// (consume from, get from, purge). "^$" matches no resource.
type Permissions struct {
	Configure string `json:"configure"`
	Write     string `json:"write"`
	Read      string `json:"read"`
}

// AuthorityUsername returns the RabbitMQ user name of an authority: "<prefix>authority-<code>".
func (n Names) AuthorityUsername(code string) string { return n.Prefix + "authority-" + code }

// AuthorityPermissions returns the permissions AuthorityUser grants: read on exactly
// AuthorityQueue(code), and nothing to configure or write. The names are escaped with
// regexp.QuoteMeta (the prefix and the queue name contain dots) and anchored with ^…$, so no
// other queue, however similar its name, matches.
func (n Names) AuthorityPermissions(code string) Permissions {
	return Permissions{
		Configure: "^$",
		Write:     "^$",
		Read:      "^" + regexp.QuoteMeta(n.AuthorityQueue(code)) + "$",
	}
}

// AuthorityUser creates (or updates) the RabbitMQ user Names.AuthorityUsername(code) with the
// given password, for an authority that consumes its queue over AMQP directly, and returns its
// name. Run it with the same Names (prefix) as the hub.
//
// The user gets no tags (so no management UI or API) and, on admin.VHost, exactly
// Names.AuthorityPermissions(code): configure "^$", write "^$", read "^<queue>$". That is all
// consuming needs. RabbitMQ checks read on the queue for basic.consume and basic.get; basic.qos,
// basic.ack, basic.nack, basic.reject and basic.cancel are not checked at all, and neither is a
// passive queue.declare; dead-lettering a rejected message is done by the queue with the rights
// of its declarer. Everything else is refused with ACCESS_REFUSED (403) and the channel closed:
// consuming or getting from any other queue, declaring, binding or deleting anything (even a
// server-named queue), and publishing to any exchange, the default exchange ("amq.default") and
// hub.deliver included. So the authority must not declare its queue (the hub declares it, with
// its dead-letter arguments), only consume from it, with manual acks.
//
// Read also allows queue.purge on the queue; RabbitMQ has no finer permission, so an authority
// that purges its own queue drops its own deliveries (the hub's database still holds them).
//
// Updating an existing user sets the new password, removes its tags, its permissions on every
// other vhost and its topic permissions, so the user ends up with nothing but the above.
// Connections already open keep running with the rights they had; close them (management UI) to
// enforce a change at once. The password is sent only in the request body and never appears in
// an error. Each request is bounded by ctx and the HTTP client's timeout.
func AuthorityUser(ctx context.Context, admin AdminConfig, names Names, code, password string) (username string, err error) {
	if err := names.validateCode(code); err != nil {
		return "", fmt.Errorf("create authority user: %w", err)
	}
	username = names.AuthorityUsername(code)
	if err := queueUser(ctx, admin, username, password, names.AuthorityPermissions(code)); err != nil {
		return "", fmt.Errorf("create authority user: %w", err)
	}
	return username, nil
}

// PortalUsername returns the RabbitMQ user name of a portal client: "<prefix>portal-<client>".
func (n Names) PortalUsername(client string) string { return n.Prefix + "portal-" + client }

// PortalPermissions returns the permissions PortalUser grants: read on exactly
// PortalQueue(client), and nothing to configure or write (see AuthorityPermissions).
func (n Names) PortalPermissions(client string) Permissions {
	return Permissions{
		Configure: "^$",
		Write:     "^$",
		Read:      "^" + regexp.QuoteMeta(n.PortalQueue(client)) + "$",
	}
}

// PortalUser creates (or updates) the RabbitMQ user Names.PortalUsername(client) with the given
// password, for a portal client that takes its notifications from its own queue
// Names.PortalQueue(client), and returns its name. The user gets exactly
// Names.PortalPermissions(client) and nothing else, with every rule of AuthorityUser: it may
// consume (and ack, reject) the messages of its queue and do nothing else; the hub declares the
// queue.
func PortalUser(ctx context.Context, admin AdminConfig, names Names, client, password string) (username string, err error) {
	if err := names.validateCode(client); err != nil {
		return "", fmt.Errorf("create portal user: %w", err)
	}
	username = names.PortalUsername(client)
	if err := queueUser(ctx, admin, username, password, names.PortalPermissions(client)); err != nil {
		return "", fmt.Errorf("create portal user: %w", err)
	}
	return username, nil
}

// queueUser creates or updates username with password, no tags, perms on admin.VHost and no
// permissions anywhere else (see AuthorityUser).
func queueUser(ctx context.Context, admin AdminConfig, username, password string, perms Permissions) error {
	if password == "" {
		return errors.New("password is empty")
	}
	if err := admin.Validate(); err != nil {
		return err
	}
	vhost := cmp.Or(admin.VHost, DefaultVHost)
	user := url.PathEscape(username)
	body := map[string]string{"password": password, "tags": ""}
	if err := admin.call(ctx, http.MethodPut, "create user "+username, body, nil, "users", user); err != nil {
		return err
	}
	if err := admin.call(ctx, http.MethodPut, "set permissions of "+username, perms, nil, "permissions", url.PathEscape(vhost), user); err != nil {
		return err
	}
	return admin.revokeOthers(ctx, username, vhost)
}

// revokeOthers deletes the permissions of username on every vhost but vhost, and all its topic
// permissions.
func (a AdminConfig) revokeOthers(ctx context.Context, username, vhost string) error {
	user := url.PathEscape(username)
	var grants []struct {
		VHost string `json:"vhost"`
	}
	if err := a.call(ctx, http.MethodGet, "list permissions of "+username, nil, &grants, "users", user, "permissions"); err != nil {
		return err
	}
	for _, g := range grants {
		if g.VHost == vhost {
			continue
		}
		if err := a.call(ctx, http.MethodDelete, "revoke permissions of "+username+" on another vhost", nil, nil, "permissions", url.PathEscape(g.VHost), user); err != nil {
			return err
		}
	}
	var topics []struct {
		VHost string `json:"vhost"`
	}
	if err := a.call(ctx, http.MethodGet, "list topic permissions of "+username, nil, &topics, "users", user, "topic-permissions"); err != nil {
		return err
	}
	for _, g := range topics {
		if err := a.call(ctx, http.MethodDelete, "revoke topic permissions of "+username, nil, nil, "topic-permissions", url.PathEscape(g.VHost), user); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser deletes a RabbitMQ user (an authority user made by AuthorityUser) with all its
// permissions. Deleting a user that does not exist is not an error.
func DeleteUser(ctx context.Context, admin AdminConfig, username string) error {
	if username == "" {
		return errors.New("delete user: user name is empty")
	}
	if err := admin.Validate(); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	err := admin.call(ctx, http.MethodDelete, "delete user "+username, nil, nil, "users", url.PathEscape(username))
	if ae, ok := errors.AsType[*AdminError](err); ok && ae.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// PingAdmin reports whether the management API answers at admin.URL and accepts its credentials
// (GET /api/whoami).
func PingAdmin(ctx context.Context, admin AdminConfig) error {
	if err := admin.Validate(); err != nil {
		return fmt.Errorf("ping management API: %w", err)
	}
	if err := admin.call(ctx, http.MethodGet, "check credentials", nil, nil, "whoami"); err != nil {
		return fmt.Errorf("ping management API: %w", err)
	}
	return nil
}

// call sends one request to /api/<segments...> (each segment already path-escaped) with in as
// its JSON body (none if nil) and decodes a 2xx answer into out (ignored if nil). Other answers
// become an *AdminError.
func (a AdminConfig) call(ctx context.Context, method, op string, in, out any, segments ...string) error {
	base, err := url.Parse(a.URL)
	if err != nil {
		return errors.New("parse management API URL") // err would repeat the secret
	}
	base.User = nil // credentials go in the Authorization header only
	endpoint := strings.TrimSuffix(base.String(), "/") + "/api/" + strings.Join(segments, "/")

	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.SetBasicAuth(a.User, a.Password)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := a.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultAdminTimeout, Transport: adminTransport}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var refusal struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAdminErrorBody))
		_ = json.Unmarshal(raw, &refusal)
		return &AdminError{Op: op, Status: resp.StatusCode, Reason: cmp.Or(refusal.Reason, refusal.Error)}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAdminErrorBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", op, err)
	}
	return nil
}
