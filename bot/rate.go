package bot

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Rate is the shape of a token bucket: Burst requests at once, then one
// more every Every; the same limit as golang.org/x/time/rate's
// NewLimiter(rate.Every(Every), Burst).
type Rate struct {
	Every time.Duration
	Burst int
}

// PerMinute returns the rate of n requests a minute in bursts of burst
// (each at least 1).
func PerMinute(n, burst int) Rate {
	return Rate{Every: time.Minute / time.Duration(max(n, 1)), Burst: max(burst, 1)}
}

// Check returns an EINVALID error for a rate that would allow nothing.
func (r Rate) Check() error {
	if r.Every <= 0 || r.Burst < 1 {
		return Errorf(EINVALID, "rate limit: a burst of %d every %s allows nothing", r.Burst, r.Every)
	}
	return nil
}

// Take is a bucket's arithmetic (GCRA, the generic cell rate algorithm).
// A bucket is kept as one time, fullAt: when it is full again if nothing
// more is taken (GCRA's theoretical arrival time); the zero time, or any
// time not after now, is a full bucket. A request at now may go ahead
// when the bucket holds a whole token: Take then returns the bucket's new
// fullAt and zero. Otherwise it returns fullAt unchanged and how long
// until the request could go ahead.
func (r Rate) Take(fullAt, now time.Time) (time.Time, time.Duration) {
	start := fullAt
	if start.Before(now) {
		start = now
	}
	next := start.Add(r.Every)
	if wait := next.Sub(now) - time.Duration(r.Burst)*r.Every; wait > 0 {
		return fullAt, wait
	}
	return next, 0
}

// Limiter keeps rate limits, a bucket per key: in this process's memory
// (Buckets), or in the database that every instance shares (the stores'
// Take), so that a limit holds for the whole deployment.
type Limiter interface {
	// Take spends one request from key's bucket, of shape r, at now. It
	// returns zero when the request may go ahead, else how long until
	// one may, having spent nothing. An invalid rate is an EINVALID
	// error. Any other error means the limit could not be decided (the
	// database is away): the caller must not let the request through as
	// if it had been allowed.
	Take(ctx context.Context, key string, r Rate, now time.Time) (time.Duration, error)
}

// DefaultBuckets is how many keys Buckets and Front remember at most,
// unless their Max says otherwise: about 2 MB.
const DefaultBuckets = 10_000

// Buckets is a Limiter in this process's memory. It remembers only
// buckets that are not full (a full bucket is what an unknown key gets
// anyway), and at most Max of them: beyond that it forgets the bucket
// nearest to full, which costs the least. A flood of made-up keys thus
// leaves a limited client's bucket, the furthest from full, in place.
// The zero value is ready to use.
type Buckets struct {
	// Max bounds the buckets remembered; default DefaultBuckets.
	Max int

	mu     sync.Mutex
	fullAt deadlines
}

var (
	_ Limiter = (*Buckets)(nil)
	_ Limiter = (*Front)(nil)
)

// Take implements Limiter; it never fails on a valid rate.
func (b *Buckets) Take(_ context.Context, key string, r Rate, now time.Time) (time.Duration, error) {
	if err := r.Check(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	next, wait := r.Take(b.fullAt.get(key, now), now)
	if wait == 0 {
		b.fullAt.set(key, next, b.Max)
	}
	return wait, nil
}

// Len returns how many buckets b remembers.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.fullAt.seen)
}

// Front is a Limiter that several processes share (the database's) with
// this process's memory of its refusals in front: a bucket that had no
// token for key at t, with a wait of d, has none before t+d either (a
// bucket only fills with time), so until then Front refuses key without
// asking. A client over its limit thus costs the shared limiter about one
// question per refusal, not one per request, on each instance it reaches.
// Shared decides everything else, and its errors are returned. Front
// remembers at most Max refusals (default DefaultBuckets), forgetting the
// one that ends first.
type Front struct {
	Shared Limiter
	Max    int

	mu      sync.Mutex
	refused deadlines
}

// Take implements Limiter.
func (f *Front) Take(ctx context.Context, key string, r Rate, now time.Time) (time.Duration, error) {
	if err := r.Check(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	until := f.refused.get(key, now)
	f.mu.Unlock()
	if !until.IsZero() {
		return until.Sub(now), nil
	}
	wait, err := f.Shared.Take(ctx, key, r, now)
	if err == nil && wait > 0 {
		f.mu.Lock()
		f.refused.set(key, now.Add(wait), f.Max)
		f.mu.Unlock()
	}
	return wait, err
}

// Refusals returns how many refusals f remembers.
func (f *Front) Refusals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.refused.seen)
}

// deadlines maps keys to times still to come. Its user holds a lock.
type deadlines struct {
	seen  map[string]*deadline
	queue deadlineQueue // seen's deadlines, the first to pass first
}

type deadline struct {
	key   string
	at    time.Time
	index int // in queue
}

// get forgets the deadlines passed at now and returns key's, or the zero
// time.
func (d *deadlines) get(key string, now time.Time) time.Time {
	for len(d.queue) > 0 && !d.queue[0].at.After(now) {
		delete(d.seen, heap.Pop(&d.queue).(*deadline).key)
	}
	if v, ok := d.seen[key]; ok {
		return v.at
	}
	return time.Time{}
}

// set sets key's deadline; with max (or DefaultBuckets) keys already
// there, it forgets the deadline that comes first.
func (d *deadlines) set(key string, at time.Time, max int) {
	if v, ok := d.seen[key]; ok {
		v.at = at
		heap.Fix(&d.queue, v.index)
		return
	}
	if d.seen == nil {
		d.seen = map[string]*deadline{}
	}
	if max <= 0 {
		max = DefaultBuckets
	}
	for len(d.seen) >= max {
		delete(d.seen, heap.Pop(&d.queue).(*deadline).key)
	}
	v := &deadline{key: key, at: at}
	d.seen[key] = v
	heap.Push(&d.queue, v)
}

// deadlineQueue is a heap of deadlines, the first to pass first.
type deadlineQueue []*deadline

func (q deadlineQueue) Len() int           { return len(q) }
func (q deadlineQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q deadlineQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *deadlineQueue) Push(x any) {
	v := x.(*deadline)
	v.index = len(*q)
	*q = append(*q, v)
}
func (q *deadlineQueue) Pop() any {
	old := *q
	v := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return v
}
