// Package phonerow describes the phones row once for both stores (SQLite
// in package store, PostgreSQL in store/postgres): its columns, how a
// bot.Phone writes, reads and compares each, and which UPDATE a save of
// a phone read earlier needs. The stores keep only what differs between
// them: their placeholders, the rest of their SQL and their drivers.
package phonerow

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// Column is one column of the phones row: its name, the value a Phone
// writes to it, where a read puts it and whether two phones store the
// same value in it.
type Column struct {
	Name string
	// Fixed columns are written by the insert only: the key and the
	// creation time.
	Fixed bool
	value func(*bot.Phone) any
	dest  func(*bot.Phone) any
	same  func(a, b *bot.Phone) bool
}

// Value is what p writes to the column.
func (c *Column) Value(p *bot.Phone) any { return c.value(p) }

// Dest is where a read of the column puts its value in p: a pointer
// into p, or a sql.Scanner that converts.
func (c *Column) Dest(p *bot.Phone) any { return c.dest(p) }

// Same reports whether a and b store the same value in the column.
func (c *Column) Same(a, b *bot.Phone) bool { return c.same(a, b) }

// Columns lists the phones row's columns once, in the order of every
// SELECT, INSERT and UPDATE of a phone in both stores. A new column is a
// new row here (and a migration in each store).
var Columns = []Column{
	text("phone", func(p *bot.Phone) *string { return &p.Number }, true),
	text("state", func(p *bot.Phone) *string { return &p.State }, false),
	millis("expires_at", func(p *bot.Phone) *time.Time { return &p.ExpiresAt }, false),
	{Name: "user_id", value: func(p *bot.Phone) any { return nilIfEmpty(p.UserID) }, dest: func(p *bot.Phone) any { return nullText{&p.UserID} },
		same: func(a, b *bot.Phone) bool { return a.UserID == b.UserID }},
	text("email", func(p *bot.Phone) *string { return &p.Email }, false),
	millis("bound_at", func(p *bot.Phone) *time.Time { return &p.BoundAt }, false),
	blob("link_hash", func(p *bot.Phone) *[]byte { return &p.LinkHash }),
	blob("code_mac", func(p *bot.Phone) *[]byte { return &p.CodeMAC }),
	text("code_user_id", func(p *bot.Phone) *string { return &p.CodeUserID }, false),
	text("code_email", func(p *bot.Phone) *string { return &p.CodeEmail }, false),
	text("code_login", func(p *bot.Phone) *string { return &p.CodeLogin }, false),
	integer("code_attempts", func(p *bot.Phone) *int { return &p.CodeAttempts }),
	millis("reply_window", func(p *bot.Phone) *time.Time { return &p.ReplyWindow }, false),
	integer("reply_count", func(p *bot.Phone) *int { return &p.ReplyCount }),
	millis("created_at", func(p *bot.Phone) *time.Time { return &p.CreatedAt }, true),
	millis("updated_at", func(p *bot.Phone) *time.Time { return &p.UpdatedAt }, false),
	millis("last_seen", func(p *bot.Phone) *time.Time { return &p.LastSeen }, false),
	millis("verified_at", func(p *bot.Phone) *time.Time { return &p.VerifiedAt }, false),
	millis("suspended_at", func(p *bot.Phone) *time.Time { return &p.SuspendedAt }, false),
	text("suspend_reason", func(p *bot.Phone) *string { return (*string)(&p.SuspendReason) }, false),
	{Name: "channel", value: func(p *bot.Phone) any { return string(p.Channel.Or()) }, dest: func(p *bot.Phone) any { return (*string)(&p.Channel) },
		same: func(a, b *bot.Phone) bool { return a.Channel.Or() == b.Channel.Or() }},
	millis("whatsapp_seen", func(p *bot.Phone) *time.Time { return &p.WhatsAppSeen }, false),
	text("proven", func(p *bot.Phone) *string { return (*string)(&p.Proven) }, false),
	text("language", func(p *bot.Phone) *string { return &p.Language }, false),
	text("language_source", func(p *bot.Phone) *string { return &p.LanguageSource }, false),
}

func text(name string, f func(*bot.Phone) *string, fixed bool) Column {
	return Column{Name: name, Fixed: fixed, value: func(p *bot.Phone) any { return *f(p) }, dest: func(p *bot.Phone) any { return f(p) },
		same: func(a, b *bot.Phone) bool { return *f(a) == *f(b) }}
}

func integer(name string, f func(*bot.Phone) *int) Column {
	return Column{Name: name, value: func(p *bot.Phone) any { return *f(p) }, dest: func(p *bot.Phone) any { return f(p) },
		same: func(a, b *bot.Phone) bool { return *f(a) == *f(b) }}
}

