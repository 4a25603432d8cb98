// Package store keeps smsbot's state in SQLite (modernc.org/sqlite, pure
// Go). It implements bot.Store and bot.Outbox.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	// Synchronous is SQLite's synchronous pragma: "FULL" (the default:
	// a committed transaction survives a power loss) or "NORMAL" (it
	// survives a crash of the process, but the last commits may be lost
	// on power loss).
	Synchronous string
	// ReadConns is the size of the read pool; default 4.
	ReadConns int
	// MaxGroup bounds the write transactions committed together by the
	// group writer; default 256.
	MaxGroup int
}

// DB is the SQLite database. Writes go through one connection and one
// writer goroutine that commits them in groups (group.go), so they are
// serialized; reads use a pool of connections on the WAL.
type DB struct {
	path  string
	write *sql.DB
	read  *sql.DB
	w     writer
	stmts stmtCache // the writer's prepared statements
	ckpt  *checkpointer
	Now   func() time.Time

	applied []string // the migrations Open applied
}

// Open opens (creating if needed) the database at path and applies the
// migrations it has not seen.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	sync := strings.ToUpper(o.Synchronous)
	if sync == "" {
		sync = "FULL"
	}
	switch sync {
	case "FULL", "NORMAL", "EXTRA", "OFF":
	default:
		return nil, fmt.Errorf("open db: synchronous must be FULL, NORMAL, EXTRA or OFF, not %q", o.Synchronous)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	// The checkpointer's connection: checkpoints run there, not in the
	// writer's commits (checkpoint.go).
	ckptDSN := "file:" + path + "?" + q.Encode()
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walSafetyPages))
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	dsn := "file:" + path + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	db := &DB{path: path, write: write}
	if err := db.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	q.Set("_txlock", "deferred")
	q.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open db: %w", err)
	}
	n := o.ReadConns
	if n <= 0 {
		n = 4
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db.read = read
	ckpt, err := sql.Open("sqlite", ckptDSN)
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open db: %w", err)
	}
	ckpt.SetMaxOpenConns(1)
	db.w.init(o.MaxGroup)
	db.stmts.db = write
	go db.runWriter()
	db.startCheckpointer(ckpt)
	return db, nil
}

// createPrivate creates the database file 0600 if it does not exist yet;
// SQLite gives its -wal and -shm files the database file's mode.
func createPrivate(path string) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Close waits for the queued writes, then closes the database.
func (db *DB) Close() error {
	db.w.close()
	db.stmts.close()
	return errors.Join(db.ckpt.close(), db.read.Close(), db.write.Close())
}

func (db *DB) now() time.Time {
	if db.Now != nil {
		return db.Now()
	}
	return time.Now()
}

// migrate applies each embedded migration not yet recorded, in name order,
// each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, db.now().UnixMilli()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	db.applied = append(db.applied, name)
	return nil
}

// Applied returns the names of the migrations that Open applied, none
// when the database was up to date.
func (db *DB) Applied() []string {
	return db.applied
}

// Migrations returns the names of the applied migrations.
func (db *DB) Migrations(ctx context.Context) ([]string, error) {
	names, err := db.strings(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return names, nil
}

// Backup writes a consistent copy of the database to path, a file that
// must not exist yet, with mode 0600. It reads one snapshot (VACUUM INTO),
// so writers go on meanwhile; the copy holds every transaction committed
// before it started. A failed backup leaves no file.
func (db *DB) Backup(ctx context.Context, path string) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(path)
			err = fmt.Errorf("backup: %w", err)
		}
	}()
	// A connection of its own: the read pool's are query_only, which
	// VACUUM INTO refuses.
	src, err := sql.Open("sqlite", "file:"+db.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return err
	}
	// VACUUM INTO does not sync the copy it writes.
	if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// strings runs a read query of one text column and returns its values.
