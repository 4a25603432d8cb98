package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/store"
)

// TestE2E_DatabaseCopyOpensNothing replays the review's attack: a second
// server started on a copy of the database alone replays a MessageSid.
// The copy holds no key, so the stored link reply stays sealed.
func TestE2E_DatabaseCopyOpensNothing(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_SECRET": ""})
	const phone = "+15555550123"
	f := e.form(phone, "S")
	if _, reply := e.post(f, e.sign(f)); !strings.Contains(reply, "/l/") {
		t.Fatalf("no link in %q", reply)
	}
	if fi, err := os.Stat(e.dbPath + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if _, err := e.db.Exec(`VACUUM INTO ?`, cp); err != nil {
		t.Fatal(err)
	}
	thief := startE2E(t, map[string]string{"SMSBOT_SECRET": "", "SMSBOT_DB": cp})
	status, reply := thief.post(f, thief.sign(f))
	if strings.Contains(reply, "/l/") {
		t.Fatalf("a copy of the database replayed the link: %d %q", status, reply)
	}
}

// legacyDatabase makes a database that keeps its server key inside, as
// earlier versions did, and returns its path, the open store and the key.
func legacyDatabase(t *testing.T) (string, *store.DB, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key := bytes.Repeat([]byte{7}, 32)
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO settings (key, value) VALUES ('secret', ?)`, key); err != nil {
		t.Fatal(err)
	}
	return path, db, key
}

// TestLoadSecret_MovesLegacyKey: a key an earlier version kept in the
// database moves to a 0600 key file and leaves the database.
func TestLoadSecret_MovesLegacyKey(t *testing.T) {
	ctx := context.Background()
	path, db, old := legacyDatabase(t)

	var logs bytes.Buffer
	cfg := &config{DB: path}
	key, err := loadSecret(ctx, cfg, db, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || !bytes.Equal(key, old) {
		t.Fatalf("key %x %v", key, err)
	}
	fi, err := os.Stat(path + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if left, _ := db.LegacySecret(ctx); left != nil {
		t.Fatal("key still in the database")
	}
	if !strings.Contains(logs.String(), "moved the server key out of the database") {
		t.Fatalf("no clear message: %s", logs.String())
	}
	// The next start reads the same key from the file.
	again, err := loadSecret(ctx, cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || !bytes.Equal(again, old) {
		t.Fatalf("second start: %x %v", again, err)
	}
}

// TestLoadSecret_KeysDiffer: a database whose key differs from the key
// file's is refused, and neither key is touched: the key file may belong
// to another database, and deleting the database's key would lose it.
func TestLoadSecret_KeysDiffer(t *testing.T) {
	ctx := context.Background()
	path, db, old := legacyDatabase(t)
	other := strings.Repeat("cd", 32) + "\n"
	if err := os.WriteFile(path+".key", []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadSecret(ctx, &config{DB: path}, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "differs from the one in "+path+".key") {
		t.Fatalf("err = %v, want a usage error naming the key file", err)
	}
	if left, _ := db.LegacySecret(ctx); !bytes.Equal(left, old) {
		t.Error("the refused start deleted the database's key")
	}
	if b, _ := os.ReadFile(path + ".key"); string(b) != other {
		t.Error("the refused start changed the key file")
	}
}

// TestLoadSecret_KeyFileWritten: the generated key file is hex, mode
// 0600, and no temporary file is left beside it.
func TestLoadSecret_KeyFileWritten(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "new.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := &config{DB: filepath.Join(dir, "new.db"), KeyFile: filepath.Join(dir, "k")}
	key, err := loadSecret(ctx, cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || len(key) != 32 {
		t.Fatalf("key %x %v", key, err)
	}
	b, err := os.ReadFile(cfg.KeyFile)
	if err != nil || strings.TrimSpace(string(b)) != hex.EncodeToString(key) {
		t.Fatalf("key file %q %v", b, err)
	}
	if fi, _ := os.Stat(cfg.KeyFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".smsbot-key-") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
}
