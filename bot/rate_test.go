package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestRate_Take_AsXTimeRate: Rate.Take (through Buckets) decides as
// golang.org/x/time/rate's Limiter of the same shape, which serve used
// before, and its wait is the time until the limiter has a whole token.
// Every and the clock's steps are binary fractions of a second, so that
// the float arithmetic of x/time/rate is exact.
func TestRate_Take_AsXTimeRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	step := 125 * time.Millisecond
	for run := range 200 {
		r := Rate{Every: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}[rng.IntN(5)], Burst: 1 + rng.IntN(6)}
		lim := rate.NewLimiter(rate.Every(r.Every), r.Burst)
		var b Buckets
		now := time.Unix(1_790_000_000, 0)
		for i := range 300 {
			now = now.Add(time.Duration(rng.IntN(12)) * step)
			tokens := lim.TokensAt(now)
			want := lim.AllowN(now, 1)
			wait, err := b.Take(context.Background(), "k", r, now)
			if err != nil {
				t.Fatal(err)
			}
			if (wait == 0) != want {
				t.Fatalf("run %d (%+v), take %d: wait %s, x/time/rate allows %v", run, r, i, wait, want)
			}
			if !want && wait != time.Duration((1-tokens)*float64(r.Every)) {
				t.Fatalf("run %d (%+v), take %d: wait %s, want %s (%.3f tokens)", run, r, i, wait, time.Duration((1-tokens)*float64(r.Every)), tokens)
			}
		}
	}
}

func TestRate_Check(t *testing.T) {
	for _, r := range []Rate{{}, {Every: time.Second}, {Burst: 1}, {Every: -time.Second, Burst: 1}} {
		var b Buckets
		if _, err := b.Take(context.Background(), "k", r, time.Now()); ErrorCode(err) != EINVALID {
			t.Errorf("%+v: %v, want EINVALID", r, err)
		}
	}
	if r := PerMinute(0, 0); r.Every != time.Minute || r.Burst != 1 {
		t.Errorf("PerMinute(0, 0) = %+v", r)
	}
}

// TestBuckets_Memory: full buckets are forgotten; beyond Max the one
// nearest to full goes, and a limited key's bucket stays.
func TestBuckets_Memory(t *testing.T) {
	ctx := context.Background()
	b := &Buckets{Max: 100}
	r := Rate{Every: time.Second, Burst: 3}
	now := time.Unix(1000, 0)
	for range 3 {
		b.Take(ctx, "limited", r, now)
	}
	for i := range 1000 {
		b.Take(ctx, fmt.Sprint("flood-", i), r, now)
		if n := b.Len(); n > 100 {
			t.Fatalf("%d buckets, want at most 100", n)
		}
	}
	if wait, _ := b.Take(ctx, "limited", r, now); wait != time.Second {
		t.Fatalf("after the flood the limited key waits %s, want 1s", wait)
	}
	if wait, _ := b.Take(ctx, "limited", r, now.Add(3*time.Second)); wait != 0 {
		t.Fatalf("3 s later: wait %s", wait)
	}
	b.Take(ctx, "other", r, now.Add(time.Hour))
	if n := b.Len(); n != 1 {
		t.Fatalf("%d buckets an hour later, want the one just used", n)
	}
}

// countingLimiter counts the takes that reach it.
type countingLimiter struct {
	Limiter
	takes int
	err   error
}

func (c *countingLimiter) Take(ctx context.Context, key string, r Rate, now time.Time) (time.Duration, error) {
	c.takes++
	if c.err != nil {
		return 0, c.err
	}
	return c.Limiter.Take(ctx, key, r, now)
}

// TestFront: two processes, each with its memory of refusals in front of
// one shared limiter, decide every request as the shared limiter alone
// would, while the requests over the limit mostly never reach it.
func TestFront(t *testing.T) {
	ctx := context.Background()
	r := Rate{Every: time.Second, Burst: 5}
	shared := &countingLimiter{Limiter: &Buckets{}}
	fronts := []*Front{{Shared: shared}, {Shared: shared}}
	var alone Buckets
	rng := rand.New(rand.NewPCG(3, 4))
	now := time.Unix(1000, 0)
	allowed := 0
	const n = 2000
	for i := range n {
		now = now.Add(time.Duration(rng.IntN(100)) * time.Millisecond)
		want, _ := alone.Take(ctx, "web:203.0.113.9", r, now)
		got, err := fronts[rng.IntN(2)].Take(ctx, "web:203.0.113.9", r, now)
		if err != nil {
			t.Fatal(err)
		}
		if (got == 0) != (want == 0) {
			t.Fatalf("request %d: front waits %s, one shared limiter %s", i, got, want)
		}
		if got == 0 {
			allowed++
		}
	}
	if shared.takes >= n/2 {
		t.Errorf("%d of %d requests reached the shared limiter (%d allowed)", shared.takes, n, allowed)
	}
	t.Logf("%d requests, %d allowed, %d reached the shared limiter", n, allowed, shared.takes)

	// The shared limiter fails: the error comes back and nothing is spent.
	down := errors.New("database away")
	shared.err = down
	f := &Front{Shared: shared}
	for range 10 {
		if _, err := f.Take(ctx, "k", r, now); !errors.Is(err, down) {
			t.Fatalf("err %v, want the shared limiter's", err)
		}
	}
	if f.Refusals() != 0 {
		t.Errorf("a failed take was remembered as a refusal")
	}
}
