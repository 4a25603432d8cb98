package main

import (
	"bytes"
	"context"
	"crypto/rand"
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

// keyFile is where the generated server key lives: SMSBOT_KEY_FILE, else
// the database path + ".key".
func (c *config) keyFile() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return c.DB + ".key"
}

// loadSecret returns the server key: SMSBOT_SECRET when set, else the key
// file's, generated the first time. A key that an earlier version kept in
// the database moves to the key file, and leaves the database.
func loadSecret(ctx context.Context, cfg *config, db *store.DB, log *slog.Logger) ([]byte, error) {
	if cfg.Secret != "" {
		return parseSecret(cfg.Secret)
	}
	path := cfg.keyFile()
	key, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	legacy, err := db.LegacySecret(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case legacy != nil && key != nil && !bytes.Equal(legacy, key):
		return nil, fmt.Errorf("the database holds a server key that differs from the one in %s: set SMSBOT_KEY_FILE to the file that belongs to this database, or, to keep %s, delete the database's key (replies stored before and logins under way will no longer open): sqlite3 %s \"DELETE FROM settings WHERE key = 'secret'\"", path, path, cfg.DB)
	case legacy != nil && key == nil:
		if key, err = writeKeyFile(path, legacy); err != nil {
			return nil, err
		}
		if !bytes.Equal(key, legacy) {
			return nil, fmt.Errorf("%s appeared while the database's server key was moved there, with another key: stop the other smsbot on this database and start again", path)
		}
		log.Warn("moved the server key out of the database into its own file: back it up apart from the database", "key_file", path)
	case key == nil:
		fresh := make([]byte, 32)
		rand.Read(fresh) // never fails (crypto/rand)
		if key, err = writeKeyFile(path, fresh); err != nil {
			return nil, err
		}
		log.Info("generated a server key: back it up apart from the database", "key_file", path)
	}
	if legacy != nil {
		if err := db.DeleteLegacySecret(ctx); err != nil {
			return nil, err
		}
	}
	return key, nil
}

// parseSecret reads SMSBOT_SECRET: 64 or more hex digits, or at least 32
// bytes of text.
func parseSecret(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) >= 32 {
		return b, nil
	}
	if len(s) < 32 {
		return nil, usageError{errors.New("SMSBOT_SECRET must be at least 32 characters (or 64 hex digits)")}
	}
	return []byte(s), nil
}

// readKeyFile returns the key in path (hex), or nil when there is no file.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("key file %s: want 64 or more hex digits", path)
	}
	return key, nil
}

// writeKeyFile creates path (mode 0600) holding key in hex, all at once:
// a synced temporary file linked into place, so a crash leaves no partial
// file and a file made meanwhile by another process is kept. It returns
// the key the file holds.
func writeKeyFile(path string, key []byte) ([]byte, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".smsbot-key-*")
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return readKeyFile(path)
	} else if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
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
