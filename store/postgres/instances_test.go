package postgres_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

// The tests here play several smsbot instances on one database: each
// instance is a pool of its own (and an engine of its own on it), as
// separate processes would be.

// instances opens n pools on one fresh schema.
func instances(t *testing.T, n int) []*postgres.DB {
	t.Helper()
	u := postgrestest.SchemaURL(t)
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		dbs[i] = open(t, u, postgres.Options{MaxConns: 8})
	}
	return dbs
}

// engines puts a conversation engine on each pool, with one key ring and
// one clock that stands still at now: a turn reads the clock before its
// store call waits for a lock, so on a moving clock a turn that waited
// could run with an earlier time than the turn before it, which the
// engine takes for a clock set back (and restarts the reply budget's
// window). Standing still, the budget counts every reply.
func engines(t *testing.T, dbs []*postgres.DB, now time.Time) []*bot.Engine {
	t.Helper()
	keys, err := bot.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	replies, _, err := bot.NewReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	es := make([]*bot.Engine, len(dbs))
	for i, db := range dbs {
		es[i] = &bot.Engine{Store: db, Keys: keys, Replies: replies, Name: "smsbot",
			PublicURL: "https://bot.example.com", Limits: bot.DefaultLimits(),
			Now: func() time.Time { return now }}
	}
	return es
}

var linkRE = regexp.MustCompile(`/l/([A-Za-z0-9_-]+)`)

const alice = "+15555550101"

