package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
)

func newUsers() *cobra.Command {
	var cfg app.Config
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Give the federal operator its first users",
		Long: "Everything else about users is the API's (docs/access.md); this is the way in before anyone can\n" +
			"sign in, or when no OIDC issuer is trusted. The database must be migrated.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cfg.DatabaseFlags(cmd.PersistentFlags())
	var (
		u       app.FederalUser
		pwdFile string
	)
	add := &cobra.Command{
		Use:   "add-federal USERNAME",
		Short: "Add a federal user with federal roles, or set an existing one's password and roles anew",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.BindEnv(cmd.Flags()); err != nil {
				return err
			}
			if pwdFile == "" {
				return &app.ConfigError{Msg: "--password-file is required (- for standard input)"}
			}
			var b []byte
			var err error
			if pwdFile == "-" {
				b, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<16))
			} else {
				b, err = os.ReadFile(pwdFile)
			}
			if err != nil {
				return &app.ConfigError{Msg: "--password-file: " + err.Error()}
			}
			u.Username, u.Password = args[0], string(trimNewline(b))
			return app.AddFederalUser(cmd.Context(), cfg, u, cmd.OutOrStdout())
		},
	}
	add.Flags().StringSliceVar(&u.Roles, "role", nil, "federal roles: federal_admin, federal_auditor (repeatable)")
	add.Flags().StringVar(&u.DisplayName, "display-name", "", "the name shown for the user")
	add.Flags().StringVar(&pwdFile, "password-file", "", "file holding the password (- for standard input)")
	cmd.AddCommand(add)
	return cmd
}
