package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
)

// hidePersonalData keeps personal data out of the error answers of every
// operation. Huma's own validation puts, in an error's value,
// the whole object a required or unexpected property was looked for in, and
// the whole body when it does not parse — a SNILS, a passport, a bank
// account with them. Such values, and any about the sealed fields, are
// dropped before the answer leaves; everything else of the problem stays.
func hidePersonalData(ctx huma.Context, next func(huma.Context)) {
	w := &errorBuffer{humaContext: ctx}
	next(w)
	if w.buf == nil {
		return
	}
	body, ok := scrubProblem(w.buf.Bytes())
	if !ok {
		// Not a problem we can read (another format): answer one that holds nothing.
		status := w.status
		body, _ = json.Marshal(huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: "the request was refused"})
		ctx.SetHeader("Content-Type", problemType)
	}
	_, _ = ctx.BodyWriter().Write(body)
}

// humaContext names the embedded context (a field named Context would
// hide the method Context).
type humaContext = huma.Context

// errorBuffer holds back the body of an error answer.
type errorBuffer struct {
	humaContext
	status int
	buf    *bytes.Buffer
}

func (c *errorBuffer) SetStatus(code int) {
	c.status = code
	c.humaContext.SetStatus(code)
}

func (c *errorBuffer) BodyWriter() io.Writer {
	if c.status < 400 {
		return c.humaContext.BodyWriter()
	}
	if c.buf == nil {
		c.buf = &bytes.Buffer{}
	}
	return c.buf
}

// sealedFields are the request fields whose values an error never repeats.
var sealedFields = []string{"snils", "document", "contacts", "bank"}

func scrubProblem(raw []byte) ([]byte, bool) {
	var p map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&p); err != nil {
		return nil, false
	}
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		loc, _ := m["location"].(string)
		switch m["value"].(type) {
		case map[string]any, []any:
			delete(m, "value")
			continue
		}
		if v, ok := m["value"].(string); ok && uuid.Validate(v) == nil {
			continue // an id names a row, it is not personal data
		}
		if loc == "body" || sealed(loc) {
			delete(m, "value")
		}
	}
	out, err := json.Marshal(p)
	return out, err == nil
}

func sealed(loc string) bool {
	for _, part := range strings.FieldsFunc(loc, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		for _, f := range sealedFields {
			if part == f {
				return true
			}
		}
	}
	return false
}
