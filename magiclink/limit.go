package magiclink

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// IPLimiter limits requests per client address with a token bucket each.
type IPLimiter struct {
	// Header names the header a trusted reverse proxy puts the client
	// address in (X-Forwarded-For: its last entry; or X-Real-IP,
	// CF-Connecting-IP). Empty means the connection's address.
	Header string
	// Hit, when set, is called for each refused request.
	Hit func()

	every time.Duration
	burst int
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
		now:   time.Now,
		seen:  map[string]*visitor{},
	}
}

// ClientIP returns the request's client address.
func (l *IPLimiter) ClientIP(r *http.Request) string {
	if l.Header != "" {
		v := r.Header.Get(l.Header)
		if i := strings.LastIndexByte(v, ','); i >= 0 {
			v = v[i+1:]
		}
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Allow reports whether a request from ip may go ahead now.
func (l *IPLimiter) Allow(ip string) bool {
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
