package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Import statuses.
const (
	StatusUploading = "uploading"
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusDone      = "done"
	StatusFailed    = "failed"
)

// chunkSize is the size of the pieces an uploaded file is kept in.
const chunkSize = 1 << 20

// maxAbortErrors bounds the bad lines an all_or_nothing import reports
// (they are kept in memory until its single transaction ends).
const maxAbortErrors = 100_000

type importRow struct {
	TenantID   uuid.UUID `gorm:"primaryKey"`
	ID         uuid.UUID `gorm:"primaryKey"`
	Status     string
	Mode       string
	Format     string
	RecordType string
	Bytes      int64
	SHA256     string `gorm:"column:sha256"`
	Lines      int64
	Imported   int64
	Unchanged  int64
	Rejected   int64
	BytesDone  int64
	Error      string
	CreatedBy  *uuid.UUID
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	LeaseUntil *time.Time
	Attempts   int
}

func (importRow) TableName() string { return "imports" }

type chunkRow struct {
	TenantID uuid.UUID `gorm:"primaryKey"`
	ImportID uuid.UUID `gorm:"primaryKey"`
	Seq      int       `gorm:"primaryKey"`
	Data     []byte
}

func (chunkRow) TableName() string { return "import_chunks" }

// ImportRequest says how to read a file.
type ImportRequest struct {
	Format string // ndjson | csv
	Type   string // the record type of a CSV file without a type column
	Mode   string // commit_valid (default) | all_or_nothing
}

// Import is an import job.
type Import struct {
	ID         uuid.UUID
	Status     string
	Mode       string
	Format     string
	RecordType string
	Bytes      int64
	SHA256     string
	Progress   Progress
	Error      string
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

func (r importRow) out() Import {
	return Import{ID: r.ID, Status: r.Status, Mode: r.Mode, Format: r.Format, RecordType: r.RecordType, Bytes: r.Bytes,
		SHA256: r.SHA256, Error: r.Error, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Progress: Progress{Lines: r.Lines, Imported: r.Imported, Unchanged: r.Unchanged, Rejected: r.Rejected, Bytes: r.BytesDone}}
}

func (req *ImportRequest) check() error {
	v := &fault.Invalid{}
	if req.Mode == "" {
		req.Mode = CommitValid
	}
	if req.Mode != CommitValid && req.Mode != AllOrNothing {
		v.Add("mode", "must be commit_valid or all_or_nothing", req.Mode)
	}
	if req.Format != FormatNDJSON && req.Format != FormatCSV {
		v.Add("format", "must be ndjson or csv", req.Format)
	}
	if _, ok := allowed[req.Type]; req.Type != "" && !ok {
		v.Add("type", "must be person, relation, income, disability or category", req.Type)
	}
	if req.Type != "" && req.Format != FormatCSV {
		v.Add("type", "is for CSV files; an NDJSON line names its own type", req.Type)
	}
	return v.Err()
}

func (s *Service) newImport(ctx context.Context, req ImportRequest, status string) (importRow, error) {
	now := time.Now().UTC()
	row := importRow{ID: uuid.Must(uuid.NewV7()), Status: status, Mode: req.Mode, Format: req.Format, RecordType: req.Type,
		CreatedBy: actorOf(ctx), CreatedAt: now}
	if status == StatusRunning {
		row.StartedAt, row.Attempts = &now, 1
		lease := now.Add(s.lease)
		row.LeaseUntil = &lease
	}
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Action: "import.create", ObjectType: "import", ObjectID: row.ID.String(),
			Detail: "format=" + req.Format + " mode=" + req.Mode})
	})
	return row, err
}

// SubmitImport keeps an uploaded file in the database (in chunks, so that
// any replica can run it and a restart can resume it) and queues it. The
// body is read as it arrives; memory stays at one chunk.
func (s *Service) SubmitImport(ctx context.Context, req ImportRequest, body io.Reader) (Import, error) {
	if err := req.check(); err != nil {
		return Import{}, err
	}
	row, err := s.newImport(ctx, req, StatusUploading)
	if err != nil {
		return Import{}, err
	}
	// The file holds personal data in the clear: its chunks are sealed
	// like any other (and deleted when the import ends).
	k, err := s.crypt.Keyring(ctx)
	if err != nil {
		s.failImport(context.WithoutCancel(ctx), row.ID, "the upload could not be stored")
		return Import{}, err
	}
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var total int64
	for seq := 0; ; seq++ {
		n, rerr := io.ReadFull(body, buf)
		if n > 0 {
			h.Write(buf[:n])
			total += int64(n)
			sealed, err := k.Seal(buf[:n], chunkAAD(row.ID, seq))
			if err != nil {
				s.failImport(context.WithoutCancel(ctx), row.ID, "the upload could not be stored")
				return Import{}, err
			}
			c := chunkRow{ImportID: row.ID, Seq: seq, Data: sealed}
			if err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error { return tx.Create(&c).Error }); err != nil {
				s.failImport(context.WithoutCancel(ctx), row.ID, "the upload could not be stored")
				return Import{}, err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			s.failImport(context.WithoutCancel(ctx), row.ID, "the upload was interrupted")
			return Import{}, fmt.Errorf("reading the upload: %w", rerr)
		}
	}
	row.Status, row.Bytes, row.SHA256 = StatusQueued, total, hex.EncodeToString(h.Sum(nil))
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Model(&importRow{}).Where("id = ?", row.ID).Updates(map[string]any{
			"status": row.Status, "bytes": row.Bytes, "sha256": row.SHA256}).Error
	})
	if err != nil {
		return Import{}, err
	}
	s.wakeRunner()
	return row.out(), nil
}

