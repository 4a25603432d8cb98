package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/webhooks"
)

// routes is every route of the server.
func (a *app) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(middleware.Recoverer)
	r.Use(magiclink.Headers(strings.HasPrefix(a.cfg.PublicURL, "https://")))
	if a.dev != nil {
		r.Use(loopbackOnly)
	}
	r.Use(a.accessLog)

	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	a.ready = &readiness{write: a.db.Ping, running: a.worker.Running, log: a.log, now: time.Now, timeout: readyBound(a.cfg)}
	r.Get(pathReady, handleReady(a.ready, a.instance, a.cfg.ClientIPHeader))
	if a.cfg.MetricsAddr == "" { // else on its own listener (startOps)
		r.Method(http.MethodGet, "/metrics", a.metrics.handler())
	}
	r.Post(webhooks.PathSMS, a.hooks.HandleSMS)
	r.Post(webhooks.PathStatus, a.hooks.HandleStatus)
	r.With(a.webLimit.Middleware).Get(magiclink.PathLink, a.links.HandleLink)
	r.With(a.webLimit.Middleware).Get(magiclink.PathCallback, a.links.HandleCallback)
	a.mountWebLink(r)
	r.Handle("/static/*", magiclink.Static())
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		if a.dev != nil {
			http.Redirect(w, r, "/dev", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(a.cfg.Name + ": text S to our number to subscribe.\n"))
	})
	if a.dev != nil {
		a.dev.mount(r)
	}
	return r
}
