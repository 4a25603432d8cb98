package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
)

// fillSQLite makes a SQLite database with rows in every table: phones in
// three states, links, replies, outbox jobs pending (one ambiguous),
// done and failed, statuses, audit, lost deliveries, wrong codes, a rate
// limit, web codes and a wrong one, an instance, and the settings a database keeps for itself beside
// one it does not.
func fillSQLite(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "src.db")
	db, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := storetest.T0
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.UseMode(ctx, store.ModeProduction))
	must(db.Update(ctx, func(tx bot.Tx) error {
		for _, p := range []*bot.Phone{
			{Number: "+15555550001", State: bot.StateSubscribed, UserID: "auth0|1", Email: "a@example.com", BoundAt: at,
				ReplyWindow: at, ReplyCount: 2, CreatedAt: at, UpdatedAt: at, LastSeen: at, VerifiedAt: at,
				SuspendedAt: at.Add(time.Hour), SuspendReason: bot.CauseSilent},
			{Number: "+15555550002", State: bot.StateAwaitingLogin, ExpiresAt: at.Add(15 * time.Minute), LinkHash: []byte{1, 2, 3}, CreatedAt: at, UpdatedAt: at},
			{Number: "+15555550003", State: bot.StateAwaitingCode, ExpiresAt: at.Add(10 * time.Minute), CodeMAC: []byte{0, 255},
				CodeUserID: "auth0|3", CodeEmail: "c@example.com", CodeLogin: "login", CodeAttempts: 1, CreatedAt: at, UpdatedAt: at},
		} {
			if err := tx.SavePhone(ctx, p); err != nil {
				return err
			}
		}
		must(tx.AddLink(ctx, &bot.Link{Hash: []byte{1, 2, 3}, Phone: "+15555550002", CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute)}))
		must(tx.AddLink(ctx, &bot.Link{Hash: []byte{4}, Phone: "+15555550003", CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute), UsedAt: at.Add(time.Minute)}))
		must(tx.SaveReply(ctx, "SM1", "+15555550001", []byte("sealed"), at))
		must(tx.SaveReply(ctx, "SM2", "+15555550002", []byte{}, at.Add(time.Second)))
		for i := range 4 {
			must(tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: fmt.Sprintf("+1555555001%d", i), Body: "hi", CreatedAt: at}))
		}
		must(tx.Enqueue(ctx, &bot.Job{Kind: bot.JobAccountSync, UserID: "auth0|1", CreatedAt: at}))
		must(tx.Audit(ctx, &bot.AuditEntry{At: at, Phone: "+15555550001", UserID: "auth0|1", Action: "bind", Reason: "code"}))
		must(tx.Audit(ctx, &bot.AuditEntry{At: at, Phone: "+15555550001", UserID: "auth0|1", Action: "suspend", Reason: "silent"}))
		must(tx.AddLostDelivery(ctx, "+15555550001", "SM9", 30005, at))
		return tx.AddWrongCode(ctx, "auth0|3", "+15555550003", at)
	}))
	// One job done, one failed, one ambiguous (lease ran out), two left.
	for i, finish := range []func(id int64) error{
		func(id int64) error { return db.Done(ctx, id, at, "SMdone") },
		func(id int64) error { return db.Fail(ctx, id, at, "21211") },
		func(id int64) error { return db.Retry(ctx, id, at.Add(time.Minute), "timeout", true) },
	} {
		j, err := db.Claim(ctx, at.Add(time.Duration(i)*time.Second), time.Minute)
		must(err)
		must(finish(j.ID))
	}
	_, err = db.RecordStatus(ctx, "SMdone", "+15555550010", "delivered", 0, at)
	must(err)
	must(db.Heartbeat(ctx, "running", at, time.Minute))
	must(db.Ping(ctx))
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	must(err)
	defer raw.Close()
	_, err = raw.Exec(`INSERT INTO settings (key, value) VALUES ('secret', x'00112233'), ('instance', x'6f6c64'), ('kept', x'6b657074')`)
	must(err)
	// SQLite keeps its rate limits in memory; the table is there all the same.
	_, err = raw.Exec(`INSERT INTO rate_limits (key, full_at) VALUES ('texts', 1790000060000)`)
	must(err)
	_, err = raw.Exec(`INSERT INTO web_codes (login, code_mac, user_id, email, issued, created_at, expires_at, used_at, phone)
		VALUES ('login1', x'0102', 'auth0|5', 'e@example.com', 1, 1790000000000, 1790000600000, 0, ''),
		       ('login2', x'0304', 'auth0|6', '', 2, 1790000000000, 1790000600000, 1790000100000, '+15555550001')`)
	must(err)
	_, err = raw.Exec(`INSERT INTO link_misses (phone, at) VALUES ('+15555550002', 1790000000000)`)
	must(err)
	return path
}

