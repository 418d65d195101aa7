package router_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/config"
	"appealhub/internal/hubtest"
	"appealhub/internal/sandbox"
	"appealhub/internal/signature/signaturetest"
	"appealhub/internal/store"
	"appealhub/schemas"
)

// The end-to-end tests of the bad inputs of RELIABILITY.md §3 (attack_*_test.go) share one shape:
// a running hub with two portal clients, two authorities and an operator, a case of each portal
// delivered to each authority, then one bad request after another. Every bad request must get its
// status and problem code, never a 5xx; the row counts of the database must not move (nothing
// half-stored); and the answer must not show anything of the seeded cases the request did not name
// itself (no other client's data).

// Parameters of the attack hubs.
const (
	attackMaxBody    = 4 << 20                // http.max_body_bytes: room for a 10^6-element array
	attackReadHeader = 300 * time.Millisecond // http.read_header_timeout
	attackJSON       = "17000001"             // authority A: JSON, pushed to a sandbox
	attackSEV        = "17000002"             // authority B: SEV 1207, pull mode (its inbox)
	attackPortalB    = "portal-b"             // the second portal client's id
)

// attackCase is a seeded case and what of it no other client may see.
type attackCase struct {
	receipt  schemas.Receipt
	delivery string
	surname  string
	subject  string
}

// secrets are the strings of the case that must not appear in another client's answer.
func (c attackCase) secrets() []string {
	return []string{c.receipt.ID, c.receipt.TrackingNumber, c.receipt.AccessCode, c.delivery, c.surname, c.subject}
}

// attackBundle is a running hub with its clients and seeded cases.
type attackBundle struct {
	env                    *hubtest.Env
	hub                    *hubtest.Hub
	pki                    *signaturetest.PKI
	portalA, portalB       string // tokens
	authA, authB, operator string // tokens
	caseA, caseB           attackCase
	sysA                   *system
}

// attackTokens are the bearer tokens of the attack hubs' clients.
var attackTokens = struct{ portalB, authA, authB, operator string }{
	"attack-portal-b-token", "attack-authority-a-token", "attack-authority-b-token", "attack-operator-token"}

