package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
)

// lockWebLogin is the advisory lock space of a web login: a text using its
// code and the page asking for a new one run one after the other.
const lockWebLogin int32 = 8

// webCodeColumns are the web_codes row's columns, in scanWebCode's order.
const webCodeColumns = `login, code_mac, user_id, email, issued, created_at, expires_at, used_at, phone, locale`

func scanWebCode(row pgx.Row) (*bot.WebCode, error) {
	var c bot.WebCode
	err := row.Scan(&c.Login, &c.MAC, &c.UserID, &c.Email, &c.Issued,
		millis{&c.CreatedAt}, millis{&c.ExpiresAt}, millis{&c.UsedAt}, &c.Phone, &c.Locale)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "web code not found")
	} else if err != nil {
		return nil, err
	}
	return &c, nil
}

// WebCode loads a web login's code. In an Update it first locks the login.
func (t *Tx) WebCode(ctx context.Context, login string) (*bot.WebCode, error) {
	return t.webCode(ctx, t.lock(lockWebLogin, login), `SELECT `+webCodeColumns+` FROM web_codes WHERE login = $1`, login)
}

// webCode sends locks, then query of one web code, in one round trip.
func (t *Tx) webCode(ctx context.Context, locks []step, query string, arg any) (*bot.WebCode, error) {
	var c *bot.WebCode
	if err := t.row(ctx, locks, "web code", func(row pgx.Row) (err error) { c, err = scanWebCode(row); return err }, query, arg); err != nil {
		return nil, err
	}
	return c, nil
}

// WebCodeByMAC finds a web code by its HMAC. In an Update it locks the
// login it finds and reads it again under that lock: a code that a new one
// replaced meanwhile is looked up afresh.
func (t *Tx) WebCodeByMAC(ctx context.Context, mac []byte) (*bot.WebCode, error) {
	const query = `SELECT ` + webCodeColumns + ` FROM web_codes WHERE code_mac = $1`
	c, err := t.webCode(ctx, nil, query, mac)
	if err != nil || !t.write {
		return c, err
	}
	return t.webCode(ctx, t.lock(lockWebLogin, c.Login), query, mac)
}

// SaveWebCode inserts a login's code or replaces it, holding the login's
// lock. It is queued (see Tx).
func (t *Tx) SaveWebCode(ctx context.Context, c *bot.WebCode) error {
	return t.later(ctx, append(t.lock(lockWebLogin, c.Login), exec(func(err error) error {
		if isConstraint(err) {
			return fmt.Errorf("web code breaks a constraint: %w", err)
		}
		return fmt.Errorf("save web code: %w", err)
	}, `INSERT INTO web_codes (`+webCodeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (login) DO UPDATE SET (code_mac, user_id, email, issued, created_at, expires_at, used_at, phone, locale) =
			(excluded.code_mac, excluded.user_id, excluded.email, excluded.issued, excluded.created_at,
			excluded.expires_at, excluded.used_at, excluded.phone, excluded.locale)`,
		c.Login, c.MAC, c.UserID, c.Email, c.Issued, ms(c.CreatedAt), ms(c.ExpiresAt), ms(c.UsedAt), c.Phone, c.Locale))...)
}

// AddLinkMiss records a wrong web code texted by a phone, holding the
// phone's lock. It is queued.
func (t *Tx) AddLinkMiss(ctx context.Context, phone string, at time.Time) error {
	return t.later(ctx, append(t.lock(lockPhone, phone), exec(wrap("add link miss"),
		`INSERT INTO link_misses (phone, at) VALUES ($1, $2)`, phone, ms(at)))...)
}

// CountLinkMisses counts the wrong web codes a phone texted at or after
// since. In an Update it first locks the phone, so that a count and the
// AddLinkMiss after it are exact across instances.
func (t *Tx) CountLinkMisses(ctx context.Context, phone string, since time.Time) (int, error) {
	return t.count(ctx, t.lock(lockPhone, phone), `SELECT COUNT(*) FROM link_misses WHERE phone = $1 AND at >= $2`, phone, ms(since))
}
