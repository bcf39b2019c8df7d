package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
)

// Category is the category a family of three or more children gives.
const Category = "large_family"

// Source is the name the audit shows next to the facts.
const Source = "large families register"

// minChildren is how many children make a family large.
const minChildren = 3

// header is the register's first line.
const header = "snils,children,valid_from,valid_to"

// httpTimeout bounds a download of the register: the platform's call has
// its own deadline, but a register that trickles must not hold the plug-in
// past it.
const httpTimeout = 30 * time.Second

// maxRegisterBytes bounds the register read: a region's register is tens
// of megabytes; more is a wrong URL, not a register.
const maxRegisterBytes = 512 << 20

// Config is the region's configuration: exactly one of CSV (an absolute
// path to the register's export) and URL (where an HTTP GET answers the
// same CSV).
type Config struct {
	CSV string `json:"csv"`
	URL string `json:"url"`
}

// Register is the data source: it reads the register on every call, so
// that a new export is seen without restarting the plug-in.
type Register struct {
	cfg    Config
	client *http.Client
}

// New checks cfg and returns the data source it configures.
func New(cfg Config) (*Register, error) {
	switch {
	case (cfg.CSV == "") == (cfg.URL == ""):
		return nil, errors.New(`configure exactly one of "csv" and "url"`)
	case cfg.CSV != "" && !filepath.IsAbs(cfg.CSV):
		return nil, fmt.Errorf("csv %q is not an absolute path", cfg.CSV)
	case cfg.URL != "":
		u, err := url.Parse(cfg.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("url %q is not an http(s) URL", cfg.URL)
		}
	}
	return &Register{cfg: cfg, client: &http.Client{Timeout: httpTimeout}}, nil
}

// fromEnv is the data source the region configured. A configuration that
// is wrong gives a source that fails every call with the reason, so that
// the region sees it where it sees the plug-in's other errors.
func fromEnv() connector.DataSource {
	var cfg Config
	if err := sdk.Config(&cfg); err != nil {
		return broken{err}
	}
	r, err := New(cfg)
	if err != nil {
		return broken{err}
	}
	return r
}

type broken struct{ err error }

func (b broken) Facts(context.Context, []connector.PersonRef, time.Time) ([]connector.PersonFacts, error) {
	return nil, fmt.Errorf("largefamilies configuration: %w", b.err)
}

// family is one line of the register.
type family struct {
	line     int
	snils    string // 11 digits
	children int
	from, to time.Time // to: zero when open-ended
}

// Facts answers from the register: a person in it is there with a
// large_family category for each of their lines of three or more children
// that began by asOf (ended ones too: the platform decides by the
// periods); a person not in it is absent.
func (r *Register) Facts(ctx context.Context, persons []connector.PersonRef, asOf time.Time) ([]connector.PersonFacts, error) {
	// The persons asked about by their normalised SNILS; the answer
	// names each by the SNILS as asked.
	asked := make(map[string][]string, len(persons))
	for _, p := range persons {
		if n, ok := NormalizeSNILS(p.SNILS); ok {
			asked[n] = append(asked[n], p.SNILS)
		}
	}
	found := make(map[string][]family)
	err := r.read(ctx, func(f family) {
		if _, ok := asked[f.snils]; ok {
			found[f.snils] = append(found[f.snils], f)
		}
	})
	if err != nil {
		return nil, err
	}
	var out []connector.PersonFacts
	done := make(map[string]bool, len(persons))
	for _, p := range persons {
		n, _ := NormalizeSNILS(p.SNILS)
		fs, ok := found[n]
		if !ok || done[p.SNILS] {
			continue
		}
		done[p.SNILS] = true
		pf := connector.PersonFacts{SNILS: p.SNILS, Source: Source}
		for _, f := range fs {
			if f.children >= minChildren && (asOf.IsZero() || !f.from.After(asOf)) {
				pf.Categories = append(pf.Categories, connector.CategoryFact{Code: Category, Period: connector.Period{From: f.from, To: f.to}})
			}
		}
		out = append(out, pf)
	}
	return out, nil
}

