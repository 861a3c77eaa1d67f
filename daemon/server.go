package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mandate-raft/mandate/client"
)

// ServerConfig configures the HTTP API of one node.
type ServerConfig struct {
	// Replica is the node the API drives. Required.
	Replica Replica
	// Service serves the routes of the node's FSM (see NewLedgerService,
	// NewLockService). Nil serves only the cluster routes.
	Service Service
	// FSMName is reported in /v1/status.
	FSMName string
	// Version is reported in /v1/status.
	Version string
	// ApplyTimeout bounds how long a write waits for its commit before the
	// API answers outcome_unknown. Default 10 s.
	ApplyTimeout time.Duration
	// ReadTimeout bounds a linearizable read's barrier. Default 5 s.
	ReadTimeout time.Duration
	// Registry receives the node's Prometheus metrics and serves them on
	// /metrics. Default: a fresh registry (not the global one, so that
	// several nodes fit in one process).
	Registry *prometheus.Registry
	// DisableMetrics stops serving /metrics (the series are still kept).
	DisableMetrics bool
	// Logger receives request failures. Default: a null logger.
	Logger hclog.Logger
}

// Service serves the routes of one FSM. Implementations are in this
// package (ledger, lock).
type Service interface {
	// Name is the FSM's registered name.
	Name() string
	routes(s *Server) []route
	// errorMappings map the FSM's sentinel verdicts to API errors.
	errorMappings() []errorMapping
}

// route is one API endpoint: a Go 1.22 ServeMux pattern and its handler.
type route struct {
	pattern string
	handle  handlerFunc
}

// handlerFunc is an endpoint that returns its error instead of writing it,
// so that every error goes through one mapping.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Server is the HTTP API of one node. Create it with NewServer; it is safe
// for concurrent use.
type Server struct {
	cfg       ServerConfig
	replica   Replica
	logger    hclog.Logger
	fsmErrors []errorMapping
	metrics   *metrics
	mux       *http.ServeMux
}

// NewServer builds the API's handler tree.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Replica == nil {
		return nil, errors.New("daemon: ServerConfig.Replica is required")
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 5 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	s := &Server{cfg: cfg, replica: cfg.Replica, logger: cfg.Logger, mux: http.NewServeMux()}
	m, err := newMetrics(cfg.Registry, cfg.Replica)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	routes := s.clusterRoutes()
	if cfg.Service != nil {
		routes = append(routes, cfg.Service.routes(s)...)
		s.fsmErrors = cfg.Service.errorMappings()
	}
	for _, rt := range routes {
		s.mux.Handle(rt.pattern, s.wrap(rt.pattern, rt.handle))
	}
	if !cfg.DisableMetrics {
		s.mux.Handle("GET /metrics", s.metrics.handler(cfg.Registry))
	}
	s.mux.Handle("/", s.wrap("unmatched", s.unmatched))
	return s, nil
}

// unmatched answers a request no route took: 405 with an Allow header when
// the path exists for other methods, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &apiError{status: http.StatusMethodNotAllowed, code: client.CodeMethodNotAllowed,
			message: fmt.Sprintf("%s %s is not served; use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))}
	}
	return &apiError{status: http.StatusNotFound, code: client.CodeNotFound,
		message: fmt.Sprintf("no endpoint %s %s on this node (it runs the %q FSM)", r.Method, r.URL.Path, s.cfg.FSMName)}
}

// Handler returns the API's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// wrap turns a handlerFunc into an http.Handler that writes its error,
// recovers from a panic in a handler (a bug; the node keeps serving) and
// records the request's metrics under the route's pattern.
func (s *Server) wrap(pattern string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				s.logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p)
				if !rec.wrote {
					s.writeError(rec, r, fmt.Errorf("internal error: %v", p))
				}
			}
			took := time.Since(start)
			s.metrics.observeRequest(pattern, r.Method, rec.status, took)
			if s.logger.IsDebug() {
				s.logger.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", took)
			}
		}()
		if err := h(rec, r); err != nil {
			s.writeError(rec, r, err)
		}
	})
}

// apply proposes cmd and returns its result; an FSM verdict (Result.Err)
// is returned as the error, so it maps to its API code.
func (s *Server) apply(r *http.Request, cmd []byte) (Applied, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ApplyTimeout)
	defer cancel()
	start := time.Now()
	a, err := s.replica.Apply(ctx, cmd)
	s.metrics.observeApply(err, time.Since(start))
	if err != nil {
		return a, err
	}
	return a, a.Result.Err
}

// readBarrier prepares a read at the consistency the request asks for:
// linearizable (the default), ?consistency=stale (the local replica as it
// is), or ?consistency=bounded (at most max_entries behind the leader's
// commit index, learned at most max_lag ago; defaults 1000 and the
// election timeout).
func (s *Server) readBarrier(r *http.Request) error {
	q := r.URL.Query()
	var level ReadLevel
	switch c := q.Get("consistency"); c {
	case "stale":
		return nil
	case "", "linearizable":
	case "bounded":
		level = ReadLevel{Bounded: true, MaxEntries: defaultMaxEntries}
		if v := q.Get("max_entries"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return badRequest("max_entries must be a non-negative integer, not %q", v)
			}
			level.MaxEntries = n
		}
		if v := q.Get("max_lag"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return badRequest("max_lag must be a duration such as \"500ms\", not %q", v)
			}
			level.MaxLag = d
		}
	default:
		return badRequest("consistency must be \"linearizable\" (the default), \"bounded\" or \"stale\", not %q", c)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadTimeout)
	defer cancel()
	if err := s.replica.ReadBarrier(ctx, level); err != nil {
		return fmt.Errorf("read not confirmed (?consistency=stale reads the local replica as it is): %w", err)
	}
	return nil
}

// defaultMaxEntries is a bounded read's default lag allowance in entries.
const defaultMaxEntries = 1000

// statusRecorder remembers the status a handler wrote, for metrics.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
