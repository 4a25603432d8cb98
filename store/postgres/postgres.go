// Package postgres keeps smsbot's state in PostgreSQL (jackc/pgx, pgxpool),
// so that several smsbot instances can share one database. It implements
// bot.Store and bot.Outbox with the same meaning as the SQLite store
// (package store), and stays correct with many processes on one database:
//
//   - Update runs at READ COMMITTED and takes transaction-scoped advisory
//     locks before it reads: on the phone (Phone, SavePhone), on the
//     MessageSid (Reply, when it looks), on the account (PhoneByUser, the
//     wrong codes) and on an outbox recipient (Enqueue). Each statement
//     after a lock sees what the lock's previous holder committed, so one
//     phone's texts, one MessageSid and one account's wrong codes are
//     serialized across instances. A deadlock between two such
//     transactions is retried. A transaction's statements go out in as
//     few round trips as keep that true (see Tx): a steady text's Update
//     is two.
//   - An Update's first run takes the MessageSid as new without looking it
//     up (Tx.fresh): the primary key of its insert finds a repeated one,
//     which fails the transaction, and fn runs again, looking.
//   - Claim takes a job with FOR UPDATE SKIP LOCKED and a lease.
//
// Times are unix milliseconds (BIGINT), as in the SQLite store, so the SQL
// of the two reads alike.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smsbot/smsbot/bot"
)

//go:embed migrations/*.sql
var migrations embed.FS

var (
	_ bot.Store  = (*DB)(nil)
	_ bot.Outbox = (*DB)(nil)
	_ bot.Tx     = (*Tx)(nil)
)

// Options tune the database.
type Options struct {
	// MaxConns is the size of the connection pool; default pgxpool's
	// (the greater of 4 and the number of CPUs).
	MaxConns int32
	// Wait bounds how long Open waits for a server that does not answer
	// yet (an instance started beside its database); default 30 s. A
	// server that answers with an error fails Open at once.
	Wait time.Duration
	// Timeout bounds each transaction (Update, View), from the wait for
	// a pool connection to the commit, and each statement of the outbox,
	// the readiness check and the status webhook, so that a request
	// fails in time when the server does not answer. It also bounds
	// opening a connection, unless the URL sets connect_timeout. A
	// failure to reach the server in time is bot.EUNAVAILABLE. 0: no
	// bound.
	Timeout time.Duration
	// PoolWait bounds the wait for a free connection when the pool is
	// exhausted (within Timeout); then the transaction fails with
	// bot.EUNAVAILABLE. 0: up to Timeout.
	PoolWait time.Duration
}

// DB is a PostgreSQL database behind a pool of connections.
type DB struct {
	pool *pgxpool.Pool
	Now  func() time.Time

	timeout  time.Duration // Options.Timeout
	poolWait time.Duration // Options.PoolWait

	applied []string // the migrations Open applied
}

