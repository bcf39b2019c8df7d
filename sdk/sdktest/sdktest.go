// Package sdktest runs and tests a plug-in without the platform: in the
// test's own process behind a real gRPC connection (what the platform
// sends goes through the same encoding), or as the built binary started
// the way the platform starts it. Golden files of cases and the outcomes
// expected of them (Golden) are how a regional developer pins their
// measure's behaviour in their own repository.
package sdktest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/serve"
)

// Context is a call's context as the host makes it: for a region, with a
// deadline.
func Context(t testing.TB, region string) context.Context {
	ctx, cancel := context.WithTimeout(sdk.WithTenant(context.Background(), region), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Measure serves m in this process and returns the host's client of it,
// connected over gRPC: the cases and outcomes m sees and gives cross the
// protocol as they do on the platform.
func Measure(t testing.TB, m measure.Measure) *grpcplugin.MeasureClient {
	return dispense(t, grpcplugin.KindMeasure, &grpcplugin.MeasurePlugin{Impl: m}).(*grpcplugin.MeasureClient)
}

// InProcess serves p, a grpcplugin plug-in type with its Impl set, under
// kind in this process and returns the host's client of it (the kind's
// client type).
func InProcess(t testing.TB, kind string, p plugin.Plugin) any {
	return dispense(t, kind, p)
}

// dispense serves p on a loopback connection with the platform's gRPC
// settings (its codec, windows and message limits), so that a batch the
// platform would carry crosses here too, and one it would refuse is
// refused here.
func dispense(t testing.TB, kind string, p plugin.Plugin) any {
	t.Helper()
	gp, ok := p.(plugin.GRPCPlugin)
	if !ok {
		t.Fatalf("sdktest: %T is not a gRPC plug-in", p)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	server := grpc.NewServer(serve.ServerOptions()...)
	if err := gp.GRPCServer(nil, server); err != nil {
		t.Fatalf("sdktest: serve %s: %v", kind, err)
	}
	go func() { _ = server.Serve(l) }()
	conn, err := grpc.NewClient(l.Addr().String(), append(serve.DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		server.Stop()
		t.Fatalf("sdktest: dial %s: %v", kind, err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	raw, err := gp.GRPCClient(context.Background(), nil, conn)
	if err != nil {
		t.Fatalf("sdktest: dispense %s: %v", kind, err)
	}
	return raw
}

// Build compiles the main package in dir (a path the go tool accepts, such
// as "." or "./cmd/myplugin") into the test's temporary directory and
// returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "plugin")
	cmd := exec.Command("go", "build", "-o", bin, dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sdktest: go build %s: %v", dir, err)
	}
	return bin
}

// Start runs a built plug-in binary the way the platform does — the
// handshake, mutual TLS, the platform's gRPC settings, no environment of
// the host's, one CPU — and returns the client of its kind. The process
// is killed when the test ends.
func Start(t testing.TB, binary, kind string) any {
	t.Helper()
	return start(t, exec.Command(binary), kind)
}

func start(t testing.TB, cmd *exec.Cmd, kind string) any {
	t.Helper()
	cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(serve.CPUs)) // the platform's default
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  grpcplugin.Handshake,
		Plugins:          grpcplugin.PluginSet(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		GRPCDialOptions:  serve.DialOptions(),
		Logger:           hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Warn}),
	})
	t.Cleanup(c.Kill)
	rpc, err := c.Client()
	if err != nil {
		t.Fatalf("sdktest: start %s: %v", cmd.Path, err)
	}
	raw, err := rpc.Dispense(kind)
	if err != nil {
		t.Fatalf("sdktest: %s does not serve a %s: %v", cmd.Path, kind, err)
	}
	return raw
}
