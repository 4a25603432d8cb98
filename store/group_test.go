package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

func openGroup(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "group.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// hold occupies the writer with a transaction that waits for release, so
// that the updates queued meanwhile form the next group. It returns once
// the writer runs it.
func hold(t *testing.T, db *DB) (release func(), done <-chan error) {
	t.Helper()
	running, wait := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.Update(context.Background(), func(bot.Tx) error {
			close(running)
			<-wait
			return nil
		})
	}()
	<-running
	return func() { close(wait) }, errc
}

// queued waits until n requests wait in the writer's queue.
func queued(db *DB, n int) {
	for {
		db.w.mu.Lock()
		l := len(db.w.queue)
		db.w.mu.Unlock()
		if l >= n {
			return
		}
		runtime.Gosched()
	}
}

func phone(i int) *bot.Phone {
	return &bot.Phone{Number: fmt.Sprintf("+1555000%04d", i), State: bot.StateIdle}
}

func exists(t *testing.T, db *DB, number string) bool {
	t.Helper()
	ctx := context.Background()
	var err error
	db.View(ctx, func(tx bot.Tx) error {
		_, err = tx.Phone(ctx, number)
		return nil
	})
	switch bot.ErrorCode(err) {
	case "":
		return true
	case bot.ENOTFOUND:
		return false
	}
	t.Fatal(err)
	return false
}

// group runs fns as one group: each in an Update queued while the writer
// is held, and returns each Update's error.
func group(t *testing.T, db *DB, fns ...func(ctx context.Context, tx bot.Tx) error) []error {
	t.Helper()
	release, held := hold(t, db)
	before := db.GroupStats()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			errs[i] = db.Update(context.Background(), func(tx bot.Tx) error { return fn(context.Background(), tx) })
		})
		queued(db, i+1) // keep the order of fns
	}
	release()
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if after := db.GroupStats(); after.Groups-before.Groups != 1 || after.Transactions-before.Transactions != int64(len(fns)) {
		t.Fatalf("the updates ran in %d groups, want 1: %+v -> %+v", after.Groups-before.Groups, before, after)
	}
	return errs
}

func save(i int) func(ctx context.Context, tx bot.Tx) error {
	return func(ctx context.Context, tx bot.Tx) error { return tx.SavePhone(ctx, phone(i)) }
}

func TestDB_Update_GroupFnErrorIsolated(t *testing.T) {
	db := openGroup(t)
	mine := errors.New("mine")
	errs := group(t, db,
		save(1),
		func(ctx context.Context, tx bot.Tx) error {
			if err := tx.SavePhone(ctx, phone(2)); err != nil {
				return err
			}
			return mine // its write must be rolled back, and only its
		},
		save(3),
		func(ctx context.Context, tx bot.Tx) error {
			// A constraint error inside fn, returned: the same.
			p := phone(4)
			p.State = "limbo"
			return tx.SavePhone(ctx, p)
		},
		save(5),
	)
	if errs[0] != nil || errs[2] != nil || errs[4] != nil {
		t.Fatalf("the good updates failed: %v", errs)
	}
	if !errors.Is(errs[1], mine) {
		t.Fatalf("fn error: %v", errs[1])
	}
	if !isConstraint(errs[3]) || bot.ErrorCode(errs[3]) != bot.EINTERNAL {
		t.Fatalf("constraint error: %v", errs[3])
	}
	for i, want := range []bool{true, false, true, false, true} {
		if got := exists(t, db, phone(i+1).Number); got != want {
			t.Errorf("phone %d exists %v, want %v", i+1, got, want)
		}
	}
}

func TestDB_Update_GroupSeesEarlierWrites(t *testing.T) {
	db := openGroup(t)
	var seen error
	errs := group(t, db,
		save(1),
		func(ctx context.Context, tx bot.Tx) error {
			_, seen = tx.Phone(ctx, phone(1).Number) // serial order: 1 is there
			return nil
		},
	)
	if errs[0] != nil || errs[1] != nil || seen != nil {
		t.Fatalf("errs %v, read %v", errs, seen)
	}
}

