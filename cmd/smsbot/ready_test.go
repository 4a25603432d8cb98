package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsbot/smsbot/store"
)

// TestReadiness_OneWriteASecond: 50 probes at once, and 50 more within
// the second, write to the database once; a database that stops taking
// writes turns /readyz 503 at the next second's check.
func TestReadiness_OneWriteASecond(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "ready.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int64
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ready := &readiness{
		write:   func(ctx context.Context) error { writes.Add(1); return db.Ping(ctx) },
		running: func() bool { return true },
		log:     slog.New(slog.DiscardHandler),
		now:     clock,
	}
	srv := httptest.NewServer(handleReady(ready, "nonce", ""))
	defer srv.Close()
	probe := func() int {
		res, err := http.Get(srv.URL)
		if err != nil {
			t.Error(err)
			return 0
		}
		res.Body.Close()
		if res.Header.Get(headerInstance) != "nonce" {
			t.Errorf("instance header %q", res.Header.Get(headerInstance))
		}
		return res.StatusCode
	}
	probes := func(n int) map[int]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		codes := map[int]int{}
		for range n {
			wg.Go(func() {
				c := probe()
				mu.Lock()
				codes[c]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return codes
	}

	if codes := probes(50); codes[200] != 50 || writes.Load() != 1 {
		t.Fatalf("50 probes at once: %v, %d writes, want 50 × 200 and 1 write", codes, writes.Load())
	}
	advance(999 * time.Millisecond)
	if codes := probes(50); codes[200] != 50 || writes.Load() != 1 {
		t.Fatalf("50 more within the second: %v, %d writes", codes, writes.Load())
	}

	db.Close() // the database stops taking writes
	if probe() != 200 {
		t.Fatal("the cached result changed before the second was over")
	}
	advance(time.Millisecond)
	if c := probe(); c != 503 || writes.Load() != 2 {
		t.Fatalf("after the second: %d, %d writes, want 503 and 2", c, writes.Load())
	}
	advance(time.Second)
	if c := probe(); c != 503 || writes.Load() != 3 {
		t.Fatalf("a second later: %d, %d writes, want 503 and 3", c, writes.Load())
	}
}

// TestReadiness_WorkerStopped: a stopped outbox worker makes /readyz 503
// whatever the database says.
func TestReadiness_WorkerStopped(t *testing.T) {
	ready := &readiness{
		write:   func(context.Context) error { return nil },
		running: func() bool { return false },
		log:     slog.New(slog.DiscardHandler),
		now:     time.Now,
	}
	w := httptest.NewRecorder()
	handleReady(ready, "nonce", "")(w, httptest.NewRequest("GET", pathReady, nil))
	if w.Code != 503 {
		t.Fatalf("status %d, want 503", w.Code)
	}
}
