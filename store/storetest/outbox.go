package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
)

func testClaim(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "one", CreatedAt: T0},
		&bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "two", CreatedAt: T0.Add(time.Millisecond)},
		&bot.Job{Kind: bot.JobSMS, To: phoneB, Body: "three", CreatedAt: T0.Add(2 * time.Millisecond)})
	at := T0.Add(time.Second)
	j1, err := db.Claim(ctx, at, time.Minute)
	if err != nil || j1.Body != "one" || j1.Attempts != 0 || j1.Ambiguous || !j1.FirstTry.Equal(at) || !j1.CreatedAt.Equal(T0) {
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
	must(t, db.Retry(ctx, j1.ID, T0.Add(10*time.Second), "429", false))
	if j, err := db.Claim(ctx, T0.Add(5*time.Second), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claim before the retry is due: %+v %v (a later text overtook an earlier one)", j, err)
	}
	j, _ := db.Claim(ctx, T0.Add(10*time.Second), time.Minute)
	if j == nil || j.ID != j1.ID || j.Attempts != 1 || j.Ambiguous || !j.FirstTry.Equal(at) {
		t.Fatalf("retry claim: %+v", j)
	}
	must(t, db.Done(ctx, j.ID, T0.Add(10*time.Second), "SM1"))
	j, _ = db.Claim(ctx, T0.Add(2*time.Minute), time.Minute)
	if j == nil || j.Body != "two" {
		t.Fatalf("after one is done: %+v, want two", j)
	}
	must(t, db.Done(ctx, j.ID, T0.Add(2*time.Minute), "SM2"))
	j, _ = db.Claim(ctx, T0.Add(2*time.Minute), time.Minute)
	if j == nil || j.ID != j3.ID || !j.Ambiguous {
		t.Fatalf("expired lease claim: %+v (want ambiguous three)", j)
	}
	must(t, db.Fail(ctx, j.ID, T0, "gone"))
	if next, err := db.NextDue(ctx); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("next due %v %v, want none pending", next, err)
	}
	if j, err := db.Claim(ctx, T0.Add(time.Hour), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("a finished job came back: %+v %v", j, err)
	}
}

// testClaimOneJobPerRecipient claims concurrently from an outbox of many
// jobs for few recipients: each recipient's oldest job, and only it, is
// handed out; when the leases die, the same jobs come back, ambiguous.
func testClaimOneJobPerRecipient(t *testing.T, b Backend) {
	db := b.Open(t)
	var jobs []*bot.Job
	for i := range 60 {
		j := &bot.Job{Kind: bot.JobSMS, To: fmt.Sprintf("+1555555%04d", i%10), Body: "same text", CreatedAt: T0}
		if i%4 == 3 {
			j = &bot.Job{Kind: bot.JobAccountSync, UserID: fmt.Sprintf("auth0|%d", i%3), CreatedAt: T0}
		}
		jobs = append(jobs, j)
	}
	Enqueue(t, db, jobs...)
	oldest := OldestPerRecipient(jobs)
	claimers := []bot.Outbox{db}
	check := func(got map[string][]*bot.Job, ambiguous bool) {
		t.Helper()
		CheckOnePerRecipient(t, got, oldest, ambiguous)
	}
	check(ClaimAll(t, claimers, 8, T0), false)
	// Every worker died: once the leases run out the same jobs come back,
	// marked ambiguous, still one per recipient.
	check(ClaimAll(t, claimers, 8, T0.Add(2*time.Hour)), true)
}

// Recipient names a job's recipient: its kind, phone and user.
func Recipient(j *bot.Job) string { return j.Kind + "|" + j.To + "|" + j.UserID }

// OldestPerRecipient maps each recipient to its first job in jobs.
func OldestPerRecipient(jobs []*bot.Job) map[string]int64 {
	oldest := map[string]int64{}
	for _, j := range jobs {
		if _, ok := oldest[Recipient(j)]; !ok {
			oldest[Recipient(j)] = j.ID
		}
	}
	return oldest
}

