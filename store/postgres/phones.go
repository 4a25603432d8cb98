package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
)

// phoneColumn is one column of the phones row: its name, the value a
// Phone writes to it and where a read puts it.
type phoneColumn struct {
	name  string
	value func(*bot.Phone) any
	dest  func(*bot.Phone) any
	same  func(a, b *bot.Phone) bool // whether a and b store the same value
	fixed bool                       // written by the insert only (the key and the creation time)
}

// phoneTable lists the phones row's columns once, in the order of every
// SELECT, INSERT and UPDATE of a phone. A new column is a new row here.
var phoneTable = []phoneColumn{
	phoneText("phone", func(p *bot.Phone) *string { return &p.Number }, true),
	phoneText("state", func(p *bot.Phone) *string { return &p.State }, false),
	phoneTime("expires_at", func(p *bot.Phone) *time.Time { return &p.ExpiresAt }, false),
	{name: "user_id", value: func(p *bot.Phone) any { return nilIfEmpty(p.UserID) }, dest: func(p *bot.Phone) any { return nullText{&p.UserID} },
		same: func(a, b *bot.Phone) bool { return a.UserID == b.UserID }},
	phoneText("email", func(p *bot.Phone) *string { return &p.Email }, false),
	phoneTime("bound_at", func(p *bot.Phone) *time.Time { return &p.BoundAt }, false),
	phoneBlob("link_hash", func(p *bot.Phone) *[]byte { return &p.LinkHash }),
	phoneBlob("code_mac", func(p *bot.Phone) *[]byte { return &p.CodeMAC }),
	phoneText("code_user_id", func(p *bot.Phone) *string { return &p.CodeUserID }, false),
	phoneText("code_email", func(p *bot.Phone) *string { return &p.CodeEmail }, false),
	phoneText("code_login", func(p *bot.Phone) *string { return &p.CodeLogin }, false),
	phoneInt("code_attempts", func(p *bot.Phone) *int { return &p.CodeAttempts }),
	phoneTime("reply_window", func(p *bot.Phone) *time.Time { return &p.ReplyWindow }, false),
	phoneInt("reply_count", func(p *bot.Phone) *int { return &p.ReplyCount }),
	phoneTime("created_at", func(p *bot.Phone) *time.Time { return &p.CreatedAt }, true),
	phoneTime("updated_at", func(p *bot.Phone) *time.Time { return &p.UpdatedAt }, false),
	phoneTime("last_seen", func(p *bot.Phone) *time.Time { return &p.LastSeen }, false),
	phoneTime("verified_at", func(p *bot.Phone) *time.Time { return &p.VerifiedAt }, false),
	phoneTime("suspended_at", func(p *bot.Phone) *time.Time { return &p.SuspendedAt }, false),
	phoneText("suspend_reason", func(p *bot.Phone) *string { return (*string)(&p.SuspendReason) }, false),
	{name: "channel", value: func(p *bot.Phone) any { return string(p.Channel.Or()) }, dest: func(p *bot.Phone) any { return (*string)(&p.Channel) },
		same: func(a, b *bot.Phone) bool { return a.Channel.Or() == b.Channel.Or() }},
	phoneTime("whatsapp_seen", func(p *bot.Phone) *time.Time { return &p.WhatsAppSeen }, false),
	phoneText("proven", func(p *bot.Phone) *string { return (*string)(&p.Proven) }, false),
	phoneText("language", func(p *bot.Phone) *string { return &p.Language }, false),
	phoneText("language_source", func(p *bot.Phone) *string { return &p.LanguageSource }, false),
}

func phoneText(name string, f func(*bot.Phone) *string, fixed bool) phoneColumn {
	return phoneColumn{name: name, value: func(p *bot.Phone) any { return *f(p) }, dest: func(p *bot.Phone) any { return f(p) },
		same: func(a, b *bot.Phone) bool { return *f(a) == *f(b) }, fixed: fixed}
}

func phoneInt(name string, f func(*bot.Phone) *int) phoneColumn {
	return phoneColumn{name: name, value: func(p *bot.Phone) any { return *f(p) }, dest: func(p *bot.Phone) any { return f(p) },
		same: func(a, b *bot.Phone) bool { return *f(a) == *f(b) }}
}

