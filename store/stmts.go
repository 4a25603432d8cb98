package store

import (
	"context"
	"database/sql"
)

// stmtCache keeps the write connection's statements prepared. Parsing SQL
// was the largest cost of a write transaction in the profile (prepare_v2
// on every statement). A statement seen for the first time runs
// unprepared and is prepared after the group commits, when the single
// write connection is free again. Only the writer goroutine uses it.
type stmtCache struct {
	db     *sql.DB
	stmts  map[string]*sql.Stmt
	wanted []string

	// bound are the statements bound to boundTx, the group's transaction:
	// binding a statement to a transaction allocates and locks, so each is
	// bound once per group, not once per use. database/sql closes them when
	// the transaction ends.
	boundTx *sql.Tx
	bound   map[string]*sql.Stmt
}

// stmt returns the cached statement for query bound to tx, or nil.
func (c *stmtCache) stmt(tx *sql.Tx, query string) *sql.Stmt {
	if tx != c.boundTx {
		clear(c.bound)
		c.boundTx = tx
	}
	if s := c.bound[query]; s != nil {
		return s
	}
	s, seen := c.stmts[query]
	if s != nil {
		if c.bound == nil {
			c.bound = make(map[string]*sql.Stmt)
		}
		s = tx.StmtContext(context.Background(), s)
		c.bound[query] = s
		return s
	}
	if seen {
		return nil // prepared after this group
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	c.stmts[query] = nil // wanted once
	c.wanted = append(c.wanted, query)
	return nil
}

// exec runs a statement in tx. Its context is never canceled: an
// interrupted write can roll back the whole SQLite transaction, which the
// whole group shares.
func (c *stmtCache) exec(tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := c.stmt(tx, query); s != nil {
		return s.ExecContext(context.Background(), args...)
	}
	return tx.ExecContext(context.Background(), query, args...)
}

func (c *stmtCache) queryRow(tx *sql.Tx, query string, args ...any) *sql.Row {
	if s := c.stmt(tx, query); s != nil {
		return s.QueryRowContext(context.Background(), args...)
	}
	return tx.QueryRowContext(context.Background(), query, args...)
}

// prepareWanted prepares the statements seen since the last call. It runs
// between groups, when no transaction holds the write connection.
func (c *stmtCache) prepareWanted() {
	clear(c.bound) // the group's transaction has ended
	c.boundTx = nil
	for _, q := range c.wanted {
		s, err := c.db.Prepare(q)
		if err != nil {
			delete(c.stmts, q) // try again when it is next seen
			continue
		}
		c.stmts[q] = s
	}
	c.wanted = c.wanted[:0]
}

func (c *stmtCache) close() {
	clear(c.bound)
	c.boundTx = nil
	for _, s := range c.stmts {
		if s != nil {
			s.Close()
		}
	}
}
