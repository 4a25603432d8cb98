// Package postgrestest gives tests a PostgreSQL schema of their own on
// the test server: SMSBOT_TEST_POSTGRES, or the local server
// (postgres://postgres@127.0.0.1:5432/test, trust auth). Without a server
// a test skips loudly, or fails under CI (CI=true), where a PostgreSQL
// server is part of the machine.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultServer is the PostgreSQL the tests use unless
// SMSBOT_TEST_POSTGRES names another.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var server struct {
	once sync.Once
	url  string
	err  error
}

// ServerURL returns the test server's URL once it answered. Without one,
// the test skips loudly, or fails under CI.
func ServerURL(t testing.TB) string {
	t.Helper()
	server.once.Do(func() {
		server.url = os.Getenv("SMSBOT_TEST_POSTGRES")
		if server.url == "" {
			server.url = DefaultServer
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server.url)
		if err != nil {
			server.err = err
			return
		}
		conn.Close(ctx)
	})
	if server.err != nil {
		msg := "NO POSTGRESQL: the PostgreSQL tests did not run. Start a server " +
			"(pg_ctlcluster --skip-systemctl-redirect 15 main start) or set SMSBOT_TEST_POSTGRES: "
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + server.err.Error())
		}
		t.Skip(msg + server.err.Error())
	}
	return server.url
}

// SchemaURL makes a schema of the test's own, dropped at its end, and
// returns a URL whose connections use it, so that tests run in parallel.
func SchemaURL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	var b [6]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE SCHEMA ` + schema)
	t.Cleanup(func() { exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as settings
	u.RawQuery = q.Encode()
	return u.String()
}
