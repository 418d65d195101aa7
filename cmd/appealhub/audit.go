package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"appealhub/internal/audit"
	"appealhub/internal/receipt"
	"appealhub/internal/store"
)

// errChainBroken makes `appealhub audit verify` exit 1 after it printed the report.
var errChainBroken = errors.New("the event chain is broken")

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify or checkpoint the tamper-evident event chain (works on the database; no running hub needed)",
	}
	cmd.AddCommand(newAuditVerifyCommand(), newAuditCheckpointCommand())
	return cmd
}

func newAuditVerifyCommand() *cobra.Command {
	var asJSON bool
	var caFile string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every link of the event chain and check the checkpoints; exit 1 when anything is broken",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var verifier audit.Verifier
			if caFile != "" {
				v, err := receipt.NewVerifierFromFile(caFile)
				if err != nil {
					return err
				}
				verifier = receipt.NewCheckpointVerifier(v)
			}
			st, err := openCheckedStore(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			return verifyChainWith(cmd.Context(), cmd.OutOrStdout(), st, verifier, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&caFile, "ca", "", "PEM file of the hub's CA (hub-ca.pem): check the checkpoints' signatures against it")
	configFlags(cmd, "database.url", "database.schema")
	return cmd
}

// verifyChain verifies src, prints the report to w and returns errChainBroken when it is broken.
// Checkpoint signatures are counted but not checked.
func verifyChain(ctx context.Context, w io.Writer, src audit.Source, asJSON bool) error {
	return verifyChainWith(ctx, w, src, nil, asJSON)
}

// verifyChainWith is verifyChain checking the checkpoints' signatures with v (nil: not checked).
func verifyChainWith(ctx context.Context, w io.Writer, src audit.Source, v audit.Verifier, asJSON bool) error {
	r, err := audit.Verify(ctx, src, v)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("print report: %w", err)
		}
	} else {
		printReport(w, r)
	}
	if !r.Intact() {
		return errChainBroken
	}
	return nil
}

func printReport(w io.Writer, r audit.Report) {
	if r.Head == nil {
		fmt.Fprintf(w, "event chain: empty; %d events not sealed yet\n", r.Unsealed)
	} else {
		fmt.Fprintf(w, "event chain: %d links; head at position %d (seq %d, hash %s); %d events not sealed yet\n",
			r.Links, r.Head.Pos, r.Head.Seq, r.Head.Hash, r.Unsealed)
	}
	fmt.Fprintf(w, "checkpoints: %d (%d signatures verified, %d not checked, %d unsigned)\n",
		r.Checkpoints, r.Verified, r.Unverified, r.Unsigned)
	if r.Intact() {
		fmt.Fprintln(w, "intact")
		return
	}
	first, _ := r.First()
	fmt.Fprintf(w, "BROKEN: %d breaks; the first at position %d (seq %d)\n", r.BreakCount, first.Pos, first.Seq)
	for _, b := range r.Breaks {
		fmt.Fprintf(w, "  %-20s pos %-8d seq %-8d %s\n", b.Kind, b.Pos, b.Seq, b.Detail)
	}
	if r.BreakCount > len(r.Breaks) {
		fmt.Fprintf(w, "  … and %d more\n", r.BreakCount-len(r.Breaks))
	}
}

func newAuditCheckpointCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Seal the events that may be sealed now, then record a checkpoint of the chain head (signed with identity.signing_key when set)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openCheckedStore(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			ctx := cmd.Context()
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var acfg audit.Config
			signed := "unsigned"
			if cfg.Identity.SigningKey != "" {
				id, err := receipt.LoadIdentity(cfg.Identity.SigningKey, cfg.Identity.Certificate)
				if err != nil {
					return err
				}
				acfg.Signer, signed = receipt.NewCheckpointSigner(id, nil), "signed"
			}
			sealer := audit.NewSealer(st, acfg, nil)
			sealed, err := sealer.Seal(ctx)
			if err != nil {
				return err
			}
			cp, err := sealer.Checkpoint(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sealed %d events; checkpoint %d at position %d (seq %d, hash %s), %s\n",
				sealed, cp.ID, cp.Pos, cp.Seq, hex.EncodeToString(cp.Hash), signed)
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema", "identity.signing_key", "identity.certificate")
	return cmd
}

// openCheckedStore opens the configured database with a small pool, refusing an outdated schema.
func openCheckedStore(cmd *cobra.Command) (*store.Store, error) {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cmd.Context(), store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema, MaxOpenConns: 4})
	if err != nil {
		return nil, err
	}
	if err := st.CheckSchema(cmd.Context()); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}
