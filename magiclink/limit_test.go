package magiclink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
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
	if n := l.Limiter.(*bot.Buckets).Len(); n != 1 {
		t.Fatalf("idle visitors not forgotten: %d", n)
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
	if n := l.Limiter.(*bot.Buckets).Len(); n > bot.DefaultBuckets {
		t.Fatalf("%d buckets, want at most %d", n, bot.DefaultBuckets)
	}
	if limited(l, 1, client) != 1 {
		t.Fatal("after the flood the client is not limited")
	}
}

// recorder is a bot.Limiter that records the keys it is asked for and
// answers wait and err.
type recorder struct {
	keys []string
	rate bot.Rate
	wait time.Duration
	err  error
}

func (r *recorder) Take(_ context.Context, key string, rate bot.Rate, _ time.Time) (time.Duration, error) {
	r.keys = append(r.keys, key)
	r.rate = rate
	return r.wait, r.err
}

// TestIPLimiter_Limiter: with another Limiter (the database's), the
// buckets are keyed "web:" and the address or /64, with the configured
// rate; a refusal's Retry-After is its wait; a limiter that fails refuses
// everything with a 503 and no handler runs.
func TestIPLimiter_Limiter(t *testing.T) {
	l := newTestLimiter()
	rec := &recorder{}
	l.Limiter = rec
	hits, served := 0, 0
	l.Hit = func() { hits++ }
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++; w.WriteHeader(204) }))
	get := func(forwarded string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/l/x", nil)
		r.RemoteAddr = "10.0.0.1:4711"
		r.Header.Set("X-Forwarded-For", forwarded)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get("203.0.113.9"); w.Code != 204 {
		t.Fatalf("allowed: %d", w.Code)
	}
	get("2001:db8:0:7:1::1")
	get("garbage")
	if fmt.Sprint(rec.keys) != "[web:203.0.113.9 web:2001:db8:0:7::/64 web:10.0.0.1]" {
		t.Errorf("keys %q", rec.keys)
	}
	if rec.rate != (bot.Rate{Every: 10 * time.Second, Burst: 3}) {
		t.Errorf("rate %+v", rec.rate)
	}

	rec.wait = 1500 * time.Millisecond
	if w := get("203.0.113.9"); w.Code != 429 || w.Header().Get("Retry-After") != "2" || hits != 1 || served != 3 {
		t.Errorf("refused: %d, Retry-After %q, hits %d, served %d", w.Code, w.Header().Get("Retry-After"), hits, served)
	}

	rec.wait, rec.err = 0, errors.New("database away")
	if w := get("203.0.113.9"); w.Code != 503 || w.Header().Get("Retry-After") != "60" || served != 3 || hits != 1 {
		t.Errorf("limiter down: %d, Retry-After %q, served %d, hits %d", w.Code, w.Header().Get("Retry-After"), served, hits)
	}
	if l.Allow("203.0.113.9") {
		t.Error("Allow with the limiter down")
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
