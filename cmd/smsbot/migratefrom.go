package main

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/store/postgres"
)

// migrateFromFlag is the help of migrate's --from flag.
const migrateFromFlag = "sqlite:PATH: copy the data of that SQLite database (a stopped deployment's) into the empty PostgreSQL database SMSBOT_DB, in one transaction; PATH is left as it is"

// migrateFrom is `smsbot migrate --from sqlite:PATH`: it moves a SQLite
// deployment's data into the PostgreSQL database cfg.DB. It works on a
// snapshot of PATH, migrated to this smsbot's schema, and refuses, before
// PostgreSQL is touched, a source migrated by a newer smsbot, one dev mode
// has used, one a server still runs on, and a server key (SMSBOT_SECRET or
// SMSBOT_KEY_FILE) other than the SQLite deployment's. Then it migrates
// PostgreSQL and copies every table in one transaction (postgres.DB.Load),
// which refuses a database that holds data and checks the row counts.
func migrateFrom(ctx context.Context, cfg *config, from string, stdout io.Writer) error {
	path, ok := strings.CutPrefix(from, "sqlite:")
	path = strings.TrimPrefix(path, "//") // sqlite:///abs/path
	if !ok || path == "" {
		return usageError{fmt.Errorf("--from %q: want sqlite:PATH, the SQLite database file of the deployment to move (such as sqlite:/var/lib/smsbot/smsbot.db)", from)}
	}
	if !isPostgres(cfg.DB) {
		return usageError{fmt.Errorf("--from copies a SQLite database into PostgreSQL, but SMSBOT_DB is %q: set SMSBOT_DB (or --db) to the postgres:// URL of the new, empty database", cfg.DB)}
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return usageError{fmt.Errorf("--from %s: no such file", from)}
	}

	// A snapshot of the source, in a directory beside it (which has room
	// for it and is as private) or else the temporary directory, migrated
	// to this smsbot's schema: PATH itself is never written to.
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".smsbot-move-*")
	if err != nil {
		tmp, err = os.MkdirTemp("", "smsbot-move-*")
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", path, err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, "snapshot.db")
	if err := store.Snapshot(ctx, path, snap); err != nil {
		return err
	}
	src, err := store.Open(ctx, snap, store.Options{Synchronous: "OFF"})
	if err != nil {
		return fmt.Errorf("the copy of %s: %w", path, err)
	}
	defer src.Close()
	if err := checkSource(ctx, src, path); err != nil {
		return err
	}
	keyNote, err := checkMovedKey(ctx, cfg, path, src)
	if err != nil {
		return err
	}

	pg, err := postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: int32(cfg.PGPool)})
	if err != nil {
		return fmt.Errorf("database %s: %w", dbName(cfg.DB), err)
	}
	defer pg.Close()
	e, err := src.Export(ctx)
	if err != nil {
		return fmt.Errorf("the copy of %s: %w", path, err)
	}
	defer e.Close()
	copied, err := pg.Load(ctx, e)
	if errors.Is(err, postgres.ErrNotEmpty) {
		return fmt.Errorf("%s: %w; nothing was copied. --from fills only a database no deployment has used: point SMSBOT_DB at a new, empty one", dbName(cfg.DB), err)
	}
	if err != nil {
		return fmt.Errorf("database %s: %w; nothing was copied", dbName(cfg.DB), err)
	}
	if err := pg.UseMode(ctx, store.ModeProduction); err != nil {
		return fmt.Errorf("database %s: the data are copied, but: %w", dbName(cfg.DB), err)
	}

	var counts []string
	var total int64
	for _, t := range copied {
		counts = append(counts, fmt.Sprintf("%s %d", t.Name, t.Rows))
		total += t.Rows
	}
	fmt.Fprintf(stdout, "Copied %s into %s (PostgreSQL) in one transaction: %d rows, each table's count read back the same:\n  %s\n",
		path, dbName(cfg.DB), total, strings.Join(counts, ", "))
	fmt.Fprintf(stdout, "PostgreSQL: applied %d migration(s) first. %s: unchanged (its copy was migrated by %d migration(s)).\n",
		len(pg.Applied()), path, len(src.Applied()))
	fmt.Fprintf(stdout, "Server key: %s.\n", keyNote)
	fmt.Fprintf(stdout, "Next: start smsbot serve on each instance with SMSBOT_DB=%s and that key; do not start smsbot serve on %s again (what it would answer would not be in PostgreSQL). Keep %s (and its key) as a backup.\n",
		dbName(cfg.DB), path, path)
	return nil
}

