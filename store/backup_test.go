package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// TestDB_Backup copies the database while phones are being written: the
// copy passes integrity_check, holds every phone committed before the
// backup started, and is mode 0600. A path that exists is refused and left
// alone.
func TestDB_Backup(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	save := func(i int64) error {
		return db.Update(ctx, func(tx bot.Tx) error {
			return tx.SavePhone(ctx, &bot.Phone{Number: fmt.Sprintf("+1555%07d", i), State: bot.StateIdle, CreatedAt: t0, UpdatedAt: t0})
		})
	}
	for i := range int64(200) {
		if err := save(i); err != nil {
			t.Fatal(err)
		}
	}
	var committed atomic.Int64 // phones saved, in order
	committed.Store(200)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := int64(200); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := save(i); err != nil {
				t.Error(err)
				return
			}
			committed.Store(i + 1)
		}
	})
	path := filepath.Join(t.TempDir(), "backup.db")
	before := committed.Load()
	err := db.Backup(ctx, path)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	cp, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var check string
	var n int64
	if err := cp.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	if err := cp.QueryRow(`SELECT COUNT(*) FROM phones`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < before {
		t.Errorf("the copy holds %d phones, %d were committed before the backup", n, before)
	}
	t.Logf("%d phones committed before the backup, %d in the copy, %d at the end", before, n, committed.Load())

	if err := db.Backup(ctx, path); err == nil {
		t.Error("a backup over an existing file succeeded")
	}
	if fi2, err := os.Stat(path); err != nil || fi2.Size() != fi.Size() {
		t.Errorf("the existing file changed: %v", err)
	}
}
