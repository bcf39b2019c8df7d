package sdktest

import (
	"os/exec"
	"testing"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
)

// DataSource serves d in this process and returns the host's client of it,
// connected over gRPC: the client checks d's answers as the platform does.
func DataSource(t testing.TB, d connector.DataSource) *grpcplugin.DataSourceClient {
	t.Helper()
	return dispense(t, grpcplugin.KindDataSource, &grpcplugin.DataSourcePlugin{Impl: d}).(*grpcplugin.DataSourceClient)
}

// EventSource serves e in this process and returns the host's client of it.
func EventSource(t testing.TB, e connector.EventSource) *grpcplugin.EventSourceClient {
	t.Helper()
	return dispense(t, grpcplugin.KindEventSource, &grpcplugin.EventSourcePlugin{Impl: e}).(*grpcplugin.EventSourceClient)
}

// PaymentSink serves p in this process and returns the host's client of it.
func PaymentSink(t testing.TB, p connector.PaymentSink) *grpcplugin.PaymentSinkClient {
	t.Helper()
	return dispense(t, grpcplugin.KindPaymentSink, &grpcplugin.PaymentSinkPlugin{Impl: p}).(*grpcplugin.PaymentSinkClient)
}

// Notifier serves n in this process and returns the host's client of it.
func Notifier(t testing.TB, n connector.Notifier) *grpcplugin.NotifierClient {
	t.Helper()
	return dispense(t, grpcplugin.KindNotifier, &grpcplugin.NotifierPlugin{Impl: n}).(*grpcplugin.NotifierClient)
}

// StartWithConfig is Start for a plug-in that reads a region's
// configuration (sdk.Config): the binary's one environment variable is
// sdk.ConfigEnv set to configJSON, as the platform sets it.
func StartWithConfig(t testing.TB, binary, kind, configJSON string) any {
	t.Helper()
	cmd := exec.Command(binary)
	// With SkipHostEnv go-plugin adds only its own variables to these.
	cmd.Env = []string{sdk.ConfigEnv + "=" + configJSON}
	return start(t, cmd, kind)
}