func (db *DB) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// LegacySecret returns the server key that earlier versions generated
// and kept in the database, or nil. A key beside the data it protects
// hands it to whoever holds a copy; callers move it out and DropLegacySecret.
func (db *DB) LegacySecret(ctx context.Context) ([]byte, error) {
	var secret []byte
	err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'secret'`).Scan(&secret)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("legacy secret: %w", err)
	}
	return secret, nil
}

// DropLegacySecret deletes the key kept in the database, overwriting its
// bytes (secure_delete) and truncating the WAL so no copy of it is left
// in the files.
func (db *DB) DropLegacySecret(ctx context.Context) error {
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = 1`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM settings WHERE key = 'secret'`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `PRAGMA secure_delete = 0`)
		return err
	})
	if err == nil {
		_, err = db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	if err != nil {
		return fmt.Errorf("drop legacy secret: %w", err)
	}
	return nil
}

// Mode names what a database is used for; see UseMode.
type Mode string

// The modes a database can be marked with.
const (
	ModeProduction Mode = "production"
	ModeDev        Mode = "dev"
)

// ErrWrongMode is returned by UseMode when dev mode is asked to open a
// database that production has used (or that holds phones but no mark).
var ErrWrongMode = errors.New("this database has been used in production (or holds phones from before databases were marked with their mode); dev mode needs its own: pass --db, or delete it if it holds only dev data")

// ErrDevDatabase is returned by UseMode when production is asked to open
// a database that dev mode has used: its phones and bindings are made up.
var ErrDevDatabase = errors.New("this database has been used in dev mode: its phones and bindings are made up; production needs its own: set SMSBOT_DB to a new file")

// UseMode marks the database with the mode that opens it. Once marked, a
// database keeps its mode: dev mode refuses one production has used, so
// that the Dev Phone and the local Auth0 stand-in never reach real phones
// and accounts, and production refuses one dev mode has used, so that no
// made-up binding becomes a trusted command channel.
func (db *DB) UseMode(ctx context.Context, m Mode) error {
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var prev string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'mode'`).Scan(&prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if m == ModeDev {
				var phones int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM phones`).Scan(&phones); err != nil {
					return err
				}
				if phones > 0 {
					return ErrWrongMode
				}
			}
		case err != nil:
			return err
		case Mode(prev) == ModeProduction && m == ModeDev:
			return ErrWrongMode
		case Mode(prev) == ModeDev && m == ModeProduction:
			return ErrDevDatabase
		case Mode(prev) == m:
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('mode', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(m))
		return err
	})
	if err != nil {
		return fmt.Errorf("database mode: %w", err)
	}
	return nil
}

// Ping checks that the database answers and accepts a write.
func (db *DB) Ping(ctx context.Context) error {
	return db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('ping', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(strconv.FormatInt(db.now().UnixMilli(), 10)))
		return err
	})
}

// Update runs fn as one write transaction. Updates are serialized: the
// group writer runs them one after the other on the single write
// connection, several inside one SQLite transaction (BEGIN IMMEDIATE),
// each in its own savepoint. An fn error rolls back fn's writes only and
// is returned; Update returns nil only once the commit returned (with
// synchronous=FULL, once it is on disk). fn runs on the writer's
// goroutine, so it must not call Update itself; its statements ignore the
// cancellation of ctx, which is checked before fn starts.
//
// A MessageSid is taken as new on fn's first run, without a lookup; when
// it was stored before, fn's writes are rolled back and it runs again with
// Reply looking (see Tx.fresh): one statement less for every new text, one
// run more for a repeated one.
func (db *DB) Update(ctx context.Context, fn func(bot.Tx) error) error {
	fresh := true
	return db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		t := &Tx{tx: tx, stmts: &db.stmts, fresh: fresh}
		err := fn(t)
		if !fresh {
			return err
		}
		again, lerr := t.seenBefore(ctx)
		switch {
		case lerr != nil:
			return fmt.Errorf("look up message: %w", lerr)
		case again:
			fresh = false
			return errRunAgain
		}
		return err
	})
}

// View runs fn in a read transaction on a snapshot.
func (db *DB) View(ctx context.Context, fn func(bot.Tx) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(&Tx{tx: tx})
}

// isConstraint reports whether err is a SQLite constraint violation.
func isConstraint(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// constraintError reports a phone row that broke a constraint. That is a
// bug or a race, never the sender's fault: the error is internal (no
// *bot.Error in its chain), so a person gets bot's fixed message and only
// the log sees SQLite's text.
func constraintError(number string, err error) error {
	return fmt.Errorf("phone %s breaks a constraint: %w", bot.MaskPhone(number), err)
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
