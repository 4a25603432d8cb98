package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// TestOutbox_ListAndRetry: a text that failed (Twilio answered 429 to its
// only try) is listed with its error, phone masked; once Twilio is back,
// outbox retry puts it back, the running server delivers it, and the audit
// table records the retry.
func TestOutbox_ListAndRetry(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_OUTBOX_ATTEMPTS": "1"})
	const phone = "+15555550401"
	e.text(phone, "hi")
	e.twilio.SetFaults(twiliotest.Faults{Rate429: 1})
	if err := e.sendLater(phone); err != nil {
		t.Fatal(err)
	}
	var id int64
	e.waitFor("the text to fail", func() bool {
		return e.db.QueryRow(`SELECT id FROM outbox WHERE phone = ? AND state = 'failed'`, phone).Scan(&id) == nil
	})

	out, errs, code := runCmd(t, e.env, "outbox", "list", "--failed")
	if code != 0 {
		t.Fatalf("outbox list: exit %d %s", code, errs)
	}
	row := fmt.Sprintf("%d  ", id)
	if !strings.Contains(out, row) || !strings.Contains(out, "20429") || !strings.Contains(out, "1 jobs, 1 failed") {
		t.Errorf("outbox list --failed lacks job %d or its error:\n%s", id, out)
	}
	if strings.Contains(out, phone) || !strings.Contains(out, "0401") {
		t.Errorf("outbox list shows the phone unmasked, or not at all:\n%s", out)
	}

	for _, bad := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"outbox", "retry"}, exitUsage, "one job ID or --all-failed"},
		{[]string{"outbox", "retry", "7", "--all-failed"}, exitUsage, "one job ID or --all-failed"},
		{[]string{"outbox", "retry", "x"}, exitUsage, "not a job ID"},
		{[]string{"outbox", "retry", "999"}, exitFailed, "no outbox job 999 (nothing changed)"},
		{[]string{"outbox", "purge"}, exitUsage, "unknown command"},
	} {
		if _, errs, code := runCmd(t, e.env, bad.args...); code != bad.code || !strings.Contains(errs, bad.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", bad.args, code, errs, bad.code, bad.want)
		}
	}

	e.twilio.SetFaults(twiliotest.Faults{})
	out, errs, code = runCmd(t, e.env, "outbox", "retry", fmt.Sprint(id), "--reason", "Twilio is back")
	if code != 0 || !strings.Contains(out, "1 job(s) put back") {
		t.Fatalf("outbox retry: exit %d %s%s", code, out, errs)
	}
	e.waitFor("the retried text at Twilio", func() bool {
		return strings.Contains(strings.Join(e.textsTo(phone), "\n"), "late answer")
	})
	var reason string
	if err := e.db.QueryRow(`SELECT reason FROM audit WHERE phone = ? AND action = 'outbox_retry'`, phone).Scan(&reason); err != nil || !strings.Contains(reason, "Twilio is back") {
		t.Errorf("audit of the retry: %q %v", reason, err)
	}
	if out, _, _ := runCmd(t, e.env, "outbox", "retry", "--all-failed"); !strings.Contains(out, "no failed jobs") {
		t.Errorf("retry --all-failed with none failed: %s", out)
	}
}

// TestBackup_WhileServing: smsbot backup copies the database of a running
// server into a new 0600 file that holds what was answered before it.
func TestBackup_WhileServing(t *testing.T) {
	e := startE2E(t, nil)
	const phone = "+15555550402"
	e.text(phone, "S")
	path := filepath.Join(t.TempDir(), "copy.db")
	out, errs, code := runCmd(t, e.env, "backup", path)
	if code != 0 || !strings.Contains(out, path) {
		t.Fatalf("backup: exit %d %s%s", code, out, errs)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v %v", fi, err)
	}
	cp, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var state string
	if err := cp.QueryRow(`SELECT state FROM phones WHERE phone = ?`, phone).Scan(&state); err != nil || state != "awaiting_login" {
		t.Errorf("the copy's phone: %q %v", state, err)
	}
	if _, errs, code := runCmd(t, e.env, "backup", path); code != exitFailed || !strings.Contains(errs, "exists") {
		t.Errorf("backup over an existing file: exit %d %s", code, errs)
	}
	if _, _, code := runCmd(t, e.env, "backup"); code != exitUsage {
		t.Errorf("backup without PATH: exit %d, want %d", code, exitUsage)
	}
}
