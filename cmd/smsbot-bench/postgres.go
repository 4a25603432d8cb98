package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/postgres"
)

// defaultPostgres is the local test server of the PostgreSQL tests
// (store/postgres/postgrestest): trust auth, database test.
const defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresServer returns the server the bench uses unless -postgres names
// another: SMSBOT_TEST_POSTGRES, or the local test server.
func PostgresServer() string {
	if u := os.Getenv("SMSBOT_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultPostgres
}

// pgServer is the PostgreSQL server that answered.
type pgServer struct {
	url      string
	Version  string // server_version
	Settings string // what makes a commit durable, and the buffers
}

// dialPostgres connects to the server at u, waiting up to 5 s, and reads
// what the report says about it.
func dialPostgres(ctx context.Context, u string) (*pgServer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s := &pgServer{url: u}
	var sync, fsync, buffers string
	err = conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		current_setting('fsync'), current_setting('shared_buffers')`).Scan(&s.Version, &sync, &fsync, &buffers)
	if err != nil {
		return nil, err
	}
	s.Settings = fmt.Sprintf("synchronous_commit=%s, fsync=%s, shared_buffers=%s", sync, fsync, buffers)
	return s, nil
}

// exec runs one statement on a connection of its own.
func (s *pgServer) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// pgSchema is a schema of the bench's own on the server: a fresh
// database for one target, dropped at the end.
type pgSchema struct {
	server *pgServer
	name   string
	url    string // connections in the schema, named app
	app    string // application_name of smsbot's connections
}

// newSchema creates a fresh schema; app names its connections in
// pg_stat_activity, so that their server processes can be found.
func (s *pgServer) newSchema(ctx context.Context, app string) (*pgSchema, error) {
	var b [6]byte
	rand.Read(b[:])
	name := "bench_" + hex.EncodeToString(b[:])
	if err := s.exec(ctx, `CREATE SCHEMA `+name); err != nil {
		return nil, fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(s.url)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", name) // pgx sends unknown parameters as settings
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return &pgSchema{server: s, name: name, url: u.String(), app: app}, nil
}

// drop drops the schema with everything in it.
func (sc *pgSchema) drop(ctx context.Context) error {
	return sc.server.exec(context.WithoutCancel(ctx), `DROP SCHEMA `+sc.name+` CASCADE`)
}

// preload migrates the schema as smsbot does (postgres.Open) and copies
// in n subscribed phones, the same as the SQLite preload, with COPY.
func (sc *pgSchema) preload(ctx context.Context, n int) (time.Duration, error) {
	began := time.Now()
	db, err := postgres.Open(ctx, sc.url, postgres.Options{MaxConns: 1})
	if err != nil {
		return 0, err
	}
	db.Close()
	conn, err := pgx.Connect(ctx, sc.url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	now := time.Now()
	rows := make([][]any, n)
	for i := range rows {
		p := benchSubscriber(i, now)
		rows[i] = []any{p.Number, string(p.State), p.UserID, p.Email, unixMS(p.BoundAt),
			unixMS(p.CreatedAt), unixMS(p.UpdatedAt), unixMS(p.LastSeen), unixMS(p.VerifiedAt)}
	}
	cols := []string{"phone", "state", "user_id", "email", "bound_at", "created_at", "updated_at", "last_seen", "verified_at"}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"phones"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return 0, fmt.Errorf("copy phones: %w", err)
	}
	// Statistics for the phones only. An ANALYZE of the empty tables
	// would tell the planner they stay empty: the cached plans of the
	// MessageSid lookup then scan the whole inbound table, which grows by
	// a thousand rows a second, until autovacuum analyzes it again.
	if _, err := conn.Exec(ctx, `ANALYZE phones`); err != nil {
		return 0, err
	}
	return time.Since(began), nil
}

// countInbound counts the MessageSids in the schema.
func (sc *pgSchema) countInbound(ctx context.Context) (int64, error) {
	conn, err := pgx.Connect(ctx, sc.url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	err = conn.QueryRow(ctx, `SELECT COUNT(*) FROM inbound`).Scan(&n)
	return n, err
}

// backends returns the process ids of the server processes that serve
// smsbot's connections in the schema.
func (sc *pgSchema) backends(ctx context.Context) ([]int, error) {
	conn, err := pgx.Connect(ctx, sc.server.url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, sc.app)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// benchSubscriber is the i-th preloaded phone: subscribed, bound to an
// account of its own.
func benchSubscriber(i int, now time.Time) bot.Phone {
	return bot.Phone{
		Number: benchPhone(i), State: bot.StateSubscribed,
		UserID: fmt.Sprintf("auth0|bench%07d", i), Email: fmt.Sprintf("u%07d@bench.example", i),
		BoundAt: now, CreatedAt: now, UpdatedAt: now,
	}
}

// unixMS is a time as the stores keep it: unix milliseconds, 0 for none.
func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
