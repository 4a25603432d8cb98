package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
)

// Tx is one transaction. It implements bot.Tx.
type Tx struct {
	tx    pgx.Tx
	write bool // an Update: take the advisory locks
}

// lock takes the advisory lock on name in space until the transaction
// ends; a read transaction takes none. It is a statement of its own: at
// READ COMMITTED the next statement then sees what the lock's previous
// holder committed.
func (t *Tx) lock(ctx context.Context, space int32, name string) error {
	if !t.write {
		return nil
	}
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, space, lockKey(name)); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// phoneColumns are the phones row's columns, in the order of phoneArgs and
// scanPhone.
const phoneColumns = `phone, state, expires_at, user_id, email, bound_at, link_hash, code_mac,
	code_user_id, code_email, code_login, code_attempts, reply_window, reply_count,
	created_at, updated_at, last_seen, verified_at, suspended_at, suspend_reason,
	channel, whatsapp_seen, proven`

// upsertPhone inserts a phone or updates every column but the key and the
// creation time.
const upsertPhone = `INSERT INTO phones (` + phoneColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23)
	ON CONFLICT (phone) DO UPDATE SET (state, expires_at, user_id, email, bound_at, link_hash, code_mac,
		code_user_id, code_email, code_login, code_attempts, reply_window, reply_count,
		updated_at, last_seen, verified_at, suspended_at, suspend_reason,
		channel, whatsapp_seen, proven) =
	(excluded.state, excluded.expires_at, excluded.user_id, excluded.email, excluded.bound_at,
		excluded.link_hash, excluded.code_mac, excluded.code_user_id, excluded.code_email,
		excluded.code_login, excluded.code_attempts, excluded.reply_window, excluded.reply_count,
		excluded.updated_at, excluded.last_seen, excluded.verified_at, excluded.suspended_at,
		excluded.suspend_reason, excluded.channel, excluded.whatsapp_seen, excluded.proven)`

// phoneArgs are p's values in phoneColumns order; an empty user id or
// hash is NULL, a zero time 0.
func phoneArgs(p *bot.Phone) []any {
	return []any{p.Number, p.State, ms(p.ExpiresAt), nilIfEmpty(p.UserID), p.Email, ms(p.BoundAt),
		nilIfEmpty(p.LinkHash), nilIfEmpty(p.CodeMAC), p.CodeUserID, p.CodeEmail, p.CodeLogin,
		p.CodeAttempts, ms(p.ReplyWindow), p.ReplyCount, ms(p.CreatedAt), ms(p.UpdatedAt),
		ms(p.LastSeen), ms(p.VerifiedAt), ms(p.SuspendedAt), string(p.SuspendReason),
		string(p.Channel.Or()), ms(p.WhatsAppSeen), string(p.Proven)}
}

// nilIfEmpty stores an empty value as NULL.
func nilIfEmpty[T string | []byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// millis scans unix milliseconds into a time.
type millis struct{ t *time.Time }

func (m millis) Scan(v any) error {
	n, ok := v.(int64)
	if !ok {
		return fmt.Errorf("want unix milliseconds, not %T", v)
	}
	*m.t = fromMS(n)
	return nil
}

func scanPhone(row pgx.Row) (*bot.Phone, error) {
	var p bot.Phone
	var userID *string
	err := row.Scan(&p.Number, &p.State, millis{&p.ExpiresAt}, &userID, &p.Email, millis{&p.BoundAt},
		&p.LinkHash, &p.CodeMAC, &p.CodeUserID, &p.CodeEmail, &p.CodeLogin,
		&p.CodeAttempts, millis{&p.ReplyWindow}, &p.ReplyCount, millis{&p.CreatedAt}, millis{&p.UpdatedAt},
		millis{&p.LastSeen}, millis{&p.VerifiedAt}, millis{&p.SuspendedAt}, (*string)(&p.SuspendReason),
		(*string)(&p.Channel), millis{&p.WhatsAppSeen}, (*string)(&p.Proven))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "phone not found")
	} else if err != nil {
		return nil, err
	}
	if userID != nil {
		p.UserID = *userID
	}
	return &p, nil
}

// Phone loads a phone by number. In an Update it first locks the number,
// so that one phone's transactions run one after the other.
func (t *Tx) Phone(ctx context.Context, number string) (*bot.Phone, error) {
	if err := t.lock(ctx, lockPhone, number); err != nil {
		return nil, err
	}
	return scanPhone(t.tx.QueryRow(ctx, `SELECT `+phoneColumns+` FROM phones WHERE phone = $1`, number))
}

// PhoneByUser loads the phone bound to a user. In an Update it locks the
// account (so that two phones confirming one account run one after the
// other) and then the phone it finds, reading it again under that lock:
// a phone unbound meanwhile is looked up afresh.
func (t *Tx) PhoneByUser(ctx context.Context, userID string) (*bot.Phone, error) {
	const query = `SELECT ` + phoneColumns + ` FROM phones WHERE user_id = $1`
	if !t.write {
		return scanPhone(t.tx.QueryRow(ctx, query, userID))
	}
	if err := t.lock(ctx, lockUser, userID); err != nil {
		return nil, err
	}
	for range maxTries {
		p, err := scanPhone(t.tx.QueryRow(ctx, query, userID))
		if err != nil {
			return nil, err
		}
		if p, err = t.Phone(ctx, p.Number); err != nil || p.UserID == userID {
			return p, err
		}
	}
	return nil, fmt.Errorf("phone by user: the account's phone kept changing")
}

// SavePhone inserts or updates a phone, holding its lock.
func (t *Tx) SavePhone(ctx context.Context, p *bot.Phone) error {
	if err := t.lock(ctx, lockPhone, p.Number); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, upsertPhone, phoneArgs(p)...)
	if isConstraint(err) {
		return constraintError(p.Number, err)
	}
	return err
}

// Reply returns the sealed reply stored for a MessageSid. In an Update it
// first locks the MessageSid: the same text delivered to two instances at
// once is handled by one, and the other, waiting here, finds its reply.
func (t *Tx) Reply(ctx context.Context, sid string) ([]byte, error) {
	if err := t.lock(ctx, lockMessage, sid); err != nil {
		return nil, err
	}
	var b []byte
	err := t.tx.QueryRow(ctx, `SELECT reply FROM inbound WHERE message_sid = $1`, sid).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "message not found")
	}
	return b, err
}

// SaveReply records a MessageSid and its sealed reply.
func (t *Tx) SaveReply(ctx context.Context, sid, phone string, sealed []byte, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES ($1, $2, $3, $4)`,
		sid, phone, sealed, ms(at))
	return err
}

