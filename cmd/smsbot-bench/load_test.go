package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestTarget_Spread sends webhooks and browser requests to a target of
// three instances: each instance gets its turn, and the browser's
// requests keep the public Host and the cookies of the public URL, as
// behind a round-robin load balancer.
func TestTarget_Spread(t *testing.T) {
	var mu sync.Mutex
	hits := map[int][]string{} // instance: Host headers of what it got
	var bases []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[i] = append(hits[i], r.Host)
			mu.Unlock()
			if r.URL.Path == "/set" {
				http.SetCookie(w, &http.Cookie{Name: "s", Value: "v", Path: "/"})
			} else if r.URL.Path == "/get" {
				if c, err := r.Cookie("s"); err != nil || c.Value != "v" {
					http.Error(w, "no cookie", http.StatusBadRequest)
					return
				}
			}
			w.Write([]byte("<Response></Response>"))
		}))
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
	}
	public := bases[0]
	tg := newTarget("three", bases, public, 4)
	for range 3 {
		if _, err := tg.text(t.Context(), benchPhone(1), "H"); err != nil {
			t.Fatal(err)
		}
	}
	b := tg.browser(http.DefaultClient)
	for _, path := range []string{"/set", "/get", "/get"} {
		res, body, err := fetch(t.Context(), b, http.MethodGet, public+path, nil)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %s", path, err, body)
		}
	}
	host := strings.TrimPrefix(public, "http://")
	for i := range 3 {
		if len(hits[i]) != 2 {
			t.Errorf("instance %d got %d requests, want 2 (one text, one browser request)", i, len(hits[i]))
		}
		for _, h := range hits[i] {
			if h != host {
				t.Errorf("instance %d got Host %s, want the public %s", i, h, host)
			}
		}
	}
	if tg.acked.Load() != 3 {
		t.Errorf("%d texts acknowledged, want 3", tg.acked.Load())
	}
}
