package main

import (
	"github.com/spf13/cobra"

	"github.com/socialtreasury/treasury/core/app"
)

func newAudit() *cobra.Command {
	var (
		cfg     app.Config
		tenant  string
		anchors []string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check a region's audit trail",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify a region's audit hash chain; exit 1 naming the first broken sequence number",
		Long: "Chain the region's committed pending records, then walk its audit chain from the first record and check\n" +
			"every hash, link and sequence number and the chain head. Prints the head (SEQ:HASH) when the chain holds:\n" +
			"keep it outside the database and pass it back with --anchor to catch even a rewrite of the whole chain.\n" +
			"A broken chain exits 1 with the first broken sequence number and why.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.BindEnv(cmd.Flags()); err != nil {
				return err
			}
			if tenant == "" {
				return &app.ConfigError{Msg: "--tenant is required (a region code such as 66)"}
			}
			return app.AuditVerify(cmd.Context(), cfg, tenant, anchors, cmd.OutOrStdout())
		},
	}
	cfg.DatabaseFlags(verify.Flags())
	verify.Flags().StringVar(&tenant, "tenant", "", "the region's two-digit code")
	verify.Flags().StringArrayVar(&anchors, "anchor", nil, "SEQ:HASH of an earlier verification's head that the chain must still hold (repeatable)")
	cmd.AddCommand(verify)
	return cmd
}

func newKeys() *cobra.Command {
	var (
		cfg              app.Config
		oldFile, newFile string
		tenant           string
	)
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Rotate the personal data keys",
		Long: "Personal data is encrypted with per-region data keys, which the master key (--encryption-key-file)\n" +
			"wraps. See docs/personal-data.md for the rotation procedure.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cfg.DatabaseFlags(cmd.PersistentFlags())
	prepare := func(cmd *cobra.Command) error { return app.BindEnv(cmd.Flags()) }
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Rewrap every region's keys from the old master key to the new one",
		Long: "Rewrap every region's keys from the master key in --old-key-file to the one in --new-key-file, one\n" +
			"transaction per region; no personal data is re-encrypted. Idempotent: run it again after an interruption.\n" +
			"Run servers with --encryption-key-file NEW --previous-encryption-key-file OLD while it runs.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			return app.RotateMasterKey(cmd.Context(), cfg, oldFile, newFile, cmd.OutOrStdout())
		},
	}
	rotate.Flags().StringVar(&oldFile, "old-key-file", "", "file with the master key the region keys are wrapped by now")
	rotate.Flags().StringVar(&newFile, "new-key-file", "", "file with the master key to wrap them by")
	rotateData := &cobra.Command{
		Use:   "rotate-data",
		Short: "Give a region a new data key for new writes; old keys still decrypt",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			if tenant == "" {
				return &app.ConfigError{Msg: "--tenant is required (a region code such as 66)"}
			}
			return app.RotateDataKey(cmd.Context(), cfg, tenant, cmd.OutOrStdout())
		},
	}
	rotateData.Flags().StringVar(&tenant, "tenant", "", "the region's two-digit code")
	rotateData.Flags().StringVar(&cfg.EncryptionKeyFile, "encryption-key-file", "", "the master key (default: the development key in the data dir)")
	rotateData.Flags().StringVar(&cfg.PreviousEncryptionKeyFile, "previous-encryption-key-file", "", "the master key being rotated away from")
	status := &cobra.Command{
		Use:   "status",
		Short: "Count the region keys each master key wraps",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := prepare(cmd); err != nil {
				return err
			}
			return app.KeyStatus(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	cmd.AddCommand(rotate, rotateData, status)
	return cmd
}
