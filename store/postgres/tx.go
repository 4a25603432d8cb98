package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/smsbot/smsbot/bot"
)

// Tx is one transaction. It implements bot.Tx.
//
// It saves round trips, which are most of what a transaction costs here
// (docs/benchmarks.md), without changing what any statement sees:
//
//   - BEGIN is not a round trip of its own: it goes out with the first
//     statements, and a transaction that sends nothing sends no BEGIN.
//   - A lock and the statements after it go out together as one pipeline
//     (a pgx.Batch: one write, one Sync). The server still runs them one
//     after the other, each with a snapshot of its own, so at READ
//     COMMITTED the read after a lock sees what the lock's previous holder
//     committed. (One statement that locks and reads, such as
//     SELECT pg_advisory_xact_lock(...), (SELECT ...), would not: its
//     snapshot is taken before it waits for the lock.)
//   - Each advisory lock is taken once per transaction.
//   - A write whose only result is its success (SavePhone, SaveReply,
//     AddLink, Audit, AddWrongCode, AddLostDelivery) is queued and goes
//     out, in order, with the next statement that waits for an answer, or
//     with COMMIT. Its error comes back from there and ends the
//     transaction, which then commits nothing.
type Tx struct {
	conn   *pgx.Conn
	begin  string // the BEGIN still to send with the first statements; "" once sent
	write  bool   // an Update: take the advisory locks
	locked map[lockID]bool
	queued []step // writes not sent yet
	err    error  // the failure that ended the transaction

	// fresh makes Reply take a MessageSid as new without a statement, on
	// an Update's first run: nearly every text is new, and SaveReply's
	// insert finds out anyway. That saves the MessageSid's lock and
	// lookup, and their round trip. assumed is that MessageSid, stored
	// whether SaveReply queued its insert, and seen whether the insert
	// found it stored. Update checks the guess and runs fn again, looking,
	// when it was wrong or not proven (see seenBefore).
	fresh        bool
	assumed      string
	stored, seen bool

	// phones are the phones as this write transaction read (or saved)
	// them, so that SavePhone writes only the columns that changed: a
	// steady text changes two or three of the row's 25, and an UPDATE of
	// those is a smaller message and less work for the server than the
	// upsert of all of them.
	phones []bot.Phone
}

// lockID is an advisory lock: its space and the hash of its name.
type lockID struct{ space, key int32 }

// step is one statement of a round trip and the reading of its result.
type step struct {
	sql  string
	args []any
	read func(pgx.BatchResults) error
}

// exec is a statement whose only result is its success; wrap, if not
// nil, gives its error context.
func exec(wrap func(error) error, sql string, args ...any) step {
	return step{sql: sql, args: args, read: func(br pgx.BatchResults) error {
		_, err := br.Exec()
		if err != nil && wrap != nil {
			err = wrap(err)
		}
		return err
	}}
}

// row sends locks, then query, whose one row scan reads, in one round
// trip. No row is ENOTFOUND (scan's own, or "what not found"), which
// does not end the transaction.
func (t *Tx) row(ctx context.Context, locks []step, what string, scan func(pgx.Row) error, query string, args ...any) error {
	var missing error
	read := func(br pgx.BatchResults) error {
		err := scan(br.QueryRow())
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			missing = bot.Errorf(bot.ENOTFOUND, "%s not found", what)
		case err != nil && bot.ErrorCode(err) == bot.ENOTFOUND:
			missing = err
		default:
			return err
		}
		return nil
	}
	if err := t.send(ctx, append(locks, step{sql: query, args: args, read: read})...); err != nil {
		return err
	}
	return missing
}

// lock returns the step that takes the advisory lock on name in space
// until the transaction ends, or none: in a read transaction, or when
// the transaction has taken (or queued) the lock already.
func (t *Tx) lock(space int32, name string) []step {
	if !t.write {
		return nil
	}
	l := lockID{space, lockKey(name)}
	if t.locked[l] {
		return nil
	}
	if t.locked == nil {
		t.locked = make(map[lockID]bool)
	}
	t.locked[l] = true
	return []step{exec(func(err error) error { return fmt.Errorf("lock: %w", err) },
		`SELECT pg_advisory_xact_lock($1, $2)`, l.space, l.key)}
}

// send sends the queued writes and steps in one round trip (after BEGIN,
// the first time) and reads their results in order. The first error ends
// the transaction: every later call returns it, and nothing is committed.
func (t *Tx) send(ctx context.Context, steps ...step) error {
	if t.err != nil {
		return t.err
	}
	steps = append(t.queued, steps...)
	t.queued = nil
	b := &pgx.Batch{}
	if t.begin != "" {
		b.Queue(t.begin)
	}
	for _, s := range steps {
		b.Queue(s.sql, s.args...)
	}
	br := t.conn.SendBatch(ctx, b)
	err := t.read(br, steps)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.err = err
	}
	return err
}

