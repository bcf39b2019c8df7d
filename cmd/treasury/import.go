package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
)

func newImport() *cobra.Command {
	var (
		cfg                       app.Config
		tenant, format, typ, mode string
		quiet                     bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import persons and their facts into a region's registry from an NDJSON or CSV file",
		Long: "Import a file the way POST /api/v1/tenants/{tenant}/imports does, in this process, with a progress bar.\n" +
			"Good lines are stored and bad ones reported by line number (--mode commit_valid), or nothing is stored\n" +
			"when any line is bad (--mode all_or_nothing). The same file twice changes nothing. Exit 1 when lines\n" +
			"were rejected. File formats: docs/registry.md.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := app.BindEnv(cmd.Flags()); err != nil {
				return err
			}
			if tenant == "" {
				return &app.ConfigError{Msg: "--tenant is required (a region code such as 66)"}
			}
			var bar = cmd.ErrOrStderr()
			if quiet {
				bar = nil
			} else if f, ok := bar.(*os.File); !ok || !isTerminal(f) {
				bar = nil
			}
			return app.ImportFile(cmd.Context(), cfg, tenant, args[0], format, typ, mode, cmd.OutOrStdout(), bar)
		},
	}
	cfg.DatabaseFlags(cmd.Flags())
	cmd.Flags().StringVar(&cfg.EncryptionKeyFile, "encryption-key-file", "", "the personal data master key file the server uses (default: the one in the data dir)")
	cmd.Flags().StringVar(&cfg.PreviousEncryptionKeyFile, "previous-encryption-key-file", "", "during a master key rotation: the old key")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the region's two-digit code")
	cmd.Flags().StringVar(&format, "format", "", "ndjson or csv (default: from the file's extension)")
	cmd.Flags().StringVar(&typ, "type", "", "the record type of a CSV file without a type column: person, relation, income, disability, category")
	cmd.Flags().StringVar(&mode, "mode", "commit_valid", "commit_valid or all_or_nothing")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bar")
	return cmd
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
