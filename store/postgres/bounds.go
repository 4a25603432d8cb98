package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smsbot/smsbot/bot"
)

// rollbackTimeout bounds the rollback of a transaction that failed, which
// runs after the transaction's own bound may have passed.
const rollbackTimeout = 2 * time.Second

// bound returns ctx cut at Options.Timeout.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.timeout)
}

// acquire takes a connection of the pool, waiting up to Options.PoolWait
// for one when all are taken.
func (db *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	actx := ctx
	if db.poolWait > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, db.poolWait)
		defer cancel()
	}
	conn, err := db.pool.Acquire(actx)
	if err == nil {
		return conn, nil
	}
	if ctx.Err() == nil && actx.Err() != nil {
		st := db.pool.Stat()
		return nil, unavailable(fmt.Errorf("no database connection within %s (pool of %d, %d in use, %d opening)",
			db.poolWait, st.MaxConns(), st.AcquiredConns(), st.ConstructingConns()))
	}
	return nil, dbError("connect", err)
}

// dbError wraps err from the database with what failed; a server that
// could not be reached or did not answer in time is bot.EUNAVAILABLE.
func dbError(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if unreachable(err) {
		return unavailable(err)
	}
	return err
}

// unavailable marks err as the database's absence (bot.EUNAVAILABLE): the
// caller acknowledges nothing, and may be asked again later.
func unavailable(err error) error {
	return &unavailableError{err: err}
}

// unavailableError is a failure to reach the server in time.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "database unavailable: " + e.err.Error() }

// Unwrap gives bot.ErrorCode its code, and errors.Is the cause.
func (e *unavailableError) Unwrap() []error {
	return []error{bot.Errorf(bot.EUNAVAILABLE, "We could not handle that just now. Please try again in a minute."), e.err}
}

// unreachable reports whether err says that the server could not be
// reached or did not answer in time, rather than that it refused the
// work: a connection that failed, broke or timed out; or the server's own
// word that it is shutting down or starting up (class 57), out of
// connections or resources (53), that the connection failed (08), or
// that a lock wait timed out (55P03).
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		for _, class := range []string{"08", "53", "57"} {
			if strings.HasPrefix(pe.Code, class) {
				return true
			}
		}
		return pe.Code == "55P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
