package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smsbot/smsbot/bot"
)

var _ bot.Limiter = (*DB)(nil)

// Take implements bot.Limiter in the database: key's bucket is one row of
// rate_limits, read and written in one write transaction, so every process
// that opens the file shares it. Times are whole milliseconds, as in the
// other tables: now is truncated and r.Every rounded up (StoredRate), so
// the stored limit is never looser than r. serve keeps its limits in
// memory on SQLite, where one process owns the file; this is the same
// limit for the contract suite and for a file opened by several.
func (db *DB) Take(ctx context.Context, key string, r bot.Rate, now time.Time) (time.Duration, error) {
	if err := CheckTake(key, r); err != nil {
		return 0, err
	}
	r = StoredRate(r)
	at := time.UnixMilli(now.UnixMilli())
	var wait time.Duration
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var fullAt int64
		err := tx.QueryRowContext(ctx, `SELECT full_at FROM rate_limits WHERE key = ?`, key).Scan(&fullAt)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		next, w := r.Take(fromMS(fullAt), at)
		if wait = w; w > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO rate_limits (key, full_at) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET full_at = excluded.full_at`, key, next.UnixMilli())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rate limit: %w", err)
	}
	return wait, nil
}

// StoredRate is r as the stores keep it: Every rounded up to a whole
// millisecond.
func StoredRate(r bot.Rate) bot.Rate {
	r.Every = (r.Every + time.Millisecond - 1).Truncate(time.Millisecond)
	return r
}

// CheckTake refuses a rate that allows nothing and an empty key, with
// EINVALID errors.
func CheckTake(key string, r bot.Rate) error {
	if err := r.Check(); err != nil {
		return err
	}
	if key == "" {
		return bot.Errorf(bot.EINVALID, "rate limit: empty key")
	}
	return nil
}
