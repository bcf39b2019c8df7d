package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/registry"
)

// ErrImportRejected is returned by ImportFile when lines were refused (the
// good ones are stored in commit_valid mode, none in all_or_nothing mode).
var ErrImportRejected = errors.New("some lines were rejected")

// ImportFile imports a registry file into a region from the command line,
// drawing a progress bar on progress (a terminal) and the summary and the
// first bad lines on out.
func ImportFile(ctx context.Context, cfg Config, code, path, format, typ, mode string, out, progress io.Writer) error {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = registry.FormatCSV
		case ".ndjson", ".jsonl", ".json":
			format = registry.FormatNDJSON
		default:
			return configErrorf("--format: say ndjson or csv (the file's extension does not tell)")
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return configErrorf("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	log := NewLogger(io.Discard, cfg.LogLevel, cfg.LogFormat)
	crypt, err := personalData(ctx, cfg, db, log)
	if err != nil {
		return err
	}
	rctx, t, err := auditRegion(ctx, db, code)
	if err != nil {
		return err
	}
	rctx = audit.WithActor(audit.WithPurpose(rctx, "bulk import from the command line"), [16]byte{}, "treasury import")
	reg := registry.NewService(db.Gorm, crypt, directoryCodes{directory.NewService(db.Gorm)}, registry.Options{})
	start := time.Now()
	last := time.Time{}
	draw := func(p registry.Progress) {
		if progress == nil || time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		drawBar(progress, p, st.Size(), start)
	}
	im, err := reg.ImportFile(rctx, registry.ImportRequest{Format: format, Type: typ, Mode: mode}, f, draw)
	if progress != nil {
		drawBar(progress, im.Progress, st.Size(), start)
		fmt.Fprintln(progress)
	}
	var le *registry.LineError
	if errors.As(err, &le) {
		return configErrorf("%s: %v", path, le)
	}
	if err != nil {
		return err
	}
	p := im.Progress
	fmt.Fprintf(out, "region %s: import %s %s in %s: %d lines, %d imported, %d unchanged, %d rejected\n",
		t.Code, im.ID, im.Status, time.Since(start).Round(time.Millisecond), p.Lines, p.Imported, p.Unchanged, p.Rejected)
	if im.Error != "" {
		fmt.Fprintln(out, im.Error)
	}
	if p.Rejected == 0 {
		return nil
	}
	errs, _, err := reg.ImportErrors(rctx, im.ID, 0, 20)
	if err != nil {
		return err
	}
	for _, e := range errs {
		fmt.Fprintf(out, "  line %d: %s: %s\n", e.Line, e.Location, e.Message)
	}
	if p.Rejected > int64(len(errs)) {
		fmt.Fprintf(out, "  … GET /api/v1/tenants/%s/imports/%s/errors lists them all\n", t.Code, im.ID)
	}
	return ErrImportRejected
}

func drawBar(w io.Writer, p registry.Progress, size int64, start time.Time) {
	const width = 30
	frac := 1.0
	if size > 0 {
		frac = min(1, float64(p.Bytes)/float64(size))
	}
	n := int(frac * width)
	rate := float64(p.Lines) / max(time.Since(start).Seconds(), 0.001)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%%  %d lines  %.0f lines/s  %d rejected", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		frac*100, p.Lines, rate, p.Rejected)
}