func (t *Tx) read(br pgx.BatchResults, steps []step) error {
	if t.begin != "" {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		t.begin = ""
	}
	for _, s := range steps {
		if err := s.read(br); err != nil {
			return err
		}
	}
	return nil
}

// later queues writes to go out with the next round trip. A read
// transaction sends them at once, for the server to refuse.
func (t *Tx) later(ctx context.Context, steps ...step) error {
	if t.err != nil {
		return t.err
	}
	if !t.write {
		return t.send(ctx, steps...)
	}
	for _, s := range steps {
		for i, a := range s.args {
			if b, ok := a.([]byte); ok { // the caller may reuse it once we return
				s.args[i] = bytes.Clone(b)
			}
		}
	}
	t.queued = append(t.queued, steps...)
	return nil
}

// commit sends the queued writes and COMMIT in one round trip. A
// transaction that sent nothing has nothing to commit.
func (t *Tx) commit(ctx context.Context) error {
	if t.err != nil {
		return t.err
	}
	if t.begin != "" && len(t.queued) == 0 {
		return nil
	}
	var tag pgconn.CommandTag
	err := t.send(ctx, step{sql: "commit", read: func(br pgx.BatchResults) (err error) {
		if tag, err = br.Exec(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}})
	if err == nil && tag.String() != "COMMIT" { // the server rolled back instead
		err = fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback)
		t.err = err
	}
	return err
}

// Phone loads a phone by number. In an Update it first locks the number,
// so that one phone's transactions run one after the other, and keeps a
// copy for SavePhone.
func (t *Tx) Phone(ctx context.Context, number string) (*bot.Phone, error) {
	p, err := t.phone(ctx, t.lock(lockPhone, number), selectPhone, number)
	if err == nil && t.write {
		t.keep(p)
	}
	return p, err
}

// keep records p as the row holds it under the phone's lock (once the
// queued writes are sent); the copy owns its byte slices, which the
// caller may change in place.
func (t *Tx) keep(p *bot.Phone) {
	c := *p
	c.LinkHash, c.CodeMAC = bytes.Clone(p.LinkHash), bytes.Clone(p.CodeMAC)
	if was := t.wasRead(p.Number); was != nil {
		*was = c
		return
	}
	t.phones = append(t.phones, c)
}

// wasRead returns the phone as this transaction read or saved it, or nil.
func (t *Tx) wasRead(number string) *bot.Phone {
	for i := range t.phones {
		if t.phones[i].Number == number {
			return &t.phones[i]
		}
	}
	return nil
}

// phone sends locks, then query of one phone, in one round trip.
func (t *Tx) phone(ctx context.Context, locks []step, query string, arg any) (*bot.Phone, error) {
	var p *bot.Phone
	if err := t.row(ctx, locks, "phone", func(row pgx.Row) (err error) { p, err = scanPhone(row); return err }, query, arg); err != nil {
		return nil, err
	}
	return p, nil
}

// PhoneByUser loads the phone bound to a user. In an Update it locks the
// account (so that two phones confirming one account run one after the
// other) and then the phone it finds, reading it again under that lock:
// a phone unbound meanwhile is looked up afresh.
func (t *Tx) PhoneByUser(ctx context.Context, userID string) (*bot.Phone, error) {
	if !t.write {
		return t.phone(ctx, nil, selectPhoneByUser, userID)
	}
	for range maxTries {
		p, err := t.phone(ctx, t.lock(lockUser, userID), selectPhoneByUser, userID)
		if err != nil {
			return nil, err
		}
		if p, err = t.Phone(ctx, p.Number); err != nil || p.UserID == userID {
			return p, err
		}
	}
	return nil, fmt.Errorf("phone by user: the account's phone kept changing")
}

// SavePhone inserts or updates a phone, holding its lock. A phone this
// write transaction read (under that lock) gets an UPDATE of the columns
// that changed since (none: no statement at all); any other the upsert of
// every column. It is queued (see Tx): a constraint it breaks fails the
// transaction's next round trip, or its commit.
func (t *Tx) SavePhone(ctx context.Context, p *bot.Phone) error {
	number := p.Number
	fail := func(err error) error {
		if isConstraint(err) {
			return constraintError(number, err)
		}
		return fmt.Errorf("save phone: %w", err)
	}
	save := exec(fail, upsertPhone, phoneArgs(p)...)
	if was := t.wasRead(number); was != nil {
		query, args := partialUpdates.Changed(was, p)
		if query == "" {
			return nil
		}
		save = step{sql: query, args: args, read: func(br pgx.BatchResults) error {
			tag, err := br.Exec()
			if err != nil {
				return fail(err)
			}
			if tag.RowsAffected() != 1 {
				// Nothing deletes a phone, and the lock keeps every
				// other writer of this one waiting.
				return fmt.Errorf("save phone %s: its row is gone since it was read", bot.MaskPhone(number))
			}
			return nil
		}}
	}
	err := t.later(ctx, append(t.lock(lockPhone, number), save)...)
	if err == nil && t.write {
		t.keep(p)
	}
	return err
}

