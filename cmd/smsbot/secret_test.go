package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/webhooks"
)

// secretDB opens a database in a new directory, holding legacy as the
// server key an earlier version kept in it (none when nil).
func secretDB(t *testing.T, legacy []byte) (*config, *store.DB) {
	t.Helper()
	cfg := &config{DB: filepath.Join(t.TempDir(), "k.db")}
	db, err := store.Open(context.Background(), cfg.DB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if legacy != nil {
		raw, err := sql.Open("sqlite", "file:"+cfg.DB+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.Exec(`INSERT INTO settings (key, value) VALUES ('secret', ?)`, legacy); err != nil {
			t.Fatal(err)
		}
	}
	return cfg, db
}

func legacyKey(t *testing.T, db *store.DB) []byte {
	t.Helper()
	k, err := db.LegacySecret(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadSecret(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	old := bytes.Repeat([]byte{0xab}, 32)

	t.Run("Generated", func(t *testing.T) {
		cfg, db := secretDB(t, nil)
		key, err := loadSecret(ctx, cfg, db, quiet)
		if err != nil || len(key) != 32 {
			t.Fatalf("key %x %v", key, err)
		}
		fi, err := os.Stat(cfg.DB + ".key")
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", fi, err)
		}
		again, err := loadSecret(ctx, cfg, db, quiet)
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("second load: %x %v", again, err)
		}
		if k := legacyKey(t, db); k != nil {
			t.Fatalf("the database holds a key: %x", k)
		}
	})

	t.Run("MovedOutOfTheDatabase", func(t *testing.T) {
		cfg, db := secretDB(t, old)
		var logs bytes.Buffer
		key, err := loadSecret(ctx, cfg, db, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil || !bytes.Equal(key, old) {
			t.Fatalf("key %x %v", key, err)
		}
		b, err := os.ReadFile(cfg.DB + ".key")
		if err != nil || strings.TrimSpace(string(b)) != hex.EncodeToString(old) {
			t.Fatalf("key file %q %v", b, err)
		}
		if k := legacyKey(t, db); k != nil {
			t.Fatalf("the database still holds the key")
		}
		if !strings.Contains(logs.String(), "moved the server key out of the database") {
			t.Fatalf("log: %s", logs.String())
		}
	})

	t.Run("SameKeyInBoth", func(t *testing.T) {
		cfg, db := secretDB(t, old)
		cfg.KeyFile = filepath.Join(t.TempDir(), "elsewhere.key")
		os.WriteFile(cfg.KeyFile, []byte(hex.EncodeToString(old)+"\n"), 0o600)
		if key, err := loadSecret(ctx, cfg, db, quiet); err != nil || !bytes.Equal(key, old) {
			t.Fatalf("key %x %v", key, err)
		}
		if k := legacyKey(t, db); k != nil {
			t.Fatalf("the database still holds the key")
		}
	})

	t.Run("KeysDiffer", func(t *testing.T) {
		cfg, db := secretDB(t, old)
		other := hex.EncodeToString(bytes.Repeat([]byte{0xcd}, 32)) + "\n"
		os.WriteFile(cfg.keyFile(), []byte(other), 0o600)
		_, err := loadSecret(ctx, cfg, db, quiet)
		if err == nil || !strings.Contains(err.Error(), "differs from the one in "+cfg.keyFile()) {
			t.Fatalf("err = %v", err)
		}
		if b, _ := os.ReadFile(cfg.keyFile()); string(b) != other || !bytes.Equal(legacyKey(t, db), old) {
			t.Fatal("a refused start changed the key file or the database")
		}
	})

	t.Run("BadKeyFile", func(t *testing.T) {
		cfg, db := secretDB(t, nil)
		os.WriteFile(cfg.keyFile(), []byte("not hex"), 0o600)
		if _, err := loadSecret(ctx, cfg, db, quiet); err == nil || !strings.Contains(err.Error(), "hex digits") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("SMSBOT_SECRET", func(t *testing.T) {
		cfg, db := secretDB(t, nil)
		cfg.Secret = strings.Repeat("s", 32)
		if key, err := loadSecret(ctx, cfg, db, quiet); err != nil || string(key) != cfg.Secret {
			t.Fatalf("key %q %v", key, err)
		}
		if _, err := os.Stat(cfg.keyFile()); err == nil {
			t.Fatal("a key file was written although SMSBOT_SECRET is set")
		}
	})
}

// TestE2E_DatabaseCopyOpensNoReply: a copy of the database alone, served
// with a key file of its own, cannot open the replies stored in it: a
// replayed MessageSid gets no link back.
func TestE2E_DatabaseCopyOpensNoReply(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_SECRET": ""})
	f := e.form("+15555550142", "S")
	status, reply := e.post(f, e.sign(f))
	m := linkRE.FindStringSubmatch(reply)
	if status != 200 || m == nil {
		t.Fatalf("S: %d %q", status, reply)
	}
	token := m[1]
	if _, reply := e.post(f, e.sign(f)); !strings.Contains(reply, token) {
		t.Fatalf("replay on the original: %q", reply)
	}

	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if _, err := e.db.Exec(`VACUUM INTO ?`, copyPath); err != nil {
		t.Fatal(err)
	}
	addr, listenSetting := listenFD(t)
	c := &e2e{t: t, base: "http://" + addr, public: "http://" + addr, dbPath: copyPath, logs: &syncBuffer{}}
	c.env = with(e.env, "SMSBOT_ADDR", listenSetting, "SMSBOT_DB", copyPath, "SMSBOT_PUBLIC_URL", c.public)
	runProgram(t, []string{"serve"}, c.env, c.base, c.logs)
	status, reply = c.post(f, webhooks.Signature(e2eToken, c.public+webhooks.PathSMS, f))
	if strings.Contains(reply, token) {
		t.Fatalf("the copy answered the replay with the link: %d %q", status, reply)
	}
	var n int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM settings WHERE key = 'secret'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the database holds a server key (%d, %v)", n, err)
	}
	if _, err := os.Stat(copyPath + ".key"); err != nil {
		t.Fatalf("the copy's server has no key file of its own: %v", err)
	}
}