// newAttackBundle starts a hub for the attack tests and seeds portal A's case to authority A and
// portal B's case to authority B (fetched from its inbox and acknowledged), waiting until nothing
// moves any more.
func newAttackBundle(t *testing.T) *attackBundle {
	t.Helper()
	ctx := context.Background()
	b := &attackBundle{pki: signaturetest.Shared(t), portalB: attackTokens.portalB, authA: attackTokens.authA,
		authB: attackTokens.authB, operator: attackTokens.operator}
	b.sysA = newSystem(t, "attack-a", sandbox.Options{})
	b.env = notificationEnv(t, map[string]string{attackJSON: b.sysA.endpoint(attackJSON)}, func(c *config.Config) {
		c.HTTP.MaxBodyBytes = attackMaxBody
		c.HTTP.ReadHeaderTimeout = attackReadHeader
		c.HTTP.TrackBurst = 100000 // the SQL injection table calls /v1/track many times
		c.Deadlines.KeepInterval = 20 * time.Millisecond
		c.Signatures.TrustDir = b.pki.Path("trust")
		c.Signatures.Policy.Appeal = config.SignaturePolicyOptional
		c.Authorities = append(c.Authorities, config.Authority{Code: attackSEV, Name: "Authority B", Adapter: "sev1207",
			Mode: config.AuthorityModePull, Status: config.AuthorityActive})
		c.Clients = append(c.Clients,
			config.Client{ID: attackPortalB, Kind: config.ClientPortal, TokenSHA256: sha256Hex(b.portalB)},
			config.Client{ID: "sys-a", Kind: config.ClientAuthority, Authority: attackJSON, TokenSHA256: sha256Hex(b.authA)},
			config.Client{ID: "sys-b", Kind: config.ClientAuthority, Authority: attackSEV, TokenSHA256: sha256Hex(b.authB)},
			config.Client{ID: "ops", Kind: config.ClientOperator, TokenSHA256: sha256Hex(b.operator)})
	})
	b.env.TrackAuthorities(t, attackSEV)
	b.portalA = b.env.Token
	b.hub = b.env.Start(t)
	t.Cleanup(http.DefaultClient.CloseIdleConnections)

	seed := func(token, key, surname, subject, code string) attackCase {
		body, err := json.Marshal(map[string]any{"case_kind": "appeal", "appeal_kind": "proposal", "addressees": []string{code},
			"applicant": map[string]any{"surname": surname, "name": "Seeded"}, "subject": subject, "text": "Seeded case for the attack tests."})
		require.NoError(t, err)
		resp, err := hubtest.Do(ctx, http.MethodPost, b.hub.URL+"/v1/appeals", token,
			http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}, body)
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, resp.Status, string(resp.Body))
		return attackCase{receipt: decodeReceipt(t, resp.Body), surname: surname, subject: subject}
	}
	b.caseA = seed(b.portalA, "seed-a", "Seededsurnamealpha", "Seeded subject alpha", attackJSON)
	b.caseB = seed(b.portalB, "seed-b", "Seededsurnamebravo", "Seeded subject bravo", attackSEV)

	// A's delivery goes out to its sandbox; B's waits in B's inbox until B fetches and acknowledges it.
	waitFor(t, 30*time.Second, "A's delivery delivered", func() bool { return b.sysA.sb.Ledger().Documents == 1 })
	inbox := b.hub.URL + "/v1/authorities/" + attackSEV + "/inbox"
	waitFor(t, 30*time.Second, "B's delivery in B's inbox", func() bool {
		status, page := getInbox(t, inbox, b.authB)
		require.Equal(t, http.StatusOK, status)
		if len(page.Items) == 1 {
			b.caseB.delivery = page.Items[0].DeliveryID
		}
		return b.caseB.delivery != ""
	})
	resp, err := hubtest.Do(ctx, http.MethodPost, inbox+"/"+b.caseB.delivery+"/ack", b.authB, nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
	c, err := b.env.Store.Case(ctx, "portal-test", b.caseA.receipt.ID)
	require.NoError(t, err)
	b.caseA.delivery = c.Deliveries[0].ID
	b.env.WaitSettled(t, 30*time.Second)
	// Delivered, and the due dates derived from it: nothing moves any more.
	for _, c := range []struct {
		client string
		id     string
	}{{"portal-test", b.caseA.receipt.ID}, {attackPortalB, b.caseB.receipt.ID}} {
		waitFor(t, 30*time.Second, "delivered with its due dates", func() bool {
			cs, err := b.env.Store.Case(ctx, c.client, c.id)
			require.NoError(t, err)
			d := cs.Deliveries[0]
			return d.Status == schemas.StatusDelivered && slices.ContainsFunc(d.Due, func(due schemas.DueDate) bool { return due.Kind == schemas.DueAnswer })
		})
	}
	b.env.WaitSettled(t, 30*time.Second)
	return b
}

// attackState is what a refused request must leave unchanged.
type attackState struct {
	Totals     store.Counts // events without the access_denied ones
	Deliveries map[schemas.DeliveryStatus]int
	Denied     int // access_denied events
}

func (b *attackBundle) state(t *testing.T) attackState {
	t.Helper()
	ctx := context.Background()
	tot, err := b.env.Store.Totals(ctx)
	require.NoError(t, err, "the tables are intact")
	counts, err := b.env.Store.DeliveryCounts(ctx)
	require.NoError(t, err, "the tables are intact")
	caseless, err := b.env.Store.OperatorEvents(ctx, 100000)
	require.NoError(t, err, "the tables are intact")
	denied := 0
	for _, e := range caseless {
		if e.Type == store.EventAccessDenied {
			denied++
		}
	}
	tot.Events -= denied
	return attackState{Totals: tot, Deliveries: counts, Denied: denied}
}

