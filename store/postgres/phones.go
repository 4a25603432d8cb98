package postgres

import (
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/internal/phonerow"
)

// millis scans unix milliseconds into a time, as the phones row's times
// are read.
type millis struct{ t *time.Time }

func (m millis) Scan(v any) error { return phonerow.Millis{T: m.t}.Scan(v) }

// The phones statements, built from phonerow.Columns.
var (
	phoneColumns      = phonerow.Names
	selectPhone       = `SELECT ` + phoneColumns + ` FROM phones WHERE phone = $1`
	selectPhoneByUser = `SELECT ` + phoneColumns + ` FROM phones WHERE user_id = $1`
	// upsertPhone inserts a phone or updates every column but the fixed
	// ones.
	upsertPhone = `INSERT INTO phones (` + phoneColumns + `) VALUES (` + placeholders(len(phonerow.Columns)) + `)
	ON CONFLICT (phone) DO UPDATE SET ` + excludedList()
)

// param is the n-th parameter (from 1): "$n".
func param(n int) string { return fmt.Sprintf("$%d", n) }

// placeholders is "$1, $2, ..., $n".
func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = param(i + 1)
	}
	return strings.Join(ps, ", ")
}

// excludedList is "state = excluded.state, ..." of the columns that are
// not fixed.
func excludedList() string {
	var parts []string
	for _, c := range phonerow.Columns {
		if !c.Fixed {
			parts = append(parts, c.Name+" = excluded."+c.Name)
		}
	}
	return strings.Join(parts, ", ")
}

// phoneArgs are p's values in phonerow.Columns order.
func phoneArgs(p *bot.Phone) []any { return phonerow.Args(p) }

func scanPhone(row pgx.Row) (*bot.Phone, error) {
	return phonerow.Scan(row.Scan, pgx.ErrNoRows)
}

// partialUpdates builds and caches the UPDATE of each set of changed
// columns ("state = $1, ... WHERE phone = $n"), so that pgx's statement
// cache sees the same text each time.
var partialUpdates = phonerow.NewUpdates(param)
