package magiclink

import (
	"container/heap"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxAddresses is how many client addresses (IPv6: /64 networks) an
// IPLimiter remembers at most, about 2 MB.
const maxAddresses = 10_000

// IPLimiter limits requests per client address with a token bucket each:
// per IPv4 address, and per /64 network for IPv6, where one client
// usually holds a whole /64. It remembers only buckets that are not full
// (a full bucket is what a new address gets anyway), and at most
// maxAddresses of them: beyond that it forgets the bucket nearest to full,
// which costs the least. A flood of made-up addresses thus leaves a
// limited client's bucket, the furthest from full, in place.
type IPLimiter struct {
	// Header names the header a trusted reverse proxy puts the client
	// address in (X-Forwarded-For: the last address of all its lines; or
	// X-Real-IP, CF-Connecting-IP). Empty means the connection's address.
	Header string
	// Hit, when set, is called for each refused request.
	Hit func()

	every time.Duration
	burst int
	max   int
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*visitor
	full fullQueue // seen's buckets, the first to be full first
}

type visitor struct {
	key    string
	lim    *rate.Limiter
	fullAt time.Time // when the bucket is full again, unless used meanwhile
	index  int       // in fullQueue
}

// NewIPLimiter allows perMinute requests a minute per address, with bursts
// of burst.
func NewIPLimiter(perMinute, burst int) *IPLimiter {
	return &IPLimiter{
		every: time.Minute / time.Duration(max(perMinute, 1)),
		burst: max(burst, 1),
		max:   maxAddresses,
		now:   time.Now,
		seen:  map[string]*visitor{},
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

// Allow reports whether a request from ip may go ahead now.
func (l *IPLimiter) Allow(ip string) bool {
	now := l.now()
	key := bucketKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.full) > 0 && !l.full[0].fullAt.After(now) {
		delete(l.seen, heap.Pop(&l.full).(*visitor).key)
	}
	v, ok := l.seen[key]
	if !ok {
		if len(l.seen) >= l.max {
			delete(l.seen, heap.Pop(&l.full).(*visitor).key)
		}
		v = &visitor{key: key, lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.seen[key] = v
		heap.Push(&l.full, v)
	}
	allowed := v.lim.AllowN(now, 1)
	missing := float64(l.burst) - v.lim.TokensAt(now)
	v.fullAt = now.Add(time.Duration(missing * float64(l.every)))
	heap.Fix(&l.full, v.index)
	return allowed
}

// fullQueue is a heap of buckets by the time they are full again.
type fullQueue []*visitor

func (q fullQueue) Len() int           { return len(q) }
func (q fullQueue) Less(i, j int) bool { return q[i].fullAt.Before(q[j].fullAt) }
func (q fullQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *fullQueue) Push(x any) {
	v := x.(*visitor)
	v.index = len(*q)
	*q = append(*q, v)
}
func (q *fullQueue) Pop() any {
	old := *q
	v := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return v
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