// attack is one bad request and its expected answer.
type attack struct {
	name   string
	method string
	path   string // below the hub's URL
	token  string // "" sends no Authorization header
	header http.Header
	body   []byte
	status int
	code   schemas.Code // the problem code; "" when the answer is not a problem
	// mayShow lists the cases whose data the answer may show (the requester's own).
	mayShow []attackCase
	// writes is set when the request is a normal one that may store something.
	writes bool
	// audited is set when the request asks for another authority's data: it stores nothing but
	// one access_denied event.
	audited bool
}

// run sends a, checks its answer and that nothing was stored, and returns the answer.
func (b *attackBundle) run(t *testing.T, a attack) hubtest.Response {
	t.Helper()
	before := b.state(t)
	resp, err := hubtest.Do(context.Background(), cmpOr(a.method, http.MethodGet), b.hub.URL+a.path, a.token, a.header, a.body)
	require.NoError(t, err)
	require.Less(t, resp.Status, 500, "never a 5xx: %s", resp.Body)
	require.Equal(t, a.status, resp.Status, "%s", clipBody(resp.Body))
	if a.code != "" {
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		code, _ := resp.Problem()
		require.Equal(t, string(a.code), code, "%s", clipBody(resp.Body))
	}
	if a.status == http.StatusUnauthorized {
		require.Equal(t, "Bearer", resp.Header.Get("WWW-Authenticate"))
	}
	if !a.writes {
		after := b.state(t)
		if a.audited {
			require.Equal(t, before.Denied+1, after.Denied, "one access_denied event")
			after.Denied = before.Denied
		}
		require.Equal(t, before, after, "nothing stored")
	}
	b.requireNoLeak(t, a, resp.Body)
	return resp
}

