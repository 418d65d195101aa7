package chaos

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"appealhub/config"
	"appealhub/schemas"
)

// poisonOperator is the console account R8 redrives with; its login is the actor of the audit
// events.
const poisonOperator = "chaos-operator"

// poisonFaults makes the authorities' systems crash on chosen documents: for a fixed share of
// deliveries (chosen by their delivery id, the Idempotency-Key of every send, so the crash repeats
// on every send of that document) the handler aborts without an answer and records nothing, as a
// receiving system whose parser crashes on the document (net/http recovers http.ErrAbortHandler
// and closes the connection: the hub sees the connection end without a response). Lift ends the
// fault: the system is fixed. Safe for concurrent use.
type poisonFaults struct {
	pct    uint32 // percent of deliveries that crash the system
	lifted atomic.Bool

	mu      sync.Mutex
	crashes map[string]int // delivery id → sends that crashed
	after   map[string]int // poisoned delivery id → sends after the fix
}

// poisoned reports whether a delivery's document crashes the system (until Lift).
func (p *poisonFaults) poisoned(deliveryID string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte("poison/" + deliveryID))
	return h.Sum32()%100 < p.pct
}

// Lift fixes the systems: from now on every document is taken.
func (p *poisonFaults) Lift() { p.lifted.Store(true) }

func (p *poisonFaults) wrap(_ string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" || !p.poisoned(key) {
			next.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		lifted := p.lifted.Load()
		if lifted {
			p.after[key]++
		} else {
			p.crashes[key]++
		}
		p.mu.Unlock()
		if lifted {
			next.ServeHTTP(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		panic(http.ErrAbortHandler)
	})
}

// sends returns, per poisoned delivery, the sends that crashed and the sends after the fix.
func (p *poisonFaults) sends() (crashes, after map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	crashes, after = make(map[string]int, len(p.crashes)), make(map[string]int, len(p.after))
	for k, v := range p.crashes {
		crashes[k] = v
	}
	for k, v := range p.after {
		after[k] = v
	}
	return crashes, after
}

// poisonRun is what R8 found while its faults ran.
type poisonRun struct {
	mu        sync.Mutex
	dead      map[string]deadRow // poisoned deliveries when all were dead, by id
	listed    []string           // the dead letters the console listed
	redriven  []string           // the ids the console redrove
	done      string             // the console's answer to the redrive
	deadAfter time.Duration      // end of the load → every poisoned delivery dead
	delivered time.Duration      // redrive → every poisoned delivery delivered
	events    map[string][]string
	unsealed  int    // redrive events not sealed within the bound
	verify    string // appealhub audit verify's summary
	failed    []string
}

// deadRow is one delivery as R8 reads it from the database.
type deadRow struct {
	ID, Status, LastError string
	Attempts              int
}

// R8 makes the authorities' systems crash on pct % of the documents (chosen by delivery id, the
// same document crashing on every send): those deliveries fail on every send and end dead after
// delivery.max_attempts attempts. After the load, once all of them are dead, the systems are fixed
// and an operator redrives them from the console (an account made with `appealhub operator add`,
// signed in through /console/signin, the dead letters page's form posted to /console/dead/redrive
// with its CSRF token). Extra criteria: every poisoned delivery is dead with "gave up after" its
// attempts, at least max_attempts of them, of which at most max_attempts real sends (all crashed),
// and no document of it recorded; the console lists exactly the poisoned deliveries as dead letters
// and redrives all of them; after the redrive each is recorded exactly once (one document, the
// global criteria then find none lost or duplicated); each redrive is one delivery_redriven event
// naming the operator and the reason, sealed into the event chain, and `appealhub audit verify`
// finds the chain intact.
func R8(appeals, rate int, pct uint32, maxAttempts int) Scenario {
	faults := &poisonFaults{pct: pct, crashes: map[string]int{}, after: map[string]int{}}
	run := &poisonRun{}
	return Scenario{
		ID: "R8", Fault: fmt.Sprintf("poison: %d%% of documents crash the authority's system until fixed, then redriven", pct),
		Load: Load{Appeals: appeals, Rate: rate, Seed: 8},
		Env: Options{
			Wrap: faults.wrap,
			Configure: func(c *config.Config) {
				c.Delivery.MaxAttempts = maxAttempts
				// Test-scaled: once the load is over only the poisoned deliveries fail, which opens
				// the authorities' breakers now and then; the cool-down is shortened so that they
				// go dead in seconds.
				c.Delivery.BreakerCooldown = 5 * time.Second
				c.Console.AllowLoopbackHTTP = true
			},
		},
		Faults:   func(ctx context.Context, r *Run) error { return runPoison(ctx, r, faults, run) },
		Criteria: func(rep *Report, r *Run) { poisonCriteria(rep, r, faults, run, maxAttempts) },
	}
}

