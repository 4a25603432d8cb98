package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// Claim leases the oldest due pending job. Jobs for one recipient (the
// phone of a text, the user of an account sync) go out one at a time and
// in order: a job is claimable only while no older job of the same kind
// and recipient is pending, so no two workers, in this process or another,
// ever have jobs for one recipient under way at once. A job whose earlier
// lease ran out without a result (its worker died) comes back marked
// ambiguous: the far end may have it already.
func (db *DB) Claim(ctx context.Context, now time.Time, lease time.Duration) (*bot.Job, error) {
	var j bot.Job
	var created, firstTry int64
	var ambiguous int
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE outbox SET
				attempts = attempts + 1,
				ambiguous = ambiguous OR lease_until <> 0,
				first_try = CASE first_try WHEN 0 THEN ?1 ELSE first_try END,
				lease_until = ?2
			WHERE id = (SELECT o.id FROM outbox o
				WHERE o.state = 'pending' AND o.next_at <= ?1 AND o.lease_until <= ?1
					AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state = 'pending'
						AND e.kind = o.kind AND e.phone = o.phone AND e.user_id = o.user_id AND e.id < o.id)
				ORDER BY o.next_at, o.id LIMIT 1)
			RETURNING id, kind, phone, body, user_id, created_at, attempts - 1, first_try, ambiguous, channel, template, vars, resends`,
			ms(now), ms(now.Add(lease))).
			Scan(&j.ID, &j.Kind, &j.To, &j.Body, &j.UserID, &created, &j.Attempts, &firstTry, &ambiguous,
				(*string)(&j.Channel), &j.Template, &j.Vars, &j.Resends)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "no job due")
	} else if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	j.CreatedAt, j.FirstTry, j.Ambiguous = fromMS(created), fromMS(firstTry), ambiguous != 0
	return &j, nil
}

func (db *DB) finish(ctx context.Context, query string, args ...any) error {
	return db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}

// Done marks a job delivered.
func (db *DB) Done(ctx context.Context, id int64, now time.Time, result string) error {
	return db.finish(ctx, `UPDATE outbox SET state = 'done', result = ?, finished_at = ?, lease_until = 0 WHERE id = ?`,
		result, ms(now), id)
}

// Retry puts a job back to be tried at next.
func (db *DB) Retry(ctx context.Context, id int64, next time.Time, lastErr string, ambiguous bool) error {
	return db.finish(ctx, `UPDATE outbox SET next_at = ?, last_error = ?, ambiguous = ambiguous OR ?, lease_until = 0 WHERE id = ?`,
		ms(next), lastErr, ambiguous, id)
}

// Fail gives up on a job.
func (db *DB) Fail(ctx context.Context, id int64, now time.Time, lastErr string) error {
	return db.finish(ctx, `UPDATE outbox SET state = 'failed', last_error = ?, finished_at = ?, lease_until = 0 WHERE id = ?`,
		lastErr, ms(now), id)
}

// Extend renews a claimed job's lease until until.
func (db *DB) Extend(ctx context.Context, id int64, until time.Time) error {
	return db.finish(ctx, `UPDATE outbox SET lease_until = ? WHERE id = ? AND state = 'pending' AND lease_until <> 0`, ms(until), id)
}

// Defer puts a claimed job back until next, undoing the claim's attempt.
func (db *DB) Defer(ctx context.Context, id int64, next time.Time) error {
	return db.finish(ctx, `UPDATE outbox SET next_at = ?, attempts = attempts - 1, lease_until = 0,
		first_try = CASE attempts WHEN 1 THEN 0 ELSE first_try END WHERE id = ?`, ms(next), id)
}

// Taken returns the results of other delivered texts to the same phone with
// the same body (any body when body is ""), finished since since.
func (db *DB) Taken(ctx context.Context, id int64, to, body string, since time.Time) ([]string, error) {
	out, err := db.strings(ctx, `SELECT result FROM outbox
		WHERE phone = ?1 AND (?2 = '' OR body = ?2) AND state = 'done' AND id <> ?3 AND finished_at >= ?4 AND result <> ''`,
		to, body, id, ms(since))
	if err != nil {
		return nil, fmt.Errorf("taken: %w", err)
	}
	return out, nil
}

// NextDue returns when the next pending job is due, or when its lease ends.
func (db *DB) NextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT MIN(MAX(next_at, lease_until)) FROM outbox WHERE state = 'pending'`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, bot.Errorf(bot.ENOTFOUND, "no job pending")
	}
	return fromMS(next.Int64), nil
}

