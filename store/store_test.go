package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"syscall"
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

// plantLegacySecret writes a key where earlier versions kept it.
func plantLegacySecret(t *testing.T, path string, key []byte) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO settings (key, value) VALUES ('secret', ?)`, key); err != nil {
		t.Fatal(err)
	}
}

func TestDB_DropLegacySecret(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	key := bytes.Repeat([]byte("K3y!"), 8)
	open(t, path).Close()
	plantLegacySecret(t, path, key)
	db := open(t, path)
	got, err := db.LegacySecret(ctx)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("legacy secret %q %v", got, err)
	}
	if err := db.DropLegacySecret(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LegacySecret(ctx); got != nil || err != nil {
		t.Fatalf("after drop: %q %v", got, err)
	}
	// No copy of the key is left in the files a copy of the database takes.
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, key) {
			t.Errorf("%s still holds the key's bytes", filepath.Base(f))
		}
	}
}

func TestDB_Open_FilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "p.db")
	db := open(t, path)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), m)
		}
	}
}

func TestDB_UseMode(t *testing.T) {
	ctx := context.Background()
	t.Run("production database refused in dev", func(t *testing.T) {
		db := open(t, "")
		if err := db.UseMode(ctx, store.ModeProduction); err != nil {
			t.Fatal(err)
		}
		if err := db.UseMode(ctx, store.ModeDev); !errors.Is(err, store.ErrWrongMode) {
			t.Fatalf("dev on a production database: %v", err)
		}
		if err := db.UseMode(ctx, store.ModeProduction); err != nil {
			t.Fatalf("production again: %v", err)
		}
	})
	t.Run("dev database refused in production", func(t *testing.T) {
		db := open(t, "")
		for _, m := range []store.Mode{store.ModeDev, store.ModeDev} {
			if err := db.UseMode(ctx, m); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
		}
		if err := db.UseMode(ctx, store.ModeProduction); !errors.Is(err, store.ErrDevDatabase) {
			t.Fatalf("production after dev: %v", err)
		}
		if err := db.UseMode(ctx, store.ModeDev); err != nil {
			t.Fatalf("dev again after the refusal: %v", err)
		}
	})
	t.Run("unmarked database with phones refused in dev", func(t *testing.T) {
		db := open(t, "")
		err := db.Update(ctx, func(tx bot.Tx) error {
			return tx.SavePhone(ctx, &bot.Phone{Number: "+15555550101", State: bot.StateIdle, CreatedAt: t0, UpdatedAt: t0})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.UseMode(ctx, store.ModeDev); !errors.Is(err, store.ErrWrongMode) {
			t.Fatalf("dev on an unmarked database with phones: %v", err)
		}
	})
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
