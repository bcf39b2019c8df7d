package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
)

func newPlugins() *cobra.Command {
	var cfg app.Config
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "Build, register, list and enable region plug-ins",
		Long: "Keep the plug-in catalog straight in the database (see docs/plugins.md): the federal operator builds\n" +
			"and registers a binary, a region enables it with its configuration. The database must be migrated.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cfg.DatabaseFlags(cmd.PersistentFlags())
	cfg.PluginFlags(cmd.PersistentFlags())
	prepare := func(cmd *cobra.Command) error {
		if err := app.BindEnv(cmd.Flags()); err != nil {
			return err
		}
		return cfg.ValidateDatabase()
	}

	var b app.PluginBuild
	build := &cobra.Command{
		Use: "build DIR", Short: "Compile a plug-in's main package into the plug-in directory and print its SHA-256",
		Long: "Runs go build in DIR (the plug-in's own module) with -trimpath; the binary is <name>-<version>\n" +
			"in the plug-in directory. Needs the Go toolchain.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.BindEnv(cmd.Flags()); err != nil {
				return err
			}
			b.Dir = args[0]
			return app.BuildPlugin(cmd.Context(), cfg, b, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	build.Flags().StringVar(&b.Name, "name", "", "the plug-in's name (default: DIR's last element)")
	build.Flags().StringVar(&b.Version, "version", "", "its semantic version, such as 1.0.0")

	var r app.PluginRegistration
	register := &cobra.Command{
		Use: "register FILE", Short: "Add a plug-in binary to the catalog (copied into the plug-in directory if elsewhere)",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			r.File = args[0]
			return app.RegisterPlugin(cmd.Context(), cfg, r, cmd.OutOrStdout())
		},
	}
	register.Flags().StringVar(&r.Name, "name", "", "the plug-in's name: lower-case letters, digits and hyphens")
	register.Flags().StringVar(&r.Version, "version", "", "its semantic version, such as 1.0.0")
	register.Flags().StringVar(&r.Kind, "kind", "", "measure, datasource, eventsource, paymentsink or notifier")
	register.Flags().StringVar(&r.SHA256, "sha256", "", "the SHA-256 the binary must have (default: the file's own, as it is now)")
	register.Flags().StringSliceVar(&r.Regions, "regions", nil, "regions that may enable it, such as 16,66 (default: all)")

	var region string
	list := &cobra.Command{
		Use: "list", Short: "Print the catalog, or with --tenant the plug-ins a region has enabled",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			return app.ListPlugins(cmd.Context(), cfg, region, cmd.OutOrStdout())
		},
	}
	list.Flags().StringVar(&region, "tenant", "", "a region's code")

	var version, config, configFile string
	enable := &cobra.Command{
		Use: "enable NAME", Short: "Make a region use a catalog plug-in's version with its configuration",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			if configFile != "" {
				b, err := os.ReadFile(configFile)
				if err != nil {
					return err
				}
				config = string(b)
			}
			return app.EnablePlugin(cmd.Context(), cfg, region, args[0], version, config, cmd.OutOrStdout())
		},
	}
	enable.Flags().StringVar(&region, "tenant", "", "the region's code")
	enable.Flags().StringVar(&version, "version", "", "the catalog version to use")
	enable.Flags().StringVar(&config, "config", "", "the region's configuration of the plug-in, a JSON object")
	enable.Flags().StringVar(&configFile, "config-file", "", "a file holding the configuration")

	cmd.AddCommand(build, register, list, enable)
	return cmd
}