// blob stores an empty slice as NULL, and reads NULL as nil.
func blob(name string, f func(*bot.Phone) *[]byte) Column {
	return Column{Name: name, value: func(p *bot.Phone) any { return nilIfEmpty(*f(p)) }, dest: func(p *bot.Phone) any { return f(p) },
		same: func(a, b *bot.Phone) bool { return bytes.Equal(*f(a), *f(b)) }}
}

// millis stores unix milliseconds, 0 for the zero time, so times compare
// equal when they store the same number.
func millis(name string, f func(*bot.Phone) *time.Time, fixed bool) Column {
	return Column{Name: name, Fixed: fixed, value: func(p *bot.Phone) any { return Millis{f(p)}.Int64() }, dest: func(p *bot.Phone) any { return Millis{f(p)} },
		same: func(a, b *bot.Phone) bool { return Millis{f(a)}.Int64() == Millis{f(b)}.Int64() }}
}

// Millis is a time as both stores keep it: unix milliseconds, 0 for the
// zero time. As a sql.Scanner it reads such a column into T.
type Millis struct{ T *time.Time }

// Int64 is *m.T in unix milliseconds.
func (m Millis) Int64() int64 {
	if m.T.IsZero() {
		return 0
	}
	return m.T.UnixMilli()
}

// Scan reads unix milliseconds into *m.T.
func (m Millis) Scan(v any) error {
	n, ok := v.(int64)
	switch {
	case !ok:
		return fmt.Errorf("want unix milliseconds, not %T", v)
	case n == 0:
		*m.T = time.Time{}
	default:
		*m.T = time.UnixMilli(n)
	}
	return nil
}

// nullText scans a nullable text column, NULL as "".
type nullText struct{ s *string }

func (n nullText) Scan(v any) error {
	var ns sql.NullString
	if err := ns.Scan(v); err != nil {
		return err
	}
	*n.s = ns.String
	return nil
}

// nilIfEmpty stores an empty value as NULL.
func nilIfEmpty[T string | []byte](v T) any {
	if len(v) == 0 {
		return nil
	}
	return v
}

// Names is the column list of every SELECT and INSERT of a phone:
// "phone, state, ...".
var Names = func() string {
	names := make([]string, len(Columns))
	for i, c := range Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}()

// Args are p's values in Columns order.
func Args(p *bot.Phone) []any {
	args := make([]any, len(Columns))
	for i := range Columns {
		args[i] = Columns[i].value(p)
	}
	return args
}

// Dests are where a read of the columns, in Columns order, puts them in p.
func Dests(p *bot.Phone) []any {
	dests := make([]any, len(Columns))
	for i := range Columns {
		dests[i] = Columns[i].dest(p)
	}
	return dests
}

// Scan reads a phones row, its columns in Columns order, with scan (a
// row's Scan method). The driver's noRows, there being no row, is
// bot.ENOTFOUND.
func Scan(scan func(dest ...any) error, noRows error) (*bot.Phone, error) {
	var p bot.Phone
	err := scan(Dests(&p)...)
	if errors.Is(err, noRows) {
		return nil, bot.Errorf(bot.ENOTFOUND, "phone not found")
	} else if err != nil {
		return nil, err
	}
	return &p, nil
}

// Updates builds the UPDATE of the columns of a phone that changed since
// it was read, in one store's placeholder syntax.
type Updates struct {
	param func(n int) string
	// texts caches the statement of each set of changed columns (a bit
	// per Columns row), so that the driver's statement cache sees the
	// same text each time.
	texts sync.Map // uint64 -> string
}

// NewUpdates returns the Updates of a store whose n-th parameter (from 1)
// is written param(n).
func NewUpdates(param func(n int) string) *Updates {
	if len(Columns) > 64 {
		panic(fmt.Sprintf("%d phone columns: a set of changed columns holds 64", len(Columns)))
	}
	return &Updates{param: param}
}

// Changed returns the UPDATE of p's columns that differ from was, and
// its arguments (p's number, the key, last); "" when none does.
func (u *Updates) Changed(was, p *bot.Phone) (string, []any) {
	var set uint64
	args := make([]any, 0, 8)
	for i := range Columns {
		if c := &Columns[i]; !c.Fixed && !c.same(was, p) {
			set |= 1 << i
			args = append(args, c.value(p))
		}
	}
	if set == 0 {
		return "", nil
	}
	args = append(args, p.Number)
	if q, ok := u.texts.Load(set); ok {
		return q.(string), args
	}
	var parts []string
	for i, c := range Columns {
		if set&(1<<i) != 0 {
			parts = append(parts, c.Name+" = "+u.param(len(parts)+1))
		}
	}
	q := `UPDATE phones SET ` + strings.Join(parts, ", ") + ` WHERE phone = ` + u.param(len(parts)+1)
	u.texts.Store(set, q)
	return q, args
}
