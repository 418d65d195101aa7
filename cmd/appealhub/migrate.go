package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"appealhub/internal/store"
)

func newMigrateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations embedded in this binary",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := store.Open(ctx, store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema})
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			applied, err := st.Migrate(ctx)
			if err != nil {
				return err
			}
			current, _, err := st.SchemaVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s); database schema at version %d\n", len(applied), current)
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	return cmd
}
