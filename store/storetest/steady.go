package storetest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// SteadyLoad is make bench's steady load without HTTP, for the stores'
// BenchmarkSteadyText: an engine on db with 1,000 subscribed phones (no
// reply budget), and the n-th text, H or no command, from the phones in a
// scattered order.
func SteadyLoad(tb testing.TB, db bot.Store) (*bot.Engine, func(n int64) bot.Inbound) {
	ctx := context.Background()
	keys, err := bot.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		tb.Fatal(err)
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
		if err := SavePhone(ctx, db, p); err != nil {
			tb.Fatal(err)
		}
	}
	text := func(n int64) bot.Inbound {
		body := "H"
		if n%2 == 0 {
			body = "what is the temperature"
		}
		return bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", n), From: number(n * 7919), Body: body}
	}
	return e, text
}

// RunSteady runs b.N of the load's texts through e, 64 at a time, and
// reports the process's CPU time per text (cpu-µs/op).
func RunSteady(b *testing.B, e *bot.Engine, text func(n int64) bot.Inbound) {
	ctx := context.Background()
	var sid atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	before := CPUTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.HandleSMS(ctx, text(sid.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((CPUTime()-before).Microseconds())/float64(b.N), "cpu-µs/op")
}

// CPUTime is the CPU time this process has used, user and system.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
