package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"appealhub/internal/sandbox"
)

func newSandboxCommand() *cobra.Command {
	var opts sandbox.Options
	var format, mode, listen, logLevel string
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Simulate an authority's document system (for the demo, tests and onboarding)",
		Long: `Run a simulated document system that receives deliveries, answers with receipts, honours the
Idempotency-Key (a repeated delivery id is never a second document) and keeps a ledger at GET /ledger.
Fault options make it fail on purpose: --error-rate, --fail-status, --latency, --drop-rate.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" {
				return fmt.Errorf("--format %q: only json is available in this version", format)
			}
			if mode != "push" {
				return fmt.Errorf("--mode %q: only push is available in this version", mode)
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
	f.StringVar(&format, "format", "json", "wire format: json")
	f.StringVar(&mode, "mode", "push", "push (the hub POSTs documents)")
	f.StringVar(&listen, "listen", "127.0.0.1:8091", "listen address")
	f.StringVar(&opts.Name, "name", "sandbox", "name used in registration numbers and the ledger")
	f.StringVar(&opts.Token, "token", "", "require this bearer token")
	f.StringVar(&opts.StoreDir, "store", "", "keep every received document as a file in this directory")
	f.Float64Var(&opts.ErrorRate, "error-rate", 0, "fraction of requests answered --error-status before recording")
	f.IntVar(&opts.ErrorStatus, "error-status", 503, "status of injected errors")
	f.IntVar(&opts.FailStatus, "fail-status", 0, "refuse every request with this status (e.g. 422)")
	f.DurationVar(&opts.Latency, "latency", 0, "delay before answering")
	f.Float64Var(&opts.DropRate, "drop-rate", 0, "fraction of requests recorded and then answered by dropping the connection")
	f.Int64Var(&opts.Seed, "seed", 0, "seed of the fault randomness (0: time-based)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
