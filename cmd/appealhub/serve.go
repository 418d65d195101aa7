package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"appealhub/router"
)

var serveKeys = []string{"http.addr", "http.public_url", "database.url", "database.schema", "broker.url",
	"broker.prefix", "log.level", "log.format", "shutdown.grace"}

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: portal API, relay and delivery workers",
		Long: `Run one hub process. Several may run at once against the same database and broker: they share
the outbox and the authority queues. SIGINT or SIGTERM stops taking submissions, lets work in flight
finish within shutdown.grace, and exits 0.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			check, _ := cmd.Flags().GetBool("check-config")
			cfg, err := loadConfig(cmd)
			if check {
				if err != nil {
					return err
				}
				out, err := cfg.Redacted().YAML()
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(out)
				return err
			}
			if err != nil {
				return err
			}
			logger, err := newLogger(cfg.Log, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			ctx := cmd.Context()
			hub, err := router.New(ctx, cfg, router.Options{Logger: logger})
			if err != nil {
				return fmt.Errorf("start hub: %w", err)
			}
			if err := hub.Start(ctx); err != nil {
				_ = hub.Stop(context.WithoutCancel(ctx))
				return fmt.Errorf("start hub: %w", err)
			}
			logger.Info("serving", zap.String("http_addr", hub.Addr()))
			<-ctx.Done()
			logger.Info("shutting down", zap.Duration("grace", cfg.Shutdown.Grace))
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Grace)
			defer cancel()
			return hub.Stop(stopCtx)
		},
	}
	configFlags(cmd, serveKeys...)
	cmd.Flags().Bool("check-config", false, "print the effective configuration (secrets redacted) and exit; report every invalid field")
	return cmd
}
