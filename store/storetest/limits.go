package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// The rate limits the instances share (bot.Limiter in the database): the
// texts-per-minute cap, the per-address web limits, the per-user
// thermostat limits.

// tenSecondsBurst3 is the suite's bucket: 3 at once, then one every 10 s.
var tenSecondsBurst3 = bot.Rate{Every: 10 * time.Second, Burst: 3}

// take takes from key at at and returns the wait, failing the test on an
// error.
func take(t *testing.T, l bot.Limiter, key string, r bot.Rate, at time.Time) time.Duration {
	t.Helper()
	wait, err := l.Take(context.Background(), key, r, at)
	if err != nil {
		t.Fatalf("take %s at %s: %v", key, at.Sub(T0), err)
	}
	return wait
}

// wantTakes takes from key at at until one is refused, and checks that
// exactly n went ahead and the refused one was told to wait wait.
func wantTakes(t *testing.T, l bot.Limiter, key string, r bot.Rate, at time.Time, n int, wait time.Duration) {
	t.Helper()
	for i := range n {
		if w := take(t, l, key, r, at); w != 0 {
			t.Fatalf("%s at +%s: take %d of %d refused, wait %s", key, at.Sub(T0), i+1, n, w)
		}
	}
	if w := take(t, l, key, r, at); w != wait {
		t.Fatalf("%s at +%s: take %d: wait %s, want %s", key, at.Sub(T0), n+1, w, wait)
	}
}

// testTakeBurst: a fresh bucket gives its burst, then refuses and says
// how long until the next token; refusing spends nothing.
func testTakeBurst(t *testing.T, b Backend) {
	db := b.Open(t)
	wantTakes(t, db, "texts", tenSecondsBurst3, T0, 3, 10*time.Second)
	for range 5 { // refused takes do not push the next token further away
		if w := take(t, db, "texts", tenSecondsBurst3, T0); w != 10*time.Second {
			t.Fatalf("refused again: wait %s, want 10s", w)
		}
	}
	if w := take(t, db, "texts", tenSecondsBurst3, T0.Add(4*time.Second)); w != 6*time.Second {
		t.Fatalf("4 s later: wait %s, want 6s", w)
	}
}

// testTakeRefill: the bucket gains a token every Every, up to its burst,
// never more; an Every that is not a whole millisecond is rounded up, so
// the stored limit is never looser.
func testTakeRefill(t *testing.T, b Backend) {
	db := b.Open(t)
	r := tenSecondsBurst3
	wantTakes(t, db, "k", r, T0, 3, 10*time.Second)
	wantTakes(t, db, "k", r, T0.Add(10*time.Second), 1, 10*time.Second)
	wantTakes(t, db, "k", r, T0.Add(25*time.Second), 1, 5*time.Second)
	// Idle for an hour: full again, with its burst and no more.
	wantTakes(t, db, "k", r, T0.Add(time.Hour), 3, 10*time.Second)

	seven := bot.PerMinute(7, 1) // 8.571428571 s, kept as 8.572 s
	wantTakes(t, db, "seven", seven, T0, 1, 8572*time.Millisecond)
	if w := take(t, db, "seven", seven, T0.Add(8571*time.Millisecond)); w != time.Millisecond {
		t.Fatalf("a millisecond early: wait %s, want 1ms", w)
	}
	wantTakes(t, db, "seven", seven, T0.Add(8572*time.Millisecond), 1, 8572*time.Millisecond)
}

// testTakeKeys: each key is a bucket of its own.
func testTakeKeys(t *testing.T, b Backend) {
	db := b.Open(t)
	r := tenSecondsBurst3
	wantTakes(t, db, "web:203.0.113.9", r, T0, 3, 10*time.Second)
	wantTakes(t, db, "web:203.0.113.10", r, T0, 3, 10*time.Second)
	wantTakes(t, db, "sdm:auth0|1:command", bot.Rate{Every: time.Minute, Burst: 10}, T0, 10, time.Minute)
	wantTakes(t, db, "sdm:auth0|1:get", bot.Rate{Every: time.Minute, Burst: 10}, T0, 10, time.Minute)
	if w := take(t, db, "web:203.0.113.9", r, T0); w != 10*time.Second {
		t.Fatalf("the first key after the others: wait %s, want 10s", w)
	}
}

