package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// The operator's side of a store: what serve's prune loop, metrics and
// status callbacks, and the outbox and subscribers commands read and write.

// failedJobs makes three jobs: 1 failed after an ambiguous try, 2 failed,
// 3 pending.
func failedJobs(t *testing.T, db DB) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		err := db.Update(ctx, func(tx bot.Tx) error {
			return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: "+15555550101", Body: fmt.Sprint(i), CreatedAt: T0})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	j, err := db.Claim(ctx, T0, time.Minute)
	if err != nil || j.ID != 1 {
		t.Fatalf("claim: %v %v", j, err)
	}
	must(t, db.Retry(ctx, 1, T0, "timeout", true))
	for _, id := range []int64{1, 2} {
		if _, err := db.Claim(ctx, T0.Add(time.Second), time.Minute); err != nil {
			t.Fatal(err)
		}
		must(t, db.Fail(ctx, id, T0.Add(time.Second), "twilio 500"))
	}
}

func testOutboxJobs(t *testing.T, b Backend) {
	db := b.Open(t)
	failedJobs(t, db)
	ctx := context.Background()
	all, err := db.OutboxJobs(ctx, false)
	must(t, err)
	failed, err := db.OutboxJobs(ctx, true)
	must(t, err)
	if len(all) != 3 || len(failed) != 2 || failed[0].ID != 1 || failed[1].ID != 2 {
		t.Fatalf("all %+v\nfailed %+v", all, failed)
	}
	if f := failed[0]; f.State != "failed" || f.Attempts != 2 || !f.Ambiguous || f.LastError != "twilio 500" || f.Phone != "+15555550101" {
		t.Errorf("job 1: %+v", f)
	}
}

func testRetryFailed(t *testing.T, b Backend) {
	db := b.Open(t)
	failedJobs(t, db)
	ctx := context.Background()
	now := T0.Add(time.Hour)
	for _, bad := range []struct {
		ids  []int64
		code string
	}{
		{[]int64{3}, bot.EINVALID},      // pending, not failed
		{[]int64{1, 99}, bot.ENOTFOUND}, // one unknown: job 1 stays failed
	} {
		if _, err := db.RetryFailed(ctx, bad.ids, now, "test"); bot.ErrorCode(err) != bad.code {
			t.Errorf("retry %v: %v, want %s", bad.ids, err, bad.code)
		}
	}
	if failed, _ := db.OutboxJobs(ctx, true); len(failed) != 2 {
		t.Fatalf("a refused retry changed jobs: %+v", failed)
	}
	if log, _ := db.AuditLog(ctx, "+15555550101"); len(log) != 0 {
		t.Fatalf("a refused retry was audited: %+v", log)
	}

	ids, err := db.RetryFailed(ctx, nil, now, "Twilio is back")
	must(t, err)
	if fmt.Sprint(ids) != "[1 2]" {
		t.Fatalf("retried %v, want [1 2]", ids)
	}
	if failed, _ := db.OutboxJobs(ctx, true); len(failed) != 0 {
		t.Fatalf("still failed: %+v", failed)
	}
	// The worker finds them due now, attempts reset, job 1 still ambiguous.
	next, err := db.NextDue(ctx)
	if err != nil || next.After(now) {
		t.Fatalf("next due %v %v, want by %v", next, err, now)
	}
	// One phone's texts go out in order: job 1 first, 2 and 3 wait for it.
	j, err := db.Claim(ctx, now, time.Minute)
	must(t, err)
	if j.ID != 1 || j.Attempts != 0 || !j.Ambiguous || !j.FirstTry.Equal(T0) {
		t.Errorf("claimed after retry: %+v", j)
	}
	if j, err := db.Claim(ctx, now, time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("second claim: %+v %v, want nothing while job 1 is under way", j, err)
	}
	log, err := db.AuditLog(ctx, "+15555550101")
	must(t, err)
	if len(log) != 2 || log[0].Action != store.AuditOutboxRetry || log[0].Reason != "job 1 (sms): Twilio is back" {
		t.Errorf("audit: %+v", log)
	}
}

