package serve

import (
	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
)

// DataSource serves a data source plug-in.
//
//	func main() { serve.DataSource(register{}) }
func DataSource(d connector.DataSource) {
	run(grpcplugin.KindDataSource, &grpcplugin.DataSourcePlugin{Impl: d})
}

// EventSource serves an event source plug-in.
func EventSource(e connector.EventSource) {
	run(grpcplugin.KindEventSource, &grpcplugin.EventSourcePlugin{Impl: e})
}

// PaymentSink serves a payment sink plug-in.
func PaymentSink(p connector.PaymentSink) {
	run(grpcplugin.KindPaymentSink, &grpcplugin.PaymentSinkPlugin{Impl: p})
}

// Notifier serves a notifier plug-in.
func Notifier(n connector.Notifier) {
	run(grpcplugin.KindNotifier, &grpcplugin.NotifierPlugin{Impl: n})
}