// TestInstances_OnePhoneSerialized sends 100 texts of one phone, half S
// and half not, to two instances at once: no update is lost (the reply
// count ends at 100) and the link limit holds across instances.
func TestInstances_OnePhoneSerialized(t *testing.T) {
	t.Parallel()
	dbs := instances(t, 2)
	es := engines(t, dbs, time.Now())
	for _, e := range es {
		e.Limits.ReplyBudget = 1000
	}
	ctx := context.Background()
	results := make([]bot.Result, 100)
	var wg sync.WaitGroup
	for i := range results {
		body := "ping"
		if i%2 == 0 {
			body = "S"
		}
		wg.Go(func() {
			var err error
			results[i], err = es[i%2].HandleSMS(ctx, bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", i), From: alice, Body: body})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	links := 0
	for _, r := range results {
		if linkRE.MatchString(r.Reply) {
			links++
		}
	}
	if want := es[0].Limits.LinksPerHour; links != want {
		t.Fatalf("%d links handed out by two instances, want %d", links, want)
	}
	p, err := storetest.LoadPhone(ctx, dbs[0], alice)
	if err != nil {
		t.Fatal(err)
	}
	if p.ReplyCount != 100 || p.State != bot.StateAwaitingLogin {
		t.Fatalf("after 100 texts: %d replies counted, state %s: an update was lost", p.ReplyCount, p.State)
	}
}

// TestInstances_ReadModifyWrite has 100 read-modify-writes of one phone
// (its reply count) run at once through two instances: none is lost.
func TestInstances_ReadModifyWrite(t *testing.T) {
	t.Parallel()
	dbs := instances(t, 2)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			if err := storetest.IncrementReplies(ctx, dbs[i%2], alice); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	p, err := storetest.LoadPhone(ctx, dbs[1], alice)
	if err != nil || p.ReplyCount != 100 {
		t.Fatalf("reply count %d after 100 increments: %v", p.ReplyCount, err)
	}
}

// TestInstances_SameMessageSid delivers each of 30 texts (S, whose reply
// carries a fresh random link) to two instances at the same moment: each
// has one effect, one link made, and both instances answer with it.
func TestInstances_SameMessageSid(t *testing.T) {
	t.Parallel()
	dbs := instances(t, 2)
	es := engines(t, dbs, time.Now())
	ctx := context.Background()
	for i := range 30 {
		in := bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", i), From: fmt.Sprintf("+1555560%04d", i), Body: "S"}
		var res [2]bot.Result
		start := make(chan struct{})
		var wg sync.WaitGroup
		for k := range res {
			wg.Go(func() {
				<-start
				var err error
				if res[k], err = es[k].HandleSMS(ctx, in); err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if !linkRE.MatchString(res[0].Reply) || res[0].Reply != res[1].Reply {
			t.Fatalf("%s: replies %q and %q, want one link twice", in.MessageSID, res[0].Reply, res[1].Reply)
		}
		if res[0].Duplicate == res[1].Duplicate {
			t.Fatalf("%s: duplicate %v and %v, want one of each", in.MessageSID, res[0].Duplicate, res[1].Duplicate)
		}
		var n int
		err := dbs[0].View(ctx, func(tx bot.Tx) (err error) { n, err = tx.CountLinks(ctx, in.From, time.Time{}); return err })
		if err != nil || n != 1 {
			t.Fatalf("%s: %d links made, want 1: %v", in.MessageSID, n, err)
		}
	}
}

// TestInstances_WrongCodesPerAccount has 20 phones, each waiting for a
// code for one account, text a wrong code at once through three
// instances: exactly the per-account cap of wrong codes is recorded.
func TestInstances_WrongCodesPerAccount(t *testing.T) {
	t.Parallel()
	dbs := instances(t, 3)
	es := engines(t, dbs, time.Now())
	ctx := context.Background()
	const user = "auth0|shared"
	now := time.Now()
	var phones []string
	for i := range 20 {
		p := &bot.Phone{Number: fmt.Sprintf("+1555570%04d", i), State: bot.StateAwaitingCode, ExpiresAt: now.Add(time.Hour),
			CodeMAC: []byte("not any code's"), CodeUserID: user, CodeLogin: fmt.Sprint("login", i), CreatedAt: now, UpdatedAt: now}
		if err := storetest.SavePhone(ctx, dbs[0], p); err != nil {
			t.Fatal(err)
		}
		phones = append(phones, p.Number)
	}
	var wg sync.WaitGroup
	for i, phone := range phones {
		wg.Go(func() {
			in := bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", i), From: phone, Body: "000000"}
			if _, err := es[i%len(es)].HandleSMS(ctx, in); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n int
	err := dbs[0].View(ctx, func(tx bot.Tx) (err error) { n, err = tx.CountWrongCodes(ctx, user, time.Time{}); return err })
	if want := es[0].Limits.CodeAttemptsPerAccount; err != nil || n != want {
		t.Fatalf("%d wrong codes recorded for the account, want the cap %d: %v", n, want, err)
	}
}

// TestInstances_ClaimOnePerRecipient has 8 claimers on 3 instances claim
// from an outbox of many jobs for few recipients: each recipient's oldest
// job, and only it, is handed out, once; after the leases run out the
// same jobs come back ambiguous. Then 8 workers on 3 instances drain the
// outbox: each job once, each recipient's in order.
func TestInstances_ClaimOnePerRecipient(t *testing.T) {
	t.Parallel()
	dbs := instances(t, 3)
	outboxes := []bot.Outbox{dbs[0], dbs[1], dbs[2]}
	var jobs []*bot.Job
	for i := range 120 {
		j := &bot.Job{Kind: bot.JobSMS, To: fmt.Sprintf("+1555555%04d", i%15), Body: fmt.Sprint(i), CreatedAt: storetest.T0}
		if i%4 == 3 {
			j = &bot.Job{Kind: bot.JobAccountSync, UserID: fmt.Sprintf("auth0|%d", i%5), CreatedAt: storetest.T0}
		}
		jobs = append(jobs, j)
	}
	storetest.Enqueue(t, dbs[0], jobs...)
	oldest := storetest.OldestPerRecipient(jobs)
	storetest.CheckOnePerRecipient(t, storetest.ClaimAll(t, outboxes, 8, storetest.T0), oldest, false)
	late := storetest.T0.Add(2 * time.Hour)
	storetest.CheckOnePerRecipient(t, storetest.ClaimAll(t, outboxes, 8, late), oldest, true)
	// The leases end; the fleet delivers everything (at T0 the leases
	// claimed at late still hold: let them go first).
	ctx := context.Background()
	for _, id := range oldest {
		if err := dbs[1].Retry(ctx, id, storetest.T0, "released", false); err != nil {
			t.Fatal(err)
		}
	}
	storetest.DrainInOrder(t, outboxes, 8, len(jobs))
}

// TestInstances_ClaimSkipsLocked: a claim in flight on one instance (its
// row locked, not yet committed) does not hold up another instance,
// which takes the next recipient's job at once.
func TestInstances_ClaimSkipsLocked(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	db := open(t, u, postgres.Options{})
	storetest.Enqueue(t, db, &bot.Job{Kind: bot.JobSMS, To: "+15555550101", Body: "a", CreatedAt: storetest.T0},
		&bot.Job{Kind: bot.JobSMS, To: "+15555550102", Body: "b", CreatedAt: storetest.T0})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT id FROM outbox WHERE body = 'a' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	j, err := db.Claim(wait, storetest.T0, time.Minute)
	if err != nil || j.Body != "b" {
		t.Fatalf("claim beside a locked job: %+v %v, want b at once", j, err)
	}
}

// TestInstances_KilledClaimer: an instance claims a job and dies (its pool
// closed, no result recorded); once the lease has run out another
// instance claims the job, marked ambiguous, and not before.
func TestInstances_KilledClaimer(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	ctx := context.Background()
	dead, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alive := open(t, u, postgres.Options{})
	storetest.Enqueue(t, alive, &bot.Job{Kind: bot.JobSMS, To: alice, Body: "hi", CreatedAt: storetest.T0})
	j, err := dead.Claim(ctx, storetest.T0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	if got, err := alive.Claim(ctx, storetest.T0.Add(59*time.Second), time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claimed within the dead instance's lease: %+v %v", got, err)
	}
	got, err := alive.Claim(ctx, storetest.T0.Add(time.Minute), time.Minute)
	if err != nil || got.ID != j.ID || !got.Ambiguous || got.Attempts != 1 || !got.FirstTry.Equal(storetest.T0) {
		t.Fatalf("after the lease: %+v %v, want job %d ambiguous", got, err, j.ID)
	}
}

// TestInstances_EnqueueInCommitOrder: two instances queue a text for one
// phone at once, the one that queued first committing last. The second
// waits for the first (the recipient's lock), so no claimer ever sees the
// younger job while the older one is still to come: it would send the
// two at once, or out of order.
func TestInstances_EnqueueInCommitOrder(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	dbs := []*postgres.DB{open(t, u, postgres.Options{}), open(t, u, postgres.Options{}), open(t, u, postgres.Options{})}
	ctx := context.Background()
	watch, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	const phone = "+15555580001" // no other test's
	enqueued, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // a failing test must not leave the first transaction open
	first := make(chan error, 1)
	go func() {
		first <- dbs[0].Update(ctx, func(tx bot.Tx) error {
			if err := tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: phone, Body: "first", CreatedAt: storetest.T0}); err != nil {
				return err
			}
			close(enqueued)
			<-release
			return nil
		})
	}()
	<-enqueued
	second := make(chan error, 1)
	go func() {
		second <- dbs[1].Update(ctx, func(tx bot.Tx) error {
			return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: phone, Body: "second", CreatedAt: storetest.T0})
		})
	}()
	// The second either waits for a lock or (wrongly) commits.
	var secondDone bool
	poll(t, func() bool {
		select {
		case err := <-second:
			if err != nil {
				t.Fatal(err)
			}
			secondDone = true
			return true
		default:
		}
		var waiting bool
		err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND classid = 4 AND objid::bigint = $1 AND objsubid = 2 AND NOT granted)`,
			int64(uint32(postgres.LockKey(bot.JobSMS+"\x00"+phone+"\x00")))).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		return waiting
	})
	if j, err := dbs[2].Claim(ctx, storetest.T0, time.Minute); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("claimed %+v (%v) while an older job for the phone was still to commit (second committed: %v)", j, err, secondDone)
	}
	free()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if !secondDone {
		if err := <-second; err != nil {
			t.Fatal(err)
		}
	}
	storetest.DrainInOrder(t, []bot.Outbox{dbs[2]}, 1, 2)
}

// poll calls cond until it is true, failing the test after 10 s.
func poll(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInstances_LoginAcrossInstances: S is texted to one instance, the
// link opened on a second, the login confirmed on the first and second at
// once (one wins, the other is refused), and the code texted to a third
// binds the phone to the winner's account, audited once.
func TestInstances_LoginAcrossInstances(t *testing.T) {
	t.Parallel()
	dbs := instances(t, 3)
	es := engines(t, dbs, time.Now())
	ctx := context.Background()
	res, err := es[0].HandleSMS(ctx, bot.Inbound{MessageSID: "SM1", From: alice, Body: "S"})
	m := linkRE.FindStringSubmatch(res.Reply)
	if err != nil || m == nil {
		t.Fatalf("S: %q %v", res.Reply, err)
	}
	info, err := es[1].OpenLink(ctx, m[1])
	if err != nil {
		t.Fatal(err)
	}
	accts := []bot.Account{{ID: "auth0|one", Email: "one@example.com"}, {ID: "auth0|two", Email: "two@example.com"}}
	codes := make([]bot.CodeInfo, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for k := range 2 {
		wg.Go(func() { codes[k], errs[k] = es[k].ConfirmLogin(ctx, info.Hash, fmt.Sprint("login", k), accts[k]) })
	}
	wg.Wait()
	won := -1
	for k, err := range errs {
		switch bot.ErrorCode(err) {
		case "":
			if won >= 0 {
				t.Fatal("both logins consumed the link")
			}
			won = k
		case bot.EUSED, bot.EEXPIRED:
		default:
			t.Fatalf("login %d: %v", k, err)
		}
	}
	if won < 0 {
		t.Fatalf("no login won: %v", errs)
	}
	res, err = es[2].HandleSMS(ctx, bot.Inbound{MessageSID: "SM2", From: alice, Body: codes[won].Code})
	if err != nil || res.State != bot.StateSubscribed {
		t.Fatalf("code: %q %s %v", res.Reply, res.State, err)
	}
	p, err := storetest.LoadPhone(ctx, dbs[1], alice)
	if err != nil || p.UserID != accts[won].ID {
		t.Fatalf("bound to %q, want %q: %v", p.UserID, accts[won].ID, err)
	}
	log, err := dbs[2].AuditLog(ctx, alice)
	if err != nil || len(log) != 1 || log[0].Action != "bind" || log[0].UserID != accts[won].ID {
		t.Fatalf("audit %+v %v", log, err)
	}
}
