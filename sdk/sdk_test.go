package sdk

import (
	"strings"
	"testing"
)

type settings struct {
	Dir   string `json:"dir"`
	Limit int    `json:"limit"`
}

// A configuration is one JSON object of the struct's fields: anything
// else is an error, so that no setting is silently ignored.
func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want settings
		err  string
	}{
		{raw: "", want: settings{Dir: "/default", Limit: 7}},
		{raw: `{"dir": "/a"}`, want: settings{Dir: "/a", Limit: 7}},
		{raw: " {\"limit\": 3}\n", want: settings{Dir: "/default", Limit: 3}},
		{raw: `{"dri": "/a"}`, err: `unknown field "dri"`},
		{raw: `{"dir": "/a"} {"dri": "/b"}`, err: "more than one JSON value"},
		{raw: `{"dir": "/a"}garbage`, err: "more than one JSON value"},
		{raw: `{"dir": 1}`, err: "cannot unmarshal number"},
		{raw: `{"dir": "/a"`, err: "unexpected EOF"},
	} {
		t.Setenv(ConfigEnv, tc.raw)
		got := settings{Dir: "/default", Limit: 7}
		err := Config(&got)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), ConfigEnv+": ")):
			t.Errorf("%q: error %v, want one with %q", tc.raw, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%q: %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{"", `{"dir": "/a", "limit": 3}`, `{"dir": "/a"} {}`, `{"x": 1}`, "[]", "null", `{"limit": 1e400}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v settings
		if err := decodeConfig(raw, &v); err != nil && !strings.HasPrefix(err.Error(), ConfigEnv+": ") {
			t.Errorf("%q: an error that does not name the setting: %v", raw, err)
		}
	})
}
