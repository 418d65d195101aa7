package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"appealhub/internal/store"
	"appealhub/schemas"
)

func newClientCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage API clients (portal, authorities, operators)"}
	add := &cobra.Command{
		Use:   "add ID",
		Short: "Create or re-key an API client and print its new bearer token (only its hash is stored)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			kind, _ := cmd.Flags().GetString("kind")
			authority, _ := cmd.Flags().GetString("authority")
			if kind != "portal" && kind != "authority" && kind != "operator" {
				return fmt.Errorf("--kind must be portal, authority or operator")
			}
			ctx := cmd.Context()
			st, err := store.Open(ctx, store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema})
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			token := NewToken()
			sum := sha256.Sum256([]byte(token))
			if err := st.UpsertClient(ctx, schemas.Client{ID: args[0], Kind: kind, Authority: authority}, sum[:]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client %s (%s)\ntoken: %s\ntoken_sha256: %s\n", args[0], kind, token, hex.EncodeToString(sum[:]))
			return nil
		},
	}
	configFlags(add, "database.url", "database.schema")
	add.Flags().String("kind", "portal", "portal, authority or operator")
	add.Flags().String("authority", "", "the authority's EDRPOU code (kind authority)")
	cmd.AddCommand(add, newClientNotifyCommand())
	return cmd
}

// NewToken returns a random bearer token.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
