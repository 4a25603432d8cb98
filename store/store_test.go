package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

func open(t *testing.T, path string) *store.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "test.db")
	}
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.UnixMilli(1_790_000_000_000)

func TestDB_Open_MigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db := open(t, path)
	names, err := db.Migrations(context.Background())
	if err != nil || len(names) == 0 || names[0] != "migrations/0001_init.sql" {
		t.Fatalf("migrations %v %v", names, err)
	}
	db.Close()
	db2 := open(t, path) // a second open must not re-run 0001 (it would fail: tables exist)
	again, _ := db2.Migrations(context.Background())
	if len(again) != len(names) {
		t.Fatalf("migrations after reopen: %v", again)
	}
}

func TestDB_Open_BadSynchronous(t *testing.T) {
	if _, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "SOMETIMES"}); err == nil {
		t.Fatal("bad synchronous accepted")
	}
}

// plantLegacySecret writes a key where earlier versions kept it.
func plantLegacySecret(t *testing.T, path string, key []byte) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO settings (key, value) VALUES ('secret', ?)`, key); err != nil {
		t.Fatal(err)
	}
}

func TestDB_DropLegacySecret(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	key := bytes.Repeat([]byte("K3y!"), 8)
	open(t, path).Close()
	plantLegacySecret(t, path, key)
	db := open(t, path)
	got, err := db.LegacySecret(ctx)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("legacy secret %q %v", got, err)
	}
	if err := db.DropLegacySecret(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LegacySecret(ctx); got != nil || err != nil {
		t.Fatalf("after drop: %q %v", got, err)
	}
	// No copy of the key is left in the files a copy of the database takes.
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, key) {
			t.Errorf("%s still holds the key's bytes", filepath.Base(f))
		}
	}
}

func TestDB_Open_FilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "p.db")
	db := open(t, path)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), m)
		}
	}
}

func TestDB_UseMode(t *testing.T) {
	ctx := context.Background()
	t.Run("production database refused in dev", func(t *testing.T) {
		db := open(t, "")
		if err := db.UseMode(ctx, store.ModeProduction); err != nil {
			t.Fatal(err)
		}
		if err := db.UseMode(ctx, store.ModeDev); !errors.Is(err, store.ErrWrongMode) {
			t.Fatalf("dev on a production database: %v", err)
		}
		if err := db.UseMode(ctx, store.ModeProduction); err != nil {
			t.Fatalf("production again: %v", err)
		}
	})
	t.Run("dev database may go to production", func(t *testing.T) {
		db := open(t, "")
		for _, m := range []store.Mode{store.ModeDev, store.ModeDev, store.ModeProduction} {
			if err := db.UseMode(ctx, m); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
		}
		if err := db.UseMode(ctx, store.ModeDev); !errors.Is(err, store.ErrWrongMode) {
			t.Fatalf("dev after production: %v", err)
		}
	})
	t.Run("unmarked database with phones refused in dev", func(t *testing.T) {
		db := open(t, "")
		err := db.Update(ctx, func(tx bot.Tx) error {
			return tx.SavePhone(ctx, &bot.Phone{Number: "+15555550101", State: bot.StateIdle, CreatedAt: t0, UpdatedAt: t0})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.UseMode(ctx, store.ModeDev); !errors.Is(err, store.ErrWrongMode) {
			t.Fatalf("dev on an unmarked database with phones: %v", err)
		}
	})
}

func TestTx_Phone_RoundTrip(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	want := &bot.Phone{
		Number: "+15555550101", State: bot.StateAwaitingCode, ExpiresAt: t0.Add(time.Minute),
		UserID: "auth0|1", Email: "a@example.com", BoundAt: t0,
		CodeMAC: []byte{1, 2, 3}, CodeUserID: "auth0|2", CodeEmail: "b@example.com", CodeLogin: "L", CodeAttempts: 2,
		ReplyWindow: t0, ReplyCount: 3, CreatedAt: t0, UpdatedAt: t0.Add(time.Second),
	}
	err := db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, want) })
	if err != nil {
		t.Fatal(err)
	}
	var got, byUser *bot.Phone
	db.View(ctx, func(tx bot.Tx) error {
		got, err = tx.Phone(ctx, want.Number)
		if err != nil {
			return err
		}
		byUser, err = tx.PhoneByUser(ctx, "auth0|1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || byUser.Number != want.Number {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	db.View(ctx, func(tx bot.Tx) error {
		_, err = tx.Phone(ctx, "+15555550199")
		return nil
	})
	if bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("missing phone: %v", err)
	}
}

func TestTx_SavePhone_Constraints(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	save := func(p *bot.Phone) error {
		return db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, p) })
	}
	if err := save(&bot.Phone{Number: "+15555550101", State: bot.StateSubscribed, UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*bot.Phone{
		"two phones, one account": {Number: "+15555550102", State: bot.StateSubscribed, UserID: "u1"},
		"subscribed, no account":  {Number: "+15555550103", State: bot.StateSubscribed},
		"awaiting code, no code":  {Number: "+15555550104", State: bot.StateAwaitingCode},
		"awaiting login, no link": {Number: "+15555550105", State: bot.StateAwaitingLogin},
		"unknown state":           {Number: "+15555550106", State: "limbo"},
		"suspended, no account":   {Number: "+15555550107", State: bot.StateIdle, SuspendedAt: t0, SuspendReason: bot.CauseSilent},
		"suspended, no cause":     {Number: "+15555550108", State: bot.StateSubscribed, UserID: "u8", SuspendedAt: t0},
		"suspended, no time":      {Number: "+15555550109", State: bot.StateSubscribed, UserID: "u9", SuspendReason: bot.CauseLost},
		"unknown cause":           {Number: "+15555550110", State: bot.StateSubscribed, UserID: "u10", SuspendedAt: t0, SuspendReason: "moon"},
	} {
		err := save(p)
		if bot.ErrorCode(err) != bot.EINTERNAL {
			t.Errorf("%s: code %q (%v), want %q", name, bot.ErrorCode(err), err, bot.EINTERNAL)
		}
		if msg := bot.ErrorMessage(err); msg != bot.ErrorMessage(errors.New("any")) {
			t.Errorf("%s: a person would read %q", name, msg)
		}
		var se *sqlite.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: SQLite's error left the chain, the log needs it: %v", name, err)
		}
	}
}

func TestDB_Update_RollsBack(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		if err := tx.SavePhone(ctx, &bot.Phone{Number: "+15555550101", State: bot.StateIdle}); err != nil {
			return err
		}
		return fmt.Errorf("boom")
	})
	if err == nil {
		t.Fatal("error lost")
	}
	db.View(ctx, func(tx bot.Tx) error {
		_, err = tx.Phone(ctx, "+15555550101")
		return nil
	})
	if bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("rolled-back phone exists: %v", err)
	}
}

func TestDB_Update_Serializes(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	const n = 50
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {
			err := db.Update(ctx, func(tx bot.Tx) error {
				p, err := tx.Phone(ctx, "+15555550101")
				if bot.ErrorCode(err) == bot.ENOTFOUND {
					p, err = &bot.Phone{Number: "+15555550101", State: bot.StateIdle}, nil
				}
				if err != nil {
					return err
				}
				p.ReplyCount++ // read-modify-write
				return tx.SavePhone(ctx, p)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var p *bot.Phone
	db.View(ctx, func(tx bot.Tx) error { p, _ = tx.Phone(ctx, "+15555550101"); return nil })
	if p.ReplyCount != n {
		t.Fatalf("count %d after %d increments: lost updates", p.ReplyCount, n)
	}
}

func TestTx_Links(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	h := []byte("0123456789abcdef0123456789abcdef")
	err := db.Update(ctx, func(tx bot.Tx) error {
		for i, at := range []time.Time{t0.Add(-2 * time.Hour), t0.Add(-30 * time.Minute), t0} {
			hh := append([]byte{byte(i)}, h...)
			if err := tx.AddLink(ctx, &bot.Link{Hash: hh, Phone: "+15555550101", CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}); err != nil {
				return err
			}
		}
		n, err := tx.CountLinks(ctx, "+15555550101", t0.Add(-time.Hour))
		if n != 2 {
			return fmt.Errorf("count %d, want 2 (%v)", n, err)
		}
		if err := tx.UseLink(ctx, append([]byte{0}, h...), t0); err != nil {
			return err
		}
		if err := tx.UseLink(ctx, append([]byte{0}, h...), t0); bot.ErrorCode(err) != bot.EUSED {
			return fmt.Errorf("second use: %v", err)
		}
		l, err := tx.Link(ctx, append([]byte{0}, h...))
		if err != nil || !l.UsedAt.Equal(t0) {
			return fmt.Errorf("link %+v %v", l, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func enqueue(t *testing.T, db *store.DB, jobs ...*bot.Job) {
	t.Helper()
	ctx := context.Background()
	err := db.Update(ctx, func(tx bot.Tx) error {
		for _, j := range jobs {
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDB_RecordStatus_Monotonic(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	sid := "SM00000000000000000000000000000001"
	steps := []struct {
		status  string
		code    int
		changed bool
		want    string
	}{
		{"sent", 0, true, "sent"},
		{"queued", 0, false, "sent"}, // late
		{"sent", 0, false, "sent"},   // twice
		{"undelivered", 30003, true, "undelivered"},
		{"sent", 0, false, "undelivered"},
	}
	for _, s := range steps {
		changed, err := db.RecordStatus(ctx, sid, "+15555550101", s.status, s.code, t0)
		if err != nil || changed != s.changed {
			t.Fatalf("%s: changed %v %v", s.status, changed, err)
		}
		m, _ := db.Message(ctx, sid)
		if m.Status != s.want {
			t.Fatalf("after %s: %s", s.status, m.Status)
		}
	}
	if m, _ := db.Message(ctx, sid); m.ErrorCode != 30003 {
		t.Fatalf("error code lost: %+v", m)
	}
	if _, err := db.RecordStatus(ctx, sid, "", "exploded", 0, t0); bot.ErrorCode(err) != bot.EINVALID {
		t.Fatalf("unknown status: %v", err)
	}
}
