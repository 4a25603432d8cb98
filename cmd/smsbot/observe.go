package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/smsbot/smsbot/internal/reqlog"
)

// instrument connects the parts' hooks to the metrics.
func (a *app) instrument() {
	m := a.metrics
	a.engine.Hooks = m.engineHooks()
	a.worker.Observe = m.workerObserve
	a.worker.ObserveWhatsApp = whatsAppObserver(m.reg)
	a.hooks.Observe = m.webhookObserve
	a.hooks.Delivered = m.delivered
	a.hooks.SignatureFailed = m.signatureFailed
	a.hooks.Conversation = countedConversation{next: a.hooks.Conversation, m: m}
	a.links.Count = m.loginCount
	a.webLimit.Hit = m.webLimitHit
}

// requestIDHandler adds the request id (chi's middleware.RequestID) to
// every record logged with the request's context.
type requestIDHandler struct{ slog.Handler }

func requestIDs(h slog.Handler) slog.Handler { return requestIDHandler{h} }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := middleware.GetReqID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// quietPaths are logged at debug level only: probes, scrapes, assets.
func quiet(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/favicon.ico" ||
		strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/dev/static/")
}

// accessLog logs each request once it is answered, on one line: the
// request id, the route pattern (never the path: /l/{token} carries a
// secret), the status, the time taken and what the handler added to the
// line (reqlog: a webhook's MessageSid, a text's masked phone and what
// became of it), at the higher of the access log's level and the one the
// handler raised it to.
func (a *app) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		if id := middleware.GetReqID(r.Context()); id != "" {
			ww.Header().Set("X-Request-Id", id)
		}
		line := new(reqlog.Line)
		next.ServeHTTP(ww, r.WithContext(reqlog.NewContext(r.Context(), line)))
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if quiet(r.URL.Path) {
			level = slog.LevelDebug
		}
		if l, ok := line.Level(); ok {
			level = max(level, l)
		}
		attrs := append(make([]slog.Attr, 0, 16),
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("took", time.Since(start)))
		attrs = append(attrs, line.Attrs()...)
		a.log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}
