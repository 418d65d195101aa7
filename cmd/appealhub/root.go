package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"appealhub/config"
)

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "appealhub",
		Short:         "Appeal Hub: guaranteed delivery of citizens' appeals to authorities' document systems",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCommand(),
		newMigrateCommand(),
		newSandboxCommand(),
		newConformanceCommand(),
		newDemoCommand(),
		newClientCommand(),
		newAuthorityCommand(),
		newAuditCommand(),
		newReceiptCommand(),
		newCalendarCommand(),
		newOperatorCommand(),
		newStatsCommand(),
	)
	return root
}

// configFlags adds --config and the per-key override flags of the given configuration keys.
func configFlags(cmd *cobra.Command, keys ...string) {
	cmd.Flags().String("config", os.Getenv("APPEALHUB_CONFIG"), "YAML configuration file (env APPEALHUB_CONFIG)")
	if err := config.AddFlags(cmd.Flags(), keys...); err != nil {
		panic(err) // a programming error: an unknown key
	}
}

// loadConfig loads and validates the configuration for cmd.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	cfg, err := config.Load(path, cmd.Flags())
	if err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// newLogger builds the process logger from the log configuration.
func newLogger(cfg config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "ts"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.Format == "console" {
		encCfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level)), nil
}
