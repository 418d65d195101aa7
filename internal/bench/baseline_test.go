package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq" // the driver the hub's store uses
	amqp "github.com/rabbitmq/amqp091-go"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
	"appealhub/internal/signature"
	"appealhub/schemas"
)

// baseline is the minimal hand-written pipeline BenchmarkCompare sets against the hub: the same
// durable steps with the same libraries and settings, and nothing else.
//
//   - Intake (HTTP behind the same TLS front as the hub): bearer token (compared with a SHA-256
//     held in memory), body read under the same limit, JSON decoded once, every signature verified
//     with internal/signature over the same trust directory, the appeal inserted in PostgreSQL
//     with lib/pq (one statement, synchronous_commit=on: committed before the answer), published
//     to the authority's quorum queue (x-delivery-limit 10) with publisher confirms and the confirm
//     awaited, then 202.
//   - Delivery: per authority, a consumer with prefetch 8 (the hub's concurrency); each message
//     reads its appeal back, encodes it with the hub's JSON adapter (adapters/jsondoc), POSTs it to
//     the authority's sandbox system, decodes the reply, records the acknowledgement in PostgreSQL
//     (delivered_at, registration number) and only then acks the message.
//
// What it leaves out and the hub does: no outbox (a crash between the commit and the confirm loses
// the delivery), no case numbers, events, audit trail, receipts, retries with backoff, routing
// from a registry, schema validation or idempotency replay (the idempotency key is only unique).
type baseline struct {
	db        *sql.DB
	schema    string
	insert    *sql.Stmt // the appeal, before 202
	read      *sql.Stmt // the appeal, by the consumer
	record    *sql.Stmt // the acknowledgement
	amqpURL   string
	conns     []*amqp.Connection // one publishing connection, then the consuming ones
	pubs      chan *amqp.Channel
	verifier  *signature.Verifier
	tokenHash [32]byte
	queues    map[string]string // authority code → queue name
	endpoints map[string]string // authority code → sandbox endpoint
	maxBody   int64
	client    *http.Client
	srv       *http.Server
	ln        net.Listener
	served    chan struct{}
	consumers sync.WaitGroup
	failures  atomic.Int64
	firstErr  atomic.Pointer[error]
}

// baselineConfig is what the baseline shares with the hub it is compared with.
type baselineConfig struct {
	databaseURL string
	amqpURL     string
	prefix      string            // queue names: prefix + "baseline." + code
	endpoints   map[string]string // authority code → sandbox endpoint
	trustDir    string
	token       string
	maxBody     int64
	maxOpen     int // database pool, as the hub's
	prefetch    int // per authority, as the hub's delivery concurrency
	limit       int // x-delivery-limit, as the hub's
}

const (
	baselinePublishChannels = 8
	baselineChannelsPerConn = 1000
)

