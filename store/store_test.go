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
