package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// serveUntil runs smsbot serve with env until the returned stop is called
// (or the test ends), and returns once /healthz answers.
func serveUntil(t *testing.T, env map[string]string, base string, logs *syncBuffer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, logs) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v\n%s", err, logs)
				}
			case <-time.After(15 * time.Second):
				t.Error("serve did not stop in 15 s")
			}
		})
	}
	t.Cleanup(stop)
	waitFor(t, "/healthz", func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, logs)
		default:
		}
		return answers(base + "/healthz")
	})
	return stop
}

// pgState describes the PostgreSQL schema at u: how many tables, and the
// rows of a few of them.
func pgState(t *testing.T, u string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		return "no tables"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d tables", tables)
	for _, q := range []string{
		`SELECT phone || ' ' || state FROM phones ORDER BY phone`,
		`SELECT id || ' ' || kind || ' ' || phone || ' ' || state || ' ' || attempts FROM outbox ORDER BY id`,
		`SELECT id || ' ' || phone || ' ' || action FROM audit ORDER BY id`,
		`SELECT message_sid FROM inbound ORDER BY message_sid`,
		`SELECT encode(hash, 'hex') || ' ' || used_at FROM links ORDER BY hash`,
	} {
		rows, _ := conn.Query(ctx, q)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n%s", strings.Join(lines, "; "))
	}
	return b.String()
}

