package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

func TestDB_Prune(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	now := t0.Add(60 * 24 * time.Hour)
	err := db.Update(ctx, func(tx bot.Tx) error {
		for i, at := range []time.Time{t0, now.Add(-time.Hour)} { // one old, one recent
			if err := tx.SaveReply(ctx, fmt.Sprintf("SM%032d", i), "+15555550101", []byte("x"), at); err != nil {
				return err
			}
			if err := tx.AddLink(ctx, &bot.Link{Hash: []byte{byte(i)}, Phone: "+15555550101", CreatedAt: at, ExpiresAt: at}); err != nil {
				return err
			}
		}
		for i := 0; i < 2500; i++ { // more than one batch
			if err := tx.SaveReply(ctx, fmt.Sprintf("SMold%029d", i), "+15555550102", []byte("x"), t0); err != nil {
				return err
			}
		}
		for i, old := range []bool{true, false} {
			wrong, lost := now.Add(-time.Hour), now.Add(-time.Hour)
			if old {
				wrong, lost = now.Add(-3*bot.CodeAttemptWindow), now.Add(-bot.LostWindow-time.Hour)
			}
			if err := tx.AddWrongCode(ctx, "u1", "+15555550101", wrong); err != nil {
				return err
			}
			if err := tx.AddLostDelivery(ctx, "+15555550101", fmt.Sprint("SM", i), 30005, lost); err != nil {
				return err
			}
		}
		return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: "+15555550101", Body: "pending", CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The pending job is claimed and put back later; a second job, to
	// another phone, is done.
	j, _ := db.Claim(ctx, t0, time.Minute)
	db.Defer(ctx, j.ID, now)
	enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: "+15555550102", Body: "done", CreatedAt: t0})
	j2, err := db.Claim(ctx, t0, time.Minute)
	if err != nil || j2.Body != "done" {
		t.Fatalf("claim: %+v %v", j2, err)
	}
	db.Done(ctx, j2.ID, t0, "SM1")
	db.RecordStatus(ctx, "SM00000000000000000000000000000001", "+15555550101", "delivered", 0, t0)

	p, err := db.Prune(ctx, now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p.Inbound != 2501 || p.Links != 1 || p.Outbox != 1 || p.Messages != 1 || p.WrongCodes != 1 || p.LostDeliveries != 1 {
		t.Fatalf("pruned %+v", p)
	}
	err = db.View(ctx, func(tx bot.Tx) error {
		if _, err := tx.Reply(ctx, fmt.Sprintf("SM%032d", 1)); err != nil {
			return fmt.Errorf("recent reply pruned: %w", err)
		}
		if _, err := tx.Link(ctx, []byte{1}); err != nil {
			return fmt.Errorf("recent link pruned: %w", err)
		}
		if n, err := tx.CountWrongCodes(ctx, "u1", time.Time{}); n != 1 || err != nil {
			return fmt.Errorf("wrong codes left %d, want 1: %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := db.OutboxStats(ctx); st.Pending != 1 {
		t.Fatalf("a pending job was pruned: %+v", st)
	}
}
