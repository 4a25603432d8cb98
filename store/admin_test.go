package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// failedJobs makes three jobs: 1 failed after an ambiguous try, 2 failed,
// 3 pending.
func failedJobs(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	for i := range 3 {
		err := db.Update(ctx, func(tx bot.Tx) error {
			return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: "+15555550101", Body: fmt.Sprint(i), CreatedAt: t0})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	j, err := db.Claim(ctx, t0, time.Minute)
	if err != nil || j.ID != 1 {
		t.Fatalf("claim: %v %v", j, err)
	}
	must(t, db.Retry(ctx, 1, t0, "timeout", true))
	for _, id := range []int64{1, 2} {
		if _, err := db.Claim(ctx, t0.Add(time.Second), time.Minute); err != nil {
			t.Fatal(err)
		}
		must(t, db.Fail(ctx, id, t0.Add(time.Second), "twilio 500"))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDB_OutboxJobs(t *testing.T) {
	db := open(t, "")
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

func TestDB_RetryFailed(t *testing.T) {
	db := open(t, "")
	failedJobs(t, db)
	ctx := context.Background()
	now := t0.Add(time.Hour)
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
	if j.ID != 1 || j.Attempts != 0 || !j.Ambiguous || !j.FirstTry.Equal(t0) {
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
