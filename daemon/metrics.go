package daemon

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the node's Prometheus series. Raft's own figures are read
// from the Replica's status at scrape time, so they cost nothing between
// scrapes.
type metrics struct {
	applyLatency *prometheus.HistogramVec
	requests     *prometheus.CounterVec
	reqLatency   *prometheus.HistogramVec
}

// statusMaxAge is how long the metrics reuse one replica status.
const statusMaxAge = 100 * time.Millisecond

func newMetrics(reg *prometheus.Registry, rep Replica) (*metrics, error) {
	// One scrape reads several series; they share one status, taken at
	// most every statusMaxAge, rather than one event-loop round trip each.
	var (
		mu     sync.Mutex
		cached ReplicaStatus
		at     time.Time
	)
	status := func(f func(ReplicaStatus) float64) func() float64 {
		return func() float64 {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(at) > statusMaxAge {
				cached, at = rep.Status(), time.Now()
			}
			return f(cached)
		}
	}
	m := &metrics{
		applyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mandate_apply_duration_seconds",
			Help:    "Time from proposing a command to its result on this node, by outcome: ok (committed and applied, whatever the FSM verdict) or error.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mandate_http_requests_total",
			Help: "HTTP API requests, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		reqLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mandate_http_request_duration_seconds",
			Help:    "HTTP API request latency, by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"route"}),
	}
	cs := []prometheus.Collector{
		m.applyLatency, m.requests, m.reqLatency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mandate_raft_term", Help: "Current Raft term."},
			status(func(s ReplicaStatus) float64 { return float64(s.Term) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mandate_raft_commit_index", Help: "Highest log index known committed."},
			status(func(s ReplicaStatus) float64 { return float64(s.Commit) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mandate_raft_applied_index", Help: "Highest log index applied to the FSM."},
			status(func(s ReplicaStatus) float64 { return float64(s.Applied) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mandate_raft_last_index", Help: "Index of the last entry in the log."},
			status(func(s ReplicaStatus) float64 { return float64(s.LastIndex) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mandate_raft_is_leader", Help: "1 when this node is the leader, else 0."},
			status(func(s ReplicaStatus) float64 {
				if s.State == "Leader" {
					return 1
				}
				return 0
			})),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mandate_raft_leader_changes_total", Help: "Times this node saw the leader change (including to no leader)."},
			status(func(s ReplicaStatus) float64 { return float64(s.LeaderChanges) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mandate_raft_members", Help: "Servers in the configuration."},
			status(func(s ReplicaStatus) float64 { return float64(len(s.Config.Servers)) })),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("daemon: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observeApply(err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.applyLatency.WithLabelValues(outcome).Observe(d.Seconds())
}

func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.reqLatency.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