func (s *Service) failImport(ctx context.Context, id uuid.UUID, msg string) {
	now := time.Now().UTC()
	_ = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Model(&importRow{}).Where("id = ?", id).Updates(map[string]any{
			"status": StatusFailed, "error": msg, "finished_at": now, "lease_until": nil}).Error; err != nil {
			return err
		}
		return tx.Where("import_id = ?", id).Delete(&chunkRow{}).Error
	})
}

// ImportFile runs an import of a local file in this process, to its end
// (the command line's treasury import). progress, when set, hears of every
// committed batch.
func (s *Service) ImportFile(ctx context.Context, req ImportRequest, r io.Reader, progress func(Progress)) (Import, error) {
	if err := req.check(); err != nil {
		return Import{}, err
	}
	row, err := s.newImport(ctx, req, StatusRunning)
	if err != nil {
		return Import{}, err
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(r, h)}
	err = s.run(ctx, row, cr, progress)
	return s.finish(ctx, row.ID, err, cr.n, hex.EncodeToString(h.Sum(nil)))
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// finish records how an import ended.
func (s *Service) finish(ctx context.Context, id uuid.UUID, runErr error, size int64, sum string) (Import, error) {
	ctx = context.WithoutCancel(ctx)
	s.refreshStatistics(ctx)
	now := time.Now().UTC()
	status, msg := StatusDone, ""
	var le *LineError
	switch {
	case runErr == nil, errors.Is(runErr, errAbort):
	case errors.As(runErr, &le):
		status, msg = StatusFailed, le.Error()
	default:
		status, msg = StatusFailed, "the import stopped: "+publicError(runErr)
	}
	var row importRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		upd := map[string]any{"status": status, "error": msg, "finished_at": now, "lease_until": nil}
		if size > 0 {
			upd["bytes"], upd["sha256"] = size, sum
		}
		if err := tx.Model(&importRow{}).Where("id = ?", id).Updates(upd).Error; err != nil {
			return err
		}
		if le != nil {
			if err := tx.Create(&errorRow{ImportID: id, Seq: 0, Line: le.Line, Location: le.Location, Message: le.Message}).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("import_id = ?", id).Delete(&chunkRow{}).Error; err != nil {
			return err
		}
		if err := audit.Append(ctx, tx, audit.Record{Action: "import.finish", ObjectType: "import", ObjectID: id.String(),
			Detail: "status=" + status}); err != nil {
			return err
		}
		return tx.Where("id = ?", id).Take(&row).Error
	})
	if err != nil {
		return Import{}, err
	}
	return row.out(), runErr
}

// refreshStatistics gives SQLite's planner statistics of the registry
// after an import changed its size (PostgreSQL's autovacuum does this).
func (s *Service) refreshStatistics(ctx context.Context) {
	if s.db.Dialector.Name() != "sqlite" {
		return
	}
	_ = s.db.WithContext(ctx).Connection(analyzeSQLite)
}

// publicError is what an import's failure says: never a database error's
// text, which may quote a row.
func publicError(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Msg
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return "an internal error; see the server log"
}

