package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

// waitForLock polls until a session waits for the advisory lock on name in
// space (pg_locks: the two keys are classid and objid, objsubid 2).
func waitForLock(t *testing.T, watch *pgx.Conn, space int32, name string) {
	t.Helper()
	poll(t, func() bool {
		var waiting bool
		err := watch.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND classid = $1 AND objid::bigint = $2 AND objsubid = 2 AND NOT granted)`,
			space, int64(uint32(postgres.LockKey(name)))).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		return waiting
	})
}

// TestTx_LockedReadSeesCommit: another session holds a MessageSid's lock
// (and a phone's) and writes under it; an Update's Reply (Phone) waits
// for the lock and then reads what that session committed, though the
// lock and the read go out to the server together: they are two
// statements, each with a snapshot of its own. (One statement that locked
// and read would read from a snapshot taken before the wait.) Also with
// the simple protocol (an operator's default_query_exec_mode), where the
// batch is one query string of several statements.
func TestTx_LockedReadSeesCommit(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "simple_protocol"} {
		t.Run("mode="+mode, func(t *testing.T) {
			t.Parallel()
			u := postgrestest.SchemaURL(t)
			du := u
			if mode != "" {
				du += "&default_query_exec_mode=" + mode
			}
			lockedReadSeesCommit(t, u, open(t, du, postgres.Options{}))
		})
	}
}

func lockedReadSeesCommit(t *testing.T, u string, db *postgres.DB) {
	ctx := context.Background()
	const sid = "SM00000000000000000000000000000042"
	if err := storetest.SavePhone(ctx, db, &bot.Phone{Number: alice, State: bot.StateIdle, ReplyCount: 1}); err != nil {
		t.Fatal(err)
	}
	conns := make([]*pgx.Conn, 2)
	for i := range conns {
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	holder, watch := conns[0], conns[1]
	for _, tc := range []struct {
		name  string
		space int32
		key   string
		write string
		read  func(bot.Tx) (string, error)
		want  string
	}{
		{"MessageSid", 2, sid, `INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES ('` + sid + `', '` + alice + `', 'first', 1)`,
			func(tx bot.Tx) (string, error) { b, err := tx.Reply(ctx, sid); return string(b), err }, "first"},
		{"phone", 1, alice, `UPDATE phones SET reply_count = 2 WHERE phone = '` + alice + `'`,
			func(tx bot.Tx) (string, error) {
				p, err := tx.Phone(ctx, alice)
				if err != nil {
					return "", err
				}
				return string(rune('0' + p.ReplyCount)), nil
			}, "2"},
	} {
		tx, err := holder.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, tc.space, postgres.LockKey(tc.key)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, tc.write); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			var s string
			err := db.Update(ctx, func(tx bot.Tx) (err error) { s, err = tc.read(tx); return err })
			if err != nil {
				s = err.Error()
			}
			got <- s
		}()
		waitForLock(t, watch, tc.space, tc.key)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case s := <-got:
			if s != tc.want {
				t.Errorf("%s: read %q after the lock, want %q, which its holder committed", tc.name, s, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still waiting 10 s after the lock was released", tc.name)
		}
	}
}

// TestTx_QueuedWriteFails: a write's error comes back from the next round
// trip even when the caller ignores it there, fails the Update and stores
// nothing of the transaction; the connection (the only one) goes on.
func TestTx_QueuedWriteFails(t *testing.T) {
	t.Parallel()
	db := open(t, postgrestest.SchemaURL(t), postgres.Options{MaxConns: 1})
	ctx := context.Background()
	const sid = "SM00000000000000000000000000000043"
	bad := &bot.Phone{Number: alice, State: bot.StateSubscribed} // no account: unstorable
	err := db.Update(ctx, func(tx bot.Tx) error {
		if err := tx.SaveReply(ctx, sid, alice, []byte("sealed"), storetest.T0); err != nil {
			return err
		}
		if err := tx.SavePhone(ctx, bad); err != nil {
			return err
		}
		tx.Phone(ctx, "+15555550199") // its error ignored, as bot ignores some
		return nil
	})
	var pe *pgconn.PgError
	if bot.ErrorCode(err) != bot.EINTERNAL || !errors.As(err, &pe) || pe.Code[:2] != "23" {
		t.Fatalf("Update after a refused write: %v, want the constraint's error", err)
	}
	err = db.View(ctx, func(tx bot.Tx) error {
		if _, err := tx.Reply(ctx, sid); bot.ErrorCode(err) != bot.ENOTFOUND {
			return errors.Join(errors.New("the MessageSid was stored"), err)
		}
		if _, err := tx.Phone(ctx, alice); bot.ErrorCode(err) != bot.ENOTFOUND {
			return errors.Join(errors.New("the phone was stored"), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.SavePhone(ctx, db, &bot.Phone{Number: alice, State: bot.StateIdle}); err != nil {
		t.Fatalf("the connection after a failed transaction: %v", err)
	}
}

// TestTx_QueuedWriteKeepsItsBytes: a queued write stores the bytes it was
// given, though the caller reuses the buffer before the write goes out.
func TestTx_QueuedWriteKeepsItsBytes(t *testing.T) {
	t.Parallel()
	db := openFresh(t)
	ctx := context.Background()
	const sid = "SM00000000000000000000000000000044"
	err := db.Update(ctx, func(tx bot.Tx) error {
		buf := []byte("sealed")
		if err := tx.SaveReply(ctx, sid, alice, buf, storetest.T0); err != nil {
			return err
		}
		copy(buf, "XXXXXX")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := db.View(ctx, func(tx bot.Tx) (err error) { got, err = tx.Reply(ctx, sid); return err }); err != nil || string(got) != "sealed" {
		t.Fatalf("stored %q (%v), want %q", got, err, "sealed")
	}
}

// TestTx_SavePhoneAfterRead: a phone read in the Update is saved with an
// UPDATE of only the columns that changed, none when nothing did. Another
// session writes the row between the read and the save, bypassing the
// phone's lock as no instance does, to see which columns the save wrote:
// a column the Update did not change keeps that session's value, and a
// save of nothing leaves the row version (xmin) as it was. A row deleted
// meanwhile fails the Update rather than losing the save.
func TestTx_SavePhoneAfterRead(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	db := open(t, u, postgres.Options{})
	ctx := context.Background()
	other, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	sql := func(query string) {
		t.Helper()
		if _, err := other.Exec(ctx, query, alice); err != nil {
			t.Fatal(err)
		}
	}
	xmin := func() string {
		t.Helper()
		var x string
		if err := other.QueryRow(ctx, `SELECT xmin::text FROM phones WHERE phone = $1`, alice).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	// readWriteSave reads the phone, lets the other session write, then
	// changes the phone with change and saves it.
	readWriteSave := func(write string, change func(*bot.Phone)) error {
		return db.Update(ctx, func(tx bot.Tx) error {
			p, err := tx.Phone(ctx, alice)
			if err != nil {
				return err
			}
			if write != "" {
				sql(write)
			}
			change(p)
			return tx.SavePhone(ctx, p)
		})
	}
	if err := storetest.SavePhone(ctx, db, &bot.Phone{Number: alice, State: bot.StateIdle, Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}

	err = readWriteSave(`UPDATE phones SET email = 'b@example.com' WHERE phone = $1`, func(p *bot.Phone) { p.ReplyCount = 4 })
	if err != nil {
		t.Fatal(err)
	}
	p, err := storetest.LoadPhone(ctx, db, alice)
	if err != nil {
		t.Fatal(err)
	}
	if p.ReplyCount != 4 || p.Email != "b@example.com" {
		t.Errorf("reply count %d, email %q; want 4 (saved), b@example.com (not changed by the save)", p.ReplyCount, p.Email)
	}

	before := xmin()
	if err := readWriteSave("", func(*bot.Phone) {}); err != nil {
		t.Fatal(err)
	}
	if after := xmin(); after != before {
		t.Errorf("a save of an unchanged phone wrote the row: xmin %s, was %s", after, before)
	}

	err = readWriteSave(`DELETE FROM phones WHERE phone = $1`, func(p *bot.Phone) { p.ReplyCount = 5 })
	if err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("save of a phone deleted since its read: %v, want an error", err)
	}
}

// TestUpdate_SeenBefore: Update takes a MessageSid as new without looking
// it up; when it was stored before, whatever fn did on that guess is rolled
// back and fn runs again, this time seeing the stored reply. Each way a run
// can end on the wrong guess is tried: saving the reply (the insert fails
// at the commit), saving only the phone (a plugin command's first
// transaction: a lookup before the commit), failing.
func TestUpdate_SeenBefore(t *testing.T) {
	t.Parallel()
	db := openFresh(t)
	ctx := context.Background()
	const sid = "SM00000000000000000000000000000001"
	at := storetest.T0
	if err := db.Update(ctx, func(tx bot.Tx) error { return tx.SaveReply(ctx, sid, alice, []byte("first"), at) }); err != nil {
		t.Fatal(err)
	}
	// fn as the engine runs it: look the MessageSid up, answer from the
	// stored reply, or read and save the phone and then (unless end says
	// otherwise) the reply.
	run := func(t *testing.T, sid string, end func(tx bot.Tx) error) (runs int, got string) {
		t.Helper()
		err := db.Update(ctx, func(tx bot.Tx) error {
			runs++
			b, err := tx.Reply(ctx, sid)
			if err == nil {
				got = string(b)
				return nil
			} else if bot.ErrorCode(err) != bot.ENOTFOUND {
				return err
			}
			if _, err := tx.Phone(ctx, alice); bot.ErrorCode(err) != bot.ENOTFOUND {
				return fmt.Errorf("phone: %v", err)
			}
			if err := tx.SavePhone(ctx, &bot.Phone{Number: alice, State: bot.StateIdle, CreatedAt: at, ReplyCount: runs}); err != nil {
				return err
			}
			return end(tx)
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		return runs, got
	}
	for _, c := range []struct {
		name string
		end  func(tx bot.Tx) error
	}{
		{"saves the reply", func(tx bot.Tx) error { return tx.SaveReply(ctx, sid, alice, []byte("second"), at) }},
		{"saves the phone only", func(bot.Tx) error { return nil }},
		{"fails", func(bot.Tx) error { return errors.New("far end away") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs, got := run(t, sid, c.end)
			if runs != 2 || got != "first" {
				t.Errorf("a stored MessageSid: %d runs, reply %q; want 2 runs, the stored reply %q", runs, got, "first")
			}
			if _, err := storetest.LoadPhone(ctx, db, alice); bot.ErrorCode(err) != bot.ENOTFOUND {
				t.Errorf("the first run's phone was kept: %v", err)
			}
		})
	}
	t.Run("new", func(t *testing.T) {
		const sid2 = "SM00000000000000000000000000000002"
		runs, _ := run(t, sid2, func(tx bot.Tx) error { return tx.SaveReply(ctx, sid2, alice, []byte("new"), at) })
		if runs != 1 {
			t.Errorf("a new MessageSid ran fn %d times, want once", runs)
		}
		var b []byte
		if err := db.View(ctx, func(tx bot.Tx) (err error) { b, err = tx.Reply(ctx, sid2); return err }); err != nil || string(b) != "new" {
			t.Errorf("stored reply %q, %v", b, err)
		}
	})
}
