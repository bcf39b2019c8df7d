package app

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestPluginFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" valid; else in the error
	}{
		{nil, ""},
		{[]string{"--plugin-memory-mib", "3072", "--plugin-gogc", "100", "--plugin-cpus", "2"}, ""},
		{[]string{"--plugin-memory-mib", "2048"}, "--plugin-memory-mib: 2048 is below 3072"},
		{[]string{"--plugin-gogc", "-1"}, "must not be negative"},
		{[]string{"--plugin-call-timeout", "-1s"}, "must not be negative"},
	} {
		var c Config
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		c.ServeFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: got %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	var c Config
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	c.ServeFlags(fs)
	if c.PluginCPUs != 1 || c.PluginGOGC != 400 || c.PluginMemoryMiB != 4096 || c.PluginCallTimeout.String() != "30s" {
		t.Fatalf("the plug-in flags' defaults are not the host's: %+v", c)
	}
}

// The demo users' password has the bounds of any password, in characters.
func TestDemoPasswordBounds(t *testing.T) {
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{"", true},                      // one is generated
		{strings.Repeat("я", 7), false}, // 14 bytes, 7 characters
		{strings.Repeat("я", 8), true},
		{strings.Repeat("я", 1000), true},
		{strings.Repeat("я", 1001), false},
	} {
		var c Config
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		c.ServeFlags(fs)
		if err := fs.Parse([]string{"--demo-password", tc.password}); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%d characters: %v, want accepted %t", len([]rune(tc.password)), err, tc.ok)
		}
	}
}
