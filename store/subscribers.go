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

// SentText is a text the outbox sent (or tried to) to a phone, with its
// delivery status from Twilio's callbacks.
type SentText struct {
	At        time.Time
	Body      string
	Job       string // pending, done or failed
	SID       string // Twilio's message SID once sent
	Status    string // the last delivery status, "" before any callback
	ErrorCode int    // Twilio's error code for undelivered or failed texts
	LastError string // the outbox's last delivery error
}

// SentTexts returns the last texts the outbox sent to a phone, newest
// first, with their delivery status.
func (db *DB) SentTexts(ctx context.Context, phone string, limit int) ([]SentText, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT o.created_at, o.body, o.state, o.result,
			IFNULL(m.status, ''), IFNULL(m.error_code, 0), o.last_error
		FROM outbox o LEFT JOIN messages m ON m.sid = o.result
		WHERE o.kind = 'sms' AND o.phone = ? ORDER BY o.id DESC LIMIT ?`, phone, limit)
	if err != nil {
		return nil, fmt.Errorf("sent texts: %w", err)
	}
	defer rows.Close()
	var out []SentText
	for rows.Next() {
		var t SentText
		var at int64
		if err := rows.Scan(&at, &t.Body, &t.Job, &t.SID, &t.Status, &t.ErrorCode, &t.LastError); err != nil {
			return nil, err
		}
		t.At = fromMS(at)
		out = append(out, t)
	}
	return out, rows.Err()
}