// read gives each line of the register to each. The register not being
// there, not answering or being malformed is the register's failure
// (sdk.Upstream), not the plug-in's.
func (r *Register) read(ctx context.Context, each func(family)) error {
	var body io.ReadCloser
	if r.cfg.CSV != "" {
		f, err := os.Open(r.cfg.CSV)
		if err != nil {
			return sdk.Upstream(fmt.Errorf("the register's export: %w", err))
		}
		body = f
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL, nil)
		if err != nil {
			return err
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return sdk.Upstream(fmt.Errorf("the register does not answer: %w", err))
		}
		if resp.StatusCode != http.StatusOK {
			_ = resp.Body.Close()
			return sdk.Upstream(fmt.Errorf("the register at %s answered %s", req.URL.Redacted(), resp.Status))
		}
		body = resp.Body
	}
	defer body.Close()
	if err := readRegister(&limited{r: body, n: maxRegisterBytes, limit: maxRegisterBytes}, each); err != nil {
		return sdk.Upstream(fmt.Errorf("the register: %w", err))
	}
	return nil
}

// readRegister reads the register's CSV, giving each line to each. The
// first line is the header; any malformed line is an error naming it (and
// not its SNILS: errors reach logs that must not collect them), since a
// register read in part would answer "not a large family" for the
// families past the fault.
func readRegister(r io.Reader, each func(family)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			if first {
				return errors.New("it is empty, not even the header " + header)
			}
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("line %d: %v", pe.Line, pe.Err)
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			got := strings.ToLower(strings.TrimPrefix(strings.Join(rec, ","), "\ufeff")) // Excel's BOM
			if strings.ReplaceAll(got, " ", "") != header {
				return fmt.Errorf("line %d: the header is not %s", line, header)
			}
			continue
		}
		f, err := parseFamily(rec)
		if err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		f.line = line
		each(f)
	}
}

// maxChildren bounds a family's children: more is a value in the wrong
// column (a SNILS is a number too), not a family.
const maxChildren = 99

// parseFamily reads a row. Its errors name the field, never its value: a
// value in the wrong column may be a SNILS, and errors reach the
// platform's logs.
func parseFamily(rec []string) (family, error) {
	var f family
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	var ok bool
	if f.snils, ok = NormalizeSNILS(rec[0]); !ok {
		return f, errors.New("snils is not 11 digits")
	}
	n, err := strconv.Atoi(rec[1])
	if err != nil || n < 0 || n > maxChildren {
		return f, fmt.Errorf("children is not a whole number from 0 to %d", maxChildren)
	}
	f.children = n
	if f.from, err = time.Parse(time.DateOnly, rec[2]); err != nil {
		return f, errors.New("valid_from is not a date YYYY-MM-DD")
	}
	if rec[3] != "" {
		if f.to, err = time.Parse(time.DateOnly, rec[3]); err != nil {
			return f, errors.New("valid_to is not a date YYYY-MM-DD")
		}
		if f.to.Before(f.from) {
			return f, errors.New("valid_to is before valid_from")
		}
	}
	return f, nil
}

// NormalizeSNILS is a SNILS as 11 digits: the register writes it either
// way, "11223344595" or "112-233-445 95", and so may whoever asks. Spaces
// and hyphens are dropped; what is left must be 11 digits. The check
// number is not verified: a typo in the register then fails to match, as
// the wrong number would, instead of failing every call.
func NormalizeSNILS(s string) (string, bool) {
	var b [11]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
		case c >= '0' && c <= '9' && n < len(b):
			b[n] = c
			n++
		default:
			return "", false
		}
	}
	if n != len(b) {
		return "", false
	}
	return string(b[:]), true
}

// limited is an io.LimitReader that says when the limit is passed instead
// of ending quietly, which would read as a register cut short.
type limited struct {
	r     io.Reader
	n     int64 // what is left
	limit int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// At the limit: the end, or more than is allowed.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("it is larger than %d bytes", l.limit)
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