// checkSource refuses a source migrated by a newer smsbot, one dev mode
// has used, and one a server still runs on.
func checkSource(ctx context.Context, src *store.DB, path string) error {
	names, err := src.Migrations(ctx)
	if err != nil {
		return fmt.Errorf("the copy of %s: %w", path, err)
	}
	for _, n := range names {
		if !slices.Contains(store.KnownMigrations(), n) {
			return fmt.Errorf("%s has migration %s, which this smsbot does not know: it was migrated by a newer smsbot; move it with that version or newer", path, n)
		}
	}
	mode, err := src.Mode(ctx)
	if err != nil {
		return fmt.Errorf("the copy of %s: %w", path, err)
	}
	if mode == store.ModeDev {
		return fmt.Errorf("%s has been used in dev mode: its phones and bindings are made up, and production must not trust them; nothing to move", path)
	}
	live, err := src.Instances(ctx, time.Now().Add(-instanceStale))
	if err != nil {
		return fmt.Errorf("the copy of %s: %w", path, err)
	}
	if len(live) > 0 {
		return fmt.Errorf("smsbot serve is running on %s (%d instance(s) seen in the last %s): stop it first, so that no text it answers after the copy is left behind, then run this again (one killed rather than stopped counts as running for %s)", path, len(live), instanceStale, instanceStale)
	}
	return nil
}

// checkMovedKey checks that the server key the PostgreSQL instances will
// use (SMSBOT_SECRET or SMSBOT_KEY_FILE) is the one the SQLite deployment
// sealed its replies and MACed its codes with, so that nothing made before
// the move stops verifying. The SQLite deployment's key is in the file
// beside PATH (or, from an older smsbot, inside PATH); the replies stored
// last settle it, as they open only with their key. It returns what to
// tell the operator about the key, or a usage error that says what to set.
func checkMovedKey(ctx context.Context, cfg *config, path string, src *store.DB) (string, error) {
	beside := path + ".key"
	fileKey, err := readKey(beside)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	legacy, err := src.LegacySecret(ctx)
	if err != nil {
		return "", err
	}
	srcKey := fileKey
	if legacy != nil {
		if fileKey != nil && subtle.ConstantTimeCompare(fileKey, legacy) == 0 {
			return "", usageError{fmt.Errorf("%s keeps a server key inside (an older smsbot put it there) that differs from %s; its data were made with the one inside: move %s aside and run this again, and smsbot writes the database's key to %s", path, beside, beside, beside)}
		}
		srcKey = legacy
	}

	var key []byte
	var name string
	switch {
	case cfg.Secret != "":
		if key, err = parseSecret(cfg.Secret); err != nil {
			return "", err
		}
		name = "SMSBOT_SECRET"
	case cfg.KeyFile != "":
		if key, err = readKey(cfg.KeyFile); errors.Is(err, fs.ErrNotExist) {
			return "", usageError{fmt.Errorf("SMSBOT_KEY_FILE %s does not exist: copy the SQLite deployment's key file (%s) there, mode 0600, and run this again", cfg.KeyFile, beside)}
		} else if err != nil {
			return "", usageError{err}
		}
		name = "SMSBOT_KEY_FILE=" + cfg.KeyFile
	default:
		if srcKey == nil {
			return "", usageError{fmt.Errorf("set SMSBOT_SECRET or SMSBOT_KEY_FILE to the server key the SQLite deployment used (there is no %s beside %s), here and on every instance, then run this again: links, codes, login cookies and stored replies made before the move work only with it", beside, path)}
		}
		if fileKey == nil {
			// The key lives only inside the database: write it beside it,
			// as smsbot serve on it would, for the instances to share.
			if _, err := createKeyFile(beside, legacy, slog.New(slog.DiscardHandler)); err != nil {
				return "", err
			}
		}
		return "", usageError{fmt.Errorf("the PostgreSQL instances need the SQLite deployment's server key, or links, codes, login cookies and stored replies made before the move stop working: set SMSBOT_KEY_FILE=%s here and on every instance (copy the file to each, mode 0600, and keep it apart from database backups), or SMSBOT_SECRET to the 64 hex digits in it, then run this again", beside)}
	}

	replies, err := src.RecentReplies(ctx, 1)
	if err != nil {
		return "", err
	}
	if len(replies) > 0 {
		keys, err := bot.NewKeyring(key)
		if err != nil {
			return "", usageError{err}
		}
		if _, err := keys.Open("reply", replies[0]); err != nil {
			hint := "set SMSBOT_SECRET or SMSBOT_KEY_FILE to the key the SQLite deployment used"
			if srcKey != nil {
				hint = fmt.Sprintf("set SMSBOT_KEY_FILE=%s (the key beside the SQLite database)", beside)
			}
			return "", usageError{fmt.Errorf("the key in %s does not open the replies %s stored last: it is not the key the SQLite deployment used; %s, here and on every instance, then run this again", name, path, hint)}
		}
		return fmt.Sprintf("%s is the SQLite deployment's (it opens the replies stored last); give every instance the same", name), nil
	}
	if srcKey != nil {
		if subtle.ConstantTimeCompare(key, srcKey) == 0 {
			return "", usageError{fmt.Errorf("the key in %s is not the SQLite deployment's (%s): set SMSBOT_KEY_FILE=%s, here and on every instance, then run this again", name, beside, beside)}
		}
		return fmt.Sprintf("%s is the SQLite deployment's (the same as %s); give every instance the same", name, beside), nil
	}
	return fmt.Sprintf("%s, which nothing in %s could check (no key beside it, no stored replies): make sure it is the key the SQLite deployment used, and give every instance the same", name, path), nil
}

// readKey reads a key file (hex, as createKeyFile writes it).
func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("key file %s: want 64 hex digits", path)
	}
	return key, nil
}
