package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// webCodeColumns are the web_codes row's columns, in scanWebCode's order.
const webCodeColumns = `login, code_mac, user_id, email, issued, created_at, expires_at, used_at, phone, locale`

func scanWebCode(row *sql.Row) (*bot.WebCode, error) {
	var c bot.WebCode
	var created, expires, used int64
	err := row.Scan(&c.Login, &c.MAC, &c.UserID, &c.Email, &c.Issued, &created, &expires, &used, &c.Phone, &c.Locale)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "web code not found")
	} else if err != nil {
		return nil, err
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return &c, nil
}

// WebCode loads a web login's code.
func (t *Tx) WebCode(ctx context.Context, login string) (*bot.WebCode, error) {
	return scanWebCode(t.queryRow(ctx, `SELECT `+webCodeColumns+` FROM web_codes WHERE login = ?`, login))
}

// WebCodeByMAC finds a web code by its HMAC.
func (t *Tx) WebCodeByMAC(ctx context.Context, mac []byte) (*bot.WebCode, error) {
	return scanWebCode(t.queryRow(ctx, `SELECT `+webCodeColumns+` FROM web_codes WHERE code_mac = ?`, mac))
}

// SaveWebCode inserts a login's code or replaces it.
func (t *Tx) SaveWebCode(ctx context.Context, c *bot.WebCode) error {
	_, err := t.exec(ctx, `INSERT INTO web_codes (`+webCodeColumns+`) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
		ON CONFLICT (login) DO UPDATE SET code_mac = ?2, user_id = ?3, email = ?4, issued = ?5,
			created_at = ?6, expires_at = ?7, used_at = ?8, phone = ?9, locale = ?10`,
		c.Login, c.MAC, c.UserID, c.Email, c.Issued, ms(c.CreatedAt), ms(c.ExpiresAt), ms(c.UsedAt), c.Phone, c.Locale)
	if isConstraint(err) {
		return fmt.Errorf("web code breaks a constraint: %w", err)
	}
	return err
}

// AddLinkMiss records a wrong web code texted by a phone.
func (t *Tx) AddLinkMiss(ctx context.Context, phone string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO link_misses (phone, at) VALUES (?, ?)`, phone, ms(at))
	return err
}

// CountLinkMisses counts the wrong web codes a phone texted at or after
// since.
func (t *Tx) CountLinkMisses(ctx context.Context, phone string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM link_misses WHERE phone = ? AND at >= ?`, phone, ms(since)).Scan(&n)
	return n, err
}
