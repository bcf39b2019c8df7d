package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
)

func newMigrate() *cobra.Command {
	var (
		cfg     app.Config
		opts    app.MigrateOptions
		pwdFile string
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, reverse or list the database migrations",
		Long: "Apply, reverse or list the database migrations. On PostgreSQL run them as the schema owner\n" +
			"(--database-url or --migrate-database-url), and let `migrate up --app-role NAME` create and grant\n" +
			"the unprivileged role the server connects as.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cfg.DatabaseFlags(cmd.PersistentFlags())
	prepare := func(cmd *cobra.Command) error {
		if err := app.BindEnv(cmd.Flags()); err != nil {
			return err
		}
		if err := cfg.ValidateDatabase(); err != nil {
			return err
		}
		if pwdFile != "" {
			b, err := os.ReadFile(pwdFile)
			if err != nil {
				return &app.ConfigError{Msg: "--app-password-file: " + err.Error()}
			}
			opts.AppPassword = string(trimNewline(b))
		}
		return nil
	}
	up := &cobra.Command{
		Use: "up", Short: "Apply every pending migration", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			return app.Migrate(cmd.Context(), cfg, app.MigrateUp, opts, cmd.OutOrStdout())
		},
	}
	up.Flags().StringVar(&opts.AppRole, "app-role", "", "PostgreSQL: create (if missing) and grant the unprivileged role the server runs as")
	up.Flags().StringVar(&pwdFile, "app-password-file", "", "PostgreSQL: file with the app role's password")
	down := &cobra.Command{
		Use: "down", Short: "Reverse the newest migration (or down to --to)", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			dir := app.MigrateDown
			if cmd.Flags().Changed("to") {
				dir = app.MigrateDownTo
			}
			return app.Migrate(cmd.Context(), cfg, dir, opts, cmd.OutOrStdout())
		},
	}
	down.Flags().Int64Var(&opts.To, "to", 0, "reverse migrations until the database is at this version (0: all)")
	status := &cobra.Command{
		Use: "status", Short: "List the migrations and which are applied", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			return app.Migrate(cmd.Context(), cfg, app.MigrateStatus, opts, cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
