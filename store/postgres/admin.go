package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

// The operator's side of the database (serve's prune loop and metrics,
// the status callbacks, smsbot outbox and smsbot subscribers) returns the
// SQLite store's types, so that the commands read either backend alike.

// pruneBatch bounds the rows one prune statement deletes, so that no
// transaction holds its locks for long.
const pruneBatch = 2000

// Prune deletes what is no longer needed, as the SQLite store's Prune
// does: inbound MessageSids and replies older than keep, links older than
// two days, outbox jobs finished and delivery statuses last changed before
// keep ago, wrong codes older than twice the per-account window and
// lost-delivery errors older than bot.LostWindow, web codes expired more
// than two days ago, wrong web codes older than a day, and rate-limit
// buckets full again. Phones and the audit trail are kept. It deletes in
// batches until nothing is left or ctx ends.
func (db *DB) Prune(ctx context.Context, now time.Time, keep time.Duration) (store.Pruned, error) {
	var p store.Pruned
	cutoff := ms(now.Add(-keep))
	limit := fmt.Sprint(pruneBatch)
	steps := []struct {
		n     *int64
		query string
		arg   int64
	}{
		{&p.Inbound, `DELETE FROM inbound WHERE message_sid IN (SELECT message_sid FROM inbound WHERE received_at < $1 LIMIT ` + limit + `)`, cutoff},
		{&p.Links, `DELETE FROM links WHERE hash IN (SELECT hash FROM links WHERE created_at < $1 LIMIT ` + limit + `)`, ms(now.Add(-48 * time.Hour))},
		{&p.Outbox, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state <> 'pending' AND finished_at < $1 LIMIT ` + limit + `)`, cutoff},
		{&p.Messages, `DELETE FROM messages WHERE sid IN (SELECT sid FROM messages WHERE updated_at < $1 LIMIT ` + limit + `)`, cutoff},
		{&p.WrongCodes, `DELETE FROM wrong_codes WHERE id IN (SELECT id FROM wrong_codes WHERE at < $1 LIMIT ` + limit + `)`, ms(now.Add(-2 * bot.CodeAttemptWindow))},
		{&p.LostDeliveries, `DELETE FROM lost_deliveries WHERE (phone, ref) IN (SELECT phone, ref FROM lost_deliveries WHERE at < $1 LIMIT ` + limit + `)`, ms(now.Add(-bot.LostWindow))},
		{&p.Limits, `DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE full_at <= $1 LIMIT ` + limit + `)`, ms(now)},
		{&p.WebCodes, `DELETE FROM web_codes WHERE login IN (SELECT login FROM web_codes WHERE expires_at < $1 LIMIT ` + limit + `)`, ms(now.Add(-48 * time.Hour))},
		{&p.LinkMisses, `DELETE FROM link_misses WHERE id IN (SELECT id FROM link_misses WHERE at < $1 LIMIT ` + limit + `)`, ms(now.Add(-24 * time.Hour))},
	}
	for _, s := range steps {
		for ctx.Err() == nil {
			tag, err := db.pool.Exec(ctx, s.query, s.arg)
			if err != nil {
				return p, fmt.Errorf("prune: %w", err)
			}
			*s.n += tag.RowsAffected()
			if tag.RowsAffected() < pruneBatch {
				break
			}
		}
	}
	return p, ctx.Err()
}

// OutboxStats counts the outbox's jobs by state.
func (db *DB) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var s store.OutboxStats
	var oldest *int64
	err := db.pool.QueryRow(ctx, `SELECT
			COUNT(*) FILTER (WHERE state = 'pending'),
			COUNT(*) FILTER (WHERE state = 'done'),
			COUNT(*) FILTER (WHERE state = 'failed'),
			MIN(created_at) FILTER (WHERE state = 'pending')
		FROM outbox`).Scan(&s.Pending, &s.Done, &s.Failed, &oldest)
	if err != nil {
		return s, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest != nil {
		s.OldestPending = fromMS(*oldest)
	}
	return s, nil
}

// RecordStatus records a delivery status callback. A status that does not
// rank above the one stored (store.StatusRank) is ignored, so a late or
// repeated callback, at this instance or another, never moves a message
// backwards; it reports whether anything changed.
func (db *DB) RecordStatus(ctx context.Context, sid, phone, status string, errorCode int, at time.Time) (bool, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rank, err := store.StatusRank(status)
	if err != nil {
		return false, err
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO messages (sid, phone, status, rank, error_code, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (sid) DO UPDATE SET status = excluded.status, rank = excluded.rank,
			error_code = CASE excluded.error_code WHEN 0 THEN messages.error_code ELSE excluded.error_code END,
			updated_at = excluded.updated_at
		WHERE excluded.rank > messages.rank`,
		sid, phone, status, rank, errorCode, ms(at))
	if err != nil {
		return false, dbError("record status", err)
	}
	return tag.RowsAffected() > 0, nil
}

