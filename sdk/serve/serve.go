// Package serve is a plug-in's main: one call that serves the plug-in's
// one interface to the platform and returns when the platform stops it.
//
//	func main() { serve.Measure(socialContract{}) }
//
// Run by hand, the binary says that it is a plug-in and exits: only the
// platform (or sdktest) starts it.
package serve

import (
	"os"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"

	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// MaxMessageBytes bounds a call's message: a batch of a few thousand cases
// with their households is a few megabytes.
const MaxMessageBytes = 64 << 20

// Measure serves a measure plug-in.
func Measure(m measure.Measure) {
	run(grpcplugin.KindMeasure, &grpcplugin.MeasurePlugin{Impl: m})
}

// WindowBytes is the HTTP/2 flow-control window of a plug-in connection:
// large enough that a batch's request and answer each cross in one round
// trip rather than in 64 KiB steps, each waiting for a window update.
const WindowBytes = 16 << 20

// ServerOptions are the plug-in side's gRPC settings; a host dials with
// the matching DialOptions.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.InitialWindowSize(WindowBytes), grpc.InitialConnWindowSize(WindowBytes), experimental.BufferPool(pool),
		grpc.ForceServerCodecV2(codec{})}
}

// DialOptions are the host side's gRPC settings for a plug-in connection.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes),
			grpc.ForceCodecV2(codec{})),
		grpc.WithInitialWindowSize(WindowBytes), grpc.WithInitialConnWindowSize(WindowBytes),
		experimental.WithBufferPool(pool),
	}
}

// CPUs is the GOMAXPROCS the platform gives a plug-in by default
// (pluginhost and sdktest take it from here).
const CPUs = 1

// GCPercent is a plug-in's GOGC when its environment sets none (the host
// sets it; pluginhost takes its default from here).
const GCPercent = 400

func run(kind string, p plugin.Plugin) {
	hide()
	go exitWithParent(os.Getppid())
	// A plug-in's heap is mostly one batch that turns to garbage at once:
	// collecting less often spends less of the region's CPU on it. The
	// soft limit keeps the heap well under the host's address-space cap.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: grpcplugin.Handshake,
		Plugins:         plugin.PluginSet{kind: p},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, ServerOptions()...)...)
		},
		// The host reads the plug-in's log from its stderr, as JSON.
		Logger: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Info, JSONFormat: true}),
	})
}

// exitWithParent ends the plug-in when the host that started it is gone
// (it is then a child of another process): a plug-in never outlives its
// host, even where the kernel does not kill it along with the host.
func exitWithParent(parent int) {
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			os.Exit(2)
		}
	}
}
