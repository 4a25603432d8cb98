package main

import (
	"fmt"
	"github.com/smsbot/smsbot/bot"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// fastOutbox makes the outbox retry quickly, so that fault tests finish in
// seconds, with several delivery lanes.
var fastOutbox = map[string]string{
	"SMSBOT_OUTBOX_WORKERS":    "4",
	"SMSBOT_HTTP_TIMEOUT":      "1s",
	"SMSBOT_OUTBOX_RETRY_BASE": "20ms",
	"SMSBOT_OUTBOX_RETRY_MAX":  "300ms",
	"SMSBOT_OUTBOX_ATTEMPTS":   "200",
	"SMSBOT_OUTBOX_LEASE":      "3s",
	"SMSBOT_TEXTS_PER_MINUTE":  "100000",
	"SMSBOT_WEB_PER_MINUTE":    "100000",
	"SMSBOT_WEB_BURST":         "100000",
}

// flow runs one whole subscription and returns the code page's status.
func (e *e2e) flow(phone, email string) error {
	reply := e.text(phone, "S")
	m := linkRE.FindStringSubmatch(reply)
	if m == nil {
		return fmt.Errorf("%s: no link in %q", phone, reply)
	}
	c := e.browser()
	status, page := e.logIn(c, e.openLink(c, m[0]), email)
	code := codeRE.FindStringSubmatch(page)
	if status != 200 || code == nil {
		return fmt.Errorf("%s: code page %d", phone, status)
	}
	if r := e.text(phone, code[1]); !strings.Contains(r, "subscribed") {
		return fmt.Errorf("%s: code reply %q", phone, r)
	}
	return nil
}

func (e *e2e) pending() int {
	var n int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE state = 'pending'`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// checkDelivered asserts that every phone got its code prompt exactly
// prompts times, every text reached Twilio once, and every account
// carries its phone in Auth0.
func (e *e2e) checkDelivered(phones, emails []string, prompts int) {
	e.t.Helper()
	e.waitFor("the outbox to drain", func() bool { return e.pending() == 0 })
	var failed int
	e.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE state = 'failed'`).Scan(&failed)
	if failed != 0 {
		e.t.Errorf("%d outbox jobs failed", failed)
	}
	for i, p := range phones {
		if n := e.prompts(p); n != prompts {
			e.t.Errorf("%s got the code prompt %d times, want %d", p, n, prompts)
		}
		if got := e.appPhone(emails[i]); got != p {
			e.t.Errorf("%s: app_metadata.phone = %v", emails[i], got)
		}
	}
	e.checkOnce()
}

// prompts counts the code prompts Twilio accepted for phone.
func (e *e2e) prompts(phone string) int {
	n := 0
	for _, body := range e.textsTo(phone) {
		if strings.Contains(body, "reply with the 6-digit code") {
			n++
		}
	}
	return n
}

// checkOnce asserts that the outbox's delivered texts and Twilio's
// messages match one to one: no two jobs recorded one message (one of
// their texts was never sent) and no message lacks its job (a text was
// sent twice). It returns how many texts were delivered, how many
// messages no job recorded and how many jobs shared a message.
func (e *e2e) checkOnce() (delivered, duplicates, shared int) {
	e.t.Helper()
	rows, err := e.db.Query(`SELECT result FROM outbox WHERE kind = 'sms' AND state = 'done' AND result LIKE 'SM%'`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	results := map[string]bool{}
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			e.t.Fatal(err)
		}
		if results[sid] {
			e.t.Errorf("two jobs recorded Twilio message %s: one of their texts was never sent", sid)
			shared++
		}
		results[sid] = true
		delivered++
	}
	if shared > 0 {
		e.logSharedJobs()
	}
	for _, m := range e.twilio.Messages() {
		if !results[m.SID] {
			e.t.Errorf("Twilio has %s (%q to %s) that no job recorded: a text sent twice", m.SID, m.Body, m.To)
			duplicates++
		}
	}
	return delivered, duplicates, shared
}