// OutboxStats describes the outbox.
type OutboxStats struct {
	Pending, Done, Failed int
	OldestPending         time.Time // zero when none is pending
}

// OutboxStats counts the outbox's jobs by state.
func (db *DB) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var s OutboxStats
	var oldest sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT
			COUNT(*) FILTER (WHERE state = 'pending'),
			COUNT(*) FILTER (WHERE state = 'done'),
			COUNT(*) FILTER (WHERE state = 'failed'),
			MIN(created_at) FILTER (WHERE state = 'pending')
		FROM outbox`).Scan(&s.Pending, &s.Done, &s.Failed, &oldest)
	if err != nil {
		return s, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest.Valid {
		s.OldestPending = fromMS(oldest.Int64)
	}
	return s, nil
}

// statusRank orders Twilio's message statuses so that a late or repeated
// callback never moves a message backwards.
var statusRank = map[string]int{
	"accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4,
	"delivered": 5, "undelivered": 5, "failed": 5, "read": 6, "canceled": 5,
}

// StatusRank returns the rank of one of Twilio's message statuses: a
// callback whose rank is not above the stored one changes nothing. Every
// backend records statuses by it.
func StatusRank(status string) (int, error) {
	rank, ok := statusRank[status]
	if !ok {
		return 0, bot.Errorf(bot.EINVALID, "unknown message status %q", status)
	}
	return rank, nil
}

// RecordStatus records a delivery status callback. A status that ranks
// below the one stored is ignored; it reports whether anything changed.
func (db *DB) RecordStatus(ctx context.Context, sid, phone, status string, errorCode int, at time.Time) (bool, error) {
	rank, err := StatusRank(status)
	if err != nil {
		return false, err
	}
	var changed bool
	err = db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO messages (sid, phone, status, rank, error_code, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (sid) DO UPDATE SET status = excluded.status, rank = excluded.rank,
				error_code = CASE excluded.error_code WHEN 0 THEN messages.error_code ELSE excluded.error_code END,
				updated_at = excluded.updated_at
			WHERE excluded.rank > messages.rank`,
			sid, phone, status, rank, errorCode, ms(at))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		changed = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record status: %w", err)
	}
	return changed, nil
}

// MessageStatus is the last known delivery status of a text we sent.
type MessageStatus struct {
	SID, Phone, Status string
	ErrorCode          int
	UpdatedAt          time.Time
}

// Message returns the delivery status of a message.
func (db *DB) Message(ctx context.Context, sid string) (MessageStatus, error) {
	var m MessageStatus
	var at int64
	err := db.read.QueryRowContext(ctx, `SELECT sid, phone, status, error_code, updated_at FROM messages WHERE sid = ?`, sid).
		Scan(&m.SID, &m.Phone, &m.Status, &m.ErrorCode, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return m, bot.Errorf(bot.ENOTFOUND, "message not found")
	} else if err != nil {
		return m, fmt.Errorf("message: %w", err)
	}
	m.UpdatedAt = fromMS(at)
	return m, nil
}

// DeliveryStatus returns the status and error code Twilio's callbacks
// recorded for message sid; ENOTFOUND before the first came.
func (db *DB) DeliveryStatus(ctx context.Context, sid string) (string, int, error) {
	m, err := db.Message(ctx, sid)
	return m.Status, m.ErrorCode, err
}
