package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"appealhub/config"
	"appealhub/internal/console"
	"appealhub/internal/demo"
	"appealhub/internal/sandbox"
	"appealhub/internal/store"
	"appealhub/router"
	"appealhub/router/recipient"
	"appealhub/schemas"
)

type demoOptions struct {
	sandboxA, sandboxB         string
	timeout                    time.Duration
	exitWhenDone               bool
	registerAfter, answerAfter time.Duration
	dataDir                    string
}

func newDemoCommand() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the hub with two sandbox authority systems and send the sample submissions end to end",
		Long: `Migrate the database, start two sandbox document systems, register the sample authorities (those
speaking JSON on sandbox A, the others on sandbox B), start the hub, submit the sample submissions
through the portal API, and print each delivery's progress until all are delivered. The hub then
keeps serving until Ctrl-C, which shuts it down gracefully.

A throwaway certification authority and citizen, made at start, sign every sample's text and
attachments; the hub trusts that authority only and requires signed appeals, and the progress shows
the verified signatures of each case.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), cfg, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	configFlags(cmd, append(serveKeys, "delivery.backoff_base")...)
	cmd.Flags().StringVar(&o.sandboxA, "sandbox-a", "127.0.0.1:8091", "listen address of sandbox document system A")
	cmd.Flags().StringVar(&o.sandboxB, "sandbox-b", "127.0.0.1:8092", "listen address of sandbox document system B")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for every delivery")
	cmd.Flags().BoolVar(&o.exitWhenDone, "exit-when-done", false, "stop once every delivery is answered or refused (for scripts)")
	cmd.Flags().DurationVar(&o.registerAfter, "register-after", time.Second, "how long the sandbox offices take to register")
	cmd.Flags().DurationVar(&o.answerAfter, "answer-after", 3*time.Second, "how long the sandbox offices take to answer after registering")
	cmd.Flags().StringVar(&o.dataDir, "data-dir", filepath.Join(os.TempDir(), "appealhub-demo"), "where the demo keeps the hub's throwaway signing identity (hub-ca.pem verifies its receipts)")
	return cmd
}

func runDemo(ctx context.Context, cfg config.Config, o demoOptions, stdout, stderr io.Writer) error {
	if cfg.Log.Level == config.DefaultLogLevel {
		cfg.Log.Level = "warn" // the demo prints its own progress; the hub's log shows problems only
	}
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()

	st, err := store.Open(ctx, store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema})
	if err != nil {
		return fmt.Errorf("open database (run `make services`): %w", err)
	}
	_, err = st.Migrate(ctx)
	_ = st.Close()
	if err != nil {
		return err
	}

	// A throwaway citizen signs every sample; the hub trusts only the citizen's CA and requires
	// signed appeals (signed information requests are verified too).
	tmp, err := os.MkdirTemp("", "appealhub-demo-")
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	cfg.Signatures.TrustDir = filepath.Join(tmp, "trust")
	citizen, err := demo.NewCitizen(cfg.Signatures.TrustDir, time.Now())
	if err != nil {
		return err
	}
	cfg.Signatures.Policy.Appeal = config.SignaturePolicyRequired
	cfg.Signatures.Policy.InfoRequest = config.SignaturePolicyOptional

	// The hub signs receipts with a throwaway identity kept in the data directory.
	hubCA, err := demoIdentity(&cfg, o.dataDir)
	if err != nil {
		return err
	}

	// The hub's address must be known before the sandboxes start: they send their notices there.
	if cfg.HTTP.Addr, err = resolvePort(cfg.HTTP.Addr); err != nil {
		return err
	}
	base := "http://" + cfg.HTTP.Addr
	cfg.HTTP.PublicURL = base
	cfg.Console.AllowLoopbackHTTP = config.IsLoopbackAddr(cfg.HTTP.Addr) // the demo serves plain HTTP

	// The address space: authorities whose systems speak JSON are served by sandbox A, those that
	// speak SEV 1207 by sandbox B. Each authority's system has its own client token for the hub.
	auths, err := demo.Authorities()
	if err != nil {
		return err
	}
	tokens := map[string]map[string]string{sandbox.FormatJSON: {}, sandbox.FormatSEV1207: {}}
	for _, a := range auths {
		format, addr := sandbox.FormatJSON, o.sandboxA
		if a.Adapter == sandbox.FormatSEV1207 {
			format, addr = sandbox.FormatSEV1207, o.sandboxB
		}
		token := NewToken()
		tokens[format][a.Code] = token
		sum := sha256.Sum256([]byte(token))
		cfg.Authorities = append(cfg.Authorities, config.Authority{Code: a.Code, Name: a.Name, Adapter: format,
			Endpoint: "http://" + addr + "/documents/" + a.Code, Status: config.AuthorityActive})
		cfg.Clients = append(cfg.Clients, config.Client{ID: "demo-system-" + a.Code, Kind: config.ClientAuthority,
			Authority: a.Code, TokenSHA256: hex.EncodeToString(sum[:])})
	}
	token := NewToken()
	sum := sha256.Sum256([]byte(token))
	cfg.Clients = append(cfg.Clients, config.Client{ID: "demo-portal", Kind: config.ClientPortal, TokenSHA256: hex.EncodeToString(sum[:])})

	// Two sandbox document systems that register, sometimes refuse, and answer.
	sbCtx, stopSandboxes := context.WithCancel(context.WithoutCancel(ctx))
	var sbWG sync.WaitGroup
	defer func() { stopSandboxes(); sbWG.Wait() }()
	sbErr := make(chan error, 2)
	for i, sb := range []struct{ name, addr, format string }{
		{"sandbox-a", o.sandboxA, sandbox.FormatJSON}, {"sandbox-b", o.sandboxB, sandbox.FormatSEV1207}} {
		opts := sandbox.Options{Name: sb.name, Format: sb.format, Hub: base, HubTokens: tokens[sb.format],
			HubCode: cfg.Identity.Code, HubSystemID: cfg.Identity.SystemID, RegisterAfter: o.registerAfter,
			AnswerAfter: o.answerAfter, RefuseRate: 0.15, Seed: int64(7 + i)}
		sbWG.Go(func() {
			if err := sandbox.Run(sbCtx, sb.addr, opts, logger.Named(sb.name)); err != nil {
				sbErr <- fmt.Errorf("%s on %s: %w", sb.name, sb.addr, err)
			}
		})
	}
	for _, addr := range []string{o.sandboxA, o.sandboxB} {
		if err := waitHTTP(ctx, "http://"+addr+"/healthz", sbErr); err != nil {
			return err
		}
	}

	hub, err := router.New(ctx, cfg, router.Options{Logger: logger})
	if err != nil {
		return err
	}
	if err := hub.Start(ctx); err != nil {
		_ = hub.Stop(context.WithoutCancel(ctx))
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Grace)
		defer cancel()
		if err := hub.Stop(stopCtx); err != nil {
			logger.Warn("hub stop", zap.Error(err))
		}
	}()
	// Describe the address space in the registry (kinds, parents, territories, topics): the samples
	// that give a topic and a territory instead of addressees are routed by it.
	registryCSV, err := demo.AuthoritiesCSV()
	if err != nil {
		return err
	}
	if _, err := hub.ImportAuthorities(ctx, "csv", registryCSV, schemas.AuthorityChangeMeta{By: "demo", Reason: "demo address space"}); err != nil {
		return fmt.Errorf("import the demo address space: %w", err)
	}
	operatorPassword, err := demoOperator(ctx, hub.Store())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Appeal Hub is serving on %s; sandbox document systems on %s (A, JSON) and %s (B, SEV 1207)\n\n",
		base, o.sandboxA, o.sandboxB)

	names := map[string]string{}
	for _, a := range auths {
		names[a.Code] = a.ShortName
	}
	cases, err := submitSamples(ctx, base, token, citizen, stdout)
	if err != nil {
		return err
	}
	if err := followCases(ctx, base, token, cases, names, o.timeout, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nPortal API: %s/v1/appeals  (Authorization: Bearer %s)\n", base, token)
	fmt.Fprintf(stdout, "Ledgers of the sandbox systems: http://%s/ledger  http://%s/ledger\n", o.sandboxA, o.sandboxB)
	fmt.Fprintf(stdout, "Operators' console: %s/console/  (sign in as %s, password %s)\n", base, demoOperatorLogin, operatorPassword)
	fmt.Fprintf(stdout, "Metrics: %s/metrics   Statistics: %s/v1/stats?group_by=authority  (operator token)\n", base, base)
	printReceiptHint(ctx, stdout, base, token, cases, hubCA)
	if o.exitWhenDone {
		return nil
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\nStopping gracefully…")
		return nil
	case err := <-sbErr:
		return err
	}
}

func waitHTTP(ctx context.Context, url string, failed <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-failed:
			return err
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within 10s", url)
}

// submitSamples posts every sample submission, signed by citizen, as the portal would and returns
// the receipts.
func submitSamples(ctx context.Context, base, token string, citizen *demo.Citizen, stdout io.Writer) ([]schemas.Receipt, error) {
	subs, err := demo.Submissions()
	if err != nil {
		return nil, err
	}
	run := time.Now().UTC().Format("20060102T150405.000")
	var out []schemas.Receipt
	for i, sample := range subs {
		body, err := citizen.Sign(sample, time.Now())
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/appeals", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("demo-%s-%d", run, i+1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("submit sample %d: %w", i+1, err)
		}
		raw, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return nil, fmt.Errorf("submit sample %d: HTTP %d: %s", i+1, resp.StatusCode, raw)
		}
		var r schemas.Receipt
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("submit sample %d: %w", i+1, err)
		}
		fmt.Fprintf(stdout, "accepted  %s  %s\n", r.TrackingNumber, r.ID)
		out = append(out, r)
	}
	fmt.Fprintln(stdout)
	return out, nil
}

// followCases prints every delivery's status changes until all are delivered or timeout passes.
func followCases(ctx context.Context, base, token string, receipts []schemas.Receipt, names map[string]string,
	timeout time.Duration, stdout io.Writer) error {
	last := map[string]schemas.DeliveryStatus{}
	signersShown := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for {
		pending := 0
		var lines []string
		for _, r := range receipts {
			c, err := getCase(ctx, base, token, r.ID)
			if err != nil {
				return err
			}
			if !signersShown[c.ID] {
				signersShown[c.ID] = true
				lines = append(lines, fmt.Sprintf("%-18s %s", c.TrackingNumber, signersLine(c.Signatures)))
			}
			for _, d := range c.Deliveries {
				if d.Status != schemas.StatusAnswered && d.Status != schemas.StatusRefused {
					pending++
				}
				prev, seen := last[d.ID]
				if seen && prev == d.Status {
					continue
				}
				last[d.ID] = d.Status
				line := fmt.Sprintf("%-18s → %s %-22s %-10s", c.TrackingNumber, d.Authority, names[d.Authority], d.Status)
				switch {
				case d.RegistrationNumber != "" && d.Status == schemas.StatusRegistered:
					line += "  reg. No " + d.RegistrationNumber
				case d.RefusalCode != "":
					line += "  ground: " + d.RefusalCode
				case d.Status == schemas.StatusDelivered || d.Status == schemas.StatusSent:
					line += fmt.Sprintf("  attempts %d", d.Attempts)
				}
				if d.LastError != "" {
					line += "  (last error: " + d.LastError + ")"
				}
				if !seen && d.RoutingRule != "" && d.RoutingRule != recipient.RuleExplicit {
					line += "  routed by " + d.RoutingRule + ": " + d.RoutingReason
				}
				lines = append(lines, line)
			}
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintln(stdout, l)
		}
		if pending == 0 {
			fmt.Fprintf(stdout, "\nAll %d deliveries of %d submissions were delivered, and each is answered or refused.\n", len(last), len(receipts))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d deliveries not answered or refused within %s", pending, timeout)
		}
		select {
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// signersLine tells which parts of a case carry a verified signature and by which certificate, with
// its algorithm and revocation state; the signer's name and tax number are personal data and not
// shown.
func signersLine(sigs []schemas.VerifiedSignature) string {
	if len(sigs) == 0 {
		return "no verified signature"
	}
	parts := make([]string, 0, len(sigs))
	for _, s := range sigs {
		parts = append(parts, fmt.Sprintf("%s by certificate %.12s… (%s, %s, revocation %s)", s.Of,
			s.Signer.CertificateSHA256, s.Signer.SignatureAlgorithm, s.Signer.DigestAlgorithm, s.Signer.Revocation))
	}
	return "signed: " + strings.Join(parts, "; ")
}

func getCase(ctx context.Context, base, token, id string) (schemas.Case, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/appeals/"+id, nil)
	if err != nil {
		return schemas.Case{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return schemas.Case{}, fmt.Errorf("read case %s: %w", id, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return schemas.Case{}, fmt.Errorf("read case %s: HTTP %d: %s", id, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	var c schemas.Case
	if err := json.Unmarshal(raw, &c); err != nil {
		return schemas.Case{}, fmt.Errorf("read case %s: %w", id, err)
	}
	return c, nil
}

// resolvePort turns host:0 into host:<a free port>, so the address is known before the hub starts.
func resolvePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("http.addr %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// demoOperatorLogin is the console's administrator in the demo.
const demoOperatorLogin = "demo-admin"

// demoOperator makes the demo's console administrator with a new random password (setting it
// again when the operator exists from an earlier run) and returns the password.
func demoOperator(ctx context.Context, st *store.Store) (string, error) {
	password := NewToken()
	hash, err := console.HashPassword(password)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	err = st.AddOperator(ctx, store.Operator{Login: demoOperatorLogin, Role: string(console.RoleAdmin), PasswordHash: hash}, "demo", now)
	if errors.Is(err, store.ErrDuplicate) {
		err = st.SetOperatorPassword(ctx, demoOperatorLogin, hash, "demo", now)
	}
	if err != nil {
		return "", fmt.Errorf("demo console operator: %w", err)
	}
	return password, nil
}