func TestDB_Update_GroupCommitErrorFailsAll(t *testing.T) {
	db := openGroup(t)
	ctx := context.Background()
	// A deferred foreign key is checked at COMMIT only: a way to make the
	// commit of a group fail.
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE g_parent (id INTEGER PRIMARY KEY);
		CREATE TABLE g_child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES g_parent (id) DEFERRABLE INITIALLY DEFERRED)`); err != nil {
		t.Fatal(err)
	}
	mine := errors.New("mine")
	errs := group(t, db,
		save(1),
		func(ctx context.Context, tx bot.Tx) error {
			_, err := tx.(*Tx).tx.ExecContext(ctx, `INSERT INTO g_child (id, parent) VALUES (1, 99)`)
			return err
		},
		func(ctx context.Context, tx bot.Tx) error { return mine },
		save(3),
	)
	for _, i := range []int{0, 1, 3} {
		if errs[i] == nil || !strings.Contains(errs[i].Error(), "commit") {
			t.Errorf("update %d: %v, want the commit error", i, errs[i])
		}
	}
	if !errors.Is(errs[2], mine) {
		t.Errorf("the update that failed on its own: %v", errs[2])
	}
	if exists(t, db, phone(1).Number) || exists(t, db, phone(3).Number) {
		t.Fatal("a write of the failed group is in the database")
	}
	// The connection is usable again.
	if err := db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, phone(5)) }); err != nil || !exists(t, db, phone(5).Number) {
		t.Fatalf("update after a failed commit: %v", err)
	}
}

func TestDB_Update_PanicReachesCaller(t *testing.T) {
	db := openGroup(t)
	ctx := context.Background()
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want boom", v)
			}
		}()
		db.Update(ctx, func(tx bot.Tx) error {
			tx.SavePhone(ctx, phone(1))
			panic("boom")
		})
		t.Fatal("Update returned after fn panicked")
	}()
	if exists(t, db, phone(1).Number) {
		t.Fatal("the write of the panicking update is in the database")
	}
	if err := db.Update(ctx, func(tx bot.Tx) error { return tx.SavePhone(ctx, phone(2)) }); err != nil {
		t.Fatal(err)
	}
}

func TestDB_Update_CanceledBeforeItRuns(t *testing.T) {
	db := openGroup(t)
	release, held := hold(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	ran := false
	go func() {
		errc <- db.Update(ctx, func(tx bot.Tx) error {
			ran = true
			return nil
		})
	}()
	queued(db, 1)
	cancel()
	release()
	if err := <-errc; !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("canceled update: %v, ran %v", err, ran)
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// Many concurrent read-modify-write updates of one phone lose none, and
// each is visible to a fresh reader as soon as its Update returned.
func TestDB_Update_ConcurrentNoLostUpdates(t *testing.T) {
	db := openGroup(t)
	ctx := context.Background()
	const number = "+15550001234"
	if err := db.Update(ctx, func(tx bot.Tx) error {
		return tx.SavePhone(ctx, &bot.Phone{Number: number, State: bot.StateIdle})
	}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				var wrote int
				err := db.Update(ctx, func(tx bot.Tx) error {
					p, err := tx.Phone(ctx, number)
					if err != nil {
						return err
					}
					p.ReplyCount++
					wrote = p.ReplyCount
					if (w+i)%7 == 0 {
						// some updates fail after writing: theirs must vanish
						if err := tx.SavePhone(ctx, p); err != nil {
							return err
						}
						return errors.New("changed my mind")
					}
					return tx.SavePhone(ctx, p)
				})
				if (w+i)%7 == 0 {
					if err == nil {
						errs <- errors.New("a failing update succeeded")
					}
					continue
				}
				if err != nil {
					errs <- err
					continue
				}
				var seen int
				db.View(ctx, func(tx bot.Tx) error {
					p, err := tx.Phone(ctx, number)
					if err == nil {
						seen = p.ReplyCount
					}
					return err
				})
				if seen < wrote {
					errs <- fmt.Errorf("read %d after Update wrote %d returned", seen, wrote)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := 0
	for w := range workers {
		for i := range each {
			if (w+i)%7 != 0 {
				want++
			}
		}
	}
	var got int
	db.View(ctx, func(tx bot.Tx) error {
		p, err := tx.Phone(ctx, number)
		if err == nil {
			got = p.ReplyCount
		}
		return err
	})
	if got != want {
		t.Fatalf("count %d, want %d: updates were lost", got, want)
	}
	s := db.GroupStats()
	t.Logf("%d transactions in %d groups", s.Transactions, s.Groups)
}

func TestDB_Update_AfterClose(t *testing.T) {
	db := openGroup(t)
	db.Close()
	ctx := context.Background()
	if err := db.Update(ctx, func(bot.Tx) error { return nil }); err == nil {
		t.Fatal("update after Close succeeded")
	}
}