// run imports what r holds into the import row describes, resuming after
// the lines an earlier run committed.
func (s *Service) run(ctx context.Context, row importRow, r io.Reader, progress func(Progress)) error {
	codes, err := s.codeSets(ctx)
	if err != nil {
		return err
	}
	k, err := s.crypt.Keyring(ctx)
	if err != nil {
		return err
	}
	tid, _ := tenancy.FromContext(ctx)
	e := &engine{k: k, tenant: tid, importID: row.ID, now: time.Now().UTC(), lease: s.lease}
	p := &parser{ln: newLines(r), format: row.Format, typ: row.RecordType, chk: &checker{codes: codes, today: s.today()}, origin: Imported}
	if row.Mode == CommitValid && row.Lines > 0 {
		p.skip = row.Lines
		e.progress = Progress{Lines: row.Lines, Imported: row.Imported, Unchanged: row.Unchanged, Rejected: row.Rejected, Bytes: row.BytesDone}
		if err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
			return tx.Model(&errorRow{}).Where("import_id = ?", row.ID).Select("coalesce(max(seq), 0)").Scan(&e.errSeq).Error
		}); err != nil {
			return err
		}
	}
	sk, err := s.sink(ctx)
	if err != nil {
		return err
	}
	defer sk.close()

	// Parsing and sealing run one batch ahead of the writer.
	type next struct {
		b   *batch
		err error
	}
	ch := make(chan next, 2)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer close(ch)
		for {
			b, err := p.next(batchLines)
			if b == nil && err == nil {
				return
			}
			select {
			case ch <- next{b, err}:
			case <-pctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	if row.Mode == AllOrNothing {
		var kept []LineError
		var rejected int64
		err := sk.tx(ctx, func(tx sinkTx) error {
			for n := range ch {
				if n.err != nil {
					return n.err
				}
				errs := n.b.errs
				n.b.errs = nil
				if err := e.store(ctx, tx, n.b); err != nil {
					return err
				}
				errs = append(errs, n.b.errs...)
				rejected = e.progress.Rejected
				if len(kept) < maxAbortErrors {
					kept = append(kept, errs[:min(len(errs), maxAbortErrors-len(kept))]...)
				}
				if progress != nil {
					progress(e.progress)
				}
			}
			if rejected > 0 {
				return errAbort
			}
			return nil
		})
		if errors.Is(err, errAbort) {
			return s.recordAbort(ctx, row.ID, e.progress, kept)
		}
		return err
	}
	for n := range ch {
		if n.err != nil {
			return n.err
		}
		if err := sk.tx(ctx, func(tx sinkTx) error { return e.store(ctx, tx, n.b) }); err != nil {
			return err
		}
		if progress != nil {
			progress(e.progress)
		}
	}
	return nil
}

// recordAbort stores what an all_or_nothing import found wrong, after its
// transaction rolled back: nothing of the file is in the registry.
func (s *Service) recordAbort(ctx context.Context, id uuid.UUID, p Progress, errs []LineError) error {
	return tenancy.Tx(context.WithoutCancel(ctx), s.db, func(tx *gorm.DB) error {
		rows := make([]errorRow, len(errs))
		for i, le := range errs {
			rows[i] = errorRow{ImportID: id, Seq: int64(i + 1), Line: le.Line, Location: le.Location, Message: le.Message}
		}
		if err := create(tx, rows); err != nil {
			return err
		}
		return tx.Model(&importRow{}).Where("id = ?", id).Updates(map[string]any{
			"lines": p.Lines, "imported": 0, "unchanged": 0, "rejected": p.Rejected, "bytes_done": p.Bytes,
			"error": fmt.Sprintf("%d of %d lines are bad; nothing was stored (all_or_nothing)", p.Rejected, p.Lines),
		}).Error
	})
}

// GetImport reads an import job.
func (s *Service) GetImport(ctx context.Context, id uuid.UUID) (Import, error) {
	var row importRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error { return tx.Where("id = ?", id).Take(&row).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Import{}, fault.NotFoundf("import %s", id)
	}
	return row.out(), err
}

// ImportErrors pages through an import's bad lines, by line.
func (s *Service) ImportErrors(ctx context.Context, id uuid.UUID, after int64, limit int) ([]LineError, int64, error) {
	if limit <= 0 || limit > page.MaxLimit {
		limit = page.MaxLimit
	}
	var rows []errorRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("import_id = ? AND seq > ?", id, after).Order("seq").Limit(limit + 1).Find(&rows).Error
	})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].Seq
	}
	out := make([]LineError, len(rows))
	for i, r := range rows {
		out[i] = LineError{Line: r.Line, Location: r.Location, Message: r.Message}
	}
	return out, next, nil
}

// chunks reads an uploaded file back, a chunk per transaction.
type chunks struct {
	ctx context.Context
	s   *Service
	k   *pdcrypt.Keyring // taken before the import's transactions: SQLite has one at a time
	id  uuid.UUID
	seq int
	buf *bytes.Reader
	end bool
}

func (c *chunks) Read(p []byte) (int, error) {
	for c.buf == nil || c.buf.Len() == 0 {
		if c.end {
			return 0, io.EOF
		}
		row, err := c.read()
		if errors.Is(err, gorm.ErrRecordNotFound) {
			c.end = true
			continue
		}
		if err != nil {
			return 0, err
		}
		c.seq++
		data, err := c.k.Open(row.Data, chunkAAD(c.id, c.seq-1))
		if err != nil {
			return 0, fmt.Errorf("opening chunk %d of the upload: %w", c.seq-1, err)
		}
		c.buf = bytes.NewReader(data)
	}
	return c.buf.Read(p)
}