// dumpSQLite reads every copied table of the SQLite database as sorted
// lines, booleans as 0 and 1, bytes in hex.
func dumpSQLite(t *testing.T, path string, tables []store.Table) map[string][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		q := `SELECT ` + strings.Join(tb.Columns, ", ") + ` FROM ` + tb.Name
		if tb.Name == "settings" {
			q += ` WHERE key NOT IN ('secret', 'instance', 'ping', 'mode')`
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(tb.Columns))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[tb.Name] = append(out[tb.Name], line(vals))
		}
		rows.Close()
		slices.Sort(out[tb.Name])
	}
	return out
}

// dumpPostgres reads the same tables of the PostgreSQL database at u.
func dumpPostgres(t *testing.T, u string, tables []store.Table) map[string][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string][]string{}
	for _, tb := range tables {
		q := `SELECT ` + strings.Join(tb.Columns, ", ") + ` FROM ` + tb.Name
		if tb.Name == "settings" {
			q += ` WHERE key NOT IN ('secret', 'instance', 'ping', 'mode')`
		}
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out[tb.Name] = append(out[tb.Name], line(vals))
		}
		rows.Close()
		slices.Sort(out[tb.Name])
	}
	return out
}

func line(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case bool:
			parts[i] = "0"
			if v {
				parts[i] = "1"
			}
		case []byte:
			parts[i] = fmt.Sprintf("x%x", v)
		case int32:
			parts[i] = fmt.Sprint(int64(v))
		case nil:
			parts[i] = "NULL"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "|")
}