// Reply returns the sealed reply stored for a MessageSid. On an Update's
// first run it takes the first MessageSid asked as new without a statement
// (see Tx.fresh). Otherwise, in an Update, it first locks the MessageSid:
// the same text delivered to two instances at once is handled by one, and
// the other, waiting here, finds its reply. The lock and the lookup go out
// together but are two statements, so the lookup sees what the lock's
// previous holder committed.
func (t *Tx) Reply(ctx context.Context, sid string) ([]byte, error) {
	if t.fresh && (t.assumed == "" || t.assumed == sid) {
		t.assumed = sid
		return nil, bot.Errorf(bot.ENOTFOUND, "message not found")
	}
	var b []byte
	err := t.row(ctx, t.lock(lockMessage, sid), "message", func(row pgx.Row) error { return row.Scan(&b) },
		`SELECT reply FROM inbound WHERE message_sid = $1`, sid)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// SaveReply records a MessageSid and its sealed reply. It is queued. The
// insert of a MessageSid taken as new fails when the MessageSid is stored
// (its primary key), which ends the transaction: Update runs fn again.
func (t *Tx) SaveReply(ctx context.Context, sid, phone string, sealed []byte, at time.Time) error {
	s := exec(wrap("save reply"), `INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES ($1, $2, $3, $4)`,
		sid, phone, sealed, ms(at))
	if t.fresh && sid == t.assumed {
		t.stored = true
		s.read = func(br pgx.BatchResults) error {
			_, err := br.Exec()
			var e *pgconn.PgError
			if errors.As(err, &e) && e.Code == uniqueViolation {
				t.seen = true
				return errSeenBefore
			}
			if err != nil {
				return fmt.Errorf("save reply: %w", err)
			}
			return nil
		}
	}
	return t.later(ctx, s)
}

// errSeenBefore ends a run of fn that took a stored MessageSid as new.
var errSeenBefore = errors.New("message seen before")

// seenBefore reports whether a run of fn that took a MessageSid as new
// must run again, looking it up: when SaveReply found it stored, or when
// fn did not insert it (it ended early, with an error or before replying)
// and it is in fact stored. That lookup holds the MessageSid's lock, and
// fn held the phone's, which every text takes: a run of the same text
// elsewhere has committed by now, or waits for this one. A transaction a
// failed statement ended cannot look: its caller gets that error.
func (t *Tx) seenBefore(ctx context.Context) (bool, error) {
	switch {
	case t.seen:
		return true, nil
	case t.assumed == "" || t.stored || t.err != nil:
		return false, nil
	}
	var one int
	err := t.row(ctx, t.lock(lockMessage, t.assumed), "message", func(row pgx.Row) error { return row.Scan(&one) },
		`SELECT 1 FROM inbound WHERE message_sid = $1`, t.assumed)
	if bot.ErrorCode(err) == bot.ENOTFOUND {
		return false, nil
	}
	return err == nil, err
}

// wrap returns an error wrapper that says what failed.
func wrap(what string) func(error) error {
	return func(err error) error { return fmt.Errorf("%s: %w", what, err) }
}

// AddLink stores a new link. It is queued.
func (t *Tx) AddLink(ctx context.Context, l *bot.Link) error {
	return t.later(ctx, exec(wrap("add link"), `INSERT INTO links (hash, phone, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		l.Hash, l.Phone, ms(l.CreatedAt), ms(l.ExpiresAt)))
}

// Link loads a link by the hash of its token.
func (t *Tx) Link(ctx context.Context, hash []byte) (*bot.Link, error) {
	var l bot.Link
	err := t.row(ctx, nil, "link", func(row pgx.Row) error {
		return row.Scan(&l.Hash, &l.Phone, millis{&l.CreatedAt}, millis{&l.ExpiresAt}, millis{&l.UsedAt})
	}, `SELECT hash, phone, created_at, expires_at, used_at FROM links WHERE hash = $1`, hash)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// UseLink marks a link used. Using a used or unknown link is EUSED.
func (t *Tx) UseLink(ctx context.Context, hash []byte, at time.Time) error {
	var tag pgconn.CommandTag
	err := t.send(ctx, step{sql: `UPDATE links SET used_at = $1 WHERE hash = $2 AND used_at = 0`, args: []any{ms(at), hash},
		read: func(br pgx.BatchResults) (err error) { tag, err = br.Exec(); return err }})
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return bot.Errorf(bot.EUSED, "This link was already used. Text S for a new one.")
	}
	return nil
}

// count is a COUNT(*) after locks, in one round trip.
func (t *Tx) count(ctx context.Context, locks []step, query string, args ...any) (int, error) {
	var n int
	err := t.row(ctx, locks, "count", func(row pgx.Row) error { return row.Scan(&n) }, query, args...)
	return n, err
}

// CountLinks counts links made for a phone at or after since, holding the
// phone's lock.
func (t *Tx) CountLinks(ctx context.Context, phone string, since time.Time) (int, error) {
	return t.count(ctx, t.lock(lockPhone, phone), `SELECT COUNT(*) FROM links WHERE phone = $1 AND created_at >= $2`, phone, ms(since))
}

// Enqueue adds a job to the outbox, due at j.Due (now when zero). It
// holds the recipient's lock until commit, so that one recipient's jobs
// get their ids in the order they commit: Claim's oldest-first rule then
// never sees a younger job before an older one.
func (t *Tx) Enqueue(ctx context.Context, j *bot.Job) error {
	var id int64
	due := j.Due
	if due.IsZero() {
		due = j.CreatedAt
	}
	err := t.row(ctx, t.lock(lockRecipient, j.Kind+"\x00"+j.To+"\x00"+j.UserID), "job", func(row pgx.Row) error { return row.Scan(&id) },
		`INSERT INTO outbox (kind, phone, body, user_id, created_at, next_at, channel, template, vars, resends)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		j.Kind, j.To, j.Body, j.UserID, ms(j.CreatedAt), ms(due), string(j.Channel.Or()), j.Template, j.Vars, j.Resends)
	if err != nil {
		return err
	}
	j.ID = id
	return nil
}

// Undelivered takes the delivered text whose message is sid, once: of two
// status callbacks at once, the second waits on the row and then finds
// it taken. The update goes out with the writes queued before it.
func (t *Tx) Undelivered(ctx context.Context, sid string) (*bot.Job, error) {
	var j bot.Job
	err := t.row(ctx, nil, "text "+sid, func(row pgx.Row) error {
		return row.Scan(&j.ID, &j.Kind, &j.To, &j.Body, &j.UserID, millis{&j.CreatedAt}, millis{&j.FirstTry},
			(*string)(&j.Channel), &j.Template, &j.Vars, &j.Resends)
	}, `UPDATE outbox SET undelivered = true
		WHERE result = $1 AND result <> '' AND kind = 'sms' AND state = 'done' AND NOT undelivered
		RETURNING id, kind, phone, body, user_id, created_at, first_try, channel, template, vars, resends`, sid)
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// Audit records a binding change. It is queued.
func (t *Tx) Audit(ctx context.Context, e *bot.AuditEntry) error {
	return t.later(ctx, exec(wrap("audit"), `INSERT INTO audit (at, phone, user_id, action, reason) VALUES ($1, $2, $3, $4, $5)`,
		ms(e.At), e.Phone, e.UserID, e.Action, e.Reason))
}

// AddWrongCode records a wrong code meant for a user's account, holding
// the account's lock. It is queued.
func (t *Tx) AddWrongCode(ctx context.Context, userID, phone string, at time.Time) error {
	return t.later(ctx, append(t.lock(lockUser, userID), exec(wrap("add wrong code"),
		`INSERT INTO wrong_codes (user_id, phone, at) VALUES ($1, $2, $3)`, userID, phone, ms(at)))...)
}

// CountWrongCodes counts the wrong codes meant for a user at or after
// since, from every phone. In an Update it first locks the account, so
// that a count and the AddWrongCode after it are exact across phones and
// instances.
func (t *Tx) CountWrongCodes(ctx context.Context, userID string, since time.Time) (int, error) {
	return t.count(ctx, t.lock(lockUser, userID), `SELECT COUNT(*) FROM wrong_codes WHERE user_id = $1 AND at >= $2`, userID, ms(since))
}

// AddLostDelivery records a delivery error that says the number is gone;
// the same ref (message) twice is recorded once. It is queued.
func (t *Tx) AddLostDelivery(ctx context.Context, phone, ref string, code int, at time.Time) error {
	return t.later(ctx, exec(wrap("add lost delivery"), `INSERT INTO lost_deliveries (phone, ref, code, at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (phone, ref) DO NOTHING`, phone, ref, code, ms(at)))
}

// CountLostDeliveries counts the distinct messages to phone that failed
// with such an error at or after since.
func (t *Tx) CountLostDeliveries(ctx context.Context, phone string, since time.Time) (int, error) {
	return t.count(ctx, nil, `SELECT COUNT(*) FROM lost_deliveries WHERE phone = $1 AND at >= $2`, phone, ms(since))
}
