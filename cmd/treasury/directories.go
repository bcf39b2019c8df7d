package main

import (
	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
)

func newDirectories() *cobra.Command {
	var (
		cfg     app.Config
		in, out app.DirectoryFile
	)
	cmd := &cobra.Command{
		Use:   "directories",
		Short: "Load and write the platform directories and the KMSZ classifier",
		Long: "Load and write directories straight in the database, with no HTTP body limit (see docs/directories.md).\n" +
			"The database must be migrated.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cfg.DatabaseFlags(cmd.PersistentFlags())
	prepare := func(cmd *cobra.Command) error {
		if err := app.BindEnv(cmd.Flags()); err != nil {
			return err
		}
		return cfg.ValidateDatabase()
	}
	importCmd := &cobra.Command{
		Use: "import DIRECTORY FILE", Short: "Load a CSV or JSON file of entry versions",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			in.Directory, in.Path = args[0], args[1]
			return app.ImportDirectory(cmd.Context(), cfg, in, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	importCmd.Flags().StringVar(&in.Tenant, "tenant", "", "a region's code: load its own entries of an extensible directory")
	importCmd.Flags().StringVar(&in.Format, "format", "", "csv or json (default: the file's extension)")
	exportCmd := &cobra.Command{
		Use: "export DIRECTORY", Short: "Write a directory's entries to standard output",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			out.Directory = args[0]
			return app.ExportDirectory(cmd.Context(), cfg, out, cmd.OutOrStdout())
		},
	}
	exportCmd.Flags().StringVar(&out.Tenant, "tenant", "", "a region's code: write its own entries")
	exportCmd.Flags().StringVar(&out.Format, "format", "csv", "csv or json")
	exportCmd.Flags().StringVar(&out.AsOf, "as-of", "", "only the versions in force on this date (default: every version)")
	kmsz := &cobra.Command{
		Use: "kmsz FILE", Short: "Load a KMSZ classifier version from an EGISSO 10.01.O or 10.02.I file",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			return app.ImportKMSZ(cmd.Context(), cfg, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.AddCommand(importCmd, exportCmd, kmsz)
	return cmd
}

// exactArgs refuses any other number of arguments as a usage error (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &app.ConfigError{Msg: cmd.CommandPath() + ": usage: " + cmd.UseLine()}
		}
		return nil
	}
}
