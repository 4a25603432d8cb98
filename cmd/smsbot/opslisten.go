package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// opsAddr reads the address of an operational listener (env names the
// setting): host:port, where a bare ":PORT" means 127.0.0.1:PORT. It
// reports whether the host is a loopback one.
func opsAddr(env, v string) (addr string, loopback bool, err error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil || port == "" {
		return "", false, usageError{fmt.Errorf("%s %q: want host:port, such as 127.0.0.1:9090 or :9090 (loopback)", env, v)}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), isLoopback(host), nil
}

// startOps serves the operational endpoints that do not belong on
// SMSBOT_ADDR: /metrics on SMSBOT_METRICS_ADDR and net/http/pprof on
// SMSBOT_PPROF (loopback only), on one listener when both name the same
// address. A metrics address that is not loopback is served, as it was
// written explicitly, with a warning. The returned func stops them.
func (a *app) startOps(log *slog.Logger) (func(), error) {
	muxes := map[string]*http.ServeMux{}
	mux := func(addr string) *http.ServeMux {
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
		}
		return muxes[addr]
	}
	if a.cfg.MetricsAddr != "" {
		addr, loopback, err := opsAddr("SMSBOT_METRICS_ADDR", a.cfg.MetricsAddr)
		if err != nil {
			return nil, err
		}
		if !loopback {
			log.Warn("metrics served on a non-loopback address: keep it off the internet", "addr", addr)
		}
		mux(addr).Handle("GET /metrics", a.metrics.handler())
	}
	if a.cfg.Pprof != "" {
		addr, loopback, err := opsAddr("SMSBOT_PPROF", a.cfg.Pprof)
		if err != nil {
			return nil, err
		}
		if !loopback {
			return nil, usageError{fmt.Errorf("SMSBOT_PPROF %q: want a loopback address such as 127.0.0.1:6060", a.cfg.Pprof)}
		}
		mountPprof(mux(addr))
		log.Warn("pprof enabled", "addr", addr)
	}
	var servers []*http.Server
	stop := func() {
		for _, srv := range servers {
			srv.Close()
		}
	}
	for addr, m := range muxes {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("operational listener: %w", err)
		}
		srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("operational listener", "addr", addr, "err", err)
			}
		}()
		log.Info("operational listener", "addr", ln.Addr().String())
	}
	return stop, nil
}
