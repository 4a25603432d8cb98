package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// TestDB_Open_Migrates0003 opens a database made before 0003_suspend: the
// last text of each phone starts from updated_at, its proof from bound_at.
func TestDB_Open_Migrates0003(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	init, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(init),
		`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		`INSERT INTO schema_migrations VALUES ('migrations/0001_init.sql', 1)`,
		`INSERT INTO phones (phone, state, user_id, bound_at, created_at, updated_at)
			VALUES ('+15555550101', 'subscribed', 'u1', 1000, 1000, 5000)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db := open(t, path)
	var p *bot.Phone
	err = db.View(ctx, func(tx bot.Tx) error {
		p, err = tx.Phone(ctx, "+15555550101")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !p.LastSeen.Equal(time.UnixMilli(5000)) || !p.VerifiedAt.Equal(time.UnixMilli(1000)) || p.Suspended() {
		t.Fatalf("migrated phone: last seen %v, verified %v, suspended %q", p.LastSeen, p.VerifiedAt, p.SuspendReason)
	}
}
