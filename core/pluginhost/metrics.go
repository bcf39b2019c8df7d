package pluginhost

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	calls     *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	restarts  *prometheus.CounterVec
	processes *prometheus.GaugeVec
}

func newMetrics(r prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "treasury_plugin_calls_total",
			Help: "Calls to plug-ins by plug-in, region, method and result (ok, error, crash, hang, refused, cancelled, start: the process did not start)."},
			[]string{"plugin", "region", "method", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "treasury_plugin_call_seconds",
			Help: "Plug-in call latency by plug-in and method.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)},
			[]string{"plugin", "method"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "treasury_plugin_restarts_total",
			Help: "Plug-in processes ended by the host, by reason (crash, hang, health, idle)."},
			[]string{"plugin", "region", "reason"}),
		processes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "treasury_plugin_processes",
			Help: "Running plug-in processes."}, []string{"plugin", "version", "region"}),
	}
	if r == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.latency, m.restarts, m.processes} {
		if err := r.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) call(p *proc, method, result string, d time.Duration) {
	m.calls.WithLabelValues(p.entry.Name, p.region, method, result).Inc()
	if d > 0 {
		m.latency.WithLabelValues(p.entry.Name, method).Observe(d.Seconds())
	}
}
