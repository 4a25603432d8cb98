package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

const (
	phoneA = "+15555550101"
	phoneB = "+15555550102"
)

func TestDB_Claim(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "one", CreatedAt: t0},
		&bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "two", CreatedAt: t0.Add(time.Millisecond)},
		&bot.Job{Kind: bot.JobSMS, To: phoneB, Body: "three", CreatedAt: t0.Add(2 * time.Millisecond)})
	at := t0.Add(time.Second)
	j1, err := db.Claim(ctx, at, time.Minute)
	if err != nil || j1.Body != "one" || j1.Attempts != 0 || j1.Ambiguous || !j1.FirstTry.Equal(at) {
		t.Fatalf("claim 1: %+v %v", j1, err)
	}
	// "two" waits for "one": one job in flight per phone.
	j3, _ := db.Claim(ctx, at, time.Minute)
	if j3 == nil || j3.Body != "three" {
		t.Fatalf("claim 2: %+v, want the other phone's text", j3)
	}
	if j, err := db.Claim(ctx, at, time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claim 3: %+v %v, want nothing while each phone has a job under way", j, err)
	}
	// j1's worker retries it later; j3's worker dies.
	if err := db.Retry(ctx, j1.ID, t0.Add(10*time.Second), "429", false); err != nil {
		t.Fatal(err)
	}
	if j, err := db.Claim(ctx, t0.Add(5*time.Second), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claim before the retry is due: %+v %v (a later text overtook an earlier one)", j, err)
	}
	j, _ := db.Claim(ctx, t0.Add(10*time.Second), time.Minute)
	if j == nil || j.ID != j1.ID || j.Attempts != 1 || j.Ambiguous {
		t.Fatalf("retry claim: %+v", j)
	}
	if err := db.Done(ctx, j.ID, t0.Add(10*time.Second), "SM1"); err != nil {
		t.Fatal(err)
	}
	j, _ = db.Claim(ctx, t0.Add(2*time.Minute), time.Minute)
	if j == nil || j.Body != "two" {
		t.Fatalf("after one is done: %+v, want two", j)
	}
	db.Done(ctx, j.ID, t0.Add(2*time.Minute), "SM2")
	j, _ = db.Claim(ctx, t0.Add(2*time.Minute), time.Minute)
	if j == nil || j.ID != j3.ID || !j.Ambiguous {
		t.Fatalf("expired lease claim: %+v (want ambiguous three)", j)
	}
	db.Fail(ctx, j.ID, t0, "gone")
	st, err := db.OutboxStats(ctx)
	if err != nil || st.Pending != 0 || st.Done != 2 || st.Failed != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
}

// TestDB_Claim_OneJobPerRecipient claims concurrently from an outbox of
// many jobs for few recipients: each recipient's oldest job, and only it,
// is handed out; when the leases die, the same jobs come back, ambiguous.
func TestDB_Claim_OneJobPerRecipient(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	oldest := map[string]int64{} // recipient -> its first job
	var jobs []*bot.Job
	for i := range 60 {
		j := &bot.Job{Kind: bot.JobSMS, To: fmt.Sprintf("+1555555%04d", i%10), Body: "same text", CreatedAt: t0}
		if i%4 == 3 {
			j = &bot.Job{Kind: bot.JobAccountSync, UserID: fmt.Sprintf("auth0|%d", i%3), CreatedAt: t0}
		}
		jobs = append(jobs, j)
	}
	enqueue(t, db, jobs...)
	for _, j := range jobs {
		if _, ok := oldest[j.To+j.UserID]; !ok {
			oldest[j.To+j.UserID] = j.ID
		}
	}

	claimAll := func(now time.Time) map[string][]*bot.Job {
		var mu sync.Mutex
		got := map[string][]*bot.Job{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					j, err := db.Claim(ctx, now, time.Hour)
					if bot.ErrorCode(err) == bot.ENOTFOUND {
						return
					} else if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got[j.To+j.UserID] = append(got[j.To+j.UserID], j)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return got
	}
	check := func(got map[string][]*bot.Job, ambiguous bool) {
		t.Helper()
		if len(got) != len(oldest) {
			t.Errorf("jobs handed out for %d recipients, want %d", len(got), len(oldest))
		}
		for r, js := range got {
			if len(js) != 1 {
				t.Errorf("%s: %d jobs under way at once", r, len(js))
				continue
			}
			if js[0].ID != oldest[r] || js[0].Ambiguous != ambiguous {
				t.Errorf("%s: job %d (ambiguous %v), want its oldest job %d (ambiguous %v)", r, js[0].ID, js[0].Ambiguous, oldest[r], ambiguous)
			}
		}
	}
	check(claimAll(t0), false)
	// Every worker died: once the leases run out the same jobs come back,
	// marked ambiguous, still one per recipient.
	check(claimAll(t0.Add(2*time.Hour)), true)
}

// TestDB_Claim_NoTwoWorkers has workers claim and finish jobs at once:
// each job is claimed once, and each phone's jobs in the order queued.
func TestDB_Claim_NoTwoWorkers(t *testing.T) {
	db := open(t, "")
	ctx := context.Background()
	var jobs []*bot.Job
	for i := range 200 {
		jobs = append(jobs, &bot.Job{Kind: bot.JobSMS, To: fmt.Sprintf("+1555555%04d", i%20), Body: fmt.Sprint(i), CreatedAt: t0})
	}
	enqueue(t, db, jobs...)
	var mu sync.Mutex
	seen := map[int64]int{}
	order := map[string][]int64{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				j, err := db.Claim(ctx, t0, time.Hour)
				if err != nil {
					return
				}
				mu.Lock()
				seen[j.ID]++
				order[j.To] = append(order[j.To], j.ID)
				mu.Unlock()
				db.Done(ctx, j.ID, t0, "")
			}
		})
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Fatalf("%d of 200 jobs claimed", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("job %d claimed %d times", id, n)
		}
	}
	for phone, ids := range order {
		for i := 1; i < len(ids); i++ {
			if ids[i] < ids[i-1] {
				t.Fatalf("%s: jobs claimed in order %v", phone, ids)
			}
		}
	}
}
