package magiclink

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewIPLimiter(6, 3) // one every 10 s, bursts of 3
	l.now = func() time.Time { return now }
	hits := 0
	l.Hit = func() { hits++ }
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	get := func(addr string) int {
		r := httptest.NewRequest("GET", "/l/x", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for i := 0; i < 3; i++ {
		if c := get("192.0.2.1:1000"); c != 204 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if c := get("192.0.2.1:1001"); c != 429 || hits != 1 {
		t.Fatalf("4th request: %d, hits %d", c, hits)
	}
	if c := get("192.0.2.2:1000"); c != 204 {
		t.Fatalf("another address: %d", c)
	}
	now = now.Add(10 * time.Second)
	if c := get("192.0.2.1:1000"); c != 204 {
		t.Fatalf("after refill: %d", c)
	}
	// Behind a proxy, the last X-Forwarded-For entry is the client.
	l.Header = "X-Forwarded-For"
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Forwarded-For", "198.51.100.7, 203.0.113.9")
	if ip := l.ClientIP(r); ip != "203.0.113.9" {
		t.Fatalf("client ip %q", ip)
	}
	now = now.Add(time.Hour)
	l.Allow("x")
	if len(l.seen) != 1 {
		t.Fatalf("idle visitors not forgotten: %d", len(l.seen))
	}
}

func TestHeaders_HSTSOnlyOverHTTPS(t *testing.T) {
	for _, https := range []bool{false, true} {
		w := httptest.NewRecorder()
		Headers(https)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if got := w.Header().Get("Strict-Transport-Security") != ""; got != https {
			t.Errorf("https=%v: HSTS set = %v", https, got)
		}
		if w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("https=%v: no Referrer-Policy", https)
		}
	}
}
