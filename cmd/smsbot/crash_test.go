package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// TestCrash runs the real binary under load from many phones, kills it
// with SIGKILL at random moments, restarts it, and checks that nothing
// acknowledged was lost: every text answered 200 is in the database, every
// code page shown has its text delivered, every queued text reaches the
// Twilio stand-in exactly once, and no phone is in an impossible state.
//
// The outbox runs four lanes, and Twilio's stand-in drops some creates
// before or after accepting them, answers some late (the message is listed
// before its answer arrives, if it arrives before the client gives up) and
// keeps some messages queued, out of reach of DateSent filters.
//
// make test runs a few kills; make crashtest runs SMSBOT_CRASH_KILLS=25.
// The random seed is logged; SMSBOT_CRASH_SEED=N replays its load, kill
// moments and Twilio faults (the scheduling of the runs differs).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	kills := envInt("SMSBOT_CRASH_KILLS", 3)
	phones := envInt("SMSBOT_CRASH_PHONES", 40)
	seed := testSeed(t, "SMSBOT_CRASH_SEED")
	dir := t.TempDir()
	bin := buildBinary(t, dir)

	tw := twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}})
	if err := tw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer tw.Close()
	tw.SetFaults(twiliotest.Faults{RateDropBefore: 0.05, RateDropAfter: 0.05, RateLateAnswer: 0.1, RateQueued: 0.3, Hang: 1500 * time.Millisecond, Seed: int64(seed)})
	// The test holds the listening socket for the whole run and hands it to
	// each start of the program (SMSBOT_ADDR=fd:3): no other process can
	// take the port between a kill and the restart.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	e := &e2e{t: t, base: "http://" + ln.Addr().String(), dbPath: filepath.Join(dir, "crash.db"), twilio: tw, logs: &syncBuffer{}}
	e.public = e.base
	a, err := auth0test.New(auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{e.public + "/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	e.auth0 = a
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, append(tw.CertPEM(), a.CertPEM()...), 0o600)
	env := append(os.Environ(),
		"SMSBOT_ADDR=fd:3", "SMSBOT_DB="+e.dbPath, "SMSBOT_PUBLIC_URL="+e.public,
		"SMSBOT_SECRET="+e2eKey, "SMSBOT_CA_FILE="+ca, "SMSBOT_SYNCHRONOUS=FULL",
		"TWILIO_ACCOUNT_SID="+e2eSID, "TWILIO_AUTH_TOKEN="+e2eToken, "TWILIO_FROM_NUMBER="+e2eNumber, "TWILIO_API_URL="+tw.URL(),
		"AUTH0_DOMAIN="+a.Domain(), "AUTH0_CLIENT_ID="+e2eClient, "AUTH0_CLIENT_SECRET="+e2eSecret,
		"SMSBOT_OUTBOX_WORKERS=4", "SMSBOT_HTTP_TIMEOUT=1s", "SMSBOT_OUTBOX_LEASE=2s", "SMSBOT_OUTBOX_RETRY_BASE=20ms", "SMSBOT_OUTBOX_RETRY_MAX=200ms", "SMSBOT_OUTBOX_ATTEMPTS=1000",
		"SMSBOT_TEXTS_PER_MINUTE=1000000", "SMSBOT_WEB_PER_MINUTE=1000000", "SMSBOT_WEB_BURST=1000000",
		"SMSBOT_LINKS_PER_HOUR=1000000", "SMSBOT_LINKS_PER_DAY=1000000", "SMSBOT_REPLY_BUDGET=1000000",
	)

	var mu sync.Mutex
	acked := map[string]string{} // MessageSid -> phone, for every 200
	pages := map[string]int{}    // phone -> code pages shown
	rng := rand.New(rand.NewPCG(seed, 1))
	var texts, flows int

	for round := 0; round <= kills; round++ {
		cmd := startBinary(t, bin, env, ln, e.logs)
		if round == kills {
			// The last run is not killed: it delivers what is queued.
			e.db, err = sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(5000)&mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			drainStart, queued := time.Now(), e.pending()
			drainDeadline := drainStart.Add(60 * time.Second)
			for e.pending() != 0 {
				if time.Now().After(drainDeadline) {
					rows, _ := e.db.Query(`SELECT id, kind, attempts, ambiguous, lease_until, next_at, last_error FROM outbox WHERE state = 'pending' LIMIT 10`)
					for rows.Next() {
						var id, attempts, amb, lease, next int64
						var kind, lastErr string
						rows.Scan(&id, &kind, &attempts, &amb, &lease, &next, &lastErr)
						t.Logf("pending job %d %s attempts %d ambiguous %d lease %d next %d (now %d): %s", id, kind, attempts, amb, lease, next, time.Now().UnixMilli(), lastErr)
					}
					rows.Close()
					t.Fatalf("%d jobs still pending 60 s after the last restart", e.pending())
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("the last run delivered the %d queued jobs in %v", queued, time.Since(drainStart).Round(time.Millisecond))
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			seed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, 2))
				for ctx.Err() == nil {
					phone := fmt.Sprintf("+1555580%04d", r.IntN(phones))
					if r.IntN(3) == 0 {
						if sids, page := crashFlow(e, phone, phone[1:]+"@example.com"); page {
							mu.Lock()
							pages[phone]++
							flows++
							for _, s := range sids {
								acked[s] = phone
							}
							mu.Unlock()
						}
						continue
					}
					body := []string{"H", "hi", "S", "U", "123456"}[r.IntN(5)]
					if sid, ok := crashText(e, phone, body); ok {
						mu.Lock()
						acked[sid] = phone
						texts++
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond) // the random moment
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
		wg.Wait()
	}
	defer e.db.Close()

	// Every acknowledged text has its effect: its MessageSid and reply are stored.
	lost := 0
	for sid := range acked {
		var n int
		if err := e.db.QueryRow(`SELECT COUNT(*) FROM inbound WHERE message_sid = ?`, sid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			lost++
		}
	}
	// Every queued text reached Twilio exactly once, and every code page
	// shown was followed by its text.
	var failed int
	e.db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE kind = 'sms' AND state = 'failed'`).Scan(&failed)
	if failed != 0 {
		t.Errorf("%d texts failed", failed)
	}
	done, duplicates, shared := e.checkOnce()
	missing := 0
	for phone, n := range pages {
		if got := e.prompts(phone); got < n {
			t.Errorf("%s saw %d code pages but got %d prompts", phone, n, got)
			missing += n - got
		}
	}
	// No impossible state.
	var bad int
	e.db.QueryRow(impossiblePhones).Scan(&bad)
	var integrity string
	e.db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity)
	if bad != 0 || integrity != "ok" {
		t.Errorf("%d phones in an impossible state; integrity_check: %s", bad, integrity)
	}
	if lost != 0 {
		t.Errorf("%d of %d acknowledged texts lost", lost, len(acked))
	}
	if len(acked) == 0 || done == 0 {
		t.Errorf("the load never got through: %d acked, %d delivered", len(acked), done)
	}
	t.Logf("crash test: %d kills, %d acknowledged texts (%d in %d whole flows), lost %d, %d texts delivered, %d duplicates, %d code prompts missing, %d messages recorded by two jobs",
		kills, len(acked), len(acked)-texts, flows, lost, done, duplicates, missing, shared)
}

// crashText sends one text and reports its MessageSid if answered 200.
func crashText(e *e2e, phone, body string) (string, bool) {
	f := e.form(phone, body)
	status, _ := crashPost(e, e.base, f)
	return f.Get("MessageSid"), status == 200
}

// crashPost sends a signed inbound SMS webhook to the server at base and
// returns the status (0 when no answer came) and the TwiML body.
func crashPost(e *e2e, base string, f url.Values) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, base+webhooks.PathSMS, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", e.sign(f))
	res, err := crashClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	// A 200 counts as acknowledged even if its body is cut short.
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

var crashClient = &http.Client{Timeout: 5 * time.Second}

// crashFlow tries a whole subscription of phone to the account of email;
// it returns the acknowledged MessageSids and whether a code page was
// shown.
func crashFlow(e *e2e, phone, email string) ([]string, bool) {
	var sids []string
	f := e.form(phone, "S")
	status, body := crashPost(e, e.base, f)
	if status != 200 {
		return nil, false
	}
	sids = append(sids, f.Get("MessageSid"))
	var tw twimlResponse
	if err := xmlUnmarshal(body, &tw); err != nil || len(tw.Messages) == 0 {
		return sids, false
	}
	m := linkRE.FindStringSubmatch(tw.Messages[0])
	if m == nil {
		return sids, false
	}
	c := e.auth0.Client()
	defer c.CloseIdleConnections()
	c.Timeout = 5 * time.Second
	c.Jar = newJar()
	lr, err := c.Get(m[0])
	if err != nil {
		return sids, false
	}
	lr.Body.Close()
	if lr.StatusCode != 200 {
		return sids, false
	}
	pr, err := c.PostForm(lr.Request.URL.String(), url.Values{"email": {email}})
	if err != nil {
		return sids, false
	}
	page, err := io.ReadAll(pr.Body)
	pr.Body.Close()
	if err != nil {
		return sids, false
	}
	code := codeRE.FindSubmatch(page)
	if pr.StatusCode != 200 || code == nil {
		return sids, false
	}
	if sid, ok := crashText(e, phone, string(code[1])); ok {
		sids = append(sids, sid)
	}
	return sids, true
}