// requireNoLeak checks that body shows nothing of a seeded case but those a names, apart from what
// the request itself carried.
func (b *attackBundle) requireNoLeak(t *testing.T, a attack, body []byte) {
	t.Helper()
	for _, c := range []attackCase{b.caseA, b.caseB} {
		if slices.ContainsFunc(a.mayShow, func(s attackCase) bool { return s.receipt.ID == c.receipt.ID }) {
			continue
		}
		for _, s := range c.secrets() {
			if s == "" || strings.Contains(a.path, s) || strings.Contains(string(a.body), s) {
				continue
			}
			require.NotContains(t, string(body), s, "the answer shows another client's data")
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clipBody(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// jsonHeader is the header of a JSON submission with an idempotency key.
func jsonHeader(key string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {key}}
}

// TestAttackTokens: requests without a token, with a malformed or unknown one, or with a client of
// the wrong kind get 401 or 403 (404 on an authority's routes, which do not tell whether an
// authority exists); a portal never sees another portal's case and an authority never reads,
// acknowledges or reports on another authority's delivery: all 404, nothing stored.
func TestAttackTokens(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	caseA, caseB := b.caseA.receipt.ID, b.caseB.receipt.ID
	aPath, bPath := "/v1/authorities/"+attackJSON, "/v1/authorities/"+attackSEV
	sub := hubtest.Submission(1, 512, attackJSON)
	ackOf := func(of string) []byte { return sevAck(attackSEV, of) }
	msgA := func(of string) []byte {
		return message("registered", "attack-msg-"+of[:8], of, `,"registration_number":"X-1","registration_date":"2026-11-27T09:30:00Z"`)
	}
	jsonType := http.Header{"Content-Type": {"application/json"}}
	xmlType := http.Header{"Content-Type": {"application/xml"}}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Add(k, v)
		return h
	}
	tests := []attack{
		// No token, a malformed one, an unknown one.
		{name: "no token", method: http.MethodPost, path: "/v1/appeals", header: jsonHeader("t1"), body: sub, status: 401, code: schemas.CodeUnauthorized},
		{name: "scheme only", path: "/v1/appeals/" + caseA, header: http.Header{"Authorization": {"Bearer"}}, status: 401, code: schemas.CodeUnauthorized},
		{name: "basic scheme", path: "/v1/appeals/" + caseA, header: http.Header{"Authorization": {"Basic " + b.portalA}}, status: 401, code: schemas.CodeUnauthorized},
		{name: "token with a space", path: "/v1/appeals/" + caseA, header: http.Header{"Authorization": {"Bearer " + b.portalA + " x"}}, status: 401, code: schemas.CodeUnauthorized},
		{name: "two Authorization headers", path: "/v1/appeals/" + caseA,
			header: http.Header{"Authorization": {"Bearer " + b.portalA, "Bearer " + b.portalB}}, status: 401, code: schemas.CodeUnauthorized},
		{name: "8 KiB token", path: "/v1/appeals/" + caseA, token: strings.Repeat("A", 8<<10), status: 401, code: schemas.CodeUnauthorized},
		{name: "unknown token", path: "/v1/appeals/" + caseA, token: "no-such-token", status: 401, code: schemas.CodeUnauthorized},
		{name: "token's hash as the token", path: "/v1/appeals/" + caseA, token: sha256Hex(b.portalA), status: 401, code: schemas.CodeUnauthorized},
		{name: "no token on an authority route", path: aPath + "/inbox", status: 401, code: schemas.CodeUnauthorized},
		{name: "no token on an operator route", path: "/v1/authorities", status: 401, code: schemas.CodeUnauthorized},

		// Wrong kind of client.
		{name: "authority submits", method: http.MethodPost, path: "/v1/appeals", token: b.authA, header: jsonHeader("t2"), body: sub, status: 403, code: schemas.CodeForbidden},
		{name: "authority reads a case", path: "/v1/appeals/" + caseA, token: b.authA, status: 403, code: schemas.CodeForbidden},
		{name: "authority reads a case's events", path: "/v1/appeals/" + caseA + "/events", token: b.authA, status: 403, code: schemas.CodeForbidden},
		{name: "authority reads a case's receipts", path: "/v1/appeals/" + caseA + "/receipts", token: b.authA, status: 403, code: schemas.CodeForbidden},
		{name: "authority subscribes", method: http.MethodPut, path: "/v1/notifications", token: b.authA, header: jsonType,
			body: []byte(`{"mode":"queue"}`), status: 403, code: schemas.CodeForbidden},
		{name: "operator submits", method: http.MethodPost, path: "/v1/appeals", token: b.operator, header: jsonHeader("t3"), body: sub, status: 403, code: schemas.CodeForbidden},
		{name: "operator reads a case", path: "/v1/appeals/" + caseA, token: b.operator, status: 403, code: schemas.CodeForbidden},
		{name: "portal reads an inbox", path: aPath + "/inbox", token: b.portalA, status: 404, code: schemas.CodeNotFound},
		{name: "portal posts a message", method: http.MethodPost, path: aPath + "/messages", token: b.portalA, header: jsonType,
			body: msgA(b.caseA.delivery), status: 404, code: schemas.CodeNotFound},
		{name: "operator posts a message", method: http.MethodPost, path: aPath + "/messages", token: b.operator, header: jsonType,
			body: msgA(b.caseA.delivery), status: 404, code: schemas.CodeNotFound},
		{name: "portal lists the registry", path: "/v1/authorities", token: b.portalA, status: 403, code: schemas.CodeForbidden},
		{name: "authority lists the registry", path: "/v1/authorities", token: b.authA, status: 403, code: schemas.CodeForbidden},
		{name: "authority suspends itself", method: http.MethodPost, path: aPath + "/suspend", token: b.authA, status: 403, code: schemas.CodeForbidden},
		{name: "portal reads the overdue list", path: "/v1/overdue", token: b.portalA, status: 403, code: schemas.CodeForbidden},
		{name: "portal reads statistics", path: "/v1/stats?from=2026-01-01&to=2026-12-31", token: b.portalA, status: 403, code: schemas.CodeForbidden},
		{name: "authority reads dead notifications", path: "/v1/notifications/dead", token: b.authA, status: 403, code: schemas.CodeForbidden},

		// A portal and another portal's case (BOLA): not found, as if there were none.
		{name: "portal B reads A's case", path: "/v1/appeals/" + caseA, token: b.portalB, status: 404, code: schemas.CodeNotFound},
		{name: "portal B reads A's events", path: "/v1/appeals/" + caseA + "/events", token: b.portalB, status: 404, code: schemas.CodeNotFound},
		{name: "portal B reads A's receipts", path: "/v1/appeals/" + caseA + "/receipts", token: b.portalB, status: 404, code: schemas.CodeNotFound},
		{name: "portal A reads B's case", path: "/v1/appeals/" + caseB, token: b.portalA, status: 404, code: schemas.CodeNotFound},
		{name: "portal B replays A's idempotency key with A's body", method: http.MethodPost, path: "/v1/appeals", token: b.portalB,
			header: jsonHeader("seed-a"), body: nil, status: 400, code: schemas.CodeMalformedJSON},
		{name: "A's tracking number with B's access code", path: "/v1/track/" + b.caseA.receipt.TrackingNumber + "?code=" + b.caseB.receipt.AccessCode,
			status: 404, code: schemas.CodeNotFound},
		{name: "A's tracking number without a code", path: "/v1/track/" + b.caseA.receipt.TrackingNumber, status: 404, code: schemas.CodeNotFound},
		{name: "a made-up case id", path: "/v1/appeals/0191d7a8-0000-7000-8000-000000000000", token: b.portalA, status: 404, code: schemas.CodeNotFound},

		// An authority and another authority's delivery (BOLA): not found.
		{name: "A reads B's inbox", audited: true, path: bPath + "/inbox", token: b.authA, status: 404, code: schemas.CodeNotFound},
		{name: "A reads B's item on B's path", audited: true, path: bPath + "/inbox/" + b.caseB.delivery, token: b.authA, status: 404, code: schemas.CodeNotFound},
		{name: "A reads B's item on its own path", audited: true, path: aPath + "/inbox/" + b.caseB.delivery, token: b.authA, status: 404, code: schemas.CodeNotFound},
		{name: "A acks B's item on B's path", audited: true, method: http.MethodPost, path: bPath + "/inbox/" + b.caseB.delivery + "/ack", token: b.authA, status: 404, code: schemas.CodeNotFound},
		{name: "A acks B's item on its own path", audited: true, method: http.MethodPost, path: aPath + "/inbox/" + b.caseB.delivery + "/ack", token: b.authA, status: 404, code: schemas.CodeNotFound},
		{name: "A reports on B's delivery", audited: true, method: http.MethodPost, path: aPath + "/messages", token: b.authA, header: jsonType,
			body: msgA(b.caseB.delivery), status: 404, code: schemas.CodeNotFound},
		{name: "A reports on B's path", audited: true, method: http.MethodPost, path: bPath + "/messages", token: b.authA, header: xmlType,
			body: ackOf(b.caseB.delivery), status: 404, code: schemas.CodeNotFound},
		{name: "B acknowledges A's delivery in SEV 1207", audited: true, method: http.MethodPost, path: bPath + "/messages", token: b.authB, header: xmlType,
			body: ackOf(b.caseA.delivery), status: 404, code: schemas.CodeNotFound},
		{name: "A names B's authority_id in the body", method: http.MethodPost, path: aPath + "/messages", token: b.authA, header: jsonType,
			body:   message("registered", "attack-msg-authority-id", b.caseB.delivery, `,"authority_id":"`+attackSEV+`","registration_number":"X-1","registration_date":"2026-11-27T09:30:00Z"`),
			status: 400, code: schemas.CodeSchemaViolation},
		{name: "A's delivery state on an operator route", path: bPath + "/delivery", token: b.authA, status: 403, code: schemas.CodeForbidden},
		{name: "authority with a Host trick", audited: true, path: bPath + "/inbox", token: b.authA, header: with(http.Header{}, "X-Forwarded-For", "127.0.0.1"),
			status: 404, code: schemas.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { b.run(t, tt) })
	}

	// The controls: each owner sees its own.
	resp := b.run(t, attack{path: "/v1/appeals/" + caseA, token: b.portalA, status: 200, mayShow: []attackCase{b.caseA}})
	require.Contains(t, string(resp.Body), b.caseA.receipt.TrackingNumber)
	resp = b.run(t, attack{path: "/v1/appeals/" + caseB, token: b.portalB, status: 200, mayShow: []attackCase{b.caseB}})
	require.Contains(t, string(resp.Body), b.caseB.receipt.TrackingNumber)
}

// TestAttackSlowHeaders: a client that sends its headers a byte at a time, past
// http.read_header_timeout, has its connection closed without an answer, and the hub keeps serving.
func TestAttackSlowHeaders(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	conn, err := net.Dial("tcp", b.hub.Addr())
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	head := "POST /v1/appeals HTTP/1.1\r\nHost: hub.test\r\nAuthorization: Bearer " + b.portalA + "\r\nX-Slow: " +
		strings.Repeat("s", 200) + "\r\n\r\n"
	// Drip the headers, one byte every 20 ms (4 s for the whole head, far past the 300 ms limit),
	// until the hub closes the connection.
	type readResult struct {
		got []byte
		err error
	}
	closed := make(chan readResult, 1)
	go func() {
		got, err := io.ReadAll(conn) // returns when the hub closes the connection
		closed <- readResult{got, err}
	}()
	var result *readResult
drip:
	for i := 0; i < len(head); i++ {
		if _, err := conn.Write([]byte{head[i]}); err != nil {
			break // closed by the hub
		}
		select {
		case r := <-closed:
			result = &r
			break drip
		case <-time.After(20 * time.Millisecond):
		}
	}
	if result == nil {
		select {
		case r := <-closed:
			result = &r
		case <-time.After(10 * time.Second):
			t.Fatal("the hub kept the connection of a client that never finished its headers")
		}
	}
	require.True(t, errClosed(result.err), "%v", result.err)
	if len(result.got) > 0 { // Go's server may say 400 before it closes
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(result.got))), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", result.got)
		require.True(t, resp.Close)
	}

	// The hub serves others meanwhile and after.
	hubtest.WaitReady(t, b.hub.URL)
	b.env.MustSubmit(t, b.hub.URL, "after-slow", hubtest.Submission(2, 512, attackJSON))
}

