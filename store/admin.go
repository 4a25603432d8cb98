package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// OutboxJob is an outbox job as an operator sees it (smsbot outbox).
type OutboxJob struct {
	ID        int64
	Kind      string // bot.JobSMS or bot.JobAccountSync
	Phone     string
	State     string // pending, done or failed
	Attempts  int
	Ambiguous bool // a try may have reached the far end
	LastError string
	CreatedAt time.Time
	NextAt    time.Time // when a pending job is next tried
}

// OutboxJobs lists the jobs not delivered, oldest first: the pending and
// the failed ones, or only the failed ones.
func (db *DB) OutboxJobs(ctx context.Context, failedOnly bool) ([]OutboxJob, error) {
	where := `state <> 'done'`
	if failedOnly {
		where = `state = 'failed'`
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, kind, phone, state, attempts, ambiguous, last_error, created_at, next_at
		FROM outbox WHERE `+where+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("outbox jobs: %w", err)
	}
	defer rows.Close()
	var out []OutboxJob
	for rows.Next() {
		var j OutboxJob
		var created, next int64
		if err := rows.Scan(&j.ID, &j.Kind, &j.Phone, &j.State, &j.Attempts, &j.Ambiguous, &j.LastError, &created, &next); err != nil {
			return nil, fmt.Errorf("outbox jobs: %w", err)
		}
		j.CreatedAt, j.NextAt = fromMS(created), fromMS(next)
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox jobs: %w", err)
	}
	return out, nil
}

// AuditOutboxRetry is the audit action of a failed job put back.
const AuditOutboxRetry = "outbox_retry"

// RetryFailed puts failed jobs back in the outbox, due at now with their
// attempts reset, and records each in the audit table with reason. The
// ambiguous mark and the first try's time stay: a failed text may have
// reached Twilio, and the worker checks before sending it again. ids names
// the jobs (each must exist and have failed, or nothing changes: EINVALID
// or ENOTFOUND); no ids means every failed job. It returns the jobs put
// back.
func (db *DB) RetryFailed(ctx context.Context, ids []int64, now time.Time, reason string) ([]int64, error) {
	var done []int64
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		done = done[:0]
		todo := ids
		if len(todo) == 0 {
			var err error
			if todo, err = failedIDs(ctx, tx); err != nil {
				return err
			}
		}
		for _, id := range todo {
			if err := retryJob(ctx, tx, id, now, reason); err != nil {
				return err
			}
			done = append(done, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retry failed jobs: %w", err)
	}
	return done, nil
}

func failedIDs(ctx context.Context, tx *sql.Tx) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM outbox WHERE state = 'failed' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// retryJob puts one failed job back and audits it.
func retryJob(ctx context.Context, tx *sql.Tx, id int64, now time.Time, reason string) error {
	var kind, phone, userID, state string
	err := tx.QueryRowContext(ctx, `SELECT kind, phone, user_id, state FROM outbox WHERE id = ?`, id).Scan(&kind, &phone, &userID, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.Errorf(bot.ENOTFOUND, "no outbox job %d", id)
	} else if err != nil {
		return err
	}
	if state != "failed" {
		return bot.Errorf(bot.EINVALID, "outbox job %d is %s, not failed", id, state)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?, lease_until = 0, finished_at = 0
		WHERE id = ?`, ms(now), id); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit (at, phone, user_id, action, reason) VALUES (?, ?, ?, ?, ?)`,
		ms(now), phone, userID, AuditOutboxRetry, fmt.Sprintf("job %d (%s): %s", id, kind, reason))
	return err
}
