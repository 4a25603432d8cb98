package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// Tx is one transaction. It implements bot.Tx.
type Tx struct {
	tx *sql.Tx
	// stmts is the group writer's statement cache; nil in a read
	// transaction. In a write transaction statements ignore cancellation:
	// SQLite's interrupt could roll back the whole group.
	stmts *stmtCache
}

func (t *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.stmts == nil {
		return t.tx.ExecContext(ctx, query, args...)
	}
	return t.stmts.exec(t.tx, query, args...)
}

func (t *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if t.stmts == nil {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	return t.stmts.queryRow(t.tx, query, args...)
}

const phoneColumns = `phone, state, expires_at, user_id, email, bound_at, link_hash,
	code_mac, code_user_id, code_email, code_login, code_attempts,
	reply_window, reply_count, created_at, updated_at,
	last_seen, verified_at, suspended_at, suspend_reason`

// phonePlaceholders has one ? per column of phoneColumns.
const phonePlaceholders = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

// phoneValues returns p's values in the order of phoneColumns.
func phoneValues(p *bot.Phone) []any {
	var userID any
	if p.UserID != "" {
		userID = p.UserID
	}
	return []any{p.Number, p.State, ms(p.ExpiresAt), userID, p.Email, ms(p.BoundAt), nilIfEmpty(p.LinkHash),
		nilIfEmpty(p.CodeMAC), p.CodeUserID, p.CodeEmail, p.CodeLogin, p.CodeAttempts,
		ms(p.ReplyWindow), p.ReplyCount, ms(p.CreatedAt), ms(p.UpdatedAt),
		ms(p.LastSeen), ms(p.VerifiedAt), ms(p.SuspendedAt), p.SuspendReason}
}

func scanPhone(row interface{ Scan(...any) error }) (*bot.Phone, error) {
	var p bot.Phone
	var userID sql.NullString
	var expires, bound, window, created, updated, seen, verified, suspended int64
	err := row.Scan(&p.Number, &p.State, &expires, &userID, &p.Email, &bound, &p.LinkHash,
		&p.CodeMAC, &p.CodeUserID, &p.CodeEmail, &p.CodeLogin, &p.CodeAttempts,
		&window, &p.ReplyCount, &created, &updated,
		&seen, &verified, &suspended, &p.SuspendReason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "phone not found")
	} else if err != nil {
		return nil, err
	}
	p.UserID = userID.String
	p.ExpiresAt, p.BoundAt, p.ReplyWindow = fromMS(expires), fromMS(bound), fromMS(window)
	p.CreatedAt, p.UpdatedAt = fromMS(created), fromMS(updated)
	p.LastSeen, p.VerifiedAt, p.SuspendedAt = fromMS(seen), fromMS(verified), fromMS(suspended)
	return &p, nil
}

// Phone loads a phone by number.
func (t *Tx) Phone(ctx context.Context, number string) (*bot.Phone, error) {
	return scanPhone(t.queryRow(ctx, `SELECT `+phoneColumns+` FROM phones WHERE phone = ?`, number))
}

// PhoneByUser loads the phone bound to a user.
func (t *Tx) PhoneByUser(ctx context.Context, userID string) (*bot.Phone, error) {
	return scanPhone(t.queryRow(ctx, `SELECT `+phoneColumns+` FROM phones WHERE user_id = ?`, userID))
}

// SavePhone updates a phone, or inserts it the first time. Most saves are
// of a phone that exists, so the UPDATE comes first: an upsert costs an
// extra failed insert each time.
func (t *Tx) SavePhone(ctx context.Context, p *bot.Phone) error {
	var userID any
	if p.UserID != "" {
		userID = p.UserID
	}
	res, err := t.exec(ctx, `UPDATE phones SET
			state = ?, expires_at = ?, user_id = ?, email = ?, bound_at = ?,
			link_hash = ?, code_mac = ?, code_user_id = ?, code_email = ?,
			code_login = ?, code_attempts = ?, reply_window = ?, reply_count = ?,
			updated_at = ?, last_seen = ?, verified_at = ?, suspended_at = ?,
			suspend_reason = ?
		WHERE phone = ?`,
		p.State, ms(p.ExpiresAt), userID, p.Email, ms(p.BoundAt),
		nilIfEmpty(p.LinkHash), nilIfEmpty(p.CodeMAC), p.CodeUserID, p.CodeEmail,
		p.CodeLogin, p.CodeAttempts, ms(p.ReplyWindow), p.ReplyCount,
		ms(p.UpdatedAt), ms(p.LastSeen), ms(p.VerifiedAt), ms(p.SuspendedAt),
		p.SuspendReason, p.Number)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			_, err = t.exec(ctx, `INSERT INTO phones (`+phoneColumns+`) VALUES (`+phonePlaceholders+`)`, phoneValues(p)...)
		}
	}
	if isConstraint(err) {
		return constraintError(p.Number, err)
	}
	return err
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Reply returns the sealed reply stored for a MessageSid.
func (t *Tx) Reply(ctx context.Context, sid string) ([]byte, error) {
	var b []byte
	err := t.queryRow(ctx, `SELECT reply FROM inbound WHERE message_sid = ?`, sid).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "message not found")
	}
	return b, err
}

