package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Heartbeat records that the server whose start drew nonce is alive at
// now (its first heartbeat records its start) and deletes the rows of the
// servers not seen since now-stale: they are gone. doctor accepts the
// nonce /readyz serves when it has a row here.
func (db *DB) Heartbeat(ctx context.Context, nonce string, now time.Time, stale time.Duration) error {
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO instances (nonce, started_at, seen_at) VALUES (?1, ?2, ?2)
			ON CONFLICT (nonce) DO UPDATE SET seen_at = excluded.seen_at`, nonce, now.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE seen_at < ? AND nonce <> ?`, now.Add(-stale).UnixMilli(), nonce)
		return err
	})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Instances returns the nonces of the servers seen at or after since,
// the one seen last first; the zero since means every server recorded.
func (db *DB) Instances(ctx context.Context, since time.Time) ([]string, error) {
	nonces, err := db.strings(ctx, `SELECT nonce FROM instances WHERE seen_at >= ? ORDER BY seen_at DESC, nonce`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	return nonces, nil
}

// StopInstance deletes the row of the server whose start drew nonce: it
// stops.
func (db *DB) StopInstance(ctx context.Context, nonce string) error {
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM instances WHERE nonce = ?`, nonce)
		return err
	})
	if err != nil {
		return fmt.Errorf("stop instance: %w", err)
	}
	return nil
}
