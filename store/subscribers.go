package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// Phones lists every phone that ever texted us, in number order; a
// non-empty state keeps only the phones in that state. It is for
// operators (smsbot subscribers), not for the conversation.
func (db *DB) Phones(ctx context.Context, state string) ([]*bot.Phone, error) {
	q := `SELECT ` + phoneColumns + ` FROM phones`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	rows, err := db.read.QueryContext(ctx, q+` ORDER BY phone`, args...)
	if err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	defer rows.Close()
	var out []*bot.Phone
	for rows.Next() {
		p, err := scanPhone(rows)
		if err != nil {
			return nil, fmt.Errorf("phones: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	return out, nil
}

// AuditLog returns the binding changes of a phone, oldest first.
func (db *DB) AuditLog(ctx context.Context, phone string) ([]bot.AuditEntry, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT at, phone, user_id, action, reason FROM audit WHERE phone = ? ORDER BY at, id`, phone)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []bot.AuditEntry
	for rows.Next() {
		var e bot.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Phone, &e.UserID, &e.Action, &e.Reason); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return out, nil
}

// LastText returns when phone last texted us; zero when never.
func (db *DB) LastText(ctx context.Context, phone string) (time.Time, error) {
	var at sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT MAX(received_at) FROM inbound WHERE phone = ?`, phone).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("last text: %w", err)
	}
	return fromMS(at.Int64), nil
}
