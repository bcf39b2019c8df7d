package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	sdkconnector "github.com/socialtreasury/treasury/sdk/connector"
)

// The connector kinds are the SDK's interfaces, not copies: a plug-in's
// connector (core/pluginhost) and a built-in one are the same type to
// their callers.
type (
	// DataSource answers facts about persons (see sdk/connector).
	DataSource = sdkconnector.DataSource
	// EventSource gives life events from a cursor.
	EventSource = sdkconnector.EventSource
	// PaymentSink hands payment orders to a bank or treasury. A call may
	// reach it twice — a plug-in's call is retried on a restarted process
	// when the plug-in dies, and a caller retries a call whose answer it
	// lost — so a sink must be idempotent on order id: an order submitted
	// again is answered its status, never paid twice.
	PaymentSink = sdkconnector.PaymentSink
	// Notifier delivers notices to persons. Like Submit, Deliver may be
	// called again with the same notices; a notifier that can should not
	// send a notice id twice.
	Notifier = sdkconnector.Notifier

	PersonRef     = sdkconnector.PersonRef
	PersonFacts   = sdkconnector.PersonFacts
	CategoryFact  = sdkconnector.CategoryFact
	IncomeFact    = sdkconnector.IncomeFact
	Period        = sdkconnector.Period
	Event         = sdkconnector.Event
	PaymentOrder  = sdkconnector.PaymentOrder
	PaymentStatus = sdkconnector.PaymentStatus
	Notice        = sdkconnector.Notice
	Delivery      = sdkconnector.Delivery
	Text          = sdkconnector.Text
)

// The types of a Spec.
const (
	TypeFile   = "file"
	TypeHTTP   = "http"
	TypePlugin = "plugin"
)

// DefaultTimeout is an HTTP connector's timeout when its Spec gives none.
const DefaultTimeout = 30 * time.Second

// maxTimeout bounds a Spec's timeout: a longer one is a typing error, and
// would hold a payment run or a pull for it.
const maxTimeout = 10 * time.Minute

// Spec is a connector in a region's configuration, one of:
//
//	{"type": "file", "path": "/srv/exports/facts.csv", "source": "ЕГР многодетных"}
//	{"type": "http", "url": "https://register.example.ru/facts", "timeout": "10s"}
//	{"type": "plugin", "name": "largefamilies"}
//
// Path is absolute: a file data source's CSV, an event source's NDJSON,
// a payment sink's directory. URL is http or https; Timeout a Go duration
// (30s when empty). Source, for data sources only, names the system in the
// registry when the answer does not. A field the type does not use is an
// error, so that a misplaced setting is not silently ignored.
type Spec struct {
	Type    string `json:"type"`
	Path    string `json:"path,omitempty"`
	URL     string `json:"url,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	Name    string `json:"name,omitempty"`
	Source  string `json:"source,omitempty"`
}

// ParseSpec reads a Spec from JSON, refusing unknown fields.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("connector spec: %w", err)
	}
	if dec.More() {
		return Spec{}, errors.New("connector spec: more than one JSON value")
	}
	return s, s.Validate()
}

// Validate checks that s is complete for its type and has nothing else.
func (s Spec) Validate() error {
	_, err := s.check(true)
	return err
}

// check validates s and gives its timeout; source is whether the kind of
// connector takes a Source (data sources do).
func (s Spec) check(source bool) (time.Duration, error) {
	bad := func(format string, args ...any) (time.Duration, error) {
		return 0, fmt.Errorf("connector spec: "+format, args...)
	}
	used := map[string]bool{}
	switch s.Type {
	case TypeFile:
		used["path"], used["source"] = true, true
		if s.Path == "" || !filepath.IsAbs(s.Path) {
			return bad("file: path %q is not an absolute path", s.Path)
		}
	case TypeHTTP:
		used["url"], used["timeout"], used["source"] = true, true, true
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("http: url is not an http(s) URL")
		}
	case TypePlugin:
		used["name"] = true
		if s.Name == "" {
			return bad("plugin: name is required")
		}
	default:
		return bad("type %q is none of file, http, plugin", s.Type)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"path", s.Path != ""}, {"url", s.URL != ""}, {"timeout", s.Timeout != ""}, {"name", s.Name != ""}, {"source", s.Source != ""}} {
		if f.set && !used[f.name] {
			return bad("%s: %s is not a setting of this type", s.Type, f.name)
		}
	}
	if s.Source != "" && !source {
		return bad("source is a setting of data sources only")
	}
	if utf8.RuneCountInString(s.Source) > 100 || !utf8.ValidString(s.Source) || strings.ContainsRune(s.Source, 0) {
		return bad("source must be at most 100 characters of text")
	}
	timeout := DefaultTimeout
	if s.Timeout != "" {
		d, err := time.ParseDuration(s.Timeout)
		if err != nil || d <= 0 || d > maxTimeout {
			return bad("timeout %q is not a positive duration up to %s", s.Timeout, maxTimeout)
		}
		timeout = d
	}
	return timeout, nil
}

// ErrPlugin is a Spec of type plugin given to an Open function: the caller
// resolves it with the plug-in host (core/pluginhost.Host.DataSource …).
var ErrPlugin = errors.New("connector: a plug-in connector is resolved by the plug-in host")

// ErrBadAnswer is an answer that breaks its format: not the JSON
// documented, a fact of a person not asked about, a status of an order not
// sent, a status the contract does not have.
var ErrBadAnswer = errors.New("connector: an answer against the format")

func badAnswer(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadAnswer, fmt.Sprintf(format, args...))
}

func noBuiltin(kind string, s Spec) error {
	if s.Type == TypePlugin {
		return fmt.Errorf("%w: %s %s", ErrPlugin, kind, s.Name)
	}
	return fmt.Errorf("connector spec: there is no built-in %s of type %s", kind, s.Type)
}

// OpenDataSource builds a built-in data source: a CSV file of facts
// (loaded and checked now; see file.go) or an HTTP service (see http.go).
func OpenDataSource(s Spec) (DataSource, error) {
	timeout, err := s.check(true)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case TypeFile:
		return openFileSource(s.Path, s.Source)
	case TypeHTTP:
		return newHTTPSource(s.URL, timeout, s.Source), nil
	}
	return nil, noBuiltin("data source", s)
}

// OpenEventSource builds a built-in event source: an NDJSON file of events.
func OpenEventSource(s Spec) (EventSource, error) {
	if _, err := s.check(false); err != nil {
		return nil, err
	}
	if s.Type == TypeFile {
		return &fileEvents{path: s.Path}, nil
	}
	return nil, noBuiltin("event source", s)
}

// OpenPaymentSink builds a built-in payment sink: a directory of order
// files, or an HTTP service.
func OpenPaymentSink(s Spec) (PaymentSink, error) {
	timeout, err := s.check(false)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case TypeFile:
		return openFileSink(s.Path)
	case TypeHTTP:
		return &httpSink{c: newHTTPClient(s.URL, timeout)}, nil
	}
	return nil, noBuiltin("payment sink", s)
}

// OpenNotifier builds a built-in notifier: an HTTP service.
func OpenNotifier(s Spec) (Notifier, error) {
	timeout, err := s.check(false)
	if err != nil {
		return nil, err
	}
	if s.Type == TypeHTTP {
		return &httpNotifier{c: newHTTPClient(s.URL, timeout)}, nil
	}
	return nil, noBuiltin("notifier", s)
}
