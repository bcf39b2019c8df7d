package sdk_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The SDK is what every region's plug-in imports: its dependencies stay
// go-plugin, gRPC, protobuf, YAML for golden files, and what those need.
// A module not on this list fails the test; adding one is a decision for
// every plug-in author, to be written down here.
var allowed = []string{
	"github.com/hashicorp/go-plugin",
	"github.com/hashicorp/go-hclog", // go-plugin's logger
	"github.com/hashicorp/yamux",    // go-plugin
	"github.com/oklog/run",          // go-plugin
	"github.com/fatih/color",        // go-hclog
	"github.com/mattn/go-colorable", // go-hclog
	"github.com/mattn/go-isatty",    // go-hclog
	"github.com/golang/protobuf",    // go-plugin
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
	"google.golang.org/genproto/googleapis/rpc", // gRPC status details
	"golang.org/x/net",                          // gRPC
	"golang.org/x/sys",                          // gRPC
	"golang.org/x/text",                         // gRPC
	"go.yaml.in/yaml/v3",                        // sdktest golden files
}

func TestDependenciesStayFew(t *testing.T) {
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	req := regexp.MustCompile(`(?m)^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]{2,}/\S+)\s+v\S+`)
	ms := req.FindAllStringSubmatch(string(b), -1)
	if len(ms) == 0 {
		t.Fatal("no requirements read from go.mod")
	}
	for _, m := range ms {
		ok := false
		for _, a := range allowed {
			ok = ok || m[1] == a || strings.HasPrefix(m[1], a+"/")
		}
		if !ok {
			t.Errorf("sdk/go.mod requires %s, which is not on the SDK's allow-list", m[1])
		}
	}
}
