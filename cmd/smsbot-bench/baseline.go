package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/twilio/twilio-go/twiml"
)

// baselineReply is as long as smsbot's answers to the steady workload, so
// that both servers write about the same bytes.
const baselineReply = "smsbot: you're subscribed. U = unsubscribe, S = link again, H = this help."

// baselineHandler is the baseline: a bare chi handler that parses the same
// form as smsbot's webhook and writes the same kind of TwiML, with no
// signature check and no state.
func baselineHandler() http.Handler {
	r := chi.NewRouter()
	r.Post("/webhooks/twilio/sms", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form body", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("MessageSid") == "" || r.PostForm.Get("From") == "" {
			http.Error(w, "missing MessageSid or From", http.StatusBadRequest)
			return
		}
		xml, err := twiml.Messages([]twiml.Element{&twiml.MessagingMessage{Body: baselineReply}})
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(xml))
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return r
}

// serveBaseline serves the baseline on addr until ctx ends.
func serveBaseline(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: baselineHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
