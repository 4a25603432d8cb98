package store

import (
	"context"
	"fmt"

	"github.com/smsbot/smsbot/bot"
)

// BulkPhones inserts n new phones, asking fill for each one, in large
// transactions of one prepared statement each. It is the fast loader of
// benchmarks and tests (a million phones take seconds, where a million
// Updates take minutes); the conversation never uses it. It writes through
// the single write connection, outside the group writer, and fails on a
// phone that exists already.
func (db *DB) BulkPhones(ctx context.Context, n int, fill func(i int, p *bot.Phone)) error {
	const batch = 50_000
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		if err := db.bulkPhones(ctx, start, end, fill); err != nil {
			return fmt.Errorf("bulk phones: %w", err)
		}
	}
	return nil
}

func (db *DB) bulkPhones(ctx context.Context, start, end int, fill func(i int, p *bot.Phone)) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, insertPhone)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := start; i < end; i++ {
		if i%1000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var p bot.Phone
		fill(i, &p)
		if _, err := stmt.ExecContext(ctx, phoneArgs(&p)...); err != nil {
			if isConstraint(err) {
				return constraintError(p.Number, err)
			}
			return err
		}
	}
	return tx.Commit()
}

// Checkpoint copies the write-ahead log into the database file and
// truncates it, so that the file's size is the data's.
func (db *DB) Checkpoint(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