// Message returns the delivery status of a message.
func (db *DB) Message(ctx context.Context, sid string) (store.MessageStatus, error) {
	var m store.MessageStatus
	err := db.pool.QueryRow(ctx, `SELECT sid, phone, status, error_code, updated_at FROM messages WHERE sid = $1`, sid).
		Scan(&m.SID, &m.Phone, &m.Status, &m.ErrorCode, millis{&m.UpdatedAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return m, bot.Errorf(bot.ENOTFOUND, "message not found")
	} else if err != nil {
		return m, fmt.Errorf("message: %w", err)
	}
	return m, nil
}

// OutboxJobs lists the jobs not delivered, oldest first: the pending and
// the failed ones, or only the failed ones.
func (db *DB) OutboxJobs(ctx context.Context, failedOnly bool) ([]store.OutboxJob, error) {
	where := `state <> 'done'`
	if failedOnly {
		where = `state = 'failed'`
	}
	rows, err := db.pool.Query(ctx, `SELECT id, kind, phone, state, attempts, ambiguous, last_error, created_at, next_at
		FROM outbox WHERE `+where+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("outbox jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OutboxJob, error) {
		var j store.OutboxJob
		err := row.Scan(&j.ID, &j.Kind, &j.Phone, &j.State, &j.Attempts, &j.Ambiguous, &j.LastError, millis{&j.CreatedAt}, millis{&j.NextAt})
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox jobs: %w", err)
	}
	return out, nil
}

// RetryFailed puts failed jobs back in the outbox, due at now with their
// attempts reset, and records each in the audit table with reason, as the
// SQLite store's RetryFailed does: ids names the jobs (each must exist and
// have failed, or nothing changes), no ids means every failed job. It
// returns the jobs put back.
func (db *DB) RetryFailed(ctx context.Context, ids []int64, now time.Time, reason string) ([]int64, error) {
	var done []int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		todo := ids
		if len(todo) == 0 {
			rows, err := tx.Query(ctx, `SELECT id FROM outbox WHERE state = 'failed' ORDER BY id FOR UPDATE`)
			if err != nil {
				return err
			}
			if todo, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
				return err
			}
		}
		for _, id := range todo {
			if err := retryJob(ctx, tx, id, now, reason); err != nil {
				return err
			}
		}
		done = todo
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retry failed jobs: %w", err)
	}
	return done, nil
}

// retryJob puts one failed job back and audits it.
func retryJob(ctx context.Context, tx pgx.Tx, id int64, now time.Time, reason string) error {
	var kind, phone, userID, state string
	err := tx.QueryRow(ctx, `SELECT kind, phone, user_id, state FROM outbox WHERE id = $1 FOR UPDATE`, id).Scan(&kind, &phone, &userID, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return bot.Errorf(bot.ENOTFOUND, "no outbox job %d", id)
	} else if err != nil {
		return err
	}
	if state != "failed" {
		return bot.Errorf(bot.EINVALID, "outbox job %d is %s, not failed", id, state)
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET state = 'pending', attempts = 0, next_at = $1, lease_until = 0, finished_at = 0
		WHERE id = $2`, ms(now), id); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit (at, phone, user_id, action, reason) VALUES ($1, $2, $3, $4, $5)`,
		ms(now), phone, userID, store.AuditOutboxRetry, fmt.Sprintf("job %d (%s): %s", id, kind, reason))
	return err
}

// Phones lists every phone that ever texted us, in number order; a
// non-empty state keeps only the phones in that state (smsbot
// subscribers).
func (db *DB) Phones(ctx context.Context, state string) ([]*bot.Phone, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+phoneColumns+` FROM phones WHERE $1 = '' OR state = $1 ORDER BY phone`, state)
	if err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*bot.Phone, error) { return scanPhone(row) })
	if err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	return out, nil
}

// LastText returns when phone last texted us; zero when never.
func (db *DB) LastText(ctx context.Context, phone string) (time.Time, error) {
	var at *int64
	if err := db.pool.QueryRow(ctx, `SELECT MAX(received_at) FROM inbound WHERE phone = $1`, phone).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("last text: %w", err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return fromMS(*at), nil
}

// SentTexts returns the last texts the outbox sent to a phone, newest
// first, with their delivery status.
func (db *DB) SentTexts(ctx context.Context, phone string, limit int) ([]store.SentText, error) {
	rows, err := db.pool.Query(ctx, `SELECT o.created_at, o.body, o.state, o.result,
			COALESCE(m.status, ''), COALESCE(m.error_code, 0), o.last_error
		FROM outbox o LEFT JOIN messages m ON m.sid = o.result
		WHERE o.kind = 'sms' AND o.phone = $1 ORDER BY o.id DESC LIMIT $2`, phone, limit)
	if err != nil {
		return nil, fmt.Errorf("sent texts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SentText, error) {
		var t store.SentText
		err := row.Scan(millis{&t.At}, &t.Body, &t.Job, &t.SID, &t.Status, &t.ErrorCode, &t.LastError)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("sent texts: %w", err)
	}
	return out, nil
}

// UseMode marks the database with the mode that opens it, as the SQLite
// store's UseMode does: a marked database keeps its mode; dev mode refuses
// a production one (store.ErrWrongMode) and an unmarked one that holds
// phones, production refuses a dev one (store.ErrDevDatabase).
func (db *DB) UseMode(ctx context.Context, m store.Mode) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE settings IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var prev []byte
		err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'mode'`).Scan(&prev)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if m == store.ModeDev {
				var phones int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM phones`).Scan(&phones); err != nil {
					return err
				}
				if phones > 0 {
					return store.ErrWrongMode
				}
			}
		case err != nil:
			return err
		case store.Mode(prev) == store.ModeProduction && m == store.ModeDev:
			return store.ErrWrongMode
		case store.Mode(prev) == store.ModeDev && m == store.ModeProduction:
			return store.ErrDevDatabase
		case store.Mode(prev) == m:
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('mode', $1)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(m))
		return err
	})
	if err != nil {
		return fmt.Errorf("database mode: %w", err)
	}
	return nil
}

// DeliveryStatus returns the status and error code Twilio's callbacks
// recorded for message sid; ENOTFOUND before the first came.
func (db *DB) DeliveryStatus(ctx context.Context, sid string) (string, int, error) {
	m, err := db.Message(ctx, sid)
	return m.Status, m.ErrorCode, err
}
