package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckpoint_OffTheWriter: the WAL reaches the database file through
// the checkpointer, though the writer's own checkpoints would wait for
// walSafetyPages; a group commit never runs one.
func TestCheckpoint_OffTheWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var limit int
	if err := db.write.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&limit); err != nil || limit != walSafetyPages {
		t.Fatalf("writer's wal_autocheckpoint %d (%v), want %d", limit, err, walSafetyPages)
	}
	size := func(name string) int64 {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size(path)
	// About 2,000 pages in 20 commits: more than SQLite's default
	// checkpoint (1,000), far fewer than the writer's.
	blob := make([]byte, 3000)
	for i := range 20 {
		err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			for j := range 100 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, fmt.Sprint("k", i, "-", j), blob); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for size(path) < before+5<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes (from %d), WAL %d: nothing checkpointed", size(path), before, size(path+"-wal"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
