package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

// tripCounter is a TCP proxy in front of the test server that counts
// round trips on the wire: a round trip begins when the client sends
// after the server has answered (or for the first time), so statements
// sent together in one pipeline count once, however many TCP segments
// carry them.
type tripCounter struct {
	url string

	mu       sync.Mutex
	trips    int
	answered map[net.Conn]bool // per client connection: the server spoke last
}

// countTrips starts a counting proxy to a fresh schema and returns it,
// stopped at the test's end.
func countTrips(t *testing.T) *tripCounter {
	t.Helper()
	u, err := url.Parse(postgrestest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &tripCounter{answered: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, client, server)
			mu.Unlock()
			c.mu.Lock()
			c.answered[client] = true
			c.mu.Unlock()
			wg.Go(func() { c.pipe(server, client, func() { c.sent(client) }) })
			wg.Go(func() { c.pipe(client, server, func() { c.answer(client) }) })
		}
	})
	u.Host = ln.Addr().String()
	c.url = u.String()
	return c
}

// pipe copies from src to dst, calling seen before it passes on each read.
func (c *tripCounter) pipe(dst, src net.Conn, seen func()) {
	defer dst.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *tripCounter) sent(client net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered[client] {
		c.trips++
		c.answered[client] = false
	}
}

func (c *tripCounter) answer(client net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered[client] = true
}

// Trips returns the round trips counted so far.
func (c *tripCounter) Trips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trips
}

// subscriber is a phone bound to an account and verified at now.
func subscriber(number string, now time.Time) *bot.Phone {
	return &bot.Phone{Number: number, State: bot.StateSubscribed, UserID: "auth0|" + number[1:], Email: "a@example.com",
		BoundAt: now, VerifiedAt: now, CreatedAt: now, UpdatedAt: now, LastSeen: now}
}

// TestDB_RoundTrips pins the round trips on the wire of the transactions
// the steady load runs, on one warm connection (its statements prepared):
// a regression that adds a round trip fails here. A steady text is one
// Update of two: BEGIN with the phone's lock and read; the phone's update,
// the MessageSid's insert and COMMIT. (It was nine, one per statement,
// the phone locked twice; then three, with the MessageSid's lock and
// lookup.) A replayed MessageSid, rare, pays for that: its first run
// reads the phone (1) and fails at the commit (1), which rolls back (1);
// pgx drops the failed batch's statements (1) and prepares them again
// when next used (2: the second run's COMMIT, the next text's writes);
// the second run looks the MessageSid up (1), reads the phone's state (1)
// and commits (1).
func TestDB_RoundTrips(t *testing.T) {
	t.Parallel()
	c := countTrips(t)
	db := open(t, c.url, postgres.Options{MaxConns: 1})
	now := time.Now()
	e := engines(t, []*postgres.DB{db}, now)[0]
	e.Limits.ReplyBudget = 1000
	ctx := context.Background()
	const phone = "+15555560001"
	if err := storetest.SavePhone(ctx, db, subscriber(phone, now)); err != nil {
		t.Fatal(err)
	}
	sid := 0
	text := func(body string) error {
		sid++
		_, err := e.HandleSMS(ctx, bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", sid), From: phone, Body: body})
		return err
	}
	replay := func(string) error {
		res, err := e.HandleSMS(ctx, bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", sid), From: phone, Body: "H"})
		if err == nil && !res.Duplicate {
			err = fmt.Errorf("replay of %d not a duplicate", sid)
		}
		return err
	}
	load := func(string) error { _, err := storetest.LoadPhone(ctx, db, phone); return err }
	save := func(string) error { return storetest.SavePhone(ctx, db, subscriber(phone, now)) }
	nothing := func(string) error { return db.Update(ctx, func(bot.Tx) error { return nil }) }
	for _, tc := range []struct {
		name string
		do   func(string) error
		body string
		want int
	}{
		{"steady text H", text, "H", 2},
		{"steady text, no command", text, "what is the temperature", 2},
		{"replayed MessageSid", replay, "", 9},
		{"View of a phone", load, "", 2},
		{"Update that saves a phone", save, "", 1},
		{"Update that sends nothing", nothing, "", 0},
	} {
		for range 3 { // warm: every statement prepared on the connection
			if err := tc.do(tc.body); err != nil {
				t.Fatal(err)
			}
		}
		const n = 10
		before := c.Trips()
		for range n {
			if err := tc.do(tc.body); err != nil {
				t.Fatal(err)
			}
		}
		got := float64(c.Trips()-before) / n
		t.Logf("%s: %.1f round trips", tc.name, got)
		if got != float64(tc.want) {
			t.Errorf("%s: %.1f round trips, want %d", tc.name, got, tc.want)
		}
	}
}

// BenchmarkSteadyText measures the steady load's transaction as the bench
// (cmd/smsbot-bench) runs it, without HTTP: texts of H or of no command
// from 1000 subscribed phones, 64 at once, through one engine on one pool
// of 4 connections. Besides the time per text it reports the process's
// CPU per text (engine and pgx) and, when the server runs on this machine,
// the CPU per text of the server processes serving the pool
// (server-cpu-µs/op; WAL writer and checkpointer not included).
func BenchmarkSteadyText(b *testing.B) {
	ctx := context.Background()
	u, err := url.Parse(postgrestest.SchemaURL(b))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	app := "bench_" + q.Get("search_path") // the pool's backends, by name
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, u.String(), postgres.Options{MaxConns: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e, text := storetest.SteadyLoad(b, db)
	server := backendCPU(b, app)
	storetest.RunSteady(b, e, text)
	if used, ok := server(); ok {
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "server-cpu-µs/op")
	}
}

// backendCPU returns a function that reports the CPU time the server
// processes of the connections named app have used since backendCPU was
// called (a connection opened since counts whole), read from /proc; not
// ok when the server's processes are not on this machine.
func backendCPU(b *testing.B, app string) func() (time.Duration, bool) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, postgrestest.ServerURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	usage := func() (map[int]time.Duration, bool) {
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
		if err != nil {
			b.Fatal(err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			b.Fatal(err)
		}
		used := make(map[int]time.Duration, len(pids))
		for _, pid := range pids {
			t, err := procCPU(int(pid))
			if err != nil {
				return nil, false
			}
			used[int(pid)] = t
		}
		return used, true
	}
	start, ok := usage()
	return func() (time.Duration, bool) {
		end, ok2 := usage()
		if !ok || !ok2 {
			return 0, false
		}
		var sum time.Duration
		for pid, t := range end {
			sum += t - start[pid]
		}
		return sum, true
	}
}

// procCPU reads a process's user and system time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command, which is in parentheses and may hold
	// spaces: state is the first, utime and stime the 12th and 13th.
	var f []string
	if i := bytes.LastIndexByte(b, ')'); i >= 0 {
		f = strings.Fields(string(b[i+1:]))
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc's times, 100 on every
// architecture Go supports.
const clockTicks = 100
