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

// limited returns how many of the requests made by do the limiter refused.
func limited(l *IPLimiter, n int, do func(i int, r *http.Request)) int {
	refused := 0
	for i := range n {
		r := httptest.NewRequest("GET", "/l/x", nil)
		r.RemoteAddr = "10.0.0.1:4711" // the proxy
		do(i, r)
		if !l.Allow(l.ClientIP(r)) {
			refused++
		}
	}
	return refused
}

func newTestLimiter() *IPLimiter {
	now := time.Unix(1000, 0)
	l := NewIPLimiter(6, 3) // one every 10 s, bursts of 3
	l.now = func() time.Time { return now }
	l.Header = "X-Forwarded-For"
	return l
}

// TestIPLimiter_ClientIP: behind a proxy that appends its own header
// line, the client's own lines choose nothing.
func TestIPLimiter_ClientIP(t *testing.T) {
	l := newTestLimiter()
	for _, c := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"one line", []string{"198.51.100.7, 203.0.113.9"}, "203.0.113.9"},
		{"the proxy's own line", []string{"198.51.100.7", "203.0.113.9"}, "203.0.113.9"},
		{"with a port", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"IPv6 with a port", []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4 in IPv6", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"garbage last", []string{"203.0.113.9, garbage"}, "10.0.0.1"},
		{"empty last", []string{"203.0.113.9,"}, "10.0.0.1"},
		{"an empty line last", []string{"203.0.113.9", ""}, "10.0.0.1"},
		{"none", nil, "10.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "10.0.0.1:4711"
			for _, v := range c.lines {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := l.ClientIP(r); got != c.want {
				t.Errorf("ClientIP = %q, want %q", got, c.want)
			}
		})
	}
}

// TestIPLimiter_ProxyAppendsALine: 14 requests from one client, each
// with a made-up first line, after which the proxy adds the client's
// address on a line of its own: 3 go through, 11 are refused.
func TestIPLimiter_ProxyAppendsALine(t *testing.T) {
	l := newTestLimiter()
	got := limited(l, 14, func(i int, r *http.Request) {
		r.Header.Add("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		r.Header.Add("X-Forwarded-For", "203.0.113.9")
	})
	if got != 11 {
		t.Errorf("%d of 14 refused, want 11", got)
	}
}

// TestIPLimiter_GarbledHeader: requests whose last entry is not an
// address share the connection's bucket instead of getting fresh ones.
func TestIPLimiter_GarbledHeader(t *testing.T) {
	l := newTestLimiter()
	got := limited(l, 10, func(i int, r *http.Request) {
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.9, not-an-address-%d", i))
	})
	if got != 7 {
		t.Errorf("%d of 10 refused, want 7", got)
	}
}

// TestIPLimiter_IPv6By64: one bucket per IPv6 /64 network.
func TestIPLimiter_IPv6By64(t *testing.T) {
	l := newTestLimiter()
	got := limited(l, 10, func(i int, r *http.Request) {
		r.Header.Set("X-Forwarded-For", fmt.Sprintf("2001:db8:0:7:%x::1", i+1))
	})
	if got != 7 {
		t.Errorf("%d of 10 from one /64 refused, want 7", got)
	}
	if got := limited(l, 1, func(_ int, r *http.Request) { r.Header.Set("X-Forwarded-For", "2001:db8:0:8::1") }); got != 0 {
		t.Error("the next /64 is refused")
	}
}

// TestIPLimiter_Flood: 100,000 made-up addresses keep the limiter under
// its cap, and the client it was limiting is still limited.
func TestIPLimiter_Flood(t *testing.T) {
	l := newTestLimiter()
	client := func(_ int, r *http.Request) { r.Header.Set("X-Forwarded-For", "203.0.113.9") }
	if got := limited(l, 3, client); got != 0 {
		t.Fatalf("the client's burst: %d refused", got)
	}
	for i := range 100_000 {
		l.Allow(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)) // a /64 each
		if i%10_000 == 0 && limited(l, 1, client) != 1 {
			t.Fatalf("after %d flood addresses the client is not limited", i)
		}
	}
	if len(l.seen) > maxAddresses || len(l.full) != len(l.seen) {
		t.Fatalf("%d buckets (%d queued), want at most %d", len(l.seen), len(l.full), maxAddresses)
	}
	if limited(l, 1, client) != 1 {
		t.Fatal("after the flood the client is not limited")
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
