package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// defaultMetricsAddr is where serve and dev serve /metrics unless
// CRM_METRICS_ADDR says otherwise: loopback, off the public API port.
const defaultMetricsAddr = "127.0.0.1:9464"

// metricsAddr is CRM_METRICS_ADDR, def when it is unset; set and empty
// turns the metrics listener off.
func metricsAddr(def string) string {
	if v, ok := os.LookupEnv("CRM_METRICS_ADDR"); ok {
		return v
	}
	return def
}

// listenMetrics opens the metrics listener on addr; nil when addr is empty.
func listenMetrics(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener (CRM_METRICS_ADDR; empty turns it off): %w", err)
	}
	return ln, nil
}

// serveMetrics serves the Prometheus metrics on ln (if any) in g until ctx
// ends: GET /metrics only.
func serveMetrics(ctx context.Context, g *errgroup.Group, ln net.Listener, logger *slog.Logger) {
	if ln == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	g.Go(func() error { return serveHTTP(ctx, ln, mux, logger) })
}