// claimUntilEmpty has n workers, spread over the outboxes, claim at now
// with an hour's lease until nothing is left; each claimed job is handed
// to took, under a lock, and is then finished when finish is set.
func claimUntilEmpty(t *testing.T, outboxes []bot.Outbox, n int, now time.Time, finish bool, took func(*bot.Job)) {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		o := outboxes[i%len(outboxes)]
		wg.Go(func() {
			for {
				j, err := o.Claim(ctx, now, time.Hour)
				if bot.ErrorCode(err) == bot.ENOTFOUND {
					return
				} else if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				took(j)
				mu.Unlock()
				if !finish {
					continue
				}
				if err := o.Done(ctx, j.ID, now, ""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// ClaimAll has n workers, spread over the outboxes, claim with an hour's
// lease until nothing is left, and returns the jobs claimed by recipient.
func ClaimAll(t *testing.T, outboxes []bot.Outbox, n int, now time.Time) map[string][]*bot.Job {
	t.Helper()
	got := map[string][]*bot.Job{}
	claimUntilEmpty(t, outboxes, n, now, false, func(j *bot.Job) { got[Recipient(j)] = append(got[Recipient(j)], j) })
	return got
}

// CheckOnePerRecipient fails the test unless got holds, for each recipient
// of oldest, exactly its oldest job, ambiguous or not as said.
func CheckOnePerRecipient(t *testing.T, got map[string][]*bot.Job, oldest map[string]int64, ambiguous bool) {
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

// testClaimNoTwoWorkers has workers claim and finish jobs at once: each
// job is claimed once, and each phone's jobs in the order queued.
func testClaimNoTwoWorkers(t *testing.T, b Backend) {
	db := b.Open(t)
	var jobs []*bot.Job
	for i := range 200 {
		jobs = append(jobs, &bot.Job{Kind: bot.JobSMS, To: fmt.Sprintf("+1555555%04d", i%20), Body: fmt.Sprint(i), CreatedAt: T0})
	}
	Enqueue(t, db, jobs...)
	DrainInOrder(t, []bot.Outbox{db}, 8, len(jobs))
}

// DrainInOrder has n workers, spread over the outboxes, claim and finish
// jobs until none is left; it fails the test unless each of the want jobs
// was claimed once and each recipient's in the order queued.
func DrainInOrder(t *testing.T, outboxes []bot.Outbox, n, want int) {
	t.Helper()
	seen := map[int64]int{}
	order := map[string][]int64{}
	claimUntilEmpty(t, outboxes, n, T0, true, func(j *bot.Job) {
		seen[j.ID]++
		order[Recipient(j)] = append(order[Recipient(j)], j.ID)
	})
	if len(seen) != want {
		t.Fatalf("%d of %d jobs claimed", len(seen), want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("job %d claimed %d times", id, n)
		}
	}
	for r, ids := range order {
		if !slices.IsSorted(ids) {
			t.Fatalf("%s: jobs claimed in order %v", r, ids)
		}
	}
}

// testLeaseDeferTaken: Extend keeps a lease, Defer undoes a claim, Taken
// finds the same text delivered by another job, NextDue follows leases.
func testLeaseDeferTaken(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "hi", CreatedAt: T0},
		&bot.Job{Kind: bot.JobSMS, To: phoneB, Body: "hi", CreatedAt: T0})
	if next, err := db.NextDue(ctx); err != nil || !next.Equal(T0) {
		t.Fatalf("next due %v %v, want %v", next, err, T0)
	}
	a, err := db.Claim(ctx, T0, time.Minute)
	must(t, err)
	// A delivery under way renews its lease: at T0+1m it is still ours.
	must(t, db.Extend(ctx, a.ID, T0.Add(3*time.Minute)))
	b2, err := db.Claim(ctx, T0.Add(2*time.Minute), time.Minute)
	if err != nil || b2.ID == a.ID {
		t.Fatalf("claim after extend: %+v %v, want the other job", b2, err)
	}
	if j, err := db.Claim(ctx, T0.Add(2*time.Minute), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("an extended lease was taken over: %+v %v", j, err)
	}
	// Defer: b2 was not tried; it comes back unambiguous, its attempt and
	// first try undone.
	must(t, db.Defer(ctx, b2.ID, T0.Add(5*time.Minute)))
	if next, err := db.NextDue(ctx); err != nil || !next.Equal(T0.Add(3*time.Minute)) {
		t.Fatalf("next due %v %v, want a's lease end", next, err)
	}
	must(t, db.Done(ctx, a.ID, T0.Add(3*time.Minute), "SMa"))
	// Extending a finished job changes nothing.
	must(t, db.Extend(ctx, a.ID, T0.Add(time.Hour)))
	if j, err := db.Claim(ctx, T0.Add(4*time.Minute), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claimed before the deferred time: %+v %v", j, err)
	}
	j, err := db.Claim(ctx, T0.Add(5*time.Minute), time.Minute)
	if err != nil || j.ID != b2.ID || j.Attempts != 0 || j.Ambiguous || !j.FirstTry.Equal(T0.Add(5*time.Minute)) {
		t.Fatalf("deferred job: %+v %v", j, err)
	}
	must(t, db.Retry(ctx, j.ID, T0.Add(6*time.Minute), "timeout", true))
	j, err = db.Claim(ctx, T0.Add(6*time.Minute), time.Minute)
	if err != nil || !j.Ambiguous || j.Attempts != 1 {
		t.Fatalf("retried ambiguous job: %+v %v", j, err)
	}
	// Taken: a's "hi" went to phoneA; phoneB's "hi" has no other delivery.
	if got, err := db.Taken(ctx, j.ID, phoneA, "hi", T0); err != nil || !slices.Equal(got, []string{"SMa"}) {
		t.Fatalf("taken to A: %v %v", got, err)
	}
	for _, c := range []struct {
		id          int64
		to, body    string
		since       time.Time
		description string
	}{
		{j.ID, phoneB, "hi", T0, "another phone"},
		{j.ID, phoneA, "other", T0, "another body"},
		{a.ID, phoneA, "hi", T0, "the job itself"},
		{j.ID, phoneA, "hi", T0.Add(4 * time.Minute), "finished before since"},
	} {
		if got, err := db.Taken(ctx, c.id, c.to, c.body, c.since); err != nil || len(got) != 0 {
			t.Errorf("taken, %s: %v %v", c.description, got, err)
		}
	}
}

// testOutboxWhatsAppFields: a text's channel, template, variables and
// resends come back with the claim; a job due later waits; Taken with no
// body finds every other delivered text to the phone.
func testOutboxWhatsAppFields(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	wa := &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "late", CreatedAt: T0, Due: T0.Add(time.Minute),
		Channel: bot.ChannelWhatsApp, Template: bot.ReplyReplaced, Vars: `{"1":"smsbot","2":"y***@example.com"}`, Resends: 2}
	plain := &bot.Job{Kind: bot.JobSMS, To: phoneB, Body: "now", CreatedAt: T0}
	Enqueue(t, db, wa, plain)
	j, err := db.Claim(ctx, T0, time.Minute)
	if err != nil || j.ID != plain.ID || j.Channel != bot.ChannelSMS || j.Template != "" || j.Vars != "" || j.Resends != 0 {
		t.Fatalf("claim at T0: %+v %v, want the SMS text (the WhatsApp one is due later)", j, err)
	}
	must(t, db.Done(ctx, j.ID, T0, "SMplain"))
	if j, err := db.Claim(ctx, T0.Add(59*time.Second), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claimed before it was due: %+v %v", j, err)
	}
	j, err = db.Claim(ctx, T0.Add(time.Minute), time.Minute)
	if err != nil || j.ID != wa.ID || j.Channel != wa.Channel || j.Template != wa.Template || j.Vars != wa.Vars || j.Resends != 2 {
		t.Fatalf("claim of the WhatsApp text: %+v %v", j, err)
	}
	must(t, db.Done(ctx, j.ID, T0.Add(time.Minute), "SMwa"))
	other := &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "other", CreatedAt: T0, Channel: bot.ChannelWhatsApp}
	Enqueue(t, db, other)
	o, err := db.Claim(ctx, T0.Add(2*time.Minute), time.Minute)
	must(t, err)
	if got, err := db.Taken(ctx, o.ID, phoneA, "", T0); err != nil || !slices.Equal(got, []string{"SMwa"}) {
		t.Fatalf("taken, any body: %v %v", got, err)
	}
	if got, err := db.Taken(ctx, o.ID, phoneA, "other", T0); err != nil || len(got) != 0 {
		t.Fatalf("taken, this body: %v %v", got, err)
	}
}

// testUndeliveredOnce: a status callback takes a delivered text once; a
// repeat, an unknown message and a text still pending get ENOTFOUND.
func testUndeliveredOnce(t *testing.T, b Backend) {
	db := b.Open(t)
	ctx := context.Background()
	wa := &bot.Job{Kind: bot.JobSMS, To: phoneA, Body: "hello", CreatedAt: T0,
		Channel: bot.ChannelWhatsApp, Template: bot.ReplyCodePrompt, Vars: `{"1":"smsbot"}`, Resends: 1}
	Enqueue(t, db, wa)
	j, err := db.Claim(ctx, T0.Add(time.Second), time.Minute)
	must(t, err)
	take := func() (*bot.Job, error) {
		var got *bot.Job
		err := db.Update(ctx, func(tx bot.Tx) error {
			var err error
			got, err = tx.Undelivered(ctx, "SMwa")
			return err
		})
		return got, err
	}
	if got, err := take(); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("a text still under way: %+v %v", got, err)
	}
	must(t, db.Done(ctx, j.ID, T0.Add(2*time.Second), "SMwa"))
	got, err := take()
	if err != nil || got.ID != wa.ID || got.To != phoneA || got.Body != "hello" || got.Channel != bot.ChannelWhatsApp ||
		got.Template != wa.Template || got.Vars != wa.Vars || got.Resends != 1 || !got.FirstTry.Equal(T0.Add(time.Second)) {
		t.Fatalf("undelivered: %+v %v", got, err)
	}
	if got, err := take(); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("taken twice: %+v %v", got, err)
	}
	err = db.Update(ctx, func(tx bot.Tx) error { _, err := tx.Undelivered(ctx, "SMnone"); return err })
	if bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("unknown message: %v", err)
	}
	// Taken in a transaction that rolls back is not taken.
	Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: phoneB, Body: "x", CreatedAt: T0, Channel: bot.ChannelWhatsApp})
	k, err := db.Claim(ctx, T0.Add(time.Second), time.Minute)
	must(t, err)
	must(t, db.Done(ctx, k.ID, T0.Add(time.Second), "SMk"))
	boom := fmt.Errorf("boom")
	if err := db.Update(ctx, func(tx bot.Tx) error {
		if _, err := tx.Undelivered(ctx, "SMk"); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Fatalf("update: %v", err)
	}
	err = db.Update(ctx, func(tx bot.Tx) error { _, err := tx.Undelivered(ctx, "SMk"); return err })
	if err != nil {
		t.Fatalf("after a rollback: %v", err)
	}
}
