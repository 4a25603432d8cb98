package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Copying a deployment's data out of a SQLite database, into PostgreSQL
// (smsbot migrate --from, postgres.DB.Load): Snapshot copies the file
// without writing to it, Export reads the copy's tables on one snapshot.

// NotCopied names the tables that belong to one database, not to the
// deployment whose data it holds: the migrations it has seen and the
// instances running on it. A copy leaves them out.
var NotCopied = []string{"schema_migrations", "instances"}

// LocalSettings are the settings that belong to one database: the server
// key older versions kept inside SQLite (never to be copied beside the
// data it protects), the nonce older versions kept of the last start, the
// readiness ping and the mode mark. A copy leaves them out, and a
// database holding only these holds no data.
var LocalSettings = []string{"secret", "instance", "ping", "mode"}

// KnownMigrations returns the names of the migrations this smsbot knows,
// in the order they apply, as Migrations names them.
func KnownMigrations() []string {
	names, _ := fs.Glob(migrations, "migrations/*.sql") // the pattern is valid
	slices.Sort(names)
	return names
}

// Table is one table of a copy: its name, its columns in order, and how
// many rows it holds.
type Table struct {
	Name    string
	Columns []string
	Rows    int64
}

// Source is a database's data to copy into another: its tables, and the
// rows of each.
type Source interface {
	Tables() []Table
	Rows(ctx context.Context, t Table) (Rows, error)
}

// Rows are one table's rows, read one at a time, each as the values of
// its columns: int64, string, []byte or nil.
type Rows interface {
	Next() bool
	Values() ([]any, error)
	Err() error
	Close() error
}

// Snapshot copies the SQLite database at path into dst, a file that must
// not exist yet, without writing to path or creating it: one read
// transaction (VACUUM INTO) on a read-only connection, so that a server
// still running meanwhile is not disturbed (though what it commits later
// is not in the copy). It refuses a file that is not an smsbot database.
func Snapshot(ctx context.Context, path, dst string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a file", path)
	}
	src, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer src.Close()
	var n int
	err = src.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('schema_migrations', 'phones')`).Scan(&n)
	if err != nil {
		return fmt.Errorf("%s is not a SQLite database smsbot can read: %w", path, err)
	}
	if n != 2 {
		return fmt.Errorf("%s is a SQLite database, but not smsbot's (it has no phones or schema_migrations table)", path)
	}
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return fmt.Errorf("copy %s: %w", path, err)
	}
	return nil
}

// Mode returns the mode the database is marked with (UseMode), "" when it
// has none.
func (db *DB) Mode(ctx context.Context) (Mode, error) {
	var m []byte
	err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'mode'`).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("mode: %w", err)
	}
	return Mode(m), nil
}

// RecentReplies returns the sealed replies of the n inbound texts
// received last, the latest first: they open only with the server key
// they were sealed with, so they tell whether a key is this database's.
func (db *DB) RecentReplies(ctx context.Context, n int) ([][]byte, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT reply FROM inbound ORDER BY received_at DESC, message_sid LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("recent replies: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("recent replies: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Export is the deployment's data in a SQLite database, read on one
// snapshot: every table but NotCopied, the settings but LocalSettings.
// It holds a read transaction until Close.
type Export struct {
	tx     *sql.Tx
	tables []Table
}

var _ Source = (*Export)(nil)

// Export starts a read of the database's data; Close ends it.
func (db *DB) Export(ctx context.Context) (_ *Export, err error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
			err = fmt.Errorf("export: %w", err)
		}
	}()
	names, err := column[string](ctx, tx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	e := &Export{tx: tx}
	for _, name := range names {
		if slices.Contains(NotCopied, name) {
			continue
		}
		t := Table{Name: name}
		if t.Columns, err = column[string](ctx, tx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, name); err != nil {
			return nil, err
		}
		where, args := exportFilter(name)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(name)+where, args...).Scan(&t.Rows); err != nil {
			return nil, fmt.Errorf("count %s: %w", name, err)
		}
		e.tables = append(e.tables, t)
	}
	return e, nil
}

// exportFilter is the WHERE clause that leaves a table's local rows out
// of a copy: the settings in LocalSettings.
func exportFilter(table string) (string, []any) {
	if table != "settings" {
		return "", nil
	}
	args := make([]any, len(LocalSettings))
	for i, k := range LocalSettings {
		args[i] = k
	}
	return ` WHERE key NOT IN (?` + strings.Repeat(", ?", len(args)-1) + `)`, args
}

// Tables returns the tables of the export, by name, with their row
// counts.
func (e *Export) Tables() []Table { return e.tables }

// Rows reads the rows of table t.
func (e *Export) Rows(ctx context.Context, t Table) (Rows, error) {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quote(c)
	}
	where, args := exportFilter(t.Name)
	rows, err := e.tx.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+quote(t.Name)+where, args...)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", t.Name, err)
	}
	return &exportRows{rows: rows, n: len(cols)}, nil
}

// Close ends the read.
func (e *Export) Close() error { return e.tx.Rollback() }

type exportRows struct {
	rows *sql.Rows
	n    int
}

func (r *exportRows) Next() bool   { return r.rows.Next() }
func (r *exportRows) Err() error   { return r.rows.Err() }
func (r *exportRows) Close() error { return r.rows.Close() }

func (r *exportRows) Values() ([]any, error) {
	vals := make([]any, r.n)
	ptrs := make([]any, r.n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, v := range vals {
		// An empty BLOB scans as a nil []byte, which the copy would write
		// as NULL; NULL scans as a nil interface.
		if b, ok := v.([]byte); ok && b == nil {
			vals[i] = []byte{}
		}
	}
	return vals, nil
}

// column runs a query of one column and returns its values.
func column[T any](ctx context.Context, tx *sql.Tx, query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// quote quotes an SQL identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
