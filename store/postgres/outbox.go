package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
)

// Claim leases the oldest due pending job. Jobs for one recipient (the
// phone of a text, the user of an account sync) go out one at a time and
// in order: a job is claimable only while no older job of the same kind
// and recipient is pending, so no two workers, in this instance or another,
// ever have jobs for one recipient under way at once. Claimers skip the
// rows another claimer has locked (FOR UPDATE SKIP LOCKED) and, at READ
// COMMITTED, re-check a row another just claimed and committed, so each
// lease goes to one. A job whose earlier lease ran out without a result
// (its worker died) comes back marked ambiguous: the far end may have it
// already.
func (db *DB) Claim(ctx context.Context, now time.Time, lease time.Duration) (*bot.Job, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var j bot.Job
	err := db.pool.QueryRow(ctx, `UPDATE outbox SET
			attempts = attempts + 1,
			ambiguous = ambiguous OR lease_until <> 0,
			first_try = CASE first_try WHEN 0 THEN $1 ELSE first_try END,
			lease_until = $2
		WHERE id = (SELECT o.id FROM outbox o
			WHERE o.state = 'pending' AND o.next_at <= $1 AND o.lease_until <= $1
				AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state = 'pending'
					AND e.kind = o.kind AND e.phone = o.phone AND e.user_id = o.user_id AND e.id < o.id)
			ORDER BY o.next_at, o.id LIMIT 1
			FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, phone, body, user_id, created_at, attempts - 1, first_try, ambiguous, channel, template, vars, resends`,
		ms(now), ms(now.Add(lease))).
		Scan(&j.ID, &j.Kind, &j.To, &j.Body, &j.UserID, millis{&j.CreatedAt}, &j.Attempts, millis{&j.FirstTry}, &j.Ambiguous,
			(*string)(&j.Channel), &j.Template, &j.Vars, &j.Resends)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "no job due")
	} else if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return &j, nil
}

func (db *DB) finish(ctx context.Context, what, query string, args ...any) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if _, err := db.pool.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Done marks a job delivered.
func (db *DB) Done(ctx context.Context, id int64, now time.Time, result string) error {
	return db.finish(ctx, "done", `UPDATE outbox SET state = 'done', result = $1, finished_at = $2, lease_until = 0 WHERE id = $3`,
		result, ms(now), id)
}

// Retry puts a job back to be tried at next.
func (db *DB) Retry(ctx context.Context, id int64, next time.Time, lastErr string, ambiguous bool) error {
	return db.finish(ctx, "retry", `UPDATE outbox SET next_at = $1, last_error = $2, ambiguous = ambiguous OR $3, lease_until = 0 WHERE id = $4`,
		ms(next), lastErr, ambiguous, id)
}

// Fail gives up on a job.
func (db *DB) Fail(ctx context.Context, id int64, now time.Time, lastErr string) error {
	return db.finish(ctx, "fail", `UPDATE outbox SET state = 'failed', last_error = $1, finished_at = $2, lease_until = 0 WHERE id = $3`,
		lastErr, ms(now), id)
}

// Extend renews a claimed job's lease until until.
func (db *DB) Extend(ctx context.Context, id int64, until time.Time) error {
	return db.finish(ctx, "extend", `UPDATE outbox SET lease_until = $1 WHERE id = $2 AND state = 'pending' AND lease_until <> 0`, ms(until), id)
}

// Defer puts a claimed job back until next, undoing the claim's attempt.
func (db *DB) Defer(ctx context.Context, id int64, next time.Time) error {
	return db.finish(ctx, "defer", `UPDATE outbox SET next_at = $1, attempts = attempts - 1, lease_until = 0,
		first_try = CASE attempts WHEN 1 THEN 0 ELSE first_try END WHERE id = $2`, ms(next), id)
}

// Taken returns the results of other delivered texts to the same phone with
// the same body (any body when body is ""), finished since since.
func (db *DB) Taken(ctx context.Context, id int64, to, body string, since time.Time) ([]string, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	out, err := textColumn(ctx, db.pool, `SELECT result FROM outbox
		WHERE phone = $1 AND ($2 = '' OR body = $2) AND state = 'done' AND id <> $3 AND finished_at >= $4 AND result <> ''`,
		to, body, id, ms(since))
	if err != nil {
		return nil, fmt.Errorf("taken: %w", err)
	}
	return out, nil
}

// NextDue returns when the next pending job is due, or when its lease ends.
func (db *DB) NextDue(ctx context.Context) (time.Time, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var next *int64
	err := db.pool.QueryRow(ctx, `SELECT MIN(GREATEST(next_at, lease_until)) FROM outbox WHERE state = 'pending'`).Scan(&next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due: %w", err)
	}
	if next == nil {
		return time.Time{}, bot.Errorf(bot.ENOTFOUND, "no job pending")
	}
	return fromMS(*next), nil
}
