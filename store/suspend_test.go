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

func TestTx_Suspension_RoundTrip(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	in := &bot.Phone{Number: "+15555550101", State: bot.StateSubscribed, UserID: "u1", CreatedAt: t0,
		LastSeen: t0.Add(time.Hour), VerifiedAt: t0, SuspendedAt: t0.Add(2 * time.Hour), SuspendReason: bot.CauseReassigned}
	var out *bot.Phone
	err := db.Update(ctx, func(tx bot.Tx) error {
		if err := tx.SavePhone(ctx, in); err != nil {
			return err
		}
		var err error
		out, err = tx.Phone(ctx, in.Number)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !out.LastSeen.Equal(in.LastSeen) || !out.VerifiedAt.Equal(in.VerifiedAt) || !out.SuspendedAt.Equal(in.SuspendedAt) || out.SuspendReason != in.SuspendReason {
		t.Fatalf("got %+v", out)
	}
}

func TestTx_LostDeliveries_OncePerMessage(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	var n int
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, ref := range []string{"SMa", "SMa", "SMb"} {
			if err := tx.AddLostDelivery(ctx, "+15555550101", ref, 30005, t0); err != nil {
				return err
			}
		}
		var err error
		n, err = tx.CountLostDeliveries(ctx, "+15555550101", t0)
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("counted %d, want 2: %v", n, err)
	}
}