// settingKeys lists the settings keys of the PostgreSQL database at u.
func settingKeys(t *testing.T, u string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT key FROM settings ORDER BY key`)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func export(t *testing.T, path string) (*store.DB, *store.Export) {
	t.Helper()
	src, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	e, err := src.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return src, e
}

// TestLoad_CopiesEveryTable copies a SQLite database with rows in every
// table into an empty PostgreSQL database (one a server has pinged and
// marked, which holds no data): every row arrives as it was, the settings
// a database keeps for itself and its instances stay behind, and new rows
// get ids after the copied ones. A second copy into the now full database
// is refused and changes nothing.
func TestLoad_CopiesEveryTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := fillSQLite(t)
	_, e := export(t, path)
	u := postgrestest.SchemaURL(t)
	pg := open(t, u, postgres.Options{})
	if err := pg.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pg.UseMode(ctx, store.ModeProduction); err != nil {
		t.Fatal(err)
	}

	copied, err := pg.Load(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	want := dumpSQLite(t, path, e.Tables())
	for _, tb := range e.Tables() {
		if len(want[tb.Name]) == 0 {
			t.Errorf("the test's fill leaves table %s empty: add rows to it in fillSQLite so that its copy is tested", tb.Name)
		}
	}
	got := dumpPostgres(t, u, e.Tables())
	for _, tb := range e.Tables() {
		if !slices.Equal(got[tb.Name], want[tb.Name]) {
			t.Errorf("table %s copied as\n%s\nwant\n%s", tb.Name, strings.Join(got[tb.Name], "\n"), strings.Join(want[tb.Name], "\n"))
		}
	}
	if len(copied) != len(e.Tables()) {
		t.Errorf("Load reports %d tables, the export has %d", len(copied), len(e.Tables()))
	}
	for i, tb := range copied {
		if tb.Rows != int64(len(want[tb.Name])) || tb.Name != e.Tables()[i].Name {
			t.Errorf("Load reports %s: %d rows, want %d", tb.Name, tb.Rows, len(want[tb.Name]))
		}
	}
	if keys := strings.Join(settingKeys(t, u), " "); keys != "kept mode ping" {
		t.Errorf("settings in PostgreSQL: %s, want kept (copied), mode and ping (its own)", keys)
	}
	if got, err := pg.Instances(ctx, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("instances copied: %q %v", got, err)
	}
	// New jobs and audit rows are numbered after the copied ones.
	err = pg.Update(ctx, func(tx bot.Tx) error {
		if err := tx.Audit(ctx, &bot.AuditEntry{At: storetest.T0, Phone: "+15555550001", UserID: "auth0|1", Action: "unbind", Reason: "U"}); err != nil {
			return err
		}
		return tx.Enqueue(ctx, &bot.Job{Kind: bot.JobSMS, To: "+15555550099", Body: "after", CreatedAt: storetest.T0})
	})
	if err != nil {
		t.Fatalf("a write after the copy: %v", err)
	}
	jobs, err := pg.OutboxJobs(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	// OutboxJobs leaves out job 1, which is done.
	if slices.Sort(ids); fmt.Sprint(ids) != "[2 3 4 5 6]" {
		t.Errorf("ids of the jobs not done after the copy and one new job: %v, want 2-5 copied and 6 new", ids)
	}

	before := dumpPostgres(t, u, e.Tables())
	if _, err := pg.Load(ctx, e); !errors.Is(err, postgres.ErrNotEmpty) {
		t.Fatalf("second copy: %v, want ErrNotEmpty", err)
	}
	after := dumpPostgres(t, u, e.Tables())
	for _, tb := range e.Tables() {
		if !slices.Equal(before[tb.Name], after[tb.Name]) {
			t.Errorf("the refused copy changed %s", tb.Name)
		}
	}
}

// source is a store.Source in memory.
type source struct {
	tables []store.Table
	rows   map[string][][]any
}

func (s *source) Tables() []store.Table { return s.tables }
func (s *source) Rows(_ context.Context, t store.Table) (store.Rows, error) {
	return &memRows{rows: s.rows[t.Name], i: -1}, nil
}

type memRows struct {
	rows [][]any
	i    int
}

func (r *memRows) Next() bool             { r.i++; return r.i < len(r.rows) }
func (r *memRows) Values() ([]any, error) { return r.rows[r.i], nil }
func (r *memRows) Err() error             { return nil }
func (r *memRows) Close() error           { return nil }

// TestLoad_RefusesWhatDoesNotFit: a table or a column PostgreSQL lacks,
// or a table whose rows do not number what the source said, fails the
// copy, and what was copied before it is rolled back.
func TestLoad_RefusesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	audit := store.Table{Name: "audit", Columns: []string{"id", "at", "phone", "user_id", "action", "reason"}, Rows: 1}
	auditRows := [][]any{{int64(7), int64(1), "+15555550001", "auth0|1", "bind", "code"}}
	for _, c := range []struct {
		name  string
		table store.Table
		rows  [][]any
		want  string
	}{
		{"unknown table", store.Table{Name: "nonesuch", Columns: []string{"a"}}, nil, "table nonesuch has no twin"},
		{"unknown column", store.Table{Name: "links", Columns: []string{"hash", "colour"}}, nil, "column colour has no twin"},
		{"count off", store.Table{Name: "settings", Columns: []string{"key", "value"}, Rows: 2}, [][]any{{"kept", []byte("v")}}, "counted 2 row(s), 1 were copied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := postgrestest.SchemaURL(t)
			pg := open(t, u, postgres.Options{})
			src := &source{tables: []store.Table{audit, c.table}, rows: map[string][][]any{"audit": auditRows, c.table.Name: c.rows}}
			if _, err := pg.Load(ctx, src); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Load: %v, want %q", err, c.want)
			}
			if got := dumpPostgres(t, u, []store.Table{audit})["audit"]; len(got) != 0 {
				t.Errorf("the failed copy left audit rows: %q", got)
			}
		})
	}
}

// TestSchemas_Twins: every table of the SQLite schema has its PostgreSQL
// twin with the same columns, and the other way round, so that a copy
// from one to the other loses nothing.
func TestSchemas_Twins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fresh.db")
	lite, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	e, err := lite.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	sqliteCols := map[string]string{}
	for _, tb := range e.Tables() {
		cols := slices.Clone(tb.Columns)
		slices.Sort(cols)
		sqliteCols[tb.Name] = strings.Join(cols, " ")
	}
	u := postgrestest.SchemaURL(t)
	open(t, u, postgres.Options{})
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT table_name, string_agg(column_name, ' ' ORDER BY column_name)
		FROM information_schema.columns WHERE table_schema = current_schema() GROUP BY table_name`)
	pgCols := map[string]string{}
	for rows.Next() {
		var table, cols string
		if err := rows.Scan(&table, &cols); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(store.NotCopied, table) {
			pgCols[table] = cols
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sqliteCols) != fmt.Sprint(pgCols) {
		t.Errorf("the schemas differ:\nSQLite     %v\nPostgreSQL %v", sqliteCols, pgCols)
	}
}
