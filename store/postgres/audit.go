package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
)

// AuditLog returns the binding changes of a phone, oldest first.
func (db *DB) AuditLog(ctx context.Context, phone string) ([]bot.AuditEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT at, phone, user_id, action, reason FROM audit WHERE phone = $1 ORDER BY at, id`, phone)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (bot.AuditEntry, error) {
		var e bot.AuditEntry
		err := row.Scan(millis{&e.At}, &e.Phone, &e.UserID, &e.Action, &e.Reason)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return out, nil
}