// TestAttackBodyLimits: a body announced larger than http.max_body_bytes is refused with 413 before
// it is sent (the hub answers after reading the headers and closes the connection); a chunked body
// over the limit is cut at the limit with 413; nothing is stored.
func TestAttackBodyLimits(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	before := b.state(t)

	conn, err := net.Dial("tcp", b.hub.Addr())
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = fmt.Fprintf(conn, "POST /v1/appeals HTTP/1.1\r\nHost: hub.test\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nIdempotency-Key: huge\r\nContent-Length: %d\r\n\r\n{\"text\":\"", b.portalA, int64(1)<<40)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "an answer without the terabyte")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"code":"body_too_large"`)
	require.True(t, resp.Close, "the hub closes the connection after refusing the body")

	// Chunked, no length announced: 5 MiB, cut at the 4 MiB limit.
	big := strings.NewReader(`{"text":"` + strings.Repeat("x", 5<<20) + `"}`)
	req, err := http.NewRequest(http.MethodPost, b.hub.URL+"/v1/appeals", io.NopCloser(big))
	require.NoError(t, err)
	req.Header = jsonHeader("chunked")
	req.Header.Set("Authorization", "Bearer "+b.portalA)
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, _ := io.ReadAll(r2.Body)
	_ = r2.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, r2.StatusCode, string(out))
	require.Contains(t, string(out), `"code":"body_too_large"`)

	// An authority's message over the limit, announced.
	b.run(t, attack{name: "message over the limit", method: http.MethodPost, path: "/v1/authorities/" + attackJSON + "/messages",
		token: b.authA, header: http.Header{"Content-Type": {"application/json"}}, body: make([]byte, attackMaxBody+1),
		status: 413, code: schemas.CodeBodyTooLarge})
	require.Equal(t, before, b.state(t), "nothing stored")
	hubtest.WaitReady(t, b.hub.URL)
}

// TestAttackJSON: the JSON attacks of §3.5 on POST /v1/appeals, each with its problem, nothing
// stored; and the same on an authority's JSON messages.
func TestAttackJSON(t *testing.T) {
	t.Parallel()
	b := newAttackBundle(t)
	valid := string(hubtest.Submission(7, 512, attackJSON))
	replace := func(old, new string) []byte {
		require.Contains(t, valid, old)
		return []byte(strings.Replace(valid, old, new, 1))
	}
	withField := func(raw string) []byte { return []byte(valid[:len(valid)-1] + "," + raw + "}") }
	array := func(n int, item string) string {
		var sb strings.Builder
		sb.WriteByte('[')
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(item)
		}
		sb.WriteByte(']')
		return sb.String()
	}
	members := func(n int) string {
		var sb strings.Builder
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"k%d":0`, i)
		}
		return sb.String()
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	deepObject := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		name   string
		body   []byte
		header http.Header
		status int
		code   schemas.Code
	}{
		{"duplicate key", replace(`"case_kind":"appeal"`, `"case_kind":"appeal","case_kind":"info_request"`), nil, 400, schemas.CodeDuplicateKey},
		{"duplicate nested key", replace(`"surname":"Тестенко"`, `"surname":"Тестенко","surname":"Інший"`), nil, 400, schemas.CodeDuplicateKey},
		{"duplicate addressees key", withField(`"addressees":["` + attackSEV + `"]`), nil, 400, schemas.CodeDuplicateKey},
		{"duplicate authority_id", withField(`"authority_id":"A","authority_id":"B"`), nil, 400, schemas.CodeDuplicateKey},
		{"key differing in case", replace(`"subject"`, `"Subject"`), nil, 400, schemas.CodeSchemaViolation},
		{"keys differing in case, both", withField(`"SUBJECT":"x"`), nil, 400, schemas.CodeSchemaViolation},
		{"invalid UTF-8", replace("Тестенко", "Тест\xffенко"), nil, 400, schemas.CodeInvalidUTF8},
		{"overlong UTF-8 encoding", replace("Тестенко", "Тест\xc0\xafенко"), nil, 400, schemas.CodeInvalidUTF8},
		{"lone surrogate escape", replace("Тестенко", `Тест\ud800енко`), nil, 400, schemas.CodeInvalidUTF8},
		{"escaped NUL", replace("Тестенко", `Тест\u0000енко`), nil, 400, schemas.CodeNULCharacter},
		{"raw NUL", replace("Тестенко", "Тест\x00енко"), nil, 400, schemas.CodeNULCharacter},
		{"NUL in a key", withField(`"x\u0000":1`), nil, 400, schemas.CodeNULCharacter},
		{"1e400", withField(`"co_signers":1e400`), nil, 400, schemas.CodeSchemaViolation},
		{"-1e400", withField(`"co_signers":-1e400`), nil, 400, schemas.CodeSchemaViolation},
		{"400-digit integer", withField(`"co_signers":` + strings.Repeat("9", 400)), nil, 400, schemas.CodeSchemaViolation},
		{"10^6-element addressees", replace(`"addressees":["`+attackJSON+`"]`, `"addressees":`+array(1000000, `"1"`)), nil, 400, schemas.CodeSchemaViolation},
		{"10^6-element topic_codes", withField(`"topic_codes":` + array(1000000, "0")), nil, 400, schemas.CodeSchemaViolation},
		{"10^6-element unknown field", withField(`"x":` + array(1000000, "0")), nil, 400, schemas.CodeSchemaViolation},
		{"10,000-deep arrays", withField(`"topic_codes":` + deep(10000)), nil, 400, schemas.CodeMalformedJSON},
		{"10,000-deep objects", withField(`"x":` + deepObject(10000)), nil, 400, schemas.CodeMalformedJSON},
		{"1,000-deep objects", withField(`"x":` + deepObject(1000)), nil, 400, schemas.CodeMalformedJSON},
		{"10,000-deep body", []byte(deep(10000)), nil, 400, schemas.CodeMalformedJSON},
		{"not JSON", []byte("<appeal/>"), nil, 400, schemas.CodeMalformedJSON},
		{"two values", []byte(valid + valid), nil, 400, schemas.CodeMalformedJSON},
		{"empty body", nil, nil, 400, schemas.CodeMalformedJSON},
		{"UTF-16", []byte("\xff\xfe{\x00}\x00"), nil, 400, schemas.CodeInvalidUTF8},
		{"text/plain", []byte(valid), http.Header{"Content-Type": {"text/plain"}, "Idempotency-Key": {"k"}}, 415, schemas.CodeUnsupportedMediaType},
		{"JSON in latin-1", []byte(valid), http.Header{"Content-Type": {"application/json; charset=latin1"}, "Idempotency-Key": {"k"}}, 415, schemas.CodeUnsupportedMediaType},
		{"no idempotency key", []byte(valid), http.Header{"Content-Type": {"application/json"}}, 400, schemas.CodeIdempotencyKeyMissing},
		{"two idempotency keys", []byte(valid), http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"a", "b"}}, 400, schemas.CodeIdempotencyKeyMissing},
		{"201-character idempotency key", []byte(valid), http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {strings.Repeat("k", 201)}}, 400, schemas.CodeIdempotencyKeyMissing},
		{"300,000-member object", withField(`"x":{` + members(300000) + "}"), nil, 400, schemas.CodeSchemaViolation},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = jsonHeader(fmt.Sprintf("json-attack-%d", i))
			}
			resp := b.run(t, attack{method: http.MethodPost, path: "/v1/appeals", token: b.portalA, header: h, body: tt.body,
				status: tt.status, code: tt.code})
			if tt.code == schemas.CodeSchemaViolation {
				var p struct {
					Errors []json.RawMessage `json:"errors"`
				}
				require.NoError(t, json.Unmarshal(resp.Body, &p))
				require.NotEmpty(t, p.Errors)
				require.LessOrEqual(t, len(p.Errors), 1000, "at most 1,000 field problems")
			}
		})
	}

	// The same attacks on an authority's JSON messages.
	msgPath := "/v1/authorities/" + attackJSON + "/messages"
	good := string(message("registered", "json-attack-msg", b.caseA.delivery, `,"registration_number":"X-1","registration_date":"2026-11-27T09:30:00Z"`))
	msgs := []struct {
		name string
		body string
		code schemas.Code
	}{
		{"duplicate of", strings.Replace(good, `"of":`, `"of":"`+b.caseB.delivery+`","of":`, 1), schemas.CodeDuplicateKey},
		{"duplicate type", strings.Replace(good, `"type":"registered"`, `"type":"answered","type":"registered"`, 1), schemas.CodeDuplicateKey},
		{"key differing in case", strings.Replace(good, `"of":`, `"Of":`, 1), schemas.CodeSchemaViolation},
		{"invalid UTF-8", strings.Replace(good, "X-1", "X\xff1", 1), schemas.CodeInvalidUTF8},
		{"escaped NUL", strings.Replace(good, "X-1", `X\u00001`, 1), schemas.CodeNULCharacter},
		{"1e400 date", strings.Replace(good, `"2026-11-27T09:30:00Z"`, `1e400`, 1), schemas.CodeSchemaViolation},
		{"10^6-element array", good[:len(good)-1] + `,"documents":` + array(1000000, "0") + "}", schemas.CodeSchemaViolation},
		{"300,000-member object", good[:len(good)-1] + `,"x":{` + members(300000) + "}}", schemas.CodeSchemaViolation},
		{"10,000-deep", good[:len(good)-1] + `,"documents":` + deep(10000) + "}", schemas.CodeMalformedJSON},
		{"authority_id of another authority", good[:len(good)-1] + `,"authority_id":"` + attackSEV + `"}`, schemas.CodeSchemaViolation},
	}
	for _, m := range msgs {
		t.Run("message "+m.name, func(t *testing.T) {
			b.run(t, attack{method: http.MethodPost, path: msgPath, token: b.authA, header: http.Header{"Content-Type": {"application/json"}},
				body: []byte(m.body), status: 400, code: m.code})
		})
	}
	// The control: the same message without the attack is applied.
	b.run(t, attack{method: http.MethodPost, path: msgPath, token: b.authA, header: http.Header{"Content-Type": {"application/json"}},
		body: []byte(good), status: 200, writes: true})
}

// errClosed reports whether err is what reading a connection the peer closed returns.
func errClosed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset")
}
