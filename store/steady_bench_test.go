package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/store/storetest"
)

// BenchmarkSteadyText is the engine's steady text (H or an unknown
// command from one of 1,000 subscribed phones) on SQLite, 64 at a time
// through the group writer, synchronous=FULL: the store's part of a
// webhook without HTTP. cpu-µs/op is the process's CPU time per text,
// what changes to the writer are measured by (ns/op waits on fsync).
//
//	go test ./store -run '^$' -bench SteadyText -count 8 | benchstat -
func BenchmarkSteadyText(b *testing.B) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "t.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	keys, err := bot.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	e := &bot.Engine{Store: db, Keys: keys, Replies: replies, Name: "smsbot", PublicURL: "https://bot.example.com",
		Limits: bot.DefaultLimits(), Now: func() time.Time { return now }}
	e.Limits.ReplyBudget = 1 << 30
	const phones = 1000
	number := func(i int64) string { return fmt.Sprintf("+1555561%04d", i%phones) }
	for i := range int64(phones) {
		p := &bot.Phone{Number: number(i), State: bot.StateSubscribed, UserID: "auth0|" + number(i)[1:], Email: "a@example.com",
			BoundAt: now, VerifiedAt: now, CreatedAt: now, UpdatedAt: now, LastSeen: now}
		if err := storetest.SavePhone(ctx, db, p); err != nil {
			b.Fatal(err)
		}
	}
	var sid atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	before := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := sid.Add(1)
			body := "H"
			if n%2 == 0 {
				body = "what is the temperature"
			}
			in := bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", n), From: number(n * 7919), Body: body}
			if _, err := e.HandleSMS(ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