// testTakeInvalid: a rate that allows nothing, or no key, is an EINVALID
// error and stores nothing.
func testTakeInvalid(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	for _, c := range []struct {
		key string
		r   bot.Rate
	}{
		{"k", bot.Rate{Every: 0, Burst: 3}},
		{"k", bot.Rate{Every: -time.Second, Burst: 3}},
		{"k", bot.Rate{Every: time.Second, Burst: 0}},
		{"", tenSecondsBurst3},
	} {
		if w, err := db.Take(ctx, c.key, c.r, T0); bot.ErrorCode(err) != bot.EINVALID || w != 0 {
			t.Errorf("take %q %+v: %s %v, want an EINVALID error", c.key, c.r, w, err)
		}
	}
	wantTakes(t, db, "k", tenSecondsBurst3, T0, 3, 10*time.Second)
	p, err := db.Prune(ctx, T0.Add(time.Hour), time.Hour)
	if err != nil || p.Limits != 1 {
		t.Fatalf("pruned %+v %v, want the one bucket", p, err)
	}
}

// testTakePrune: prune deletes the buckets that are full again and keeps
// the others, which go on limiting.
func testTakePrune(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	r := tenSecondsBurst3
	wantTakes(t, db, "spent", r, T0, 3, 10*time.Second) // full at +30 s
	for i := range 5 {
		take(t, db, fmt.Sprint("one-", i), r, T0) // full at +10 s
	}
	p, err := db.Prune(ctx, T0.Add(20*time.Second), 30*24*time.Hour)
	if err != nil || p.Limits != 5 || p.Inbound != 0 {
		t.Fatalf("pruned %+v %v, want the 5 full buckets", p, err)
	}
	// Kept: at +20 s "spent" holds 2 tokens, not a fresh bucket's 3.
	wantTakes(t, db, "spent", r, T0.Add(20*time.Second), 2, 10*time.Second)
	// Gone: a pruned bucket is a full one, as it was.
	wantTakes(t, db, "one-0", r, T0.Add(20*time.Second), 3, 10*time.Second)
	if p, err := db.Prune(ctx, T0.Add(20*time.Second), time.Hour); err != nil || p.Limits != 0 {
		t.Fatalf("pruned again %+v %v, want nothing", p, err)
	}
}

// testTakeConcurrent: takers at once, on one handle and on two handles on
// one database (two instances, or two processes on one SQLite file),
// never spend more than the bucket holds: at one instant exactly its
// burst goes ahead; over a second, at most the burst plus what refilled.
func testTakeConcurrent(t *testing.T, b Backend) {
	t.Run("OneHandle", func(t *testing.T) {
		db := b.Open(t)
		r := bot.Rate{Every: time.Hour, Burst: 25}
		if got := takeAtOnce(t, []bot.Limiter{db}, "texts", 16, 10, r, func(int) time.Time { return T0 }); got != 25 {
			t.Fatalf("%d of 160 went ahead, want the burst of 25", got)
		}
	})
	t.Run("TwoHandles", func(t *testing.T) {
		if b.OpenShared == nil {
			t.Skip("the backend has no second handle on one database")
		}
		one, two := b.OpenShared(t)
		limiters := []bot.Limiter{one, two}
		r := bot.Rate{Every: time.Hour, Burst: 25}
		if got := takeAtOnce(t, limiters, "texts", 16, 10, r, func(int) time.Time { return T0 }); got != 25 {
			t.Fatalf("%d of 160 went ahead over two handles, want the burst of 25", got)
		}
		// Over one second of a 5-burst, 10-a-second bucket, each taker's
		// clock moving on: at most 5 + 10.
		r = bot.Rate{Every: 100 * time.Millisecond, Burst: 5}
		got := takeAtOnce(t, limiters, "web:203.0.113.9", 16, 20, r, func(i int) time.Time { return T0.Add(time.Hour + time.Duration(i)*50*time.Millisecond) })
		if got > 15 || got < 5 {
			t.Fatalf("%d of 320 went ahead over one second, want 5 to 15", got)
		}
	})
}

// takeAtOnce runs n takers spread over limiters, each taking from key
// times times, the i-th take at at(i), and returns how many went ahead.
func takeAtOnce(t *testing.T, limiters []bot.Limiter, key string, n, times int, r bot.Rate, at func(i int) time.Time) int {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range n {
		l := limiters[g%len(limiters)]
		wg.Go(func() {
			<-start
			for i := range times {
				wait, err := l.Take(context.Background(), key, r, at(i))
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					allowed.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return int(allowed.Load())
}
