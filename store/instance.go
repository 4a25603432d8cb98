package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SetInstance records the nonce of the server that has just started on
// this database, so that doctor can tell whether the public URL reaches
// it.
func (db *DB) SetInstance(ctx context.Context, nonce string) error {
	err := db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('instance', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(nonce))
		return err
	})
	if err != nil {
		return fmt.Errorf("set instance: %w", err)
	}
	return nil
}

// Instance returns the nonce SetInstance recorded last, or "" when no
// server has started on this database.
func (db *DB) Instance(ctx context.Context) (string, error) {
	var v []byte
	err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'instance'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("instance: %w", err)
	}
	return string(v), nil
}