func runPoison(ctx context.Context, r *Run, faults *poisonFaults, run *poisonRun) error {
	h := r.Env.Hubs[0]
	password := randomHex(16)
	if err := addOperator(ctx, h, poisonOperator, password); err != nil {
		return err
	}
	db, err := sql.Open("postgres", r.Env.PG.URL("postgres"))
	if err != nil {
		return fmt.Errorf("r8: open database: %w", err)
	}
	defer func() { _ = db.Close() }()
	select {
	case <-ctx.Done():
		return nil
	case <-r.LoadDone:
	}
	_, loadEnd := r.Gen.Span()

	// Every poisoned delivery goes dead on its own: its last send fails.
	var poisoned map[string]deadRow
	ok := waitFor(5*time.Minute, time.Second, func() bool {
		rows, err := deliveryRows(ctx, db)
		if err != nil {
			return false
		}
		poisoned = map[string]deadRow{}
		for _, d := range rows {
			if faults.poisoned(d.ID) {
				poisoned[d.ID] = d
			}
		}
		for _, d := range poisoned {
			if d.Status != string(schemas.StatusDead) {
				return false
			}
		}
		return len(poisoned) > 0
	})
	run.mu.Lock()
	run.dead, run.deadAfter = poisoned, time.Since(loadEnd)
	run.mu.Unlock()
	if !ok {
		return fmt.Errorf("r8: the poisoned deliveries were not all dead within 5 minutes of the load: %v", poisonStatuses(poisoned))
	}

	end := r.Log.Begin("fix and redrive", "console")
	defer end()
	faults.Lift()
	c, err := newConsoleClient(ctx, h.URL()+"/console", poisonOperator, password)
	if err != nil {
		return err
	}
	defer c.close()
	listed, csrf, err := c.deadLetters(ctx)
	if err != nil {
		return err
	}
	redrivenAt := time.Now()
	done, err := c.redrive(ctx, listed, csrf, "the authority's system is fixed: chaos R8")
	if err != nil {
		return err
	}
	redriven, err := redrivenIDs(ctx, db, redrivenAt.Add(-time.Second))
	if err != nil {
		return err
	}
	run.mu.Lock()
	run.listed, run.done, run.redriven = listed, done, redriven
	run.mu.Unlock()

	// Each redriven delivery is delivered, and its redrive is sealed into the event chain.
	ok = waitFor(2*time.Minute, 200*time.Millisecond, func() bool {
		rows, err := deliveryRows(ctx, db)
		if err != nil {
			return false
		}
		for _, d := range rows {
			if poisoned[d.ID].ID != "" && d.Status != string(schemas.StatusDelivered) {
				return false
			}
		}
		return true
	})
	run.mu.Lock()
	run.delivered = time.Since(redrivenAt)
	if !ok {
		run.failed = append(run.failed, fmt.Sprintf("redriven deliveries not all delivered within %s", round(run.delivered)))
	}
	run.mu.Unlock()
	var events map[string][]string
	var unsealed int
	waitFor(30*time.Second, 250*time.Millisecond, func() bool {
		events, unsealed, err = redriveEvents(ctx, db)
		return err == nil && unsealed == 0
	})
	if err != nil {
		return err
	}
	summary, verr := auditVerify(ctx, h)
	run.mu.Lock()
	defer run.mu.Unlock()
	run.events, run.unsealed, run.verify = events, unsealed, summary
	if verr != nil {
		run.failed = append(run.failed, verr.Error())
	}
	return nil
}

func poisonStatuses(rows map[string]deadRow) map[string]int {
	out := map[string]int{}
	for _, d := range rows {
		out[d.Status]++
	}
	return out
}

