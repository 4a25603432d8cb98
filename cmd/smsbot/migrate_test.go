package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrate_SaysWhatItDid: migrate says how many migrations it applied
// this time (0 once up to date) and names the database it cannot open.
func TestMigrate_SaysWhatItDid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	env := map[string]string{"SMSBOT_DB": path}
	out, errs, code := runCmd(t, env, "migrate")
	if code != 0 || strings.Contains(out, "applied 0 migration") || !strings.Contains(out, path+" (SQLite): applied ") {
		t.Fatalf("first migrate: exit %d %q %s", code, out, errs)
	}
	out, errs, code = runCmd(t, env, "migrate")
	if code != 0 || !strings.Contains(out, "applied 0 migration(s) now") {
		t.Fatalf("second migrate: exit %d %q %s", code, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "missing-dir", "m.db")
	if _, errs, code := runCmd(t, env, "migrate", "--db", bad); code != exitFailed || !strings.Contains(errs, bad) {
		t.Errorf("migrate on an unopenable path: exit %d %q, want 1 naming %s", code, errs, bad)
	}
}

// TestExitCodes_README: doctor exits 1 on a missing setting where serve
// exits 2, bad flags are 2 for both, and the README says so.
func TestExitCodes_README(t *testing.T) {
	env := map[string]string{"SMSBOT_DB": filepath.Join(t.TempDir(), "x.db")}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"doctor", "--timeout", "1s"}, exitFailed},
		{[]string{"doctor", "--bogus"}, exitUsage},
		{[]string{"serve"}, exitUsage},
		{[]string{"bogus"}, exitUsage},
	} {
		if _, errs, code := runCmd(t, env, c.args...); code != c.want {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.want, errs)
		}
	}
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "## Exit codes")
	for _, want := range []string{"a failed `doctor` check (a missing or malformed setting is one)", "so it exits 1 where `serve` exits 2"} {
		if !strings.Contains(section, want) {
			t.Errorf("README's exit codes lack %q", want)
		}
	}
}