// SaveReply records a MessageSid and its sealed reply.
func (t *Tx) SaveReply(ctx context.Context, sid, phone string, sealed []byte, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES (?, ?, ?, ?)`,
		sid, phone, sealed, ms(at))
	return err
}

// AddLink stores a new link.
func (t *Tx) AddLink(ctx context.Context, l *bot.Link) error {
	_, err := t.exec(ctx, `INSERT INTO links (hash, phone, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		l.Hash, l.Phone, ms(l.CreatedAt), ms(l.ExpiresAt))
	return err
}

// Link loads a link by the hash of its token.
func (t *Tx) Link(ctx context.Context, hash []byte) (*bot.Link, error) {
	var l bot.Link
	var created, expires, used int64
	err := t.queryRow(ctx, `SELECT hash, phone, created_at, expires_at, used_at FROM links WHERE hash = ?`, hash).
		Scan(&l.Hash, &l.Phone, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "link not found")
	} else if err != nil {
		return nil, err
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMS(created), fromMS(expires), fromMS(used)
	return &l, nil
}

// UseLink marks a link used. Using a used or unknown link is EUSED.
func (t *Tx) UseLink(ctx context.Context, hash []byte, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE links SET used_at = ? WHERE hash = ? AND used_at = 0`, ms(at), hash)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return bot.Errorf(bot.EUSED, "This link was already used. Text S for a new one.")
	}
	return nil
}

// CountLinks counts links made for a phone at or after since.
func (t *Tx) CountLinks(ctx context.Context, phone string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM links WHERE phone = ? AND created_at >= ?`, phone, ms(since)).Scan(&n)
	return n, err
}

// Enqueue adds a job to the outbox, due now.
func (t *Tx) Enqueue(ctx context.Context, j *bot.Job) error {
	res, err := t.exec(ctx, `INSERT INTO outbox (kind, phone, body, user_id, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?)`,
		j.Kind, j.To, j.Body, j.UserID, ms(j.CreatedAt), ms(j.CreatedAt))
	if err != nil {
		return err
	}
	j.ID, err = res.LastInsertId()
	return err
}

// Audit records a binding change.
func (t *Tx) Audit(ctx context.Context, e *bot.AuditEntry) error {
	_, err := t.exec(ctx, `INSERT INTO audit (at, phone, user_id, action, reason) VALUES (?, ?, ?, ?, ?)`,
		ms(e.At), e.Phone, e.UserID, e.Action, e.Reason)
	return err
}

// AddWrongCode records a wrong code meant for a user's account.
func (t *Tx) AddWrongCode(ctx context.Context, userID, phone string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO wrong_codes (user_id, phone, at) VALUES (?, ?, ?)`, userID, phone, ms(at))
	return err
}

// CountWrongCodes counts the wrong codes meant for a user at or after
// since, from every phone.
func (t *Tx) CountWrongCodes(ctx context.Context, userID string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM wrong_codes WHERE user_id = ? AND at >= ?`, userID, ms(since)).Scan(&n)
	return n, err
}

// AddLostDelivery records a delivery error that says the number is gone;
// the same ref (message) twice is recorded once.
func (t *Tx) AddLostDelivery(ctx context.Context, phone, ref string, code int, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO lost_deliveries (phone, ref, code, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (phone, ref) DO NOTHING`, phone, ref, code, ms(at))
	return err
}

// CountLostDeliveries counts the distinct messages to phone that failed
// with such an error at or after since.
func (t *Tx) CountLostDeliveries(ctx context.Context, phone string, since time.Time) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM lost_deliveries WHERE phone = ? AND at >= ?`, phone, ms(since)).Scan(&n)
	return n, err
}