// deliveryRows reads every delivery's status, attempts and last error.
func deliveryRows(ctx context.Context, db *sql.DB) ([]deadRow, error) {
	rows, err := db.QueryContext(ctx, `SELECT id::text, status, attempts, last_error FROM deliveries`)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []deadRow
	for rows.Next() {
		var d deadRow
		if err := rows.Scan(&d.ID, &d.Status, &d.Attempts, &d.LastError); err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// redrivenIDs returns the deliveries with a delivery_redriven event since from.
func redrivenIDs(ctx context.Context, db *sql.DB, from time.Time) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT delivery_id::text FROM events WHERE type = $1 AND created_at >= $2`,
		"delivery_redriven", from)
	if err != nil {
		return nil, fmt.Errorf("read redrive events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read redrive events: %w", err)
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// redriveEvents returns the details of the delivery_redriven events by delivery id, and how many
// of them no link of the event chain seals yet.
func redriveEvents(ctx context.Context, db *sql.DB) (map[string][]string, int, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT e.delivery_id::text, e.detail, c.pos IS NOT NULL
		FROM events e LEFT JOIN event_chain c ON c.seq = e.seq
		WHERE e.type = $1`, "delivery_redriven")
	if err != nil {
		return nil, 0, fmt.Errorf("read redrive events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string][]string{}
	unsealed := 0
	for rows.Next() {
		var id, detail string
		var sealed bool
		if err := rows.Scan(&id, &detail, &sealed); err != nil {
			return nil, 0, fmt.Errorf("read redrive events: %w", err)
		}
		out[id] = append(out[id], detail)
		if !sealed {
			unsealed++
		}
	}
	return out, unsealed, rows.Err()
}

// addOperator creates a console account with the operator role: `appealhub operator add`, the
// password on standard input.
func addOperator(ctx context.Context, h *HubProcess, login, password string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, "operator", "add", login, "--role", "operator", "--config", h.cfgPath)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("operator add: %w: %s", err, out)
	}
	return nil
}

// auditVerify runs `appealhub audit verify --json` and returns its summary; an error when the
// chain is broken or the command fails.
func auditVerify(ctx context.Context, h *HubProcess) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.bin, "audit", "verify", "--json", "--config", h.cfgPath).Output()
	var rep struct {
		Links      int64 `json:"links"`
		Unsealed   int64 `json:"unsealed"`
		BreakCount int   `json:"break_count"`
	}
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		return "", fmt.Errorf("audit verify: %w: %w: %s", err, jerr, out)
	}
	summary := fmt.Sprintf("links %d, unsealed %d, breaks %d", rep.Links, rep.Unsealed, rep.BreakCount)
	if err != nil || rep.BreakCount != 0 {
		return summary, fmt.Errorf("audit verify: %s (%v)", summary, err)
	}
	return summary, nil
}

// consoleClient is an operator's browser session on the console.
type consoleClient struct {
	base   string
	client *http.Client
}

var (
	csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	deadInput = regexp.MustCompile(`name="id" value="([0-9a-f-]{36})"`)
)

