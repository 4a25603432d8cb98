package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/store/postgres/postgrestest"
)

// prodEnv is a complete production environment with SMSBOT_DB set to db.
func prodEnv(db string) map[string]string {
	return map[string]string{
		"SMSBOT_DB": db, "SMSBOT_PUBLIC_URL": "https://bot.example.com",
		"TWILIO_ACCOUNT_SID": e2eSID, "TWILIO_AUTH_TOKEN": e2eToken, "TWILIO_FROM_NUMBER": e2eNumber,
		"AUTH0_DOMAIN": "x.auth0.com", "AUTH0_CLIENT_ID": e2eClient, "AUTH0_CLIENT_SECRET": e2eSecret,
	}
}

// TestLoadConfig_Postgres: a postgres:// URL needs SMSBOT_SECRET or
// SMSBOT_KEY_FILE in production (no file beside it for a generated key),
// dev mode refuses it, and SMSBOT_PG_POOL is read.
func TestLoadConfig_Postgres(t *testing.T) {
	const u = "postgresql://smsbot:pw@db.example.com/smsbot"
	load := func(args []string, env map[string]string) error {
		_, err := loadConfig(args, func(k string) string { return env[k] }, io.Discard)
		return err
	}
	env := prodEnv(u)
	if err := load(nil, env); err == nil || !strings.Contains(err.Error(), "SMSBOT_SECRET") {
		t.Errorf("PostgreSQL without a key: %v, want an error naming SMSBOT_SECRET", err)
	}
	if err := load(nil, prodEnv("smsbot.db")); err != nil {
		t.Errorf("SQLite without a key (the key file is generated): %v", err)
	}
	for k, v := range map[string]string{"SMSBOT_SECRET": e2eKey, "SMSBOT_KEY_FILE": "/etc/smsbot/key"} {
		env := prodEnv(u)
		env[k] = v
		if err := load(nil, env); err != nil {
			t.Errorf("PostgreSQL with %s: %v", k, err)
		}
	}
	if err := load([]string{"--dev", "--db", u}, nil); err == nil || !strings.Contains(err.Error(), "dev mode stays on SQLite") {
		t.Errorf("dev on PostgreSQL: %v", err)
	}
	c, err := loadConfig(nil, func(k string) string { return map[string]string{"SMSBOT_PG_POOL": "12", "SMSBOT_SECRET": e2eKey}[k] }, io.Discard)
	if c == nil || c.PGPool != 12 {
		t.Errorf("SMSBOT_PG_POOL=12: %+v %v", c, err)
	}
}

// TestDBName_HidesPassword: a URL's password never reaches a message.
func TestDBName_HidesPassword(t *testing.T) {
	if got := dbName("postgres://smsbot:s3cret@db/smsbot"); strings.Contains(got, "s3cret") || !strings.Contains(got, "db/smsbot") {
		t.Errorf("dbName = %q", got)
	}
	if got := dbName("/var/lib/smsbot/smsbot.db"); got != "/var/lib/smsbot/smsbot.db" {
		t.Errorf("dbName of a file = %q", got)
	}
}

// TestMigrate_Postgres: migrate applies the PostgreSQL migrations once and
// names the backend; backup refuses PostgreSQL and points at pg_dump.
func TestMigrate_Postgres(t *testing.T) {
	u := postgrestest.SchemaURL(t)
	env := map[string]string{"SMSBOT_DB": u}
	files, err := filepath.Glob("../../store/postgres/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("the PostgreSQL migrations: %v %v", files, err)
	}
	n := len(files)
	out, errs, code := runCmd(t, env, "migrate")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("(PostgreSQL): applied %d migration(s) now", n)) {
		t.Fatalf("first migrate: exit %d %q %s", code, out, errs)
	}
	out, errs, code = runCmd(t, env, "migrate")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("(PostgreSQL): applied 0 migration(s) now, %d in all", n)) {
		t.Fatalf("second migrate: exit %d %q %s", code, out, errs)
	}
	_, errs, code = runCmd(t, env, "backup", filepath.Join(t.TempDir(), "b.db"))
	if code != exitUsage || !strings.Contains(errs, "pg_dump") {
		t.Errorf("backup of PostgreSQL: exit %d %q, want 2 pointing at pg_dump", code, errs)
	}
}
