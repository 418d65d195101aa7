package main

import (
	"cmp"

	"github.com/spf13/cobra"

	"appealhub/internal/sandbox"
)

func newSandboxCommand() *cobra.Command {
	var opts sandbox.Options
	var listen, logLevel string
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Simulate an authority's document system (for the demo, tests and onboarding)",
		Long: `Run a simulated document system in either wire format (--format json|sev1207).

In push mode (the default) the hub POSTs documents to http://LISTEN/documents/{code}; the sandbox
honours the Idempotency-Key (a repeated delivery id is never a second document) and answers with a
receipt. In pull mode it polls the hub's inbox (--hub, --code, --token, --poll), fetches each
document and acknowledges it. With --store every document is kept as a file.

With --hub it then acts like an office and reports to the hub (POST {hub}/v1/authorities/{code}/messages):
"delivered" at once, "registered" after --register-after (or, for a --refuse-rate share, "refused" on a
ground of resolution No. 55), "answered" with a document after --answer-after. The token it presents
to the hub is --hub-token, else --token. In push mode --token is also the bearer token the hub must
send with each document.

Fault flags make it fail on purpose: --error-rate/--error-status, --fail-status, --latency, --hang,
--drop-rate (record, then drop the connection), --malformed-rate (2xx with a garbled body),
--refuse-without-reason, --ignore-idempotency. GET /ledger shows what it received (duplicates per
key) and the messages it sent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hubToken, _ := cmd.Flags().GetString("hub-token")
			opts.HubToken = cmp.Or(hubToken, opts.Token)
			if opts.Mode == sandbox.ModePull {
				opts.Token = "" // nothing is POSTed to a pull-mode sandbox: --token is the hub's
			}
			logger, err := newLogger(logConfig(logLevel), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			return sandbox.Run(cmd.Context(), listen, opts, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", sandbox.FormatJSON, "wire format: json or sev1207")
	f.StringVar(&opts.Mode, "mode", sandbox.ModePush, "push (the hub POSTs documents) or pull (poll the hub's inbox)")
	f.StringVar(&listen, "listen", "127.0.0.1:8091", "listen address (documents in push mode, /ledger and /healthz always)")
	f.StringVar(&opts.Name, "name", sandbox.DefaultName, "name used in registration numbers and the ledger")
	f.StringVar(&opts.StoreDir, "store", "", "keep every received document as a file in this directory")
	f.StringVar(&opts.Hub, "hub", "", "the hub's base URL: report to it with messages (and poll its inbox in pull mode)")
	f.StringVar(&opts.Code, "code", "", "the authority's EDRPOU code (pull: whose inbox; default in push: each document's)")
	f.StringVar(&opts.Token, "token", "", "bearer token: required from the hub on each POST (push) and presented to the hub")
	f.String("hub-token", "", "bearer token presented to the hub, when it differs from --token")
	f.StringVar(&opts.HubCode, "hub-code", sandbox.DefaultHubCode, "the hub's EDRPOU code (sev1207 messages are addressed to it)")
	f.StringVar(&opts.HubSystemID, "hub-system-id", sandbox.DefaultHubSystemID, "the hub's SEV system id (sev1207)")
	f.DurationVar(&opts.Poll, "poll", sandbox.DefaultPoll, "interval between inbox polls (pull)")
	f.DurationVar(&opts.RegisterAfter, "register-after", sandbox.DefaultRegisterAfter, "delay from delivered to registered (or refused)")
	f.DurationVar(&opts.AnswerAfter, "answer-after", sandbox.DefaultAnswerAfter, "delay from registered to answered")
	f.Float64Var(&opts.RefuseRate, "refuse-rate", 0, "fraction of documents refused registration (with a ground of resolution No. 55)")
	f.BoolVar(&opts.RefuseWithoutReason, "refuse-without-reason", false, "fault: refusals (--refuse-rate) state no valid ground")
	f.Float64Var(&opts.ErrorRate, "error-rate", 0, "fault: fraction of requests answered --error-status before recording")
	f.IntVar(&opts.ErrorStatus, "error-status", sandbox.DefaultErrorStatus, "status of injected errors")
	f.IntVar(&opts.FailStatus, "fail-status", 0, "fault: refuse every request with this status (e.g. 422)")
	f.DurationVar(&opts.Latency, "latency", 0, "fault: delay before answering")
	f.BoolVar(&opts.Hang, "hang", false, "fault: never answer a document until the client gives up")
	f.Float64Var(&opts.DropRate, "drop-rate", 0, "fault: fraction of requests recorded and then answered by dropping the connection")
	f.Float64Var(&opts.MalformedRate, "malformed-rate", 0, "fault: fraction of requests recorded and then answered 2xx with a garbled body")
	f.BoolVar(&opts.IgnoreIdempotency, "ignore-idempotency", false, "fault: take a repeated delivery id as a new document")
	f.Int64Var(&opts.Seed, "seed", 0, "seed of the randomness (0: time-based)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
