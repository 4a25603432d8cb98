package magiclink

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxVisitors bounds the limiter's memory under floods of spoofed or
// rotating addresses; past it, an arbitrary bucket is forgotten.
const maxVisitors = 65536

// IPLimiter limits requests per client address with a token bucket each;
// IPv6 clients share one bucket per /64.
type IPLimiter struct {
	// Header names the header a trusted reverse proxy puts the client
	// address in (X-Forwarded-For: its last entry; or X-Real-IP,
	// CF-Connecting-IP). Empty means the connection's address.
	Header string
	// Hit, when set, is called for each refused request.
	Hit func()

	every time.Duration
	burst int
	max   int
	now   func() time.Time

	mu    sync.Mutex
	seen  map[string]*visitor
	sweep time.Time
}

type visitor struct {
	lim  *rate.Limiter
	last time.Time
}

// NewIPLimiter allows perMinute requests a minute per address, with bursts
// of burst.
func NewIPLimiter(perMinute, burst int) *IPLimiter {
	return &IPLimiter{
		every: time.Minute / time.Duration(max(perMinute, 1)),
		burst: max(burst, 1),
		max:   maxVisitors,
		now:   time.Now,
		seen:  map[string]*visitor{},
	}
}

// ClientIP returns the request's client address: with Header set, the
// last entry across all of that header's lines (a proxy that appends its
// own line puts the address it saw last).
func (l *IPLimiter) ClientIP(r *http.Request) string {
	if l.Header != "" {
		lines := r.Header.Values(l.Header)
		for i := len(lines) - 1; i >= 0; i-- {
			v := lines[i]
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				v = v[j+1:]
			}
			if v = strings.TrimSpace(v); v != "" {
				return v
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bucketKey is the bucket an address counts against: an IPv6 address's
// /64 (one customer's network), else the address itself.
func bucketKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Unmap().Is6() {
		return ip
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// Allow reports whether a request from ip may go ahead now.
func (l *IPLimiter) Allow(ip string) bool {
	ip = bucketKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		// Forget addresses whose bucket has refilled.
		idle := l.every * time.Duration(l.burst)
		for k, v := range l.seen {
			if now.Sub(v.last) > idle {
				delete(l.seen, k)
			}
		}
		l.sweep = now
	}
	v, ok := l.seen[ip]
	if !ok {
		for k := range l.seen {
			if len(l.seen) < l.max {
				break
			}
			delete(l.seen, k)
		}
		v = &visitor{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.seen[ip] = v
	}
	v.last = now
	return v.lim.AllowN(now, 1)
}

// Middleware refuses requests over the limit with a 429 page.
func (l *IPLimiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Allow(l.ClientIP(r)) {
			next.ServeHTTP(w, r)
			return
		}
		if l.Hit != nil {
			l.Hit()
		}
		w.Header().Set("Retry-After", "60")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("Too many requests from your network. Please wait a minute and try again.\n"))
	})
}
