package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/store"
)

// masterKeys loads the master key that wraps new region keys — the
// configured file, or the development key kept in the data directory — and
// the previous one during a rotation.
func masterKeys(cfg Config, log *slog.Logger) (*pdcrypt.MasterKey, []*pdcrypt.MasterKey, error) {
	var raw []byte
	var err error
	if cfg.EncryptionKeyFile != "" {
		if raw, err = ReadKeyFile(cfg.EncryptionKeyFile); err != nil {
			return nil, nil, configErrorf("--encryption-key-file: %v", err)
		}
	} else {
		var created bool
		if raw, created, err = pdcrypt.DevMasterKey(cfg.DataDir); err != nil {
			return nil, nil, configErrorf("personal data master key: %v", err)
		}
		if created {
			log.Warn("generated a personal data master key in the data dir; production needs --encryption-key-file "+
				"(one shared file for all replicas, kept apart from the database backups)", "dir", cfg.DataDir)
		}
	}
	cur, err := pdcrypt.NewMasterKey(raw)
	if err != nil {
		return nil, nil, err
	}
	var prev []*pdcrypt.MasterKey
	if cfg.PreviousEncryptionKeyFile != "" {
		raw, err := ReadKeyFile(cfg.PreviousEncryptionKeyFile)
		if err != nil {
			return nil, nil, configErrorf("--previous-encryption-key-file: %v", err)
		}
		p, err := pdcrypt.NewMasterKey(raw)
		if err != nil {
			return nil, nil, err
		}
		prev = append(prev, p)
	}
	return cur, prev, nil
}

// personalData wires the personal data protection and refuses to start when
// some region's keys are wrapped by a master key it was not given (a wrong
// --encryption-key-file would otherwise fail on the first personal record).
func personalData(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) (*pdcrypt.Service, error) {
	cur, prev, err := masterKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	svc, err := pdcrypt.New(db.Gorm, cur, pdcrypt.Options{Previous: prev, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := svc.CheckMasters(ctx); err != nil {
		if errors.Is(err, pdcrypt.ErrMasterKey) {
			return nil, configErrorf("--encryption-key-file: %v", err)
		}
		return nil, fmt.Errorf("checking the personal data keys: %w", err)
	}
	return svc, nil
}