// AddLink stores a new link.
func (t *Tx) AddLink(ctx context.Context, l *bot.Link) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO links (hash, phone, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		l.Hash, l.Phone, ms(l.CreatedAt), ms(l.ExpiresAt))
	return err
}

// Link loads a link by the hash of its token.
func (t *Tx) Link(ctx context.Context, hash []byte) (*bot.Link, error) {
	var l bot.Link
	err := t.tx.QueryRow(ctx, `SELECT hash, phone, created_at, expires_at, used_at FROM links WHERE hash = $1`, hash).
		Scan(&l.Hash, &l.Phone, millis{&l.CreatedAt}, millis{&l.ExpiresAt}, millis{&l.UsedAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "link not found")
	} else if err != nil {
		return nil, err
	}
	return &l, nil
}

// UseLink marks a link used. Using a used or unknown link is EUSED.
func (t *Tx) UseLink(ctx context.Context, hash []byte, at time.Time) error {
	tag, err := t.tx.Exec(ctx, `UPDATE links SET used_at = $1 WHERE hash = $2 AND used_at = 0`, ms(at), hash)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return bot.Errorf(bot.EUSED, "This link was already used. Text S for a new one.")
	}
	return nil
}

// CountLinks counts links made for a phone at or after since, holding the
// phone's lock.
func (t *Tx) CountLinks(ctx context.Context, phone string, since time.Time) (int, error) {
	if err := t.lock(ctx, lockPhone, phone); err != nil {
		return 0, err
	}
	var n int
	err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM links WHERE phone = $1 AND created_at >= $2`, phone, ms(since)).Scan(&n)
	return n, err
}

// Enqueue adds a job to the outbox, due at j.Due (now when zero). It
// holds the recipient's lock until commit, so that one recipient's jobs
// get their ids in the order they commit: Claim's oldest-first rule then
// never sees a younger job before an older one.
func (t *Tx) Enqueue(ctx context.Context, j *bot.Job) error {
	if err := t.lock(ctx, lockRecipient, j.Kind+"\x00"+j.To+"\x00"+j.UserID); err != nil {
		return err
	}
	due := j.Due
	if due.IsZero() {
		due = j.CreatedAt
	}
	return t.tx.QueryRow(ctx, `INSERT INTO outbox (kind, phone, body, user_id, created_at, next_at, channel, template, vars, resends)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		j.Kind, j.To, j.Body, j.UserID, ms(j.CreatedAt), ms(due), string(j.Channel.Or()), j.Template, j.Vars, j.Resends).Scan(&j.ID)
}

