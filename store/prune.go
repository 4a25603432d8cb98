package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// pruneBatch bounds the rows one prune transaction deletes, so that the
// writer is never held for long.
const pruneBatch = 2000

// Pruned counts the rows Prune deleted.
type Pruned struct {
	Inbound, Links, Outbox, Messages int64
	WrongCodes, LostDeliveries       int64
	Limits                           int64 // rate-limit buckets full again
	WebCodes, LinkMisses             int64
}

// Prune deletes what is no longer needed: inbound MessageSids and their
// stored replies received before keep ago (a replay older than that is
// answered afresh), links made more than two days ago (the daily link limit
// looks back one), outbox jobs finished and delivery statuses last changed
// before keep ago, wrong codes older than twice the per-account window and
// lost-delivery errors older than bot.LostWindow, web codes expired more
// than two days ago, wrong web codes older than a day, and rate-limit
// buckets full again (no row says as much). Phones and the audit trail
// are kept. It deletes in small batches until nothing is left or ctx ends.
func (db *DB) Prune(ctx context.Context, now time.Time, keep time.Duration) (Pruned, error) {
	var p Pruned
	cutoff := ms(now.Add(-keep))
	steps := []struct {
		n     *int64
		query string
		arg   int64
	}{
		{&p.Inbound, `DELETE FROM inbound WHERE message_sid IN (SELECT message_sid FROM inbound WHERE received_at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, cutoff},
		{&p.Links, `DELETE FROM links WHERE hash IN (SELECT hash FROM links WHERE created_at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, ms(now.Add(-48 * time.Hour))},
		{&p.Outbox, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state <> 'pending' AND finished_at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, cutoff},
		{&p.Messages, `DELETE FROM messages WHERE sid IN (SELECT sid FROM messages WHERE updated_at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, cutoff},
		{&p.WrongCodes, `DELETE FROM wrong_codes WHERE id IN (SELECT id FROM wrong_codes WHERE at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, ms(now.Add(-2 * bot.CodeAttemptWindow))},
		{&p.LostDeliveries, `DELETE FROM lost_deliveries WHERE (phone, ref) IN (SELECT phone, ref FROM lost_deliveries WHERE at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, ms(now.Add(-bot.LostWindow))},
		{&p.Limits, `DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE full_at <= ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, ms(now)},
		{&p.WebCodes, `DELETE FROM web_codes WHERE login IN (SELECT login FROM web_codes WHERE expires_at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, ms(now.Add(-48 * time.Hour))},
		{&p.LinkMisses, `DELETE FROM link_misses WHERE id IN (SELECT id FROM link_misses WHERE at < ? LIMIT ` + fmt.Sprint(pruneBatch) + `)`, ms(now.Add(-24 * time.Hour))},
	}
	for _, s := range steps {
		for ctx.Err() == nil {
			var n int64
			err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, s.query, s.arg)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return p, fmt.Errorf("prune: %w", err)
			}
			*s.n += n
			if n < pruneBatch {
				break
			}
		}
	}
	return p, ctx.Err()
}
