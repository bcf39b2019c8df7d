package registry

import (
	"context"

	"github.com/jackc/pgx/v5"
)

func (s *Service) sink(ctx context.Context) sink {
	if s.db.Dialector.Name() == "postgres" {
		if ps, err := newPGSink(ctx, s.db); err == nil {
			return ps
		}
	}
	return gormSink{s.db}
}

var _ = pgx.Identifier{}

func newPGSink(ctx context.Context, db any) (sink, error) { return nil, errNoCopy }

var errNoCopy = errAbort
