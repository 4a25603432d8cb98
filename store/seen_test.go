package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// TestUpdate_SeenBefore: Update takes a MessageSid as new without looking
// it up; when it was stored before, whatever fn did on that guess is rolled
// back and fn runs again, this time seeing the stored reply. Each way a run
// can end on the wrong guess is tried: saving the reply, saving only the
// phone (a plugin command's first transaction), failing.
func TestUpdate_SeenBefore(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const sid, phone = "SM00000000000000000000000000000001", "+15550001111"
	at := time.UnixMilli(1e12)
	if err := db.Update(ctx, func(tx bot.Tx) error {
		return tx.SaveReply(ctx, sid, phone, []byte("first"), at)
	}); err != nil {
		t.Fatal(err)
	}

	// fn as the engine runs it: look the MessageSid up, answer from the
	// stored reply, or save a phone and then (unless ends says otherwise)
	// the reply.
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
			if err := tx.SavePhone(ctx, &bot.Phone{Number: phone, State: bot.StateIdle, CreatedAt: at, ReplyCount: runs}); err != nil {
				return err
			}
			return end(tx)
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		return runs, got
	}
	saveReply := func(tx bot.Tx) error { return tx.SaveReply(ctx, sid, phone, []byte("second"), at) }
	for _, c := range []struct {
		name string
		end  func(tx bot.Tx) error
	}{
		{"saves the reply", saveReply},
		{"saves the phone only", func(bot.Tx) error { return nil }},
		{"fails", func(bot.Tx) error { return errors.New("far end away") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs, got := run(t, sid, c.end)
			if runs != 2 || got != "first" {
				t.Errorf("a stored MessageSid: %d runs, reply %q; want 2 runs, the stored reply %q", runs, got, "first")
			}
			err := db.View(ctx, func(tx bot.Tx) error { _, err := tx.Phone(ctx, phone); return err })
			if bot.ErrorCode(err) != bot.ENOTFOUND {
				t.Errorf("the first run's phone was kept: %v", err)
			}
		})
	}
	t.Run("new", func(t *testing.T) {
		const sid2 = "SM00000000000000000000000000000002"
		runs, _ := run(t, sid2, func(tx bot.Tx) error { return tx.SaveReply(ctx, sid2, phone, []byte("new"), at) })
		if runs != 1 {
			t.Errorf("a new MessageSid ran fn %d times, want once", runs)
		}
		var b []byte
		if err := db.View(ctx, func(tx bot.Tx) (err error) { b, err = tx.Reply(ctx, sid2); return err }); err != nil || string(b) != "new" {
			t.Errorf("stored reply %q, %v", b, err)
		}
	})
}
