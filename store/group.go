package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Group commit.
//
// Every write transaction (Update and the store's own writes) is handed to
// one writer goroutine. The writer takes all the transactions waiting at
// that moment, runs them one after the other inside ONE SQLite transaction,
// each in its own SAVEPOINT, commits once and only then answers every
// caller. With synchronous=FULL that is one fsync of the WAL for the whole
// group instead of one per transaction; while it runs, the next group
// queues up.
//
//   - Serializable: the transactions run one at a time, on one connection,
//     each seeing the writes of those before it; the group commits whole.
//   - An fn error rolls back its savepoint only, and only its caller gets
//     the error. The others in the group commit.
//   - A commit error fails every transaction of the group that had
//     succeeded: none of them is on disk.
//   - No caller returns before the commit of its transaction returned.

// defaultMaxGroup bounds the transactions committed together.
const defaultMaxGroup = 256

// errClosed is returned by writes after Close.
var errClosed = errors.New("database is closed")

// request is one write transaction waiting for the writer.
type request struct {
	ctx      context.Context
	fn       func(ctx context.Context, tx *sql.Tx) error
	err      error
	panicked any // what fn panicked with, to panic again in the caller
	done     chan struct{}
}

// writer is the queue of the group-commit goroutine.
type writer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	queue    []*request
	closed   bool
	maxGroup int
	stopped  chan struct{}

	// groups and txs count the commits tried and the transactions in them.
	groups, txs int64
}

func (w *writer) init(maxGroup int) {
	w.cond = sync.NewCond(&w.mu)
	w.maxGroup = maxGroup
	if w.maxGroup <= 0 {
		w.maxGroup = defaultMaxGroup
	}
	w.stopped = make(chan struct{})
}

// enqueue adds r to the queue; false once the writer is closed.
func (w *writer) enqueue(r *request) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.queue = append(w.queue, r)
	w.cond.Signal()
	return true
}

// next waits for work and takes up to maxGroup requests; nil once closed
// and drained.
func (w *writer) next() []*request {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.queue) == 0 {
		if w.closed {
			return nil
		}
		w.cond.Wait()
	}
	n := min(len(w.queue), w.maxGroup)
	group := make([]*request, n)
	copy(group, w.queue)
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	w.groups++
	w.txs += int64(n)
	return group
}

// close stops the writer after it has run what is queued.
func (w *writer) close() {
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	<-w.stopped
}

// GroupStats counts the commits of the group writer and the transactions
// they carried.
type GroupStats struct {
	Groups, Transactions int64
}

// GroupStats returns the group writer's counters.
func (db *DB) GroupStats() GroupStats {
	db.w.mu.Lock()
	defer db.w.mu.Unlock()
	return GroupStats{Groups: db.w.groups, Transactions: db.w.txs}
}

// withTx runs fn as one write transaction through the group writer and
// returns once it is committed (or failed). fn runs on the writer's
// goroutine; a panic in fn is raised again here, in the caller's.
func (db *DB) withTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan struct{})}
	if !db.w.enqueue(r) {
		return errClosed
	}
	// Wait even if ctx ends meanwhile: the transaction may be committing,
	// and the caller must learn whether it did.
	<-r.done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// runWriter is the writer goroutine.
func (db *DB) runWriter() {
	defer close(db.w.stopped)
	for {
		group := db.w.next()
		if group == nil {
			return
		}
		db.commitGroup(group)
		for _, r := range group {
			close(r.done)
		}
		db.stmts.prepareWanted()
	}
}

// commitGroup runs the requests in one transaction, each in a savepoint,
// and sets each request's err.
func (db *DB) commitGroup(group []*request) {
	// The transaction is not tied to any caller's context: one caller
	// going away must not roll back the others.
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			r.err = fmt.Errorf("begin: %w", err)
		}
		return
	}
	var ran []*request // succeeded, not yet committed
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err // its caller gave up before it ran: it never runs
			continue
		}
		broken := db.runSavepoint(tx, r)
		if broken == nil && errors.Is(r.err, errRunAgain) {
			broken = db.runSavepoint(tx, r) // once: the second run looks
		}
		if broken != nil {
			db.abandon(tx, ran, group[i+1:], broken)
			return
		}
		if r.err == nil {
			ran = append(ran, r)
		}
	}
	if err := tx.Commit(); err != nil {
		// SQLite keeps the transaction open after some failed COMMITs
		// (a deferred constraint, SQLITE_BUSY): end it on the connection.
		db.write.ExecContext(ctx, `ROLLBACK`)
		for _, r := range ran {
			r.err = fmt.Errorf("commit: %w", err)
		}
	}
}

// errRunAgain asks the writer to roll back a request's run and run it
// once more (DB.Update, when it took a stored MessageSid as new).
var errRunAgain = errors.New("run again")

// runSavepoint runs r in a savepoint of tx, rolled back when fn fails, and
// sets r.err. It returns an error when the group's transaction broke.
func (db *DB) runSavepoint(tx *sql.Tx, r *request) error {
	if _, err := db.stmts.exec(tx, `SAVEPOINT tx`); err != nil {
		r.err = fmt.Errorf("savepoint: %w", err)
		return err
	}
	r.err = runFn(r, tx)
	if r.err != nil {
		if _, err := db.stmts.exec(tx, `ROLLBACK TO tx`); err != nil {
			return err
		}
	}
	if _, err := db.stmts.exec(tx, `RELEASE tx`); err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("release savepoint: %w", err)
		}
		return err
	}
	return nil
}

// abandon handles a group whose transaction broke (SQLite rolled it back
// on its own, or a savepoint statement failed): the transactions that ran
// are lost and fail; those that had not run yet go to a new group (each
// call has at least one request fewer, so this ends).
func (db *DB) abandon(tx *sql.Tx, ran, rest []*request, cause error) {
	tx.Rollback()
	db.write.ExecContext(context.Background(), `ROLLBACK`)
	for _, r := range ran {
		r.err = fmt.Errorf("group transaction rolled back: %w", cause)
	}
	if len(rest) > 0 {
		db.commitGroup(rest)
	}
}

// runFn runs one request's fn, turning a panic into an error (and keeping
// the panic for its caller).
func runFn(r *request, tx *sql.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.panicked = v
			err = fmt.Errorf("panic in transaction: %v", v)
		}
	}()
	// A statement whose context ends is interrupted, and an interrupted
	// write can roll back the whole SQLite transaction, which other callers
	// share: fn's statements ignore cancellation (it was checked above).
	return r.fn(context.WithoutCancel(r.ctx), tx)
}
