package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/tenants"
)

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "treasury",
		Short:         "Social Treasury: social support measures for Russian regions on one platform",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &app.ConfigError{Msg: err.Error()}
	})
	root.AddCommand(newServe(), newMigrate(), newBench(), newAudit(), newImport(), newKeys(), newDirectories(), newPlugins(), newUsers(), newVersion())
	return root
}

func newServe() *cobra.Command {
	var cfg app.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform: API, documentation and workers",
		Long: "Run the platform. With no database URL it keeps its data in embedded SQLite under --data-dir;\n" +
			"every flag can also be set as TREASURY_<FLAG> (TREASURY_DATABASE_URL, TREASURY_LISTEN, …).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.BindEnv(cmd.Flags()); err != nil {
				return err
			}
			cfg.Regions = tenants.Files
			return app.Serve(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	cfg.ServeFlags(cmd.Flags())
	return cmd
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "treasury", app.BuildVersion())
		},
	}
}

// noArgs refuses arguments (and unknown sub-commands) as a usage error: exit 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return &app.ConfigError{Msg: fmt.Sprintf("unknown command %q; see treasury --help", args[0])}
	}
	return &app.ConfigError{Msg: fmt.Sprintf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])}
}