// newConsoleClient signs in at base (…/console) as login: it reads the sign-in form (its CSRF
// token and cookie) and posts it.
func newConsoleClient(ctx context.Context, base, login, password string) (*consoleClient, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &consoleClient{base: base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	status, page, _, err := c.do(ctx, http.MethodGet, "/signin", nil)
	if err != nil {
		return nil, err
	}
	m := csrfInput.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		return nil, fmt.Errorf("console sign-in form: %d without a CSRF token", status)
	}
	status, _, loc, err := c.do(ctx, http.MethodPost, "/signin", url.Values{"csrf": {m[1]}, "login": {login}, "password": {password}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusSeeOther {
		return nil, fmt.Errorf("console sign-in: %d (to %q)", status, loc)
	}
	return c, nil
}

func (c *consoleClient) close() { c.client.CloseIdleConnections() }

func (c *consoleClient) do(ctx context.Context, method, path string, form url.Values) (status int, body, location string, err error) {
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, "", "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", "", fmt.Errorf("console %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, "", "", fmt.Errorf("console %s %s: %w", method, path, err)
	}
	return resp.StatusCode, string(raw), resp.Header.Get("Location"), nil
}

// deadLetters reads the dead letters page: the ids it offers to select and the form's CSRF token.
func (c *consoleClient) deadLetters(ctx context.Context) (ids []string, csrf string, err error) {
	status, page, _, err := c.do(ctx, http.MethodGet, "/dead", nil)
	if err != nil {
		return nil, "", err
	}
	m := csrfInput.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		return nil, "", fmt.Errorf("console dead letters page: %d without a CSRF token", status)
	}
	for _, id := range deadInput.FindAllStringSubmatch(page, -1) {
		ids = append(ids, id[1])
	}
	slices.Sort(ids)
	return ids, m[1], nil
}

// redrive posts the dead letters form with ids selected to /dead/redrive and returns the
// console's account of it ("N of M redriven").
func (c *consoleClient) redrive(ctx context.Context, ids []string, csrf, reason string) (string, error) {
	if len(ids) == 0 {
		return "", errors.New("console redrive: no dead letter listed")
	}
	status, _, loc, err := c.do(ctx, http.MethodPost, "/dead/redrive", url.Values{"csrf": {csrf}, "id": ids, "reason": {reason}})
	if err != nil {
		return "", err
	}
	u, perr := url.Parse(loc)
	if status != http.StatusSeeOther || perr != nil || u.Query().Get("done") == "" {
		return "", fmt.Errorf("console redrive: %d (to %q)", status, loc)
	}
	return u.Query().Get("done"), nil
}

func poisonCriteria(rep *Report, r *Run, faults *poisonFaults, run *poisonRun, maxAttempts int) {
	crashes, after := faults.sends()
	run.mu.Lock()
	defer run.mu.Unlock()
	for _, f := range run.failed {
		rep.Fail("%s", f)
	}
	ids := make([]string, 0, len(run.dead))
	for id := range run.dead {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	r.Log.Set("poisoned", strconv.Itoa(len(ids)))
	if len(ids) == 0 {
		rep.Fail("no delivery was poisoned")
		return
	}
	// Dead after the delivery limit, having crashed the system on every real send.
	mostAttempts, mostCrashes := 0, 0
	for _, id := range ids {
		d := run.dead[id]
		mostAttempts, mostCrashes = max(mostAttempts, d.Attempts), max(mostCrashes, crashes[id])
		switch {
		case d.Status != string(schemas.StatusDead):
			rep.Fail("poisoned delivery %s is %s, not dead", id, d.Status)
		case !strings.HasPrefix(d.LastError, "gave up after"):
			rep.Fail("poisoned delivery %s dead for another reason: %q", id, d.LastError)
		case d.Attempts < maxAttempts:
			rep.Fail("poisoned delivery %s dead after %d attempts (< %d)", id, d.Attempts, maxAttempts)
		case crashes[id] < 1 || crashes[id] > maxAttempts:
			rep.Fail("poisoned delivery %s crashed the system %d times (want 1 to %d)", id, crashes[id], maxAttempts)
		}
	}
	for id := range crashes {
		if run.dead[id].ID == "" {
			rep.Fail("a send of %s crashed the system but it is not among the poisoned deliveries", id)
		}
	}
	r.Log.Set("dead_after_load", round(run.deadAfter))
	r.Log.Set("dead_attempts_max", strconv.Itoa(mostAttempts))
	r.Log.Set("crashed_sends_max", strconv.Itoa(mostCrashes))
	// The console listed them all, and only them, and redrove them all.
	if !slices.Equal(run.listed, ids) {
		rep.Fail("the console listed %d dead letters, the poisoned deliveries are %d", len(run.listed), len(ids))
	}
	if !slices.Equal(run.redriven, ids) {
		rep.Fail("%d deliveries redriven (%q), want the %d poisoned ones", len(run.redriven), run.done, len(ids))
	}
	r.Log.Set("console", run.done)
	r.Log.Set("delivered_after_redrive", round(run.delivered))
	// Exactly once: one document per redriven delivery, taken after the fix.
	docs := map[string]int{}
	for _, code := range r.Env.Codes {
		for _, en := range r.Env.Systems[code].Ledger().Entries {
			if run.dead[en.DeliveryID].ID != "" {
				docs[en.DeliveryID]++
			}
		}
	}
	resent := 0
	for _, id := range ids {
		if docs[id] != 1 {
			rep.Fail("poisoned delivery %s recorded %d times after its redrive", id, docs[id])
		}
		if after[id] < 1 {
			rep.Fail("poisoned delivery %s was not sent after the fix", id)
		}
		resent += after[id] - 1
	}
	r.Log.Set("sends_after_fix_extra", strconv.Itoa(resent))
	// One audit event per redrive, naming the operator and the reason, sealed.
	for _, id := range ids {
		evs := run.events[id]
		if len(evs) != 1 {
			rep.Fail("poisoned delivery %s has %d delivery_redriven events", id, len(evs))
			continue
		}
		var detail struct{ Actor, Reason string }
		if err := json.Unmarshal([]byte(evs[0]), &detail); err != nil || detail.Actor != poisonOperator || detail.Reason == "" {
			rep.Fail("redrive event of %s does not name the operator and the reason: %q", id, evs[0])
		}
	}
	if len(run.events) != len(ids) {
		rep.Fail("%d deliveries have redrive events, want %d", len(run.events), len(ids))
	}
	if run.unsealed != 0 {
		rep.Fail("%d redrive events not sealed into the event chain within 30s", run.unsealed)
	}
	r.Log.Set("audit_verify", run.verify)
}