func testPrune(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	now := T0.Add(60 * 24 * time.Hour)
	err := db.Update(ctx, func(tx bot.Tx) error {
		for i, at := range []time.Time{T0, now.Add(-time.Hour)} { // one old, one recent
			if err := tx.SaveReply(ctx, fmt.Sprintf("SM%032d", i), "+15555550101", []byte("x"), at); err != nil {
				return err
			}
			if err := tx.AddLink(ctx, &bot.Link{Hash: []byte{byte(i)}, Phone: "+15555550101", CreatedAt: at, ExpiresAt: at}); err != nil {
				return err
			}
		}
		for i := 0; i < 2500; i++ { // more than one batch
			if err := tx.SaveReply(ctx, fmt.Sprintf("SMold%029d", i), "+15555550102", []byte("x"), T0); err != nil {
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
		return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: "+15555550101", Body: "pending", CreatedAt: T0})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The pending job is claimed and put back later; a second job, to
	// another phone, is done.
	j, _ := db.Claim(ctx, T0, time.Minute)
	db.Defer(ctx, j.ID, now)
	Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: "+15555550102", Body: "done", CreatedAt: T0})
	j2, err := db.Claim(ctx, T0, time.Minute)
	if err != nil || j2.Body != "done" {
		t.Fatalf("claim: %+v %v", j2, err)
	}
	db.Done(ctx, j2.ID, T0, "SM1")
	db.RecordStatus(ctx, "SM00000000000000000000000000000001", "+15555550101", "delivered", 0, T0)

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

func testInstance(t *testing.T, b Backend) {
	ctx := context.Background()
	db := b.Open(t)
	want := func(since time.Time, nonces ...string) {
		t.Helper()
		got, err := db.Instances(ctx, since)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(nonces) {
			t.Fatalf("Instances(%v) = %q %v, want %q", since, got, err, nonces)
		}
	}
	want(time.Time{})
	beat := func(nonce string, at time.Time) {
		t.Helper()
		if err := db.Heartbeat(ctx, nonce, at, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Two instances behind one load balancer: both live, the last seen first.
	beat("first", T0)
	beat("second", T0.Add(5*time.Second))
	want(time.Time{}, "second", "first")
	want(T0.Add(time.Second), "second")
	beat("first", T0.Add(10*time.Second))
	want(time.Time{}, "first", "second")
	// "first" goes quiet: a heartbeat of "second" a minute later deletes it.
	beat("second", T0.Add(71*time.Second))
	want(time.Time{}, "second")
	if err := db.StopInstance(ctx, "second"); err != nil {
		t.Fatal(err)
	}
	want(time.Time{})
}

func testUseMode(t *testing.T, b Backend) {
	ctx := context.Background()
	t.Run("production database refused in dev", func(t *testing.T) {
		db := b.Open(t)
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
	t.Run("dev database refused in production", func(t *testing.T) {
		db := b.Open(t)
		for _, m := range []store.Mode{store.ModeDev, store.ModeDev} {
			if err := db.UseMode(ctx, m); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
		}
		if err := db.UseMode(ctx, store.ModeProduction); !errors.Is(err, store.ErrDevDatabase) {
			t.Fatalf("production after dev: %v", err)
		}
		if err := db.UseMode(ctx, store.ModeDev); err != nil {
			t.Fatalf("dev again after the refusal: %v", err)
		}
	})
	t.Run("unmarked database with phones refused in dev", func(t *testing.T) {
		db := b.Open(t)
		err := db.Update(ctx, func(tx bot.Tx) error {
			return tx.SavePhone(ctx, &bot.Phone{Number: "+15555550101", State: bot.StateIdle, CreatedAt: T0, UpdatedAt: T0})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.UseMode(ctx, store.ModeDev); !errors.Is(err, store.ErrWrongMode) {
			t.Fatalf("dev on an unmarked database with phones: %v", err)
		}
	})
}

func testRecordStatus(t *testing.T, b Backend) {
	db := b.Open(t)
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
		changed, err := db.RecordStatus(ctx, sid, "+15555550101", s.status, s.code, T0)
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
	// The outbox reads the same through bot.Outbox.
	if status, code, err := db.DeliveryStatus(ctx, sid); err != nil || status != "undelivered" || code != 30003 {
		t.Fatalf("delivery status: %s %d %v", status, code, err)
	}
	if _, _, err := db.DeliveryStatus(ctx, "SM00000000000000000000000000000009"); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("delivery status of an unknown message: %v", err)
	}
	if _, err := db.RecordStatus(ctx, sid, "", "exploded", 0, T0); bot.ErrorCode(err) != bot.EINVALID {
		t.Fatalf("unknown status: %v", err)
	}
}

func testPing(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	for range 2 { // the second overwrites the first
		must(t, db.Ping(ctx))
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Ping(canceled); err == nil {
		t.Fatal("ping on a canceled context succeeded")
	}
}

// testSubscribers: the queries of smsbot subscribers list, show and
// export.
func testSubscribers(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	must(t, SavePhone(ctx, db, &bot.Phone{Number: phoneB, State: bot.StateIdle, CreatedAt: T0, UpdatedAt: T0}))
	must(t, SavePhone(ctx, db, &bot.Phone{Number: phoneA, State: bot.StateSubscribed, UserID: "auth0|a", Email: "a@example.com",
		BoundAt: T0, CreatedAt: T0, UpdatedAt: T0}))
	all, err := db.Phones(ctx, "")
	must(t, err)
	if len(all) != 2 || all[0].Number != phoneA || all[0].UserID != "auth0|a" || all[1].Number != phoneB {
		t.Fatalf("phones: %+v", all)
	}
	subscribed, err := db.Phones(ctx, bot.StateSubscribed)
	must(t, err)
	if len(subscribed) != 1 || subscribed[0].Number != phoneA {
		t.Fatalf("subscribed phones: %+v", subscribed)
	}

	if last, err := db.LastText(ctx, phoneA); err != nil || !last.IsZero() {
		t.Fatalf("last text before any: %v %v", last, err)
	}
	must(t, db.Update(ctx, func(tx bot.Tx) error {
		for i, at := range []time.Time{T0, T0.Add(time.Minute)} {
			if err := tx.SaveReply(ctx, fmt.Sprintf("SM%032d", i), phoneA, []byte("x"), at); err != nil {
				return err
			}
		}
		return nil
	}))
	if last, err := db.LastText(ctx, phoneA); err != nil || !last.Equal(T0.Add(time.Minute)) {
		t.Fatalf("last text %v %v, want %v", last, err, T0.Add(time.Minute))
	}

	Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "first", CreatedAt: T0},
		&bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "second", CreatedAt: T0.Add(time.Second)})
	j, err := db.Claim(ctx, T0, time.Minute)
	must(t, err)
	must(t, db.Done(ctx, j.ID, T0, "SM1"))
	_, err = db.RecordStatus(ctx, "SM1", phoneA, "undelivered", 30003, T0)
	must(t, err)
	sent, err := db.SentTexts(ctx, phoneA, 10)
	must(t, err)
	if len(sent) != 2 || sent[0].Body != "second" || sent[0].Job != "pending" || sent[0].Status != "" ||
		sent[1].Body != "first" || sent[1].SID != "SM1" || sent[1].Status != "undelivered" || sent[1].ErrorCode != 30003 || !sent[1].At.Equal(T0) {
		t.Fatalf("sent texts: %+v", sent)
	}
	if sent, _ := db.SentTexts(ctx, phoneA, 1); len(sent) != 1 {
		t.Fatalf("limit 1: %+v", sent)
	}
}
