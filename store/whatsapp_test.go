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

// TestDB_Open_Migrates0007 opens a database made before 0007_whatsapp: its
// phones are SMS phones, and a binding made then was proven over SMS.
func TestDB_Open_Migrates0007(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"migrations/0001_init.sql", "migrations/0002_outbox_recipient.sql", "migrations/0003_suspend.sql"} {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, string(body)); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 1)`, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO phones (phone, state, user_id, bound_at, created_at, updated_at) VALUES ('+15555550101', 'subscribed', 'u1', 1000, 1000, 5000)`,
		`INSERT INTO phones (phone, state, created_at, updated_at) VALUES ('+15555550102', 'idle', 1000, 5000)`,
		`INSERT INTO outbox (kind, phone, body, created_at, next_at) VALUES ('sms', '+15555550101', 'hi', 1000, 1000)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db := open(t, path)
	var bound, idle *bot.Phone
	err = db.View(ctx, func(tx bot.Tx) error {
		if bound, err = tx.Phone(ctx, "+15555550101"); err != nil {
			return err
		}
		idle, err = tx.Phone(ctx, "+15555550102")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if bound.Channel != bot.ChannelSMS || bound.Proven != "sms" || !bound.WhatsAppSeen.IsZero() {
		t.Errorf("migrated bound phone: channel %q, proven %q, WhatsApp seen %v", bound.Channel, bound.Proven, bound.WhatsAppSeen)
	}
	if idle.Channel != bot.ChannelSMS || idle.Proven != "" {
		t.Errorf("migrated idle phone: channel %q, proven %q", idle.Channel, idle.Proven)
	}
	j, err := db.Claim(ctx, bound.UpdatedAt, time.Minute)
	if err != nil || j.Channel != bot.ChannelSMS || j.Template != "" || j.Resends != 0 {
		t.Fatalf("migrated job: %+v %v", j, err)
	}
}
