package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/store/postgres"
)

// database is what serve and the commands use of a store, whichever the
// backend: SQLite (*store.DB) or PostgreSQL (*postgres.DB).
type database interface {
	bot.Store
	bot.Outbox
	Close() error
	Ping(ctx context.Context) error
	Applied() []string
	Migrations(ctx context.Context) ([]string, error)
	UseMode(ctx context.Context, m store.Mode) error
	Heartbeat(ctx context.Context, nonce string, now time.Time, stale time.Duration) error
	Instances(ctx context.Context, since time.Time) ([]string, error)
	StopInstance(ctx context.Context, nonce string) error
	Prune(ctx context.Context, now time.Time, keep time.Duration) (store.Pruned, error)
	OutboxStats(ctx context.Context) (store.OutboxStats, error)
	RecordStatus(ctx context.Context, sid, phone, status string, errorCode int, at time.Time) (bool, error)
	OutboxJobs(ctx context.Context, failedOnly bool) ([]store.OutboxJob, error)
	RetryFailed(ctx context.Context, ids []int64, now time.Time, reason string) ([]int64, error)
	Phones(ctx context.Context, state string) ([]*bot.Phone, error)
	LastText(ctx context.Context, phone string) (time.Time, error)
	AuditLog(ctx context.Context, phone string) ([]bot.AuditEntry, error)
	SentTexts(ctx context.Context, phone string, limit int) ([]store.SentText, error)
}

var (
	_ database = (*store.DB)(nil)
	_ database = (*postgres.DB)(nil)
)

// isPostgres reports whether SMSBOT_DB names a PostgreSQL database (a
// postgres:// or postgresql:// URL) rather than a SQLite file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// backendName names the backend of SMSBOT_DB for messages.
func backendName(db string) string {
	if isPostgres(db) {
		return "PostgreSQL"
	}
	return "SQLite"
}

// dbName is SMSBOT_DB as messages and logs show it: a URL's password
// replaced by xxxxx.
func dbName(db string) string {
	if !isPostgres(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "postgres://(malformed URL)"
	}
	return u.Redacted()
}

// openDatabase opens the database SMSBOT_DB names, migrating it: PostgreSQL
// for a postgres:// URL (a pool of SMSBOT_PG_POOL connections, each
// transaction bounded by SMSBOT_PG_TIMEOUT and SMSBOT_PG_POOL_WAIT), else
// the SQLite file.
func openDatabase(ctx context.Context, cfg *config) (database, error) {
	if isPostgres(cfg.DB) {
		db, err := postgres.Open(ctx, cfg.DB, postgres.Options{MaxConns: int32(cfg.PGPool), Timeout: cfg.PGTimeout, PoolWait: cfg.PGPoolWait})
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", dbName(cfg.DB), err)
		}
		return db, nil
	}
	db, err := store.Open(ctx, cfg.DB, store.Options{Synchronous: cfg.Synchronous})
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", cfg.DB, err)
	}
	return db, nil
}
