package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/smsbot/smsbot/store"
)

// keyFile is where the generated server key lives: SMSBOT_KEY_FILE, or
// beside the SQLite database with ".key" appended. Never inside the
// database, so that a copy of the database alone opens nothing.
// PostgreSQL has no file beside it: checkKeySource wants SMSBOT_SECRET or
// SMSBOT_KEY_FILE there.
func keyFile(cfg *config) string {
	if cfg.KeyFile != "" {
		return cfg.KeyFile
	}
	return cfg.DB + ".key"
}

// loadSecret returns the server key: SMSBOT_SECRET (hex, or at least 32
// bytes of text), else the key file, created 0600 on first start. A key
// that an earlier version kept in the database is moved to the key file
// (or dropped when SMSBOT_SECRET is set) and deleted from the database.
func loadSecret(ctx context.Context, cfg *config, db database, log *slog.Logger) ([]byte, error) {
	old, _ := db.(legacySecrets) // only SQLite databases ever held a key
	var legacy []byte
	var err error
	if old != nil {
		if legacy, err = old.LegacySecret(ctx); err != nil {
			return nil, err
		}
	}
	var key []byte
	switch {
	case cfg.Secret != "":
		if key, err = parseSecret(cfg.Secret); err != nil {
			return nil, err
		}
	default:
		if key, err = readKeyFile(keyFile(cfg), legacy, log); err != nil {
			return nil, err
		}
		if legacy != nil && subtle.ConstantTimeCompare(key, legacy) == 0 {
			return nil, usageError{fmt.Errorf("the database %s holds a server key that differs from the one in %s: point SMSBOT_KEY_FILE at the key file of this database; or, to keep %s, delete the database's key (links, codes and login cookies made with it stop working): sqlite3 %s \"DELETE FROM settings WHERE key = 'secret'\"", cfg.DB, keyFile(cfg), keyFile(cfg), cfg.DB)}
		}
	}
	if legacy == nil {
		return key, nil
	}
	if err := old.DropLegacySecret(ctx); err != nil {
		return nil, err
	}
	if cfg.Secret != "" || subtle.ConstantTimeCompare(key, legacy) == 0 {
		log.Warn("deleted an old server key from the database; links, codes and login cookies made with it no longer work")
	} else {
		log.Warn("moved the server key out of the database into its key file; back the key file up apart from the database", "key_file", keyFile(cfg))
	}
	return key, nil
}

// legacySecrets is a database that earlier versions kept the server key
// in (SQLite).
type legacySecrets interface {
	LegacySecret(ctx context.Context) ([]byte, error)
	DropLegacySecret(ctx context.Context) error
}

var _ legacySecrets = (*store.DB)(nil)

// checkKeySource wants, with PostgreSQL, SMSBOT_SECRET (the same on every
// instance) or an explicit SMSBOT_KEY_FILE: there is no file beside a
// database URL to keep a generated key in.
func checkKeySource(c *config) error {
	if isPostgres(c.DB) && c.Secret == "" && c.KeyFile == "" {
		return errors.New("SMSBOT_DB is a PostgreSQL URL: set SMSBOT_SECRET (the same key on every instance) or SMSBOT_KEY_FILE; there is no file beside the database to keep a generated key in")
	}
	return nil
}

// parseSecret reads SMSBOT_SECRET: 64+ hex digits, or 32+ characters.
func parseSecret(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) >= 32 {
		return b, nil
	}
	if len(s) < 32 {
		return nil, usageError{errors.New("SMSBOT_SECRET must be at least 32 characters (or 64 hex digits)")}
	}
	return []byte(s), nil
}

// readKeyFile reads the key file (hex), creating it 0600 with initial (or
// a new random key when initial is nil) if it does not exist.
func readKeyFile(path string, initial []byte, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path, initial, log)
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("key file %s: want 64 hex digits", path)
	}
	return key, nil
}

// createKeyFile writes key (a new random one when nil) to path, mode
// 0600, all at once: a synced temporary file linked into place, then the
// directory synced, so that the key is on disk before the database lets
// go of it, a crash leaves no partial key file, and a file another start
// made meanwhile is kept (and read).
func createKeyFile(path string, key []byte, log *slog.Logger) ([]byte, error) {
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".smsbot-key-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = fmt.Fprintf(f, "%x\n", key)
	if err == nil {
		err = f.Sync()
	}
	if err := errors.Join(err, f.Close()); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return readKeyFile(path, key, log)
	} else if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	log.Info("wrote the server key file", "key_file", path)
	return key, nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
