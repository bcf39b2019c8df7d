// Package grpcplugin is the wire side of the SDK: the go-plugin handshake,
// the plug-in kinds' go-plugin types and the adapters between the SDK's Go
// interfaces and the generated gRPC code. The platform's host imports it
// to start and call plug-ins; a plug-in author never needs it (serve and
// sdktest use it for them).
package grpcplugin

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/socialtreasury/treasury/sdk"
)

// ProtocolVersion is the version of the protocol: the N of the proto
// package treasury.plugin.vN. A host and a plug-in of different versions
// refuse each other at the handshake.
const ProtocolVersion = 1

// Handshake is what a host and a plug-in check before anything else. The
// cookie only keeps a plug-in binary from being run by hand by mistake; it
// is not a secret (the host checks the binary's SHA-256 instead).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SOCIAL_TREASURY_PLUGIN",
	MagicCookieValue: "8a5f2c1e-region-plugin",
}

// The plug-in kinds: the names under which a plug-in serves its one
// interface.
const (
	KindMeasure     = "measure"
	KindDataSource  = "datasource"
	KindEventSource = "eventsource"
	KindPaymentSink = "paymentsink"
	KindNotifier    = "notifier"
)

// Kinds are every kind, in the order the documentation lists them.
var Kinds = []string{KindMeasure, KindDataSource, KindEventSource, KindPaymentSink, KindNotifier}

// tenantMetadata is the gRPC metadata key of the region a call is for.
const tenantMetadata = "x-treasury-tenant"

// outgoing puts the region of ctx into the call's metadata.
func outgoing(ctx context.Context) context.Context {
	if r, ok := sdk.Tenant(ctx); ok {
		return metadata.AppendToOutgoingContext(ctx, tenantMetadata, r)
	}
	return ctx
}

// incoming takes the region from the call's metadata into ctx.
func incoming(ctx context.Context) context.Context {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(tenantMetadata); len(v) == 1 {
			return sdk.WithTenant(ctx, v[0])
		}
	}
	return ctx
}

const (
	errorDomain    = "treasury.plugin.v1"
	reasonUpstream = "UPSTREAM_FAILED"
	reasonPlugin   = "PLUGIN_FAILED"
)

// toStatus is how a plug-in's error travels: a status whose ErrorInfo says
// who failed. An error that is itself a gRPC status (from a system the
// plug-in calls over gRPC) travels the same way, its code in the message:
// as it was, UNAVAILABLE would read as the plug-in's process dying (the
// host would kill it and send the call again) and UNIMPLEMENTED as an
// extra the plug-in does not have.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	code, reason := codes.Internal, reasonPlugin
	if sdk.IsUpstream(err) {
		code, reason = codes.Unavailable, reasonUpstream
	}
	st, derr := status.New(code, err.Error()).WithDetails(&errdetails.ErrorInfo{Domain: errorDomain, Reason: reason})
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}

// fromStatus is the host's view of a call's error: an *sdk.Error when the
// plug-in answered with one, sdk.ErrUnsupported for an RPC it lacks, and
// the transport's error (a dead process, a deadline) as it is.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	if st.Code() == codes.Unimplemented {
		return sdk.ErrUnsupported
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			return &sdk.Error{Upstream: info.Reason == reasonUpstream, Message: st.Message()}
		}
	}
	return err
}

// badAnswer is the host's error for an answer that breaks the protocol: a
// plug-in answering garbage.
func badAnswer(format string, args ...any) error {
	return &sdk.Error{Message: "answered against the protocol: " + fmt.Sprintf(format, args...)}
}

// PluginSet is every kind's go-plugin type, for a host: the one a plug-in
// serves is dispensed by its kind's name.
func PluginSet() plugin.PluginSet {
	return plugin.PluginSet{
		KindMeasure:     &MeasurePlugin{},
		KindDataSource:  &DataSourcePlugin{},
		KindEventSource: &EventSourcePlugin{},
		KindPaymentSink: &PaymentSinkPlugin{},
		KindNotifier:    &NotifierPlugin{},
	}
}
