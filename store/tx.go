package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/internal/phonerow"
)

// Tx is one transaction. It implements bot.Tx.
type Tx struct {
	tx *sql.Tx
	// stmts is the group writer's statement cache; nil in a read
	// transaction. In a write transaction statements ignore cancellation:
	// SQLite's interrupt could roll back the whole group.
	stmts *stmtCache
	// read are the phones as this write transaction read them, so that
	// SavePhone writes only the columns that changed: most texts change
	// two or three of the row's columns, and an UPDATE that names user_id
	// rewrites its index entry even when the value is the same.
	read []bot.Phone

	// fresh makes Reply take a MessageSid as new without looking it up:
	// nearly every text is new, and SaveReply's insert finds out anyway.
	// assumed is that MessageSid, stored whether SaveReply inserted it, and
	// seen whether the guess turned out wrong. Update checks the guess
	// before the commit and runs fn again, looking, when it was wrong or
	// not proven (see DB.Update).
	fresh        bool
	assumed      string
	stored, seen bool
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

// The phones statements, built from phonerow.Columns.
var (
	phoneColumns = phonerow.Names
	insertPhone  = `INSERT INTO phones (` + phoneColumns + `) VALUES (` + placeholders(true) + `)`
	updatePhone  = `UPDATE phones SET ` + placeholders(false) + ` WHERE phone = ?1`
)

// placeholders numbers the columns' parameters in table order (phoneArgs
// binds them): "?1, ?2, ..." for an insert, "state = ?2, ..." without the
// fixed columns for an update.
func placeholders(insert bool) string {
	var parts []string
	for i, c := range phonerow.Columns {
		switch {
		case insert:
			parts = append(parts, fmt.Sprintf("?%d", i+1))
		case !c.Fixed:
			parts = append(parts, fmt.Sprintf("%s = ?%d", c.Name, i+1))
		}
	}
	return strings.Join(parts, ", ")
}

// phoneArgs are p's values in phonerow.Columns order.
func phoneArgs(p *bot.Phone) []any { return phonerow.Args(p) }

func scanPhone(row interface{ Scan(...any) error }) (*bot.Phone, error) {
	return phonerow.Scan(row.Scan, sql.ErrNoRows)
}

// Phone loads a phone by number.
func (t *Tx) Phone(ctx context.Context, number string) (*bot.Phone, error) {
	return t.remember(scanPhone(t.queryRow(ctx, `SELECT `+phoneColumns+` FROM phones WHERE phone = ?`, number)))
}

// PhoneByUser loads the phone bound to a user.
func (t *Tx) PhoneByUser(ctx context.Context, userID string) (*bot.Phone, error) {
	return t.remember(scanPhone(t.queryRow(ctx, `SELECT `+phoneColumns+` FROM phones WHERE user_id = ?`, userID)))
}

// remember keeps a copy of a phone a write transaction read.
func (t *Tx) remember(p *bot.Phone, err error) (*bot.Phone, error) {
	if err == nil && t.stmts != nil {
		t.keep(p)
	}
	return p, err
}

// keep records p as the row now holds it; the copy owns its byte slices,
// which the caller may change in place.
func (t *Tx) keep(p *bot.Phone) {
	c := *p
	c.LinkHash, c.CodeMAC = bytes.Clone(p.LinkHash), bytes.Clone(p.CodeMAC)
	for i := range t.read {
		if t.read[i].Number == p.Number {
			t.read[i] = c
			return
		}
	}
	t.read = append(t.read, c)
}

// SavePhone updates a phone, or inserts it the first time. A phone this
// write transaction read gets an UPDATE of the columns that changed since
// (none: no statement at all). Any other is updated whole, and inserted
// when there is no row: most saves are of a phone that exists, and an
// upsert costs an extra failed insert each time.
func (t *Tx) SavePhone(ctx context.Context, p *bot.Phone) error {
	err := t.savePhone(ctx, p)
	if isConstraint(err) {
		return constraintError(p.Number, err)
	}
	if err == nil && t.stmts != nil {
		t.keep(p)
	}
	return err
}

func (t *Tx) savePhone(ctx context.Context, p *bot.Phone) error {
	if was := t.wasRead(p.Number); was != nil {
		query, args := partialUpdates.Changed(was, p)
		if query == "" {
			return nil
		}
		res, err := t.exec(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		// The row went away since it was read (a delete in this
		// transaction): write it whole.
	}
	args := phoneArgs(p)
	res, err := t.exec(ctx, updatePhone, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	_, err = t.exec(ctx, insertPhone, args...)
	return err
}

// wasRead returns the phone as this transaction read or wrote it, or nil.
func (t *Tx) wasRead(number string) *bot.Phone {
	for i := range t.read {
		if t.read[i].Number == number {
			return &t.read[i]
		}
	}
	return nil
}

// partialUpdates builds and caches the UPDATE of each set of changed
// columns ("state = ?, ... WHERE phone = ?"), so that the statement cache
// sees the same text each time.
var partialUpdates = phonerow.NewUpdates(func(int) string { return "?" })

// Reply returns the sealed reply stored for a MessageSid.
func (t *Tx) Reply(ctx context.Context, sid string) ([]byte, error) {
	if t.fresh && (t.assumed == "" || t.assumed == sid) {
		t.assumed = sid
		return nil, bot.Errorf(bot.ENOTFOUND, "message not found")
	}
	var b []byte
	err := t.queryRow(ctx, `SELECT reply FROM inbound WHERE message_sid = ?`, sid).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "message not found")
	}
	return b, err
}

// SaveReply records a MessageSid and its sealed reply.
func (t *Tx) SaveReply(ctx context.Context, sid, phone string, sealed []byte, at time.Time) error {
	if t.fresh && sid == t.assumed {
		res, err := t.exec(ctx, `INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (message_sid) DO NOTHING`, sid, phone, sealed, ms(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			t.seen = true
			return errSeenBefore
		}
		t.stored = true
		return nil
	}
	_, err := t.exec(ctx, `INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES (?, ?, ?, ?)`,
		sid, phone, sealed, ms(at))
	return err
}

// errSeenBefore ends a run of fn that took a stored MessageSid as new.
var errSeenBefore = errors.New("message seen before")

// seenBefore reports whether a run of fn that took a MessageSid as new
// must run again, looking it up: when SaveReply found it stored, or when
// fn did not insert it (it ended early, with an error or before replying)
// and it is in fact stored.
func (t *Tx) seenBefore(ctx context.Context) (bool, error) {
	switch {
	case t.assumed == "" || t.stored:
		return false, nil
	case t.seen:
		return true, nil
	}
	var one int
	err := t.queryRow(ctx, `SELECT 1 FROM inbound WHERE message_sid = ?`, t.assumed).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
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

// Enqueue adds a job to the outbox, due at j.Due (now when zero).
func (t *Tx) Enqueue(ctx context.Context, j *bot.Job) error {
	due := j.Due
	if due.IsZero() {
		due = j.CreatedAt
	}
	res, err := t.exec(ctx, `INSERT INTO outbox (kind, phone, body, user_id, created_at, next_at, channel, template, vars, resends)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.Kind, j.To, j.Body, j.UserID, ms(j.CreatedAt), ms(due), string(j.Channel.Or()), j.Template, j.Vars, j.Resends)
	if err != nil {
		return err
	}
	j.ID, err = res.LastInsertId()
	return err
}

// Undelivered takes the delivered text whose message is sid, once.
func (t *Tx) Undelivered(ctx context.Context, sid string) (*bot.Job, error) {
	var j bot.Job
	var created, firstTry int64
	err := t.queryRow(ctx, `UPDATE outbox SET undelivered = 1
		WHERE result = ?1 AND result <> '' AND kind = 'sms' AND state = 'done' AND undelivered = 0
		RETURNING id, kind, phone, body, user_id, created_at, first_try, channel, template, vars, resends`, sid).
		Scan(&j.ID, &j.Kind, &j.To, &j.Body, &j.UserID, &created, &firstTry, (*string)(&j.Channel), &j.Template, &j.Vars, &j.Resends)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "no text %s to take", sid)
	} else if err != nil {
		return nil, err
	}
	j.CreatedAt, j.FirstTry = fromMS(created), fromMS(firstTry)
	return &j, nil
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