// chunkAAD binds a sealed chunk to its import and place in the file.
func chunkAAD(id uuid.UUID, seq int) []byte {
	return fmt.Appendf(append([]byte("import_chunks:"), id[:]...), ":%d", seq)
}

// read fetches the next chunk. On SQLite it reads outside a transaction:
// an all_or_nothing import holds the one writer's transaction meanwhile,
// and a read needs none (the region is named explicitly; SQLite has no
// row-level security to set up).
func (c *chunks) read() (chunkRow, error) {
	var row chunkRow
	if c.s.db.Dialector.Name() == "sqlite" {
		tid, ok := tenancy.FromContext(c.ctx)
		if !ok {
			return row, tenancy.ErrNoTenant
		}
		err := c.s.db.WithContext(c.ctx).Raw("SELECT data FROM import_chunks WHERE tenant_id = ? AND import_id = ? AND seq = ?",
			tid, c.id, c.seq).Row().Scan(&row.Data)
		if errors.Is(err, sql.ErrNoRows) {
			return row, gorm.ErrRecordNotFound
		}
		return row, err
	}
	err := tenancy.Tx(c.ctx, c.s.db, func(tx *gorm.DB) error {
		return tx.Where("import_id = ? AND seq = ?", c.id, c.seq).Take(&row).Error
	})
	return row, err
}

func (s *Service) wakeRunner() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// RunImports runs queued imports, and resumes those whose runner stopped
// (a crash, a killed pod) once their lease ran out, until ctx ends. Every
// replica may run it: a claim is a conditional update, so one import has
// one runner.
func (s *Service) RunImports(ctx context.Context, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for s.runOne(ctx, log) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// runOne runs one claimable import of any region; false when there was none.
func (s *Service) runOne(ctx context.Context, log *slog.Logger) bool {
	return tenancy.NewService(s.db).FirstRegion(ctx, func(rctx context.Context, r tenancy.Tenant) bool {
		row, ok, err := s.claim(rctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("claiming an import failed", "tenant", r.Code, "error", err.Error())
			}
			return false
		}
		if !ok {
			return false
		}
		log.Info("import started", "tenant", r.Code, "import", row.ID.String(), "attempt", row.Attempts, "resume_after_line", row.Lines)
		var rerr error
		if k, kerr := s.crypt.Keyring(rctx); kerr != nil {
			rerr = kerr
		} else {
			rerr = s.run(rctx, row, &chunks{ctx: rctx, s: s, k: k, id: row.ID}, nil)
		}
		if ctx.Err() != nil {
			return false // shutting down: the lease runs out and a runner resumes it
		}
		im, _ := s.finish(rctx, row.ID, rerr, 0, "")
		if rerr != nil && !errors.Is(rerr, errAbort) {
			log.Error("import failed", "tenant", r.Code, "import", row.ID.String(), "error", rerr.Error())
		} else {
			log.Info("import done", "tenant", r.Code, "import", row.ID.String(), "lines", im.Progress.Lines,
				"imported", im.Progress.Imported, "unchanged", im.Progress.Unchanged, "rejected", im.Progress.Rejected)
		}
		return true
	})
}

// maxAttempts bounds how often an import is resumed before it is failed:
// a file that crashes its runner must not crash every replica in turn.
const maxAttempts = 5

// claim takes the region's oldest import that is queued, or running with
// its lease run out.
func (s *Service) claim(ctx context.Context) (importRow, bool, error) {
	var row importRow
	claimed := false
	now := time.Now().UTC()
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		err := tx.Where("status = ? OR (status = ? AND lease_until < ?)", StatusQueued, StatusRunning, now).
			Order("created_at").Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if row.Attempts >= maxAttempts {
			return tx.Model(&importRow{}).Where("id = ?", row.ID).Updates(map[string]any{
				"status": StatusFailed, "error": fmt.Sprintf("stopped %d times without finishing", row.Attempts),
				"finished_at": now, "lease_until": nil}).Error
		}
		lease := now.Add(s.lease)
		res := tx.Model(&importRow{}).Where("id = ? AND status = ? AND attempts = ?", row.ID, row.Status, row.Attempts).
			Updates(map[string]any{"status": StatusRunning, "lease_until": lease, "attempts": row.Attempts + 1,
				"started_at": coalesceTime(row.StartedAt, now)})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			claimed = true
			row.Status, row.Attempts, row.LeaseUntil = StatusRunning, row.Attempts+1, &lease
		}
		return nil
	})
	return row, claimed, err
}

func coalesceTime(t *time.Time, now time.Time) time.Time {
	if t != nil {
		return *t
	}
	return now
}