// startBaseline creates its schema and queues, starts its consumers and serves intake on a free
// loopback port; everything is removed when b ends.
func startBaseline(b *testing.B, c baselineConfig) *baseline {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	v, err := signature.New(signature.Config{TrustDir: c.trustDir})
	if err != nil {
		b.Fatalf("baseline verifier: %v", err)
	}
	db, err := sql.Open("postgres", c.databaseURL)
	if err != nil {
		b.Fatalf("baseline database: %v", err)
	}
	db.SetMaxOpenConns(c.maxOpen)
	db.SetMaxIdleConns(c.maxOpen)
	bl := &baseline{db: db, schema: "bl_" + randomHex(6), amqpURL: c.amqpURL, verifier: v, tokenHash: sha256.Sum256([]byte(c.token)),
		queues: map[string]string{}, endpoints: c.endpoints, maxBody: c.maxBody, served: make(chan struct{}),
		pubs: make(chan *amqp.Channel, baselinePublishChannels)}
	b.Cleanup(bl.close)
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.appeals (
			id text PRIMARY KEY,
			idempotency_key text NOT NULL UNIQUE,
			authority text NOT NULL,
			body bytea NOT NULL,
			signers jsonb NOT NULL,
			received_at timestamptz NOT NULL,
			delivered_at timestamptz,
			registration_number text)`, bl.schema)); err != nil {
		b.Fatalf("baseline schema: %v", err)
	}
	// The body compressed as the hub's is (migration 00019), when the server has lz4.
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`DO $$ BEGIN
		IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
			ALTER TABLE %s.appeals ALTER COLUMN body SET COMPRESSION lz4;
		END IF; END $$`, bl.schema)); err != nil {
		b.Fatalf("baseline compression: %v", err)
	}
	// Its three statements are prepared once per connection and kept, as the hub keeps its
	// statements (internal/store/stmtcache.go): one round trip and no planning per execution.
	for stmt, query := range map[**sql.Stmt]string{
		&bl.insert: "INSERT INTO " + bl.schema + ".appeals (id, idempotency_key, authority, body, signers, received_at) VALUES ($1, $2, $3, $4, $5, $6)",
		&bl.read:   "SELECT body, signers, received_at FROM " + bl.schema + ".appeals WHERE id = $1",
		&bl.record: "UPDATE " + bl.schema + ".appeals SET delivered_at = $2, registration_number = $3 WHERE id = $1",
	} {
		if *stmt, err = db.PrepareContext(ctx, query); err != nil {
			b.Fatalf("baseline statement: %v", err)
		}
	}

	pub, err := amqp.Dial(c.amqpURL)
	if err != nil {
		b.Fatalf("baseline broker: %v", err)
	}
	bl.conns = append(bl.conns, pub)
	for range baselinePublishChannels {
		ch, err := pub.Channel()
		if err == nil {
			err = ch.Confirm(false)
		}
		if err != nil {
			b.Fatalf("baseline publishing channel: %v", err)
		}
		bl.pubs <- ch
	}
	declare, err := pub.Channel()
	if err != nil {
		b.Fatalf("baseline declaring channel: %v", err)
	}
	args := amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int64(c.limit)}
	for code := range c.endpoints {
		q := c.prefix + "baseline." + code
		if _, err := declare.QueueDeclare(q, true, false, false, false, args); err != nil {
			b.Fatalf("baseline declare %s: %v", q, err)
		}
		bl.queues[code] = q
	}
	_ = declare.Close()

	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 2 * c.prefetch, IdleConnTimeout: 30 * time.Second}
	bl.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var conn *amqp.Connection
	n := 0
	for code, q := range bl.queues {
		if n%baselineChannelsPerConn == 0 {
			if conn, err = amqp.Dial(c.amqpURL); err != nil {
				b.Fatalf("baseline consuming connection: %v", err)
			}
			bl.conns = append(bl.conns, conn)
		}
		n++
		ch, err := conn.Channel()
		if err == nil {
			err = ch.Qos(c.prefetch, 0, false)
		}
		var msgs <-chan amqp.Delivery
		if err == nil {
			msgs, err = ch.Consume(q, "", false, false, false, false, nil)
		}
		if err != nil {
			b.Fatalf("baseline consume %s: %v", q, err)
		}
		bl.consumers.Go(func() {
			var inFlight sync.WaitGroup
			defer inFlight.Wait()
			for d := range msgs {
				inFlight.Go(func() { bl.deliver(code, d) })
			}
		})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("baseline listen: %v", err)
	}
	bl.ln = ln
	bl.srv = &http.Server{Handler: http.HandlerFunc(bl.intake), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	go func() {
		defer close(bl.served)
		_ = bl.srv.Serve(ln)
	}()
	return bl
}

// Addr is the host:port of the baseline's plain HTTP intake (the TLS front forwards to it).
func (bl *baseline) Addr() string { return bl.ln.Addr().String() }

func (bl *baseline) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if bl.srv != nil {
		_ = bl.srv.Shutdown(ctx)
		<-bl.served
	}
	for _, c := range bl.conns {
		_ = c.Close() // ends the consumers' delivery channels
	}
	bl.consumers.Wait()
	if bl.client != nil {
		bl.client.CloseIdleConnections()
	}
	if err := bl.deleteQueues(); err != nil {
		fmt.Printf("baseline: delete queues: %v\n", err)
	}
	if _, err := bl.db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+bl.schema+" CASCADE"); err != nil {
		fmt.Printf("baseline: drop schema %s: %v\n", bl.schema, err)
	}
	_ = bl.db.Close()
}

// deleteQueues removes the baseline's queues.
func (bl *baseline) deleteQueues() error {
	if len(bl.queues) == 0 {
		return nil
	}
	conn, err := amqp.Dial(bl.amqpURL)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer func() { _ = conn.Close() }()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("channel: %w", err)
	}
	for _, q := range bl.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			return fmt.Errorf("delete %s: %w", q, err)
		}
	}
	return nil
}

// submission is what the baseline reads of a submission: its addressees and the signed parts.
type submission struct {
	Addressees  []string `json:"addressees"`
	Text        string   `json:"text"`
	Attachments []struct {
		ID      string `json:"id"`
		Content []byte `json:"content"`
	} `json:"attachments"`
	Signatures []schemas.Signature `json:"signatures"`
}

func (bl *baseline) intake(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/appeals" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(token))
	if !ok || subtle.ConstantTimeCompare(sum[:], bl.tokenHash[:]) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bl.maxBody))
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	receivedAt := time.Now()
	var sub submission
	if err := json.Unmarshal(body, &sub); err != nil || len(sub.Addressees) != 1 || key == "" {
		http.Error(w, "invalid submission", http.StatusUnprocessableEntity)
		return
	}
	queue, ok := bl.queues[sub.Addressees[0]]
	if !ok {
		http.Error(w, "unknown addressee", http.StatusUnprocessableEntity)
		return
	}
	signers := make([]schemas.VerifiedSignature, 0, len(sub.Signatures))
	for i, sig := range sub.Signatures {
		content := []byte(sub.Text)
		if sig.Of != schemas.SignatureOfText {
			content = nil
			for _, a := range sub.Attachments {
				if a.ID == sig.Of {
					content = a.Content
				}
			}
		}
		s, err := bl.verifier.Verify(r.Context(), sig.Value, content, receivedAt)
		if err != nil {
			http.Error(w, "signature: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		signers = append(signers, schemas.VerifiedSignature{Index: i, Of: sig.Of, Format: sig.Format,
			Signer: schemas.Signer{Subject: s.Subject, Issuer: s.Issuer, SerialNumber: s.SerialNumber,
				NotBefore: s.NotBefore, NotAfter: s.NotAfter, TaxNumber: s.TaxNumber,
				DigestAlgorithm: s.DigestAlgorithm, SignatureAlgorithm: s.SignatureAlgorithm,
				CertificateSHA256: s.CertificateSHA256, ClaimedSigningTime: claimed(s.ClaimedSigningTime),
				Revocation: string(s.Revocation)}})
	}
	facts, err := json.Marshal(signers)
	if err != nil {
		http.Error(w, "signers", http.StatusInternalServerError)
		return
	}
	id := randomHex(16)
	if _, err := bl.insert.ExecContext(r.Context(), id, key, sub.Addressees[0], body, facts, receivedAt); err != nil {
		http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if err := bl.publish(r.Context(), queue, id); err != nil {
		http.Error(w, "publish: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = fmt.Fprintf(w, `{"id":%q,"status":"accepted"}`, id)
}

// publish sends the appeal's id to its queue, persistent, and waits for the broker's confirm.
func (bl *baseline) publish(ctx context.Context, queue, id string) error {
	ch := <-bl.pubs
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent, ContentType: "text/plain", MessageId: id, Body: []byte(id)})
	bl.pubs <- ch
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("await confirm: %w", err)
	}
	if !ok {
		return errors.New("the broker refused the message (nack)")
	}
	return nil
}

// deliver sends one appeal to its authority's system, records the acknowledgement and acks the
// message; on any failure it requeues the message and counts the failure (a benchmark fails on it).
func (bl *baseline) deliver(code string, d amqp.Delivery) {
	if err := bl.send(code, string(d.Body)); err != nil {
		bl.failures.Add(1)
		bl.firstErr.CompareAndSwap(nil, &err)
		time.Sleep(50 * time.Millisecond)
		_ = d.Nack(false, true)
		return
	}
	_ = d.Ack(false)
}

func (bl *baseline) send(code, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var body, facts []byte
	var receivedAt time.Time
	if err := bl.read.QueryRowContext(ctx, id).
		Scan(&body, &facts, &receivedAt); err != nil {
		return fmt.Errorf("read appeal %s: %w", id, err)
	}
	var signers []schemas.VerifiedSignature
	if err := json.Unmarshal(facts, &signers); err != nil {
		return fmt.Errorf("decode signers of %s: %w", id, err)
	}
	adapter := jsondoc.New()
	doc, err := adapter.Encode(adapters.Document{DeliveryID: id, AppealID: id, Authority: code, Attempt: 1,
		ReceivedAt: receivedAt, Raw: body, Signatures: signers})
	if err != nil {
		return fmt.Errorf("encode %s: %w", id, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bl.endpoints[code], bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("request %s: %w", id, err)
	}
	req.Header.Set("Content-Type", adapter.MediaType())
	req.Header.Set("Idempotency-Key", id)
	resp, err := bl.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", id, err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read reply to %s: %w", id, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("system answered %d to %s: %s", resp.StatusCode, id, raw)
	}
	reply, err := adapter.DecodeReply(resp.Header.Get("Content-Type"), raw)
	if err != nil {
		return fmt.Errorf("reply to %s: %w", id, err)
	}
	if !reply.Delivered {
		return fmt.Errorf("system did not confirm %s", id)
	}
	if _, err := bl.record.ExecContext(ctx, id, time.Now(), reply.RegistrationNumber); err != nil {
		return fmt.Errorf("record delivery of %s: %w", id, err)
	}
	return nil
}

// delivered counts the appeals whose acknowledgement is recorded.
func (bl *baseline) delivered(ctx context.Context) (int, error) {
	var n int
	err := bl.db.QueryRowContext(ctx, "SELECT count(*) FROM "+bl.schema+".appeals WHERE delivered_at IS NOT NULL").Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count delivered: %w", err)
	}
	return n, nil
}

// latencies returns delivered_at − received_at of the appeals with the given ids, and the latest
// delivered_at among them; an id not delivered is an error.
func (bl *baseline) latencies(ctx context.Context, ids []string) ([]time.Duration, time.Time, error) {
	rows, err := bl.db.QueryContext(ctx, "SELECT received_at, delivered_at FROM "+bl.schema+".appeals WHERE id = ANY($1)",
		"{"+strings.Join(ids, ",")+"}")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read latencies: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []time.Duration
	var last time.Time
	for rows.Next() {
		var rec time.Time
		var del sql.NullTime
		if err := rows.Scan(&rec, &del); err != nil {
			return nil, last, fmt.Errorf("scan latency: %w", err)
		}
		if !del.Valid {
			return nil, last, errors.New("an appeal is not delivered")
		}
		out = append(out, del.Time.Sub(rec))
		if del.Time.After(last) {
			last = del.Time
		}
	}
	if err := rows.Err(); err != nil {
		return nil, last, fmt.Errorf("read latencies: %w", err)
	}
	if len(out) != len(ids) {
		return nil, last, fmt.Errorf("%d of %d appeals found", len(out), len(ids))
	}
	return out, last, nil
}

func claimed(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
