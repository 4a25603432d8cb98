package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

func open(t *testing.T, path string) *store.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "test.db")
	}
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.UnixMilli(1_790_000_000_000)

func TestDB_Open_MigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db := open(t, path)
	names, err := db.Migrations(context.Background())
	if err != nil || len(names) == 0 || names[0] != "migrations/0001_init.sql" {
		t.Fatalf("migrations %v %v", names, err)
	}
	db.Close()
	db2 := open(t, path) // a second open must not re-run 0001 (it would fail: tables exist)
	again, _ := db2.Migrations(context.Background())
	if len(again) != len(names) {
		t.Fatalf("migrations after reopen: %v", again)
	}
}

func TestDB_Open_BadSynchronous(t *testing.T) {
	if _, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "SOMETIMES"}); err == nil {
		t.Fatal("bad synchronous accepted")
	}
}

func TestDB_Secret_Persists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := open(t, path)
	a, err := db.Secret(context.Background())
	if err != nil || len(a) != 32 {
		t.Fatalf("secret %x %v", a, err)
	}
	db.Close()
	b, _ := open(t, path).Secret(context.Background())
	if !bytes.Equal(a, b) {
		t.Fatal("secret changed across opens")
	}
}

func enqueue(t *testing.T, db *store.DB, jobs ...*bot.Job) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, j := range jobs {
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDB_RecordStatus_Monotonic(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	sid := "SM00000000000000000000000000000001"
	steps := []struct {
		status  string
		code    int
		changed bool
		want    string
	}{
		{"sent", 0, true, "sent"},
		{"queued", 0, false, "sent"}, // late
		{"sent", 0, false, "sent"},   // twice
		{"undelivered", 30003, true, "undelivered"},
		{"sent", 0, false, "undelivered"},
	}
	for _, s := range steps {
		changed, err := db.RecordStatus(ctx, sid, "+15555550101", s.status, s.code, t0)
		if err != nil || changed != s.changed {
			t.Fatalf("%s: changed %v %v", s.status, changed, err)
		}
		m, _ := db.Message(ctx, sid)
		if m.Status != s.want {
			t.Fatalf("after %s: %s", s.status, m.Status)
		}
	}
	if m, _ := db.Message(ctx, sid); m.ErrorCode != 30003 {
		t.Fatalf("error code lost: %+v", m)
	}
	if _, err := db.RecordStatus(ctx, sid, "", "exploded", 0, t0); bot.ErrorCode(err) != bot.EINVALID {
		t.Fatalf("unknown status: %v", err)
	}
}
