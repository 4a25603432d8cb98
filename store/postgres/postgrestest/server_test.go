package postgrestest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/store/postgres/postgrestest"
)

// TestServer_StopStartPause: a server of the test's own keeps what was
// committed across an immediate stop, refuses connections while stopped,
// answers none while paused, and comes back on Start and Resume.
func TestServer_StopStartPause(t *testing.T) {
	s := postgrestest.StartServer(t)
	ctx := context.Background()
	connect := func(timeout time.Duration) (*pgx.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return pgx.Connect(ctx, s.URL())
	}
	conn, err := connect(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}

	s.StopImmediate()
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a connection outlived the immediate stop")
	}
	start := time.Now()
	if _, err := connect(5 * time.Second); err == nil || time.Since(start) > time.Second {
		t.Fatalf("connect to a stopped server: %v after %s, want refused at once", err, time.Since(start))
	}

	s.Start()
	conn, err = connect(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("after the restart: %d %v, want 42", n, err)
	}

	s.Pause()
	start = time.Now()
	if _, err := connect(500 * time.Millisecond); err == nil {
		t.Fatal("a paused server took a connection")
	}
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = conn.Ping(qctx)
	cancel()
	if err == nil {
		t.Fatal("a paused server answered")
	}
	s.Resume()
	conn, err = connect(5 * time.Second)
	if err != nil {
		t.Fatalf("after Resume: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("after Resume: %d %v", n, err)
	}
	s.StopFast()
}
