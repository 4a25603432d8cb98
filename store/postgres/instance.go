package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Heartbeat records that the server whose start drew nonce is alive at
// now (its first heartbeat records its start) and deletes the rows of the
// servers not seen since now-stale: they are gone. doctor accepts the
// nonce /readyz serves when it has a row here, whichever of the instances
// behind the load balancer answered.
func (db *DB) Heartbeat(ctx context.Context, nonce string, now time.Time, stale time.Duration) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO instances (nonce, started_at, seen_at) VALUES ($1, $2, $2)
			ON CONFLICT (nonce) DO UPDATE SET seen_at = excluded.seen_at`, nonce, now.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM instances WHERE seen_at < $1 AND nonce <> $2`, now.Add(-stale).UnixMilli(), nonce)
		return err
	})
	if err != nil {
		return dbError("heartbeat", err)
	}
	return nil
}

// Instances returns the nonces of the servers seen at or after since,
// the one seen last first; the zero since means every server recorded.
func (db *DB) Instances(ctx context.Context, since time.Time) ([]string, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	nonces, err := textColumn(ctx, db.pool, `SELECT nonce FROM instances WHERE seen_at >= $1 ORDER BY seen_at DESC, nonce`, ms(since))
	if err != nil {
		return nil, dbError("instances", err)
	}
	return nonces, nil
}

// StopInstance deletes the row of the server whose start drew nonce: it
// stops.
func (db *DB) StopInstance(ctx context.Context, nonce string) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if _, err := db.pool.Exec(ctx, `DELETE FROM instances WHERE nonce = $1`, nonce); err != nil {
		return dbError("stop instance", err)
	}
	return nil
}