// Undelivered takes the delivered text whose message is sid, once: of two
// status callbacks at once, the second waits on the row and then finds
// it taken.
func (t *Tx) Undelivered(ctx context.Context, sid string) (*bot.Job, error) {
	var j bot.Job
	err := t.tx.QueryRow(ctx, `UPDATE outbox SET undelivered = true
		WHERE result = $1 AND result <> '' AND kind = 'sms' AND state = 'done' AND NOT undelivered
		RETURNING id, kind, phone, body, user_id, created_at, first_try, channel, template, vars, resends`, sid).
		Scan(&j.ID, &j.Kind, &j.To, &j.Body, &j.UserID, millis{&j.CreatedAt}, millis{&j.FirstTry},
			(*string)(&j.Channel), &j.Template, &j.Vars, &j.Resends)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "no text %s to take", sid)
	} else if err != nil {
		return nil, err
	}
	return &j, nil
}

// Audit records a binding change.
func (t *Tx) Audit(ctx context.Context, e *bot.AuditEntry) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO audit (at, phone, user_id, action, reason) VALUES ($1, $2, $3, $4, $5)`,
		ms(e.At), e.Phone, e.UserID, e.Action, e.Reason)
	return err
}

// AddWrongCode records a wrong code meant for a user's account, holding
// the account's lock.
func (t *Tx) AddWrongCode(ctx context.Context, userID, phone string, at time.Time) error {
	if err := t.lock(ctx, lockUser, userID); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO wrong_codes (user_id, phone, at) VALUES ($1, $2, $3)`, userID, phone, ms(at))
	return err
}

// CountWrongCodes counts the wrong codes meant for a user at or after
// since, from every phone. In an Update it first locks the account, so
// that a count and the AddWrongCode after it are exact across phones and
// instances.
func (t *Tx) CountWrongCodes(ctx context.Context, userID string, since time.Time) (int, error) {
	if err := t.lock(ctx, lockUser, userID); err != nil {
		return 0, err
	}
	var n int
	err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM wrong_codes WHERE user_id = $1 AND at >= $2`, userID, ms(since)).Scan(&n)
	return n, err
}

// AddLostDelivery records a delivery error that says the number is gone;
// the same ref (message) twice is recorded once.
func (t *Tx) AddLostDelivery(ctx context.Context, phone, ref string, code int, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO lost_deliveries (phone, ref, code, at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (phone, ref) DO NOTHING`, phone, ref, code, ms(at))
	return err
}

// CountLostDeliveries counts the distinct messages to phone that failed
// with such an error at or after since.
func (t *Tx) CountLostDeliveries(ctx context.Context, phone string, since time.Time) (int, error) {
	var n int
	err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM lost_deliveries WHERE phone = $1 AND at >= $2`, phone, ms(since)).Scan(&n)
	return n, err
}
