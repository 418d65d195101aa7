package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"appealhub/internal/bench"
	"appealhub/schemas"
)

// Load is what the generator submits.
type Load struct {
	// Appeals is how many distinct submissions (idempotency keys) are made.
	Appeals int
	// Rate is the submissions started per second (first attempts; retries come on top).
	Rate int
	// Workers bounds the submissions in flight. Defaults to 64.
	Workers int
	// Seed makes the bodies and the jitter reproducible.
	Seed uint64
	// Size is the body size in bytes. Defaults to 1 KiB.
	Size int
	// RequestTimeout is the portal's timeout of one attempt. Defaults to 5 s.
	RequestTimeout time.Duration
	// GiveUpAfter is how long the portal keeps retrying one submission. Defaults to 3 min.
	GiveUpAfter time.Duration
}

func (l Load) withDefaults() Load {
	if l.Workers == 0 {
		l.Workers = 64
	}
	if l.Size == 0 {
		l.Size = 1 << 10
	}
	if l.RequestTimeout == 0 {
		l.RequestTimeout = 5 * time.Second
	}
	if l.GiveUpAfter == 0 {
		l.GiveUpAfter = 3 * time.Minute
	}
	return l
}

// Attempt is one HTTP request of the portal, as logged.
type Attempt struct {
	Key      string
	N        int // 1 for the first attempt
	Hub      string
	Start    time.Time
	Latency  time.Duration
	Status   int    // 0 when no answer came (connection error, timeout)
	AppealID string // from a 2xx receipt
	Err      string
}

// Outcome is what became of one submission, from the portal's side.
type Outcome struct {
	Key       string
	Authority string
	Attempts  int
	Errors    int      // attempts without a 2xx: timeouts, connection errors, 5xx, 429
	Status    int      // the last answer's status (0: none)
	IDs       []string // distinct appeal ids seen in 2xx answers (more than one is a double appeal)
	Accepted  bool
	AcceptAt  time.Time     // when the 2xx arrived
	Latency   time.Duration // of the accepted attempt
	TimeLimit bool          // the portal gave up: GiveUpAfter passed without a 2xx
}

// AppealID is the first appeal id the portal was given ("" if none).
func (o Outcome) AppealID() string {
	if len(o.IDs) == 0 {
		return ""
	}
	return o.IDs[0]
}

// Generator submits appeals like the portal: each with its own Idempotency-Key, retried with the
// same key (and the same body) after a timeout, a connection error, a 5xx or a 429, with capped
// exponential backoff, spread over the hubs in turn. Run is not safe for concurrent use.
type Generator struct {
	load        Load
	token       string
	authorities []string
	prefix      string
	hubs        []string
	client      *http.Client

	mu       sync.Mutex
	attempts []Attempt
	outcomes []Outcome
	started  time.Time
	finished time.Time
}

// NewGenerator returns a generator for the hubs (base URLs) with the portal's bearer token;
// submission i goes to authorities[i % len] with key prefix-i.
func NewGenerator(load Load, token, prefix string, hubs, authorities []string) *Generator {
	load = load.withDefaults()
	tr := &http.Transport{MaxIdleConns: 2 * load.Workers, MaxIdleConnsPerHost: load.Workers,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	return &Generator{load: load, token: token, prefix: prefix, hubs: hubs, authorities: authorities,
		client: &http.Client{Transport: tr, Timeout: load.RequestTimeout}}
}

// Run submits every appeal at the load's rate and returns when each is accepted, refused or given
// up on, or ctx is done.
func (g *Generator) Run(ctx context.Context) []Outcome {
	defer g.client.CloseIdleConnections()
	n := g.load.Appeals
	g.mu.Lock()
	g.outcomes = make([]Outcome, n)
	g.started = time.Now()
	g.mu.Unlock()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := range g.load.Workers {
		rng := rand.New(rand.NewPCG(g.load.Seed, uint64(w)))
		wg.Go(func() {
			for i := range jobs {
				o := g.submit(ctx, rng, i)
				g.mu.Lock()
				g.outcomes[i] = o
				g.mu.Unlock()
			}
		})
	}
	interval := time.Second / time.Duration(max(g.load.Rate, 1))
	next := time.Now()
dispatch:
	for i := range n {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				break dispatch
			case <-time.After(d):
			}
		}
		next = next.Add(interval)
		select {
		case jobs <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(jobs)
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.finished = time.Now()
	return append([]Outcome(nil), g.outcomes...)
}

// Attempts returns the log of every request so far.
func (g *Generator) Attempts() []Attempt {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Attempt(nil), g.attempts...)
}

// Span returns when Run started and ended.
func (g *Generator) Span() (start, end time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started, g.finished
}

// retryable reports whether the portal retries after this answer.
func retryable(status int) bool {
	return status == 0 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

func (g *Generator) submit(ctx context.Context, rng *rand.Rand, i int) Outcome {
	authority := g.authorities[i%len(g.authorities)]
	o := Outcome{Key: g.prefix + "-" + strconv.Itoa(i), Authority: authority}
	body := bench.Body(int(g.load.Seed)*1_000_000+i, g.load.Size, authority)
	giveUp := time.Now().Add(g.load.GiveUpAfter)
	backoff := 100 * time.Millisecond
	// Bounded: at most one attempt per 100 ms until GiveUpAfter, and never past ctx.
	for n := 1; ctx.Err() == nil; n++ {
		hub := g.hubs[(i+n-1)%len(g.hubs)]
		a := g.attempt(ctx, hub, o.Key, n, body)
		o.Attempts, o.Status = n, a.Status
		if a.Status >= 200 && a.Status < 300 {
			o.Accepted, o.AcceptAt, o.Latency = true, a.Start.Add(a.Latency), a.Latency
			if a.AppealID != "" && !contains(o.IDs, a.AppealID) {
				o.IDs = append(o.IDs, a.AppealID)
			}
			return o
		}
		o.Errors++
		if !retryable(a.Status) {
			return o
		}
		if time.Now().After(giveUp) {
			o.TimeLimit = true
			return o
		}
		sleep := backoff/2 + time.Duration(rng.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return o
}

func (g *Generator) attempt(ctx context.Context, hub, key string, n int, body []byte) (a Attempt) {
	a = Attempt{Key: key, N: n, Hub: hub, Start: time.Now()}
	defer func() {
		a.Latency = time.Since(a.Start)
		g.mu.Lock()
		g.attempts = append(g.attempts, a)
		g.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub+"/v1/appeals", bytes.NewReader(body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := g.client.Do(req)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a.Status = resp.StatusCode
	if err != nil { // the answer was cut: the portal does not know the outcome
		a.Status, a.Err = 0, fmt.Sprintf("read answer: %v", err)
		return a
	}
	if a.Status >= 200 && a.Status < 300 {
		var r schemas.Receipt
		if err := json.Unmarshal(raw, &r); err != nil || r.ID == "" {
			a.Err = errors.Join(errors.New("receipt without id"), err).Error()
			return a
		}
		a.AppealID = r.ID
	} else {
		a.Err = string(bytes.TrimSpace(raw[:min(len(raw), 200)]))
	}
	return a
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
