package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the database check behind /readyz.
const (
	readyEvery   = time.Second     // a write to the database at most this often
	readyTimeout = 5 * time.Second // the longest a check may take (SQLite: a write may wait behind another)
	// readyTimeoutPG is the longest a check may take on PostgreSQL: a
	// server that takes longer to take one small write is as good as
	// down, and a load balancer should turn away before the requests
	// time out (SMSBOT_PG_TIMEOUT).
	readyTimeoutPG = 2 * time.Second
)

// readyBound is the longest one database check may take with cfg's
// database.
func readyBound(cfg *config) time.Duration {
	if !isPostgres(cfg.DB) {
		return readyTimeout
	}
	return min(readyTimeoutPG, cfg.PGTimeout)
}

// readiness answers whether the instance is ready: the database takes
// writes and the outbox worker runs. The write check is cached: it runs
// at most once every readyEvery, however many probes ask, and probes that
// arrive while it runs wait for that one check.
type readiness struct {
	write   func(context.Context) error // a write to the database (store.DB.Ping)
	running func() bool                 // the outbox worker runs
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration // the longest a check may take; readyTimeout when 0
	// draining is set on SIGTERM while the instance still serves
	// (SMSBOT_DRAIN): /readyz then answers 503, so a load balancer turns
	// new requests away before the socket closes.
	draining atomic.Bool

	mu      sync.Mutex
	checked time.Time     // when the last check ended; zero before the first
	err     error         // its result
	done    chan struct{} // closed when the check under way ends; nil when none is
}

// databaseErr returns the result of the latest write check, running a new
// one when the last is readyEvery old. It returns ctx's error when ctx
// ends while it waits for a check another probe started.
func (r *readiness) databaseErr(ctx context.Context) error {
	r.mu.Lock()
	if !r.checked.IsZero() && r.now().Sub(r.checked) < readyEvery {
		defer r.mu.Unlock()
		return r.err
	}
	done := r.done
	if done == nil {
		done = make(chan struct{})
		r.done = done
		r.mu.Unlock()
		r.check(ctx, done)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// check writes to the database, records the result and closes done. A
// probe that gives up does not cut the check short: others wait for it.
func (r *readiness) check(ctx context.Context, done chan struct{}) {
	timeout := r.timeout
	if timeout <= 0 {
		timeout = readyTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := r.write(ctx)
	if err != nil {
		r.log.ErrorContext(ctx, "readiness: database", "err", err)
	}
	r.mu.Lock()
	r.checked, r.err, r.done = r.now(), err, nil
	r.mu.Unlock()
	close(done)
}

// handleReady answers 200 when the database takes writes and the outbox
// worker runs, and the instance is not draining before a stop; Twilio or
// Auth0 being down does not make it fail. It names
// this start (headerInstance) and, when clientIPHeader is set, whether the
// request carried that header (headerClientIP), for doctor.
func handleReady(ready *readiness, instance, clientIPHeader string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set(headerInstance, instance)
		if clientIPHeader != "" {
			seen := "absent"
			if r.Header.Get(clientIPHeader) != "" {
				seen = "present"
			}
			w.Header().Set(headerClientIP, seen)
		}
		if ready.draining.Load() {
			http.Error(w, "draining: stopping soon", http.StatusServiceUnavailable)
			return
		}
		if err := ready.databaseErr(r.Context()); err != nil {
			http.Error(w, "database not writable", http.StatusServiceUnavailable)
			return
		}
		if !ready.running() {
			http.Error(w, "outbox worker not running", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	}
}
