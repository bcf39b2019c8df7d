package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Dialect names the SQL dialect behind a DB.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// SQLiteFile is the database file's name inside the data directory.
const SQLiteFile = "treasury.db"

// Options says where the database is and how to pool connections.
type Options struct {
	// URL is a postgres:// or postgresql:// URL; empty selects embedded SQLite.
	URL string
	// DataDir holds the SQLite file when URL is empty.
	DataDir string
	// MaxOpenConns bounds the pool; 0 picks a default per dialect.
	MaxOpenConns int
	// ConnectTimeout bounds the first connection attempt.
	ConnectTimeout time.Duration
	Logger         *slog.Logger
}

// DB is an open database: the GORM handle the services use and the
// database/sql pool beneath it.
type DB struct {
	Gorm    *gorm.DB
	SQL     *sql.DB
	Dialect Dialect
}

// ErrUnreachable wraps every failure to reach the database at open time.
var ErrUnreachable = errors.New("database unreachable")

// DialectOf tells which dialect a configured URL selects, or an error for a
// URL that is neither empty nor PostgreSQL.
func DialectOf(rawURL string) (Dialect, error) {
	if rawURL == "" {
		return SQLite, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", redactURLError(err))
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return Postgres, nil
	default:
		return "", fmt.Errorf("database URL: scheme %q is not supported (use postgres:// or leave it empty for embedded SQLite)", u.Scheme)
	}
}

// Open connects, checks the connection and returns the DB.
func Open(ctx context.Context, opts Options) (*DB, error) {
	dialect, err := DialectOf(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	gcfg := &gorm.Config{
		// Silent while opening: a failure to open is returned (and printed
		// once by the caller), not also logged. The real logger is set below.
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            false,
		TranslateError:         true,
		NowFunc:                func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}
	var (
		sqlDB *sql.DB
		gdb   *gorm.DB
	)
	switch dialect {
	case Postgres:
		cc, perr := pgx.ParseConfig(opts.URL)
		if perr != nil {
			return nil, fmt.Errorf("database URL: %w", redactURLError(perr))
		}
		if cc.ConnectTimeout == 0 || cc.ConnectTimeout > opts.ConnectTimeout {
			cc.ConnectTimeout = opts.ConnectTimeout
		}
		if cc.RuntimeParams["application_name"] == "" {
			cc.RuntimeParams["application_name"] = "treasury"
		}
		sqlDB = stdlib.OpenDB(*cc, stdlib.OptionAfterConnect(afterConnect))
		max := opts.MaxOpenConns
		if max <= 0 {
			max = 20
		}
		sqlDB.SetMaxOpenConns(max)
		sqlDB.SetMaxIdleConns(max)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		gdb, err = gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), gcfg)
	case SQLite:
		if opts.DataDir == "" {
			opts.DataDir = "data"
		}
		if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		dsn := SQLiteDSN(filepath.Join(opts.DataDir, SQLiteFile))
		sqlDB, err = sql.Open(sqlite.DriverName, dsn)
		if err == nil {
			gdb, err = gorm.Open(sqlite.Dialector{DriverName: sqlite.DriverName, DSN: dsn, Conn: newSerialPool(sqlDB)}, gcfg)
		}
		if err == nil {
			max := opts.MaxOpenConns
			if max <= 0 {
				max = 8
			}
			sqlDB.SetMaxOpenConns(max)
			sqlDB.SetMaxIdleConns(max)
		}
	}
	if err != nil {
		if sqlDB != nil {
			_ = sqlDB.Close()
		}
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, oneLine(err))
	}
	gdb.Logger = newGormLogger(opts.Logger)
	return &DB{Gorm: gdb, SQL: sqlDB, Dialect: dialect}, nil
}

// SQLiteDSN is the connection string for a SQLite file: WAL so readers do not
// block the writer, a busy timeout instead of immediate SQLITE_BUSY, foreign
// keys enforced, and IMMEDIATE transactions so two writers queue up rather
// than deadlock when both upgrade a read lock.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Close releases the pool.
func (d *DB) Close() error { return d.SQL.Close() }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// redactURLError keeps a password out of messages that quote the URL.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return errors.New(strings.SplitN(err.Error(), "://", 2)[0] + ": cannot parse")
}
