package magiclink

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// IPLimiter limits requests per client address with a token bucket each:
// per IPv4 address, and per /64 network for IPv6, where one client
// usually holds a whole /64. The buckets are kept by Limiter: in this
// process's memory by default (bot.Buckets, which bounds how many it
// remembers), or in the database that several instances share, so that
// the limit holds for the whole deployment whichever instance a request
// reaches.
type IPLimiter struct {
	// Header names the header a trusted reverse proxy puts the client
	// address in (X-Forwarded-For: the last address of all its lines; or
	// X-Real-IP, CF-Connecting-IP). Empty means the connection's address.
	Header string
	// Hit, when set, is called for each refused request.
	Hit func()
	// Limiter keeps the buckets, under the keys "web:" and the address
	// (or the /64). When it fails (the database is away) the request is
	// refused with a 503: a limit that cannot be checked lets no flood
	// through, and the pages behind it need that database anyway.
	Limiter bot.Limiter
	// Logger logs the Limiter's failures.
	Logger *slog.Logger

	rate bot.Rate
	now  func() time.Time
}

// NewIPLimiter allows perMinute requests a minute per address, with bursts
// of burst, counted in this process's memory until Limiter is set.
func NewIPLimiter(perMinute, burst int) *IPLimiter {
	return &IPLimiter{
		Limiter: &bot.Buckets{},
		rate:    bot.PerMinute(perMinute, burst),
		now:     time.Now,
	}
}

// ClientIP returns the request's client address: with Header set, the
// last address of all the header's lines, the one the nearest proxy
// added (earlier ones are whatever the client sent). When that is missing
// or not an address, it is the connection's address: the proxy's, shared
// by every such request, so a client that garbles the header gets a
// stricter limit, never a bucket of its own choosing.
func (l *IPLimiter) ClientIP(r *http.Request) string {
	if l.Header != "" {
		if a, ok := lastAddr(r.Header.Values(l.Header)); ok {
			return a.String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// lastAddr parses the last comma-separated entry of the last line, as a
// bare address or with a port ("203.0.113.9:4711", "[2001:db8::1]:443").
func lastAddr(lines []string) (netip.Addr, bool) {
	if len(lines) == 0 {
		return netip.Addr{}, false
	}
	last := lines[len(lines)-1]
	last = strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
	if a, err := netip.ParseAddr(last); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(last); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// bucketKey returns the key of ip's bucket: the address for IPv4, its /64
// for IPv6, and ip itself when it is not an address.
func bucketKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Take spends one request from ip's bucket. It returns zero when the
// request may go ahead, else how long until one may; an error when the
// limit could not be checked.
func (l *IPLimiter) Take(ctx context.Context, ip string) (time.Duration, error) {
	return l.Limiter.Take(ctx, "web:"+bucketKey(ip), l.rate, l.now())
}

// Allow reports whether a request from ip may go ahead now; a limit that
// cannot be checked allows nothing.
func (l *IPLimiter) Allow(ip string) bool {
	wait, err := l.Take(context.Background(), ip)
	return err == nil && wait == 0
}

// Middleware refuses requests over the limit with a 429 page, and all
// requests with a 503 page while the limit cannot be checked.
func (l *IPLimiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait, err := l.Take(r.Context(), l.ClientIP(r))
		if err == nil && wait == 0 {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err != nil {
			l.logger().ErrorContext(r.Context(), "web limit unavailable: refusing the request", "path", r.URL.Path, "err", err)
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("We cannot take this request right now. Please try again in a minute.\n"))
			return
		}
		if l.Hit != nil {
			l.Hit()
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte("Too many requests from your network. Please wait a minute and try again.\n"))
	})
}

func (l *IPLimiter) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.New(slog.DiscardHandler)
}
