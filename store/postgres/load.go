package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/store"
)

// ErrNotEmpty is returned by Load when the database already holds data:
// a copy goes only into a database no deployment has used.
var ErrNotEmpty = errors.New("the PostgreSQL database already holds data")

// Load copies src (a SQLite database's store.Export) into the database in
// one transaction, which it commits only when every table of src has
// found its twin here, column for column, and holds as many rows as src
// said. The tables it copies into are locked for the while, so that no
// instance writes to them meanwhile. It refuses (ErrNotEmpty, changing
// nothing) a database holding any row but the ones a database keeps for
// itself (store.NotCopied, store.LocalSettings). Rows keep their ids; the
// identity columns go on after the highest. It returns the tables copied,
// with their row counts read back.
func (db *DB) Load(ctx context.Context, src store.Source) ([]store.Table, error) {
	var copied []store.Table
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// A running instance holding a lock for long makes the copy fail,
		// not hang.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '30s'`); err != nil {
			return err
		}
		target, err := loadTargets(ctx, tx)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(target))
		for name := range target {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if _, err := tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{name}.Sanitize()+` IN EXCLUSIVE MODE`); err != nil {
				return fmt.Errorf("lock %s: %w", name, err)
			}
		}
		for _, name := range names {
			n, err := countRows(ctx, tx, name)
			if err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: table %s has %d row(s)", ErrNotEmpty, name, n)
			}
		}
		for _, t := range src.Tables() {
			if slices.Contains(store.NotCopied, t.Name) {
				continue
			}
			cols, ok := target[t.Name]
			if !ok {
				return fmt.Errorf("table %s has no twin in PostgreSQL: was the SQLite database migrated by a newer smsbot?", t.Name)
			}
			n, err := loadTable(ctx, tx, src, t, cols)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t.Name, err)
			}
			copied = append(copied, store.Table{Name: t.Name, Columns: t.Columns, Rows: n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return copied, nil
}

// targetColumn is a column of a table in the database.
type targetColumn struct {
	typ      string // information_schema's data_type
	identity bool
}

// loadTargets returns the tables of the current schema that a copy fills,
// with their columns.
func loadTargets(ctx context.Context, tx pgx.Tx) (map[string]map[string]targetColumn, error) {
	rows, err := tx.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_identity = 'YES'
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]targetColumn{}
	for rows.Next() {
		var table, col string
		var c targetColumn
		if err := rows.Scan(&table, &col, &c.typ, &c.identity); err != nil {
			return nil, err
		}
		if slices.Contains(store.NotCopied, table) {
			continue
		}
		if out[table] == nil {
			out[table] = map[string]targetColumn{}
		}
		out[table][col] = c
	}
	return out, rows.Err()
}

// countRows counts a table's rows, the settings in store.LocalSettings
// left out.
func countRows(ctx context.Context, tx pgx.Tx, table string) (int64, error) {
	q := `SELECT COUNT(*) FROM ` + pgx.Identifier{table}.Sanitize()
	var args []any
	if table == "settings" {
		q += ` WHERE key <> ALL($1)`
		args = append(args, store.LocalSettings)
	}
	var n int64
	if err := tx.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// loadTable copies one table with COPY, checks the count and moves the
// identity columns past the highest id copied; it returns the rows read
// back.
func loadTable(ctx context.Context, tx pgx.Tx, src store.Source, t store.Table, cols map[string]targetColumn) (int64, error) {
	bools := make([]bool, len(t.Columns))
	for i, c := range t.Columns {
		tc, ok := cols[c]
		if !ok {
			return 0, fmt.Errorf("column %s has no twin in PostgreSQL", c)
		}
		bools[i] = tc.typ == "boolean"
	}
	rows, err := src.Rows(ctx, t)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Columns, &boolRows{Rows: rows, bools: bools})
	if err != nil {
		return 0, err
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	back, err := countRows(ctx, tx, t.Name)
	if err != nil {
		return 0, err
	}
	if n != t.Rows || back != t.Rows {
		return 0, fmt.Errorf("the source counted %d row(s), %d were copied and %d read back", t.Rows, n, back)
	}
	for _, c := range t.Columns {
		if !cols[c].identity || n == 0 {
			continue
		}
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), (SELECT MAX(`+pgx.Identifier{c}.Sanitize()+`) FROM `+pgx.Identifier{t.Name}.Sanitize()+`))`,
			pgx.Identifier{t.Name}.Sanitize(), c)
		if err != nil {
			return 0, fmt.Errorf("identity %s: %w", c, err)
		}
	}
	return back, nil
}

// boolRows turns SQLite's 0 and 1 into false and true in the columns that
// are BOOLEAN here; it is the pgx.CopyFromSource of a table.
type boolRows struct {
	store.Rows
	bools []bool
}

func (r *boolRows) Values() ([]any, error) {
	vals, err := r.Rows.Values()
	if err != nil {
		return nil, err
	}
	for i, b := range r.bools {
		if v, ok := vals[i].(int64); b && ok {
			vals[i] = v != 0
		}
	}
	return vals, nil
}
