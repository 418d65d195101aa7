package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"appealhub/internal/conformance"
)

func newConformanceCommand() *cobra.Command {
	var cfg conformance.Config
	var logLevel string
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check an authority's document system against the hub's contract before it goes live",
		Long: `Play the hub for one authority and run the conformance cases against its document system:

  1 delivery          a test document (fresh delivery id) is taken: 2xx, and the reply, if any, decodes
  2 acknowledgement   a "delivered" (or "accepted") message about it arrives
  3 registration      "registered" with number and date arrives, or "refused" on a ground of resolution No. 55
  4 answer            "answered" arrives with an answer document (--skip-answer: real answers take days)
  5 redelivery        the same document under the same Idempotency-Key is taken and is no second document
  6 large_attachment  a document with a ~5 MiB attachment is taken
  7 error_reply       a malformed document (wrong format, truncated) gets a 4xx
  8 messages          every message decoded, was about a delivery the kit sent, and repeated ids repeated the same message

The kit listens on --listen and serves POST /v1/authorities/{code}/messages there: configure the system
to send its messages to the URL printed at the start (with --token as its bearer token, if given). In
push mode the kit POSTs documents to --endpoint; in pull mode (--mode pull) it serves the inbox
(GET …/inbox, GET …/inbox/{id}, POST …/inbox/{id}/ack) for the system to poll. It prints a table with
the reason for each result and exits non-zero when any case fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logConfig(logLevel), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			cfg.Logger = logger
			cfg = cfg.WithDefaults()
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid flags:\n%w", err)
			}
			// Listen before running, so that the URL the system must use is known and printed.
			var lc net.ListenConfig
			ln, err := lc.Listen(cmd.Context(), "tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
			}
			cfg.Listener = ln
			base := cfg.PublicURL
			if base == "" {
				base = "http://" + ln.Addr().String()
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "The system must send its messages to %s/v1/authorities/%s/messages\n", base, cfg.Code)
			if cfg.Mode == conformance.ModePull {
				fmt.Fprintf(out, "and poll its inbox at %s/v1/authorities/%s/inbox\n", base, cfg.Code)
			}
			fmt.Fprintln(out, "Running the conformance cases…")
			fmt.Fprintln(out)

			rep, err := conformance.Run(cmd.Context(), cfg)
			if len(rep.Results) > 0 {
				if werr := rep.WriteTable(out); werr != nil {
					return werr
				}
			}
			if err != nil {
				return err
			}
			if failed := rep.Failed(); len(failed) > 0 {
				return fmt.Errorf("conformance: %d of %d cases failed", len(failed), len(rep.Results))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Endpoint, "endpoint", "", "URL of the system that receives documents (push mode)")
	f.StringVar(&cfg.Format, "format", "", "wire format: sev1207 or json (required)")
	f.StringVar(&cfg.Mode, "mode", conformance.ModePush, "push (the kit POSTs documents) or pull (the system polls the kit's inbox)")
	f.StringVar(&cfg.Listen, "listen", conformance.DefaultListen, "address the kit's hub side listens on")
	f.StringVar(&cfg.PublicURL, "public-url", "", "the kit's base URL as the system reaches it (default: http://LISTEN)")
	f.StringVar(&cfg.Code, "code", conformance.DefaultCode, "the authority's EDRPOU code")
	f.StringVar(&cfg.Token, "token", "", "bearer token the system must present to the kit (default: any)")
	f.StringVar(&cfg.EndpointToken, "endpoint-token", "", "bearer token the kit sends with each document (push)")
	f.DurationVar(&cfg.Timeout, "timeout", conformance.DefaultTimeout, "how long to wait for each message or inbox fetch")
	f.DurationVar(&cfg.AnswerTimeout, "answer-timeout", 0, "how long to wait for the answer (default: --timeout)")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", conformance.DefaultRequestTimeout, "how long to wait for the answer to a push")
	f.DurationVar(&cfg.Quiet, "quiet", conformance.DefaultQuiet, "how long to watch for a second document after the redelivery")
	f.BoolVar(&cfg.SkipAnswer, "skip-answer", false, "skip the answer case (real answers take days)")
	f.IntVar(&cfg.LargeAttachment, "large-attachment", conformance.DefaultLargeAttachment, "size in bytes of the large attachment")
	f.StringVar(&cfg.HubCode, "hub-code", conformance.DefaultHubCode, "the hub's EDRPOU code (sender of sev1207 documents)")
	f.StringVar(&cfg.HubSystemID, "hub-system-id", conformance.DefaultHubSystemID, "the hub's SEV system id (sev1207)")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
