package store_test

import (
	"context"
	"path/filepath"
	"testing"

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
	db, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "t.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e, text := storetest.SteadyLoad(b, db)
	storetest.RunSteady(b, e, text)
}
