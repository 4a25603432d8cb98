package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/smsbot/smsbot/store"
)

const backupHelp = `
Writes a consistent copy of the SQLite database (SMSBOT_DB) to PATH, a new
file (mode 0600), while the server keeps running: the copy is one snapshot
and holds every text answered before the backup started.

To restore: stop the server, move the copy to SMSBOT_DB's path, remove any
SMSBOT_DB-wal and SMSBOT_DB-shm files beside it, and start the server.
`

// runBackup is `smsbot backup PATH`.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _ := envConfig(getenv)
	fs := newFlags("backup", "smsbot backup [--db FILE] PATH", backupHelp, stderr)
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite database file (SMSBOT_DB)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Errorf("backup: want one PATH, the new file to write (got %d arguments)", fs.NArg())}
	}
	path := fs.Arg(0)
	if isPostgres(cfg.DB) {
		return usageError{errors.New("backup: SMSBOT_DB is a PostgreSQL database: use pg_dump (smsbot backup copies SQLite files)")}
	}
	if _, err := os.Stat(cfg.DB); err != nil {
		return fmt.Errorf("database %s: %w", cfg.DB, err)
	}
	db, err := store.Open(ctx, cfg.DB, store.Options{Synchronous: cfg.Synchronous})
	if err != nil {
		return fmt.Errorf("database %s: %w", cfg.DB, err)
	}
	defer db.Close()
	if err := db.Backup(ctx, path); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: copied to %s (%d bytes)\n", cfg.DB, path, fi.Size())
	return nil
}
