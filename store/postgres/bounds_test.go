package postgres_test

import (
	"context"
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

// idlePhone is a phone row with nothing but its number.
func idlePhone(number string) *bot.Phone {
	return &bot.Phone{Number: number, State: bot.StateIdle, CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
}

// within runs f and fails the test unless it returns an EUNAVAILABLE
// error no sooner than min and no later than max.
func within(t *testing.T, what string, min, max time.Duration, f func() error) {
	t.Helper()
	start := time.Now()
	err := f()
	took := time.Since(start)
	if bot.ErrorCode(err) != bot.EUNAVAILABLE || took < min || took > max {
		t.Errorf("%s: %v after %s, want %s after %s to %s", what, err, took.Round(time.Millisecond), bot.EUNAVAILABLE, min, max)
	}
}

// TestDB_PoolExhausted: with the pool's one connection held by a
// transaction, another waits PoolWait for it, then fails as
// EUNAVAILABLE and changes nothing; the holder commits, and the pool
// serves the next.
func TestDB_PoolExhausted(t *testing.T) {
	t.Parallel()
	db := open(t, postgrestest.SchemaURL(t), postgres.Options{MaxConns: 1, Timeout: 10 * time.Second, PoolWait: 300 * time.Millisecond})
	ctx := context.Background()
	const a, b = "+15555550101", "+15555550102"
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- db.Update(ctx, func(tx bot.Tx) error {
			if err := tx.SavePhone(ctx, idlePhone(a)); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	var err error
	within(t, "a transaction with the pool exhausted", 300*time.Millisecond, 2*time.Second, func() error {
		err = db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, idlePhone(b)) })
		return err
	})
	if !strings.Contains(err.Error(), "no database connection within 300ms (pool of 1, 1 in use") {
		t.Errorf("error %q does not say the pool is exhausted", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the holder: %v", err)
	}
	if _, err := storetest.LoadPhone(ctx, db, b); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("the failed transaction left phone b: %v", err)
	}
	if err := storetest.SavePhone(ctx, db, idlePhone(b)); err != nil {
		t.Fatalf("after the holder: %v", err)
	}
	for _, n := range []string{a, b} {
		if _, err := storetest.LoadPhone(ctx, db, n); err != nil {
			t.Fatalf("phone %s: %v", n, err)
		}
	}
}

// TestDB_TimeoutCutsTransaction: a transaction whose statements run with
// a context that never ends (as bot passes them) still ends at Timeout:
// the one waiting for a lock fails as EUNAVAILABLE, writes nothing, and
// the pool never hands out its cut connection.
func TestDB_TimeoutCutsTransaction(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	db := open(t, u, postgres.Options{MaxConns: 2, Timeout: 500 * time.Millisecond})
	ctx := context.Background()
	const a = "+15555550103"
	locker, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	if _, err := locker.Exec(ctx, `SELECT pg_advisory_lock(1, $1)`, postgres.LockKey(a)); err != nil {
		t.Fatal(err)
	}
	within(t, "a transaction waiting for a lock", 500*time.Millisecond, 2*time.Second, func() error {
		return db.Update(context.Background(), func(tx bot.Tx) error {
			if _, err := tx.Phone(context.Background(), a); bot.ErrorCode(err) != bot.ENOTFOUND {
				return err
			}
			return tx.SavePhone(context.Background(), idlePhone(a))
		})
	})
	if _, err := locker.Exec(ctx, `SELECT pg_advisory_unlock(1, $1)`, postgres.LockKey(a)); err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.LoadPhone(ctx, db, a); bot.ErrorCode(err) != bot.ENOTFOUND {
		t.Fatalf("the cut transaction wrote: %v", err)
	}
	for i := range 4 { // more than the pool holds: a cut connection would show
		if err := storetest.SavePhone(ctx, db, idlePhone(a)); err != nil {
			t.Fatalf("transaction %d after the cut one: %v", i, err)
		}
	}
}

// TestDB_ServerAway: with the server stopped, every call fails at once as
// EUNAVAILABLE; with it paused (answering nothing), within Timeout; once
// it is back, the same pool goes on without being reopened, and what was
// committed before is there.
func TestDB_ServerAway(t *testing.T) {
	s := postgrestest.StartServer(t)
	const timeout = time.Second
	db := open(t, s.URL(), postgres.Options{MaxConns: 4, Timeout: timeout, PoolWait: 500 * time.Millisecond})
	ctx := context.Background()
	const a, b = "+15555550104", "+15555550105"
	if err := storetest.SavePhone(ctx, db, idlePhone(a)); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Update": func() error { return storetest.SavePhone(ctx, db, idlePhone(b)) },
		"View":   func() error { _, err := storetest.LoadPhone(ctx, db, a); return err },
		"Ping":   func() error { return db.Ping(ctx) },
		"Claim":  func() error { _, err := db.Claim(ctx, storetest.T0, time.Minute); return err },
		"RecordStatus": func() error {
			_, err := db.RecordStatus(ctx, "SM00000000000000000000000000000001", a, "delivered", 0, storetest.T0)
			return err
		},
	}
	// Update, View and RecordStatus say EUNAVAILABLE; Ping and Claim only
	// need to fail in time.
	check := func(phase string, max time.Duration) {
		t.Helper()
		var wg sync.WaitGroup
		for name, call := range calls {
			wg.Go(func() {
				start := time.Now()
				err := call()
				took := time.Since(start)
				code := bot.ErrorCode(err)
				if err == nil || took > max || (name != "Ping" && name != "Claim" && code != bot.EUNAVAILABLE) {
					t.Errorf("%s, %s: %v (%s) after %s, want a failure within %s", phase, name, err, code, took.Round(time.Millisecond), max)
				}
			})
		}
		wg.Wait()
	}
	back := func(phase string) {
		t.Helper()
		start := time.Now()
		for {
			err := storetest.SavePhone(ctx, db, idlePhone(b))
			if err == nil {
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: the pool did not recover in 10 s: %v", phase, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("%s: the pool recovered in %s", phase, time.Since(start).Round(time.Millisecond))
		for name, call := range calls {
			if err := call(); err != nil && bot.ErrorCode(err) != bot.ENOTFOUND {
				t.Errorf("%s, %s: %v", phase, name, err)
			}
		}
		if _, err := storetest.LoadPhone(ctx, db, a); err != nil {
			t.Fatalf("%s: phone a: %v", phase, err)
		}
	}

	s.StopImmediate()
	check("server stopped", 500*time.Millisecond)
	s.Start()
	back("after the restart")

	s.Pause()
	check("server paused", timeout+time.Second)
	s.Resume()
	back("after the pause")
}
