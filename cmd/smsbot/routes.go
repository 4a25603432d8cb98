package main

import (
	"net/http"
	"strings"

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
	r.Get(pathReady, a.handleReady)
	r.Method(http.MethodGet, "/metrics", a.metrics.handler())
	r.Post(webhooks.PathSMS, a.hooks.HandleSMS)
	r.Post(webhooks.PathStatus, a.hooks.HandleStatus)
	r.With(a.webLimit.Middleware).Get(magiclink.PathLink, a.links.HandleLink)
	r.With(a.webLimit.Middleware).Get(magiclink.PathCallback, a.links.HandleCallback)
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

// handleReady answers 200 when the database takes writes and the outbox
// worker runs; Twilio or Auth0 being down does not make it fail. It names
// this start (headerInstance) and, when SMSBOT_CLIENT_IP_HEADER is set,
// whether the request carried that header (headerClientIP), for doctor.
func (a *app) handleReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set(headerInstance, a.instance)
	if h := a.cfg.ClientIPHeader; h != "" {
		seen := "absent"
		if r.Header.Get(h) != "" {
			seen = "present"
		}
		w.Header().Set(headerClientIP, seen)
	}
	if err := a.db.Ping(r.Context()); err != nil {
		a.log.Error("readiness: database", "err", err)
		http.Error(w, "database not writable", http.StatusServiceUnavailable)
		return
	}
	if !a.worker.Running() {
		http.Error(w, "outbox worker not running", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}
