package magiclink

import (
	"fmt"
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

func TestIPLimiter_ClientIP(t *testing.T) {
	l := NewIPLimiter(6, 3)
	l.Header = "X-Forwarded-For"
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"one line", []string{"198.51.100.7, 203.0.113.9"}, "203.0.113.9"},
		// The client sends its own line; the proxy appends the one it saw.
		{"proxy appends a line", []string{"192.0.2.77", "203.0.113.9"}, "203.0.113.9"},
		{"last line empty", []string{"203.0.113.9", " "}, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "10.0.0.1:5000"
			for _, v := range tc.lines {
				r.Header.Add("X-Forwarded-For", v)
			}
			if ip := l.ClientIP(r); ip != tc.want {
				t.Fatalf("client ip %q, want %q", ip, tc.want)
			}
		})
	}
}

// TestIPLimiter_ProxyLine replays the review's attack: behind a proxy that
// appends its own X-Forwarded-For line, a client choosing a new first line
// each time is still limited.
func TestIPLimiter_ProxyLine(t *testing.T) {
	l := NewIPLimiter(6, 3)
	l.Header = "X-Forwarded-For"
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	limited := 0
	for i := range 14 {
		r := httptest.NewRequest("GET", "/l/x", nil)
		r.Header.Add("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		r.Header.Add("X-Forwarded-For", "203.0.113.9")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == 429 {
			limited++
		}
	}
	if limited != 11 {
		t.Fatalf("%d of 14 requests limited, want 11", limited)
	}
}

func TestIPLimiter_IPv6Slash64(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewIPLimiter(6, 3)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if !l.Allow(fmt.Sprintf("2001:db8:1:2::%x", i+1)) {
			t.Fatalf("request %d refused", i)
		}
	}
	if l.Allow("2001:db8:1:2:ffff::1") {
		t.Fatal("a 4th address in the same /64 got a fresh bucket")
	}
	if !l.Allow("2001:db8:1:3::1") {
		t.Fatal("another /64 refused")
	}
	if !l.Allow("192.0.2.1") || !l.Allow("::ffff:192.0.2.2") {
		t.Fatal("IPv4 addresses refused")
	}
}

func TestIPLimiter_Bounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewIPLimiter(6, 3)
	l.now = func() time.Time { return now }
	l.max = 100
	for i := range 1000 {
		l.Allow(fmt.Sprintf("10.%d.%d.1", i/256, i%256))
	}
	if len(l.seen) > 100 {
		t.Fatalf("%d buckets kept, bound is 100", len(l.seen))
	}
}