// logSharedJobs logs the jobs that recorded one Twilio message, to tell
// how they came to share it.
func (e *e2e) logSharedJobs() {
	rows, err := e.db.Query(`SELECT id, phone, created_at, first_try, finished_at, attempts, CAST(ambiguous AS INTEGER), result, last_error FROM outbox
		WHERE kind = 'sms' AND result IN (SELECT result FROM outbox WHERE kind = 'sms' AND state = 'done' AND result LIKE 'SM%' GROUP BY result HAVING COUNT(*) > 1)
		ORDER BY result, id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, created, first, finished, attempts, ambiguous int64
		var phone, result, lastErr string
		if err := rows.Scan(&id, &phone, &created, &first, &finished, &attempts, &ambiguous, &result, &lastErr); err != nil {
			e.t.Errorf("shared jobs: %v", err)
			return
		}
		e.t.Logf("job %d to %s: created %d, first try %d (+%d ms), finished %d (+%d ms), %d attempts, ambiguous %d, result %s, last error %q",
			id, bot.MaskPhone(phone), created, first, first-created, finished, finished-created, attempts, ambiguous, result, lastErr)
	}
}

// TestFaults_FlakyFarEnds subscribes phones three times each (three code
// prompts of the same text per phone, over four delivery lanes) while Twilio and Auth0 fail in every way they
// can: errors, hangs, dropped connections, messages accepted although the
// answer was lost or came after the client gave up, messages stuck in
// Twilio's queue. Each text reaches Twilio exactly once.
func TestFaults_FlakyFarEnds(t *testing.T) {
	e := startE2E(t, fastOutbox)
	e.twilio.SetFaults(twiliotest.Faults{Rate429: 0.05, Rate500: 0.1, RateHang: 0.05, RateDropBefore: 0.1, RateDropAfter: 0.05,
		RateLateAnswer: 0.3, RateQueued: 0.3, Hang: 1500 * time.Millisecond, Seed: 7})
	e.auth0.SetFaults(auth0test.Faults{Rate429: 0.15, Rate500: 0.15, RateDrop: 0.1, Seed: 11, ResetAfter: time.Second})
	const n, flows = 24, 3
	var phones, emails []string
	for i := 0; i < n; i++ {
		phones = append(phones, fmt.Sprintf("+1555560%04d", i))
		emails = append(emails, fmt.Sprintf("flaky%d@example.com", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range phones {
		wg.Go(func() {
			for range flows {
				if err := e.flow(phones[i], emails[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.checkDelivered(phones, emails, flows)
	if r := e.twilio.Requests(); r <= flows*n {
		t.Errorf("only %d send attempts for %d texts: the faults never fired", r, flows*n)
	}
	held := 0
	for _, m := range e.twilio.Messages() {
		if m.Held {
			held++
		}
	}
	if held == 0 {
		t.Error("no message stayed queued: RateQueued never fired")
	}
	t.Logf("%d texts took %d send attempts, %d stayed queued; %d Management API requests", flows*n, e.twilio.Requests(), held, e.auth0.MgmtRequests())
}

func TestFaults_FarEndsDown(t *testing.T) {
	e := startE2E(t, fastOutbox)
	e.twilio.SetFaults(twiliotest.Faults{Rate500: 1})
	e.auth0.SetFaults(auth0test.Faults{Rate500: 1})
	phones := []string{"+15555700001", "+15555700002", "+15555700003"}
	emails := []string{"down1@example.com", "down2@example.com", "down3@example.com"}
	for i := range phones {
		start := time.Now()
		if err := e.flow(phones[i], emails[i]); err != nil {
			t.Fatal(err)
		}
		// Three texts and a login, all answered although both far ends fail.
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("a flow took %v with the far ends down", d)
		}
	}
	if e.pending() == 0 {
		t.Fatal("nothing queued while the far ends were down")
	}
	e.twilio.SetFaults(twiliotest.Faults{})
	e.auth0.SetFaults(auth0test.Faults{})
	e.checkDelivered(phones, emails, 1)
}
