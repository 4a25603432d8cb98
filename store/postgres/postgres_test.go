package postgres_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

var wantMigrations = "migrations/0001_init.sql migrations/0002_outbox_recipient.sql migrations/0003_suspend.sql migrations/0004_rate_limits.sql migrations/0005_instances.sql migrations/0006_web_codes.sql migrations/0007_whatsapp.sql migrations/0008_language.sql"

// TestOpen_MigratesOnce opens five pools on one empty schema at once:
// each migration runs once (a second run would fail: the tables exist)
// and every instance opens.
func TestOpen_MigratesOnce(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	ctx := context.Background()
	dbs := make([]*postgres.DB, 5)
	errs := make([]error, len(dbs))
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(ctx, u, postgres.Options{MaxConns: 2}) })
	}
	wg.Wait()
	applied := 0
	for i, db := range dbs {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		defer db.Close()
		if len(db.Applied()) > 0 {
			applied++
			if got := strings.Join(db.Applied(), " "); got != wantMigrations {
				t.Errorf("applied %s, want %s", got, wantMigrations)
			}
		}
	}
	if applied != 1 {
		t.Fatalf("%d instances migrated, want 1", applied)
	}
	names, err := dbs[0].Migrations(ctx)
	if err != nil || strings.Join(names, " ") != wantMigrations {
		t.Fatalf("migrations %v %v", names, err)
	}
}

// TestOpen_RefusesNewerSchema opens a database that a newer smsbot
// migrated: Open fails and names the migration it does not know.
func TestOpen_RefusesNewerSchema(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	ctx := context.Background()
	open(t, u, postgres.Options{}).Close()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ('migrations/9999_future.sql', 1)`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, u, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "9999_future.sql") || !strings.Contains(err.Error(), "newer smsbot") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

// TestOpen_NoServer gives up on a server that never answers once the wait
// is over, with the connection error.
func TestOpen_NoServer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	_, err := postgres.Open(context.Background(), "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=1",
		postgres.Options{Wait: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "open db") {
		t.Fatalf("open without a server: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

func TestOpen_BadOptions(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"postgres://%zz", "mysql://x"} {
		if _, err := postgres.Open(context.Background(), u, postgres.Options{}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := postgres.Open(context.Background(), postgrestest.DefaultServer, postgres.Options{MaxConns: -1}); err == nil {
		t.Error("negative pool size accepted")
	}
}

// TestDB_Instance_TwoPools: two instances, each with a pool of its own,
// record their heartbeats in one database and each sees the other's.
func TestDB_Instance_TwoPools(t *testing.T) {
	t.Parallel()
	u := postgrestest.SchemaURL(t)
	ctx := context.Background()
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(ctx, u, postgres.Options{MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	now := time.Now()
	for i, nonce := range []string{"one", "two"} {
		if err := dbs[i].Heartbeat(ctx, nonce, now.Add(time.Duration(i)*time.Second), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for i, db := range dbs {
		if got, err := db.Instances(ctx, now.Add(-time.Minute)); err != nil || fmt.Sprint(got) != "[two one]" {
			t.Errorf("instance %d sees %q %v, want [two one]", i, got, err)
		}
	}
	if err := dbs[0].Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDB_Update_RetriesDeadlock has two transactions lock two phones in
// opposite orders: PostgreSQL aborts one as a deadlock, Update runs it
// again, and both commit.
func TestDB_Update_RetriesDeadlock(t *testing.T) {
	t.Parallel()
	db := openFresh(t)
	ctx := context.Background()
	phones := [2]string{"+15555590001", "+15555590002"}
	var locked sync.WaitGroup
	locked.Add(2)
	var mu sync.Mutex
	runs := 0
	var wg sync.WaitGroup
	for k := range 2 {
		first, second := phones[k], phones[1-k]
		var once sync.Once
		wg.Go(func() {
			err := db.Update(ctx, func(tx bot.Tx) error {
				mu.Lock()
				runs++
				mu.Unlock()
				if _, err := tx.Phone(ctx, first); bot.ErrorCode(err) != bot.ENOTFOUND {
					return err
				}
				once.Do(func() { locked.Done(); locked.Wait() }) // both hold their first lock
				if _, err := tx.Phone(ctx, second); err != nil && bot.ErrorCode(err) != bot.ENOTFOUND {
					return err
				}
				return tx.SavePhone(ctx, &bot.Phone{Number: first, State: bot.StateIdle})
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if runs != 3 {
		t.Fatalf("%d runs of two transactions, want 3: one deadlock, one retry", runs)
	}
	for _, p := range phones {
		if _, err := storetest.LoadPhone(ctx, db, p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

// TestOpen_WaitsForServer opens through a proxy that drops the first
// connections, as a server still starting would: Open waits and succeeds.
func TestOpen_WaitsForServer(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(postgrestest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dropped atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if dropped.Add(1) <= 3 {
				c.Close()
				continue
			}
			go proxy(c, target)
		}
	}()
	u.Host = ln.Addr().String()
	db := open(t, u.String(), postgres.Options{Wait: time.Minute})
	if n := dropped.Load(); n <= 3 {
		t.Fatalf("%d connections, want the 3 dropped and more", n)
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// proxy joins c to a new connection to target until either side closes.
func proxy(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
}