// TestMigrateFrom_SQLiteToPostgres moves a SQLite deployment to
// PostgreSQL and runs it there. On SQLite: a subscribed phone, a phone
// waiting for its code (its prompt undelivered: Twilio failing), another
// such phone, and a phone with a live link it has not opened; audit rows.
// The server stops; bad --from values, a missing or wrong key and a
// SQLite target are refused before PostgreSQL is touched; the move copies
// every row; a second move into the now full database is refused and
// changes nothing. Then serve on PostgreSQL, on the same address: the
// pending prompts go out, the waiting phone's code (made under the SQLite
// key) subscribes it, the live link opens and its code subscribes, a text
// from before the move replayed gets its stored reply, and the subscribed
// phone's commands (H, U) work, Auth0 updated.
func TestMigrateFrom_SQLiteToPostgres(t *testing.T) {
	e := newE2E(t, map[string]string{
		"SMSBOT_OUTBOX_LEASE":      "2s",
		"SMSBOT_OUTBOX_RETRY_BASE": "100ms",
		"SMSBOT_OUTBOX_RETRY_MAX":  "300ms",
		"SMSBOT_OUTBOX_ATTEMPTS":   "1000",
		// The first failing prompt is tried every few hundred
		// milliseconds; the texts-per-minute cap must not starve the
		// second one of its first try.
		"SMSBOT_TEXTS_PER_MINUTE": "6000",
	})
	delete(e.env, "SMSBOT_SECRET") // the key file beside the database, as by default
	// The listening socket, held for serve on PostgreSQL after serve on
	// SQLite closed its own descriptor of it: the same address, as behind
	// a load balancer.
	fd, err := strconv.Atoi(strings.TrimPrefix(e.env["SMSBOT_ADDR"], "fd:"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(again) }) // once serve has taken it, this fails harmlessly
	keyFile := e.dbPath + ".key"

	const (
		subscribed, waiting, waiting2, fresh = "+15555550101", "+15555550102", "+15555550103", "+15555550104"
		subEmail, waitEmail, wait2Email      = "sub@example.com", "wait@example.com", "wait2@example.com"
		freshEmail                           = "fresh@example.com"
	)

	// On SQLite.
	stopSQLite := serveUntil(t, e.env, e.base, e.logs)
	link := e.linkFrom(e.text(subscribed, "S"))
	c := e.browser()
	_, page := e.logIn(c, e.openLink(c, link), subEmail)
	m := codeRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("code page: %s", page)
	}
	codeForm := e.form(subscribed, m[1])
	_, codeReply := e.post(codeForm, e.sign(codeForm))
	if !strings.Contains(codeReply, "subscribed") {
		t.Fatalf("code reply %q", codeReply)
	}
	e.waitFor("app_metadata.phone in Auth0", func() bool { return e.appPhone(subEmail) == subscribed })

	e.twilio.SetFaults(twiliotest.Faults{Rate500: 1})
	codes := map[string]string{}
	for phone, email := range map[string]string{waiting: waitEmail, waiting2: wait2Email} {
		link := e.linkFrom(e.text(phone, "S"))
		c := e.browser()
		_, page := e.logIn(c, e.openLink(c, link), email)
		m := codeRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("code page: %s", page)
		}
		codes[phone] = m[1]
	}
	freshLink := e.linkFrom(e.text(fresh, "S"))
	lite, err := sql.Open("sqlite", "file:"+e.dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pendingTried := func() int {
		var n int
		if err := lite.QueryRow(`SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND attempts > 0 AND kind = 'sms'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.waitFor("the code prompts tried and failed", func() bool { return pendingTried() == 2 })
	stopSQLite()
	if n := pendingTried(); n != 2 {
		t.Fatalf("%d code prompts pending after the stop, want 2", n)
	}
	if len(e.textsTo(waiting)) != 0 || len(e.textsTo(waiting2)) != 0 {
		t.Fatal("a code prompt reached Twilio before the move")
	}
	e.twilio.SetFaults(twiliotest.Faults{})
	before, err := os.ReadFile(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}

	// The refusals, before PostgreSQL is touched.
	u := postgrestest.SchemaURL(t)
	pgEnv := with(e.env, "SMSBOT_DB", u)
	from := "sqlite:" + e.dbPath
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"not sqlite:", with(pgEnv, "SMSBOT_KEY_FILE", keyFile), []string{"--from", e.dbPath}, exitUsage, "want sqlite:PATH"},
		{"empty", with(pgEnv, "SMSBOT_KEY_FILE", keyFile), []string{"--from", ""}, exitUsage, "want sqlite:PATH"},
		{"missing file", with(pgEnv, "SMSBOT_KEY_FILE", keyFile), []string{"--from", "sqlite:" + e.dbPath + ".nonesuch"}, exitUsage, "no such file"},
		{"not a database", with(pgEnv, "SMSBOT_KEY_FILE", keyFile), []string{"--from", "sqlite:" + keyFile}, exitFailed, "is not a SQLite database"},
		{"target not PostgreSQL", with(e.env, "SMSBOT_KEY_FILE", keyFile), []string{"--from", from}, exitUsage, "postgres:// URL"},
		{"no key", pgEnv, []string{"--from", from}, exitUsage, "SMSBOT_KEY_FILE=" + keyFile},
		{"another key", with(pgEnv, "SMSBOT_SECRET", e2eKey), []string{"--from", from}, exitUsage, "does not open the replies"},
		{"missing key file", with(pgEnv, "SMSBOT_KEY_FILE", keyFile+".nonesuch"), []string{"--from", from}, exitUsage, "copy the SQLite deployment's key file (" + keyFile + ")"},
	} {
		_, errs, code := runCmd(t, c.env, append([]string{"migrate"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d %q, want %d saying %q", c.name, code, errs, c.code, c.want)
		}
	}
	if got := pgState(t, u); got != "no tables" {
		t.Fatalf("a refused move touched PostgreSQL: %s", got)
	}

	// The move.
	pgEnv["SMSBOT_KEY_FILE"] = keyFile
	out, errs, code := runCmd(t, pgEnv, "migrate", "--from", from)
	if code != 0 {
		t.Fatalf("migrate --from: exit %d %s %s", code, out, errs)
	}
	for _, want := range []string{"phones 4,", "audit ", "outbox ", "SMSBOT_KEY_FILE=" + keyFile + " is the SQLite deployment's", "unchanged"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate --from says %q, want %q in it", out, want)
		}
	}
	if after, _ := os.ReadFile(e.dbPath); string(after) != string(before) {
		t.Error("the move changed the SQLite database")
	}
	if entries, _ := filepath.Glob(filepath.Join(filepath.Dir(e.dbPath), ".smsbot-move-*")); len(entries) > 0 {
		t.Errorf("the move left %v behind", entries)
	}
	moved := pgState(t, u)
	if !strings.Contains(moved, "+15555550102 awaiting_code; +15555550103 awaiting_code; +15555550104 awaiting_login") ||
		!strings.Contains(moved, "+15555550101 subscribed") || !strings.Contains(moved, "bind") {
		t.Fatalf("PostgreSQL after the move:\n%s", moved)
	}

	// A second move into the database that now holds the data.
	_, errs, code = runCmd(t, pgEnv, "migrate", "--from", from)
	if code != exitFailed || !strings.Contains(errs, "already holds data") || !strings.Contains(errs, "nothing was copied") {
		t.Errorf("second move: exit %d %q, want 1 refusing a database that holds data", code, errs)
	}
	if got := pgState(t, u); got != moved {
		t.Errorf("the refused move changed PostgreSQL:\n%s\nwas\n%s", got, moved)
	}

	// serve on PostgreSQL, on the same address.
	pgEnv["SMSBOT_ADDR"] = fmt.Sprintf("fd:%d", again)
	serveUntil(t, pgEnv, e.base, e.logs)
	pg, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	state := func(phone string) string {
		p, err := storetest.LoadPhone(context.Background(), pg, phone)
		if err != nil {
			t.Fatal(err)
		}
		return p.State
	}

	for _, phone := range []string{waiting, waiting2} {
		e.waitFor("the code prompt queued before the move", func() bool {
			texts := e.textsTo(phone)
			return len(texts) == 1 && strings.Contains(texts[0], "reply with the 6-digit code")
		})
	}
	if r := e.text(waiting, codes[waiting]); !strings.Contains(r, "subscribed") {
		t.Fatalf("the code made on SQLite, texted to PostgreSQL: %q", r)
	}
	if state(waiting) != bot.StateSubscribed {
		t.Fatalf("%s is %s, want subscribed", waiting, state(waiting))
	}
	e.waitFor("app_metadata.phone of the phone that waited", func() bool { return e.appPhone(waitEmail) == waiting })

	c = e.browser()
	_, page = e.logIn(c, e.openLink(c, freshLink), freshEmail)
	if m = codeRE.FindStringSubmatch(page); m == nil {
		t.Fatalf("the live link made on SQLite, opened on PostgreSQL: %s", page)
	}
	if r := e.text(fresh, m[1]); !strings.Contains(r, "subscribed") || state(fresh) != bot.StateSubscribed {
		t.Fatalf("the live link's code: %q, %s", r, state(fresh))
	}

	// Twilio retries a text from before the move: the stored reply again.
	if status, r := e.post(codeForm, e.sign(codeForm)); status != 200 || r != codeReply {
		t.Errorf("the code text replayed: %d %q, want the reply of before the move %q", status, r, codeReply)
	}
	if r := e.text(subscribed, "H"); !strings.Contains(r, "U = unsubscribe") {
		t.Errorf("H from the subscribed phone: %q", r)
	}
	if r := e.text(subscribed, "U"); !strings.Contains(r, "unsubscribed") || state(subscribed) != bot.StateIdle {
		t.Fatalf("U from the subscribed phone: %q, %s", r, state(subscribed))
	}
	e.waitFor("app_metadata.phone removed", func() bool { return e.appPhone(subEmail) == nil })
	log, err := pg.AuditLog(context.Background(), subscribed)
	if err != nil || len(log) < 2 || log[0].Action != "bind" {
		t.Errorf("audit of the subscribed phone: %+v %v, want the bind of before the move first", log, err)
	}
	if n := e.twilio.Duplicates(); n != 0 {
		t.Errorf("%d texts sent twice", n)
	}
}

// TestMigrateFrom_SourceChecks: a database from the first smsbot (schema
// 0001 only, its key inside) is moved from a migrated copy, the file left
// as it was, its key written beside it for the instances to share; a
// dev-mode database, one a server runs on and one migrated by a newer
// smsbot are refused before PostgreSQL is touched.
func TestMigrateFrom_SourceChecks(t *testing.T) {
	ctx := context.Background()
	newSource := func(t *testing.T, stmts ...string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "old.db")
		raw, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		for _, q := range stmts {
			if _, err := raw.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	current := func(t *testing.T, edit func(*store.DB) error) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "cur.db")
		db, err := store.Open(ctx, path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := edit(db); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("first version", func(t *testing.T) {
		init, err := os.ReadFile("../../store/migrations/0001_init.sql")
		if err != nil {
			t.Fatal(err)
		}
		legacy := bytes.Repeat([]byte{7}, 32)
		keys, _ := bot.NewKeyring(legacy)
		sealed, _ := keys.Seal(rand.Reader, "reply", []byte("you're subscribed"))
		path := newSource(t, string(init),
			`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
			`INSERT INTO schema_migrations VALUES ('migrations/0001_init.sql', 1)`,
			`INSERT INTO phones (phone, state, user_id, bound_at, created_at, updated_at) VALUES ('+15555550201', 'subscribed', 'auth0|1', 1000, 1000, 5000)`,
			fmt.Sprintf(`INSERT INTO settings (key, value) VALUES ('secret', x'%x')`, legacy),
			fmt.Sprintf(`INSERT INTO inbound (message_sid, phone, reply, received_at) VALUES ('SM1', '+15555550201', x'%x', 5000)`, sealed),
		)
		before, _ := os.ReadFile(path)
		u := postgrestest.SchemaURL(t)
		env := map[string]string{"SMSBOT_DB": u}
		_, errs, code := runCmd(t, env, "migrate", "--from", "sqlite:"+path)
		if code != exitUsage || !strings.Contains(errs, "set SMSBOT_KEY_FILE="+path+".key") {
			t.Fatalf("no key set: exit %d %q, want 2 naming the key file", code, errs)
		}
		if k, err := readKey(path + ".key"); err != nil || !bytes.Equal(k, legacy) {
			t.Fatalf("the key inside, written beside: %x %v", k, err)
		}
		if got := pgState(t, u); got != "no tables" {
			t.Fatalf("PostgreSQL touched: %s", got)
		}
		out, errs, code := runCmd(t, with(env, "SMSBOT_KEY_FILE", path+".key"), "migrate", "--from", "sqlite:"+path)
		if code != 0 || strings.Contains(out, "migrated by 0 migration") || !strings.Contains(out, "opens the replies stored last") {
			t.Fatalf("move: exit %d %q %s", code, out, errs)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Error("the move changed the SQLite file")
		}
		pg, err := postgres.Open(ctx, u, postgres.Options{MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		p, err := storetest.LoadPhone(ctx, pg, "+15555550201")
		if err != nil || p.State != bot.StateSubscribed || !p.LastSeen.Equal(time.UnixMilli(5000)) || !p.VerifiedAt.Equal(time.UnixMilli(1000)) {
			t.Fatalf("moved phone %+v %v: want subscribed, last seen and verified as 0003 sets them", p, err)
		}
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var secrets int
		if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = 'secret'`).Scan(&secrets); err != nil || secrets != 0 {
			t.Errorf("the key inside the SQLite database went into PostgreSQL: %d %v", secrets, err)
		}
	})

	for _, c := range []struct {
		name string
		edit func(*store.DB) error
		want string
	}{
		{"dev mode", func(db *store.DB) error { return db.UseMode(ctx, store.ModeDev) }, "used in dev mode"},
		{"server running", func(db *store.DB) error { return db.Heartbeat(ctx, "live", time.Now(), time.Minute) }, "smsbot serve is running on"},
		{"newer smsbot", func(*store.DB) error { return nil }, "newer smsbot"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := current(t, c.edit)
			if c.name == "newer smsbot" {
				raw, err := sql.Open("sqlite", "file:"+path)
				if err != nil {
					t.Fatal(err)
				}
				_, err = raw.Exec(`INSERT INTO schema_migrations VALUES ('migrations/9999_future.sql', 1)`)
				raw.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			u := postgrestest.SchemaURL(t)
			_, errs, code := runCmd(t, map[string]string{"SMSBOT_DB": u, "SMSBOT_SECRET": e2eKey}, "migrate", "--from", "sqlite:"+path)
			if code != exitFailed || !strings.Contains(errs, c.want) {
				t.Errorf("exit %d %q, want 1 saying %q", code, errs, c.want)
			}
			if got := pgState(t, u); got != "no tables" {
				t.Errorf("PostgreSQL touched: %s", got)
			}
		})
	}
}
