package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
)

// BenchmarkTake measures one rate-limit decision on PostgreSQL, from
// parallel takers on one pool: on one hot key (every request of a flood
// from one address), and on a key each (many clients).
func BenchmarkTake(b *testing.B) {
	db, err := postgres.Open(context.Background(), postgrestest.SchemaURL(b), postgres.Options{MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	r := bot.Rate{Every: time.Second, Burst: 10}
	var n atomic.Int64
	for _, c := range []struct {
		name string
		key  func(i int64) string
	}{
		{"HotKey", func(int64) string { return "web:203.0.113.9" }},
		{"KeyEach", func(i int64) string { return fmt.Sprint("web:", i) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := db.Take(context.Background(), c.key(n.Add(1)), r, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
