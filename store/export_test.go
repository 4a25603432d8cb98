package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// TestSnapshot copies a database without changing it, and refuses what is
// not an smsbot database with a message that says what it is, creating
// nothing.
func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	db, err := store.Open(ctx, src, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx bot.Tx) error {
		return tx.SavePhone(ctx, &bot.Phone{Number: "+15555550001", State: bot.StateIdle, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(dir, "copy.db")
	if err := store.Snapshot(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(src); !bytes.Equal(before, after) {
		t.Error("the snapshot changed the source")
	}
	cp, err := store.Open(ctx, dst, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	phones, err := cp.Phones(ctx, "")
	cp.Close()
	if err != nil || len(phones) != 1 {
		t.Fatalf("the copy holds %d phones (%v), want 1", len(phones), err)
	}

	notSQLite := filepath.Join(dir, "notes.txt")
	os.WriteFile(notSQLite, []byte(strings.Repeat("not a database\n", 100)), 0o600)
	other := filepath.Join(dir, "other.db")
	if raw, err := os.Create(other); err == nil {
		raw.Close()
	}
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.db"), "no such file"},
		{dir, "is not a file"},
		{notSQLite, "is not a SQLite database"},
		{other, "not smsbot's"},
	} {
		out := filepath.Join(t.TempDir(), "out.db")
		if err := store.Snapshot(ctx, c.path, out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Snapshot(%s): %v, want %q", c.path, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("Snapshot(%s) left a copy", c.path)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("Snapshot created the missing source")
	}
}

// TestExport_LeavesLocalRowsOut: an export lists every table but the
// migrations and instances, and the settings but the key, the ping, the
// mode and the old nonce.
func TestExport_LeavesLocalRowsOut(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.UseMode(ctx, store.ModeProduction); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Heartbeat(ctx, "n", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if m, err := db.Mode(ctx); m != store.ModeProduction || err != nil {
		t.Errorf("Mode = %q %v", m, err)
	}
	e, err := db.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var names []string
	for _, tb := range e.Tables() {
		names = append(names, tb.Name)
		if tb.Rows != 0 {
			t.Errorf("%s: %d rows in the export, want 0", tb.Name, tb.Rows)
		}
	}
	for _, want := range []string{"phones", "links", "inbound", "outbox", "messages", "audit", "settings"} {
		if !slices.Contains(names, want) {
			t.Errorf("the export lacks %s: %v", want, names)
		}
	}
	for _, local := range store.NotCopied {
		if slices.Contains(names, local) {
			t.Errorf("the export has %s", local)
		}
	}
	if got := store.KnownMigrations(); len(got) == 0 || !slices.IsSorted(got) {
		t.Errorf("KnownMigrations = %v, want them in order", got)
	}
	applied, err := db.Migrations(ctx)
	if err != nil || !slices.Equal(applied, store.KnownMigrations()) {
		t.Errorf("a fresh database has %v (%v), KnownMigrations %v", applied, err, store.KnownMigrations())
	}
}