// phoneBlob stores an empty slice as NULL, and reads NULL as nil.
func phoneBlob(name string, f func(*bot.Phone) *[]byte) phoneColumn {
	return phoneColumn{name: name, value: func(p *bot.Phone) any { return nilIfEmpty(*f(p)) }, dest: func(p *bot.Phone) any { return f(p) },
		same: func(a, b *bot.Phone) bool { return bytes.Equal(*f(a), *f(b)) }}
}

// phoneTime stores unix milliseconds, 0 for the zero time.
func phoneTime(name string, f func(*bot.Phone) *time.Time, fixed bool) phoneColumn {
	return phoneColumn{name: name, value: func(p *bot.Phone) any { return ms(*f(p)) }, dest: func(p *bot.Phone) any { return millis{f(p)} },
		same: func(a, b *bot.Phone) bool { return ms(*f(a)) == ms(*f(b)) }, fixed: fixed}
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

// nullText scans a nullable text column, NULL as "".
type nullText struct{ s *string }

func (n nullText) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = v
	default:
		return fmt.Errorf("want text, not %T", v)
	}
	return nil
}

// nilIfEmpty stores an empty value as NULL.
func nilIfEmpty[T string | []byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// The phones statements, built from phoneTable.
var (
	phoneColumns      = columnList(phoneTable)
	selectPhone       = `SELECT ` + phoneColumns + ` FROM phones WHERE phone = $1`
	selectPhoneByUser = `SELECT ` + phoneColumns + ` FROM phones WHERE user_id = $1`
	// upsertPhone inserts a phone or updates every column but the fixed
	// ones.
	upsertPhone = `INSERT INTO phones (` + phoneColumns + `) VALUES (` + placeholders(len(phoneTable)) + `)
	ON CONFLICT (phone) DO UPDATE SET ` + excludedList(phoneTable)
)

func columnList(cols []phoneColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// placeholders is "$1, $2, ..., $n".
func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(ps, ", ")
}

// excludedList is "state = excluded.state, ..." of the columns that are
// not fixed.
func excludedList(cols []phoneColumn) string {
	var parts []string
	for _, c := range cols {
		if !c.fixed {
			parts = append(parts, c.name+" = excluded."+c.name)
		}
	}
	return strings.Join(parts, ", ")
}

// phoneArgs are p's values in phoneTable order.
func phoneArgs(p *bot.Phone) []any {
	args := make([]any, len(phoneTable))
	for i, c := range phoneTable {
		args[i] = c.value(p)
	}
	return args
}

func scanPhone(row pgx.Row) (*bot.Phone, error) {
	var p bot.Phone
	dests := make([]any, len(phoneTable))
	for i, c := range phoneTable {
		dests[i] = c.dest(&p)
	}
	err := row.Scan(dests...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "phone not found")
	} else if err != nil {
		return nil, err
	}
	return &p, nil
}

// partialUpdates caches the UPDATE statement of each set of changed
// columns (a bit per phoneTable row), so that pgx's statement cache sees
// the same text each time.
var partialUpdates sync.Map // uint64 -> string

// changedColumns returns the UPDATE of p's columns that differ from was,
// and its arguments; "" when none does.
func changedColumns(was, p *bot.Phone) (string, []any) {
	var set uint64
	args := make([]any, 0, 8)
	for i, c := range phoneTable {
		if !c.fixed && !c.same(was, p) {
			set |= 1 << i
			args = append(args, c.value(p))
		}
	}
	if set == 0 {
		return "", nil
	}
	args = append(args, p.Number)
	if q, ok := partialUpdates.Load(set); ok {
		return q.(string), args
	}
	var parts []string
	for i, c := range phoneTable {
		if set&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("%s = $%d", c.name, len(parts)+1))
		}
	}
	q := fmt.Sprintf(`UPDATE phones SET %s WHERE phone = $%d`, strings.Join(parts, ", "), len(parts)+1)
	partialUpdates.Store(set, q)
	return q, args
}
