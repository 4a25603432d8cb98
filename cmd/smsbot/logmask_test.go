package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPhoneMasker(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(maskPhones(slog.NewJSONHandler(&buf, nil))).With("bot", "+15005550006")
	u, _ := url.Parse("https://api.twilio.com/Messages.json?To=%2B15555550123")
	log.WithGroup("g").Warn("send to +15555550124 failed",
		"err", fmt.Errorf("twilio 21211: The 'To' number %s is not a valid phone number", "+15555550125"),
		"url", u,
		slog.Group("job", "to", "+15555550126"),
		"code", 21211)
	out := buf.String()
	for _, full := range []string{"5005550006", "5555550123", "5555550124", "5555550125", "5555550126"} {
		if strings.Contains(out, full) {
			t.Errorf("log carries %s: %s", full, out)
		}
	}
	if !strings.Contains(out, `"code":21211`) || !strings.Contains(out, "+1******0125") || !strings.Contains(out, "%2B1******0123") {
		t.Errorf("log lost its content: %s", out)
	}
}

// TestE2E_FarEndErrorsLogNoPhone: Twilio's errors that name a number
// (21606 here; 21211 alike) and a failed list request whose URL carries
// To=%2B... reach the logs and the outbox with the number masked.
func TestE2E_FarEndErrorsLogNoPhone(t *testing.T) {
	const notOurs = "+15005550009"
	e := startE2E(t, map[string]string{"TWILIO_FROM_NUMBER": notOurs})
	// Only phones that texted get texts; a text also wakes the outbox.
	if err := e.sendLater("+15555550204"); err != nil { // The 'From' number +1... is not ... for your account.
		t.Fatal(err)
	}
	e.text("+15555550204", "H")
	e.waitFor("the far end's refusal", func() bool { return strings.Contains(e.logs.String(), "twilio 21606") })

	// An ambiguous earlier try makes the sender list the texts To the
	// phone first; with Twilio gone, that request fails with its URL.
	const phone = "+15555550203"
	now := time.Now().UnixMilli()
	if _, err := e.db.Exec(`INSERT INTO outbox (kind, phone, body, created_at, next_at, first_try, attempts, ambiguous)
		VALUES ('sms', ?, 'late answer', ?, ?, ?, 1, 1)`, phone, now, now, now); err != nil {
		t.Fatal(err)
	}
	e.twilio.Close()
	e.text(phone, "H")
	e.waitFor("the failed list request", func() bool { return strings.Contains(e.logs.String(), "look for an earlier try") })

	logs := e.logs.String()
	for _, full := range []string{"15005550009", "15555550203", "%2B1555"} {
		if strings.Contains(logs, full) {
			t.Errorf("the logs carry %s", full)
		}
	}
	var lastErrors string
	if err := e.db.QueryRow(`SELECT group_concat(last_error, ' | ') FROM outbox`).Scan(&lastErrors); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastErrors, "+1******0009") || strings.Contains(lastErrors, "5005550009") || strings.Contains(lastErrors, "5555550203") {
		t.Errorf("the outbox keeps a full number: %s", lastErrors)
	}
}
