package store

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormLogger sends GORM's messages to slog without SQL arguments, so that no
// personal data reaches the log, and stays quiet about expected misses.
type gormLogger struct {
	log  *slog.Logger
	slow time.Duration
}

func newGormLogger(l *slog.Logger) logger.Interface {
	return &gormLogger{log: l.With("component", "store"), slow: 500 * time.Millisecond}
}

func (g *gormLogger) LogMode(logger.LogLevel) logger.Interface { return g }

func (g *gormLogger) Info(ctx context.Context, msg string, _ ...any) {
	g.log.DebugContext(ctx, msg)
}

func (g *gormLogger) Warn(ctx context.Context, msg string, _ ...any) {
	g.log.WarnContext(ctx, msg)
}

func (g *gormLogger) Error(ctx context.Context, msg string, _ ...any) {
	g.log.ErrorContext(ctx, msg)
}

func (g *gormLogger) Trace(ctx context.Context, begin time.Time, _ func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled):
		g.log.DebugContext(ctx, "query failed", "error", err.Error(), "ms", elapsed.Milliseconds())
	case elapsed > g.slow:
		g.log.WarnContext(ctx, "slow query", "ms", elapsed.Milliseconds())
	}
}