// Open connects to the database at url (postgres:// or postgresql://),
// waiting up to o.Wait for the server to answer, and applies the
// migrations it has not seen, under an advisory lock so that instances
// starting together migrate once. It refuses a database migrated by a
// newer smsbot.
func Open(ctx context.Context, url string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	if o.MaxConns < 0 {
		return nil, fmt.Errorf("open db: pool size %d is negative", o.MaxConns)
	}
	if o.Timeout < 0 || o.PoolWait < 0 {
		return nil, fmt.Errorf("open db: timeout %s or pool wait %s is negative", o.Timeout, o.PoolWait)
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 { // the URL's connect_timeout wins
		cfg.ConnConfig.ConnectTimeout = o.Timeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	db := &DB{pool: pool, timeout: o.Timeout, poolWait: o.PoolWait}
	if err := db.waitServer(ctx, orDefault(o.Wait, 30*time.Second)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open db: %w", err)
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// waitServer pings until the server answers, or an error other than a
// failed connection comes back, or wait has passed.
func (db *DB) waitServer(ctx context.Context, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		err := db.pool.Ping(ctx)
		var ce *pgconn.ConnectError
		if err == nil || !errors.As(err, &ce) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// Close closes the pool's connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

func (db *DB) now() time.Time {
	if db.Now != nil {
		return db.Now()
	}
	return time.Now()
}

func orDefault[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// migrateLock is the advisory lock key under which migrations run (the
// one-bigint key space; the transactions' locks use the two-int one).
const migrateLock int64 = 0x736d73626f74 // "smsbot"

// migrate applies each embedded migration not yet recorded, in name order,
// each in its own transaction, holding migrateLock on one connection.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slices.Sort(names)
	done, err := textColumn(ctx, conn, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, name := range done {
		if !slices.Contains(names, name) {
			return fmt.Errorf("migrate: the database has migration %s, which this smsbot does not know: it was migrated by a newer smsbot; run that version or newer", name)
		}
	}
	for _, name := range names {
		if slices.Contains(done, name) {
			continue
		}
		if err := db.migrateFile(ctx, conn.Conn(), name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		db.applied = append(db.applied, name)
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, conn *pgx.Conn, name string) error {
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Simple protocol: a migration is several statements.
		if _, err := tx.Exec(ctx, string(body), pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, name, db.now().UnixMilli())
		return err
	})
}

// Applied returns the names of the migrations that Open applied, none
// when the database was up to date.
func (db *DB) Applied() []string {
	return db.applied
}

// Migrations returns the names of the applied migrations.
func (db *DB) Migrations(ctx context.Context) ([]string, error) {
	names, err := textColumn(ctx, db.pool, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return names, nil
}

// querier is what a pool, a connection and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// textColumn runs a query of one text column and returns its values.
func textColumn(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Ping checks that the database answers and accepts a write.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	_, err := db.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('ping', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(strconv.FormatInt(db.now().UnixMilli(), 10)))
	if err != nil {
		return dbError("ping", err)
	}
	return nil
}

// maxTries bounds the runs of one Update that a deadlock can cause.
const maxTries = 5

// The BEGINs of Update and View, sent with their first statements.
const (
	beginUpdate = "begin isolation level read committed"
	beginView   = "begin isolation level repeatable read read only"
)

// Update runs fn as one write transaction at READ COMMITTED; the Tx's
// advisory locks serialize what must be (see the package comment). A
// MessageSid taken as new that was stored before rolls fn's run back and
// runs it again, with Reply looking: one round trip less for every new
// text, one run more for a repeated one. A
// deadlock or serialization failure rolls back and runs fn again, up to
// maxTries times in all, as bot.Store allows, all within Options.Timeout.
// An fn error rolls back and is returned; a server that could not be
// reached, or did not answer in time, is bot.EUNAVAILABLE.
func (db *DB) Update(ctx context.Context, fn func(bot.Tx) error) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var err error
	fresh := true
	for range maxTries {
		err = db.run(ctx, beginUpdate, true, fresh, fn)
		if errors.Is(err, errSeenBefore) {
			fresh = false
			err = db.run(ctx, beginUpdate, true, fresh, fn)
		}
		if !retryable(err) {
			return err
		}
	}
	return err
}

// View runs fn in a read-only transaction on one snapshot, within
// Options.Timeout.
func (db *DB) View(ctx context.Context, fn func(bot.Tx) error) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.run(ctx, beginView, false, false, fn)
}

// run runs fn in one transaction, begun by begin, on a connection of its
// own. fn's statements run with the contexts bot passes them, not ctx, so
// ctx's end (the transaction's bound) cuts the connection itself, as pgx
// does for a statement's own context: the statement under way fails at
// once and the connection is closed, never handed to another transaction.
func (db *DB) run(ctx context.Context, begin string, write, fresh bool, fn func(bot.Tx) error) error {
	conn, err := db.acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release() // a connection closed, or left in a transaction, is dropped
	nc := conn.Conn().PgConn().Conn()
	cut := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer func() {
		if !cut() { // cut, or being cut: never reuse it
			conn.Conn().Close(context.Background())
		}
	}()
	c := conn.Conn()
	defer func() {
		if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
			return // committed, never begun, or dropped
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if _, err := c.Exec(rctx, "rollback"); err != nil {
			c.Close(rctx)
		}
	}()
	tx := &Tx{conn: c, begin: begin, write: write, fresh: fresh}
	err = fn(tx)
	if fresh {
		again, lerr := tx.seenBefore(ctx)
		switch {
		case again:
			return errSeenBefore // the deferred rollback undoes this run
		case lerr != nil && err == nil:
			err = fmt.Errorf("look up message: %w", lerr)
		}
	}
	if err != nil {
		if bot.ErrorCode(err) == bot.EINTERNAL && (c.IsClosed() || unreachable(err)) {
			return unavailable(err)
		}
		return err
	}
	if err := tx.commit(ctx); err != nil {
		if tx.seen {
			return errSeenBefore
		}
		if c.IsClosed() || unreachable(err) {
			// The commit may or may not have reached the server: the
			// caller acknowledges nothing, and a retry finds what it did.
			return unavailable(err)
		}
		return err
	}
	return nil
}

// SQLSTATEs the store acts on.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	uniqueViolation      = "23505"
	integrityClass       = "23" // integrity constraint violations
)

// retryable reports whether err is a transaction PostgreSQL rolled back
// so that another could go on: running it again can succeed.
func retryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == serializationFailure || e.Code == deadlockDetected)
}

// isConstraint reports whether err is a constraint violation.
func isConstraint(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && len(e.Code) == 5 && e.Code[:2] == integrityClass
}

// constraintError reports a phone row that broke a constraint. That is a
// bug or a race, never the sender's fault: the error is internal (no
// *bot.Error in its chain), so a person gets bot's fixed message and only
// the log sees PostgreSQL's text.
func constraintError(number string, err error) error {
	return fmt.Errorf("phone %s breaks a constraint: %w", bot.MaskPhone(number), err)
}

// Lock spaces of the transactions' advisory locks: the first key of
// pg_advisory_xact_lock(int, int), the second being a hash of the name.
const (
	lockPhone     int32 = 1 // a phone number
	lockMessage   int32 = 2 // an inbound MessageSid
	lockUser      int32 = 3 // an account's user id
	lockRecipient int32 = 4 // an outbox recipient: kind, phone, user
)

// lockKey hashes a name into the second key of an advisory lock. Two
// names with one hash only wait for each other needlessly.
func lockKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}
