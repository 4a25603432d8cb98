package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// The faults of PostgreSQL under serve: the server restarted under load,
// the server hanging (it takes connections and answers nothing), the pool
// exhausted. In each, a webhook answers within its bound (SMSBOT_PG_TIMEOUT,
// far below Twilio's 15 s) with 200 only for what was committed, or 503
// with nothing acknowledged; /readyz says 503 while the database is away;
// and the same process answers 200 again once it is back.

// pgfDefault is a setting's default from the settings table.
func pgfDefault(t *testing.T, env string) time.Duration {
	t.Helper()
	for _, s := range settings {
		if s.Env == env {
			d, err := time.ParseDuration(s.Default)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatalf("no setting %s", env)
	return 0
}

// pgfAnswer is one webhook sent and its answer.
type pgfAnswer struct {
	sid    string
	status int   // 0: no answer
	err    error // the transport's error, or a 200 that is not TwiML
	start  time.Time
	took   time.Duration
}

func (a pgfAnswer) end() time.Time { return a.start.Add(a.took) }

// pgfText sends one signed text from phone to base and times its answer.
// A client bound of 20 s shows a request hung past Twilio's 15 s.
func pgfText(e *e2e, client *http.Client, base, phone, body string) pgfAnswer {
	f := e.form(phone, body)
	a := pgfAnswer{sid: f.Get("MessageSid"), start: time.Now()}
	req, err := http.NewRequest(http.MethodPost, base+webhooks.PathSMS, strings.NewReader(f.Encode()))
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", e.sign(f))
	res, err := client.Do(req)
	if err != nil {
		a.err, a.took = err, time.Since(a.start)
		return a
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	a.status, a.took = res.StatusCode, time.Since(a.start)
	var tw twimlResponse
	if err == nil && a.status == 200 {
		err = xml.Unmarshal(b, &tw)
	}
	a.err = err
	return a
}

// pgfLoad texts an instance from many phones, a few goroutines at once,
// until halted, and keeps every answer.
type pgfLoad struct {
	mu      sync.Mutex
	answers []pgfAnswer
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startPGFLoad(e *e2e, workers, phonesEach int) *pgfLoad {
	l := &pgfLoad{stop: make(chan struct{})}
	client := &http.Client{Timeout: 20 * time.Second}
	bodies := []string{"H", "hello", "S", "hi there"}
	for w := range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				phone := fmt.Sprintf("+1555601%02d%02d", w, rand.IntN(phonesEach))
				a := pgfText(e, client, e.base, phone, bodies[rand.IntN(len(bodies))])
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
				if a.status != 200 {
					time.Sleep(20 * time.Millisecond) // as Twilio, no tight loop on failures
				}
			}
		})
	}
	return l
}

// count counts the answers so far that match.
func (l *pgfLoad) count(match func(pgfAnswer) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.answers {
		if match(a) {
			n++
		}
	}
	return n
}

// halt stops the load and returns every answer.
func (l *pgfLoad) halt() []pgfAnswer {
	close(l.stop)
	l.wg.Wait()
	return l.answers
}

// pgfProbe asks /readyz every 50 ms, as a load balancer's health check.
type pgfProbe struct {
	mu      sync.Mutex
	samples []pgfSample
	stop    chan struct{}
	wg      sync.WaitGroup
}

type pgfSample struct {
	start    time.Time
	took     time.Duration
	status   int
	instance string
}

func startPGFProbe(base string) *pgfProbe {
	p := &pgfProbe{stop: make(chan struct{})}
	client := &http.Client{Timeout: 20 * time.Second}
	p.wg.Go(func() {
		for {
			s := pgfSample{start: time.Now()}
			if res, err := client.Get(base + pathReady); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				s.status, s.instance = res.StatusCode, res.Header.Get(headerInstance)
			}
			s.took = time.Since(s.start)
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	return p
}

// first returns the first sample that matches, and whether there is one.
func (p *pgfProbe) first(match func(pgfSample) bool) (pgfSample, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.samples {
		if match(s) {
			return s, true
		}
	}
	return pgfSample{}, false
}

func (p *pgfProbe) halt() []pgfSample {
	close(p.stop)
	p.wg.Wait()
	return p.samples
}

// pgfInbound returns the MessageSids the database at u has recorded.
func pgfInbound(t *testing.T, u string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT message_sid FROM inbound`)
	if err != nil {
		t.Fatal(err)
	}
	sids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool, len(sids))
	for _, s := range sids {
		out[s] = true
	}
	return out
}

// pgfOutboxErrors counts the outbox worker's error lines in logs.
func pgfOutboxErrors(logs string) int {
	n := 0
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, `"component":"outbox"`) {
			n++
		}
	}
	return n
}

// TestPGFault_RestartUnderLoad: serve on a PostgreSQL server of the
// test's own, texted from many phones at once; the server is stopped
// immediately (as a crash) mid-load, stays down 3 s, and starts again.
// Every text answered 200, before, during or after, is in the database
// afterwards; every other answer is a 503, none took longer than
// SMSBOT_PG_TIMEOUT (and so none near Twilio's 15 s); /readyz went 503
// while the server was down and 200 after; the same process, never
// restarted, answers 200 again. Its outbox worker, busy with code prompts
// that Twilio's stand-in keeps refusing (429) until the restart, met the
// outage, waited rather than spun, and then delivered each prompt once.
func TestPGFault_RestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL restart test skipped in -short mode")
	}
	srv := postgrestest.StartServer(t)
	e := newE2E(t, map[string]string{"SMSBOT_DB": srv.URL(), "SMSBOT_PG_POOL": "8",
		"SMSBOT_OUTBOX_RETRY_BASE": "100ms", "SMSBOT_OUTBOX_RETRY_MAX": "300ms", "SMSBOT_OUTBOX_ATTEMPTS": "1000"})
	runProgram(t, []string{"serve"}, e.env, e.base, e.logs)
	bound := pgfDefault(t, "SMSBOT_PG_TIMEOUT") + time.Second // its transaction's bound, and the rest of the request
	const downFor = 3 * time.Second

	// Code prompts the outbox retries until the restart.
	e.twilio.SetFaults(twiliotest.Faults{Rate429: 1})
	prompted := []string{"+15555559871", "+15555559872", "+15555559873"}
	for i, phone := range prompted {
		e.subscribe(phone, fmt.Sprintf("restart%d@example.com", i))
	}

	probe := startPGFProbe(e.base)
	load := startPGFLoad(e, 6, 8)
	ok := func(a pgfAnswer) bool { return a.status == 200 && a.err == nil }
	waitFor(t, "150 texts answered before the restart", func() bool { return load.count(ok) >= 150 })
	before := load.count(ok)

	down := time.Now()
	logsAt := len(e.logs.String())
	srv.StopImmediate()
	time.Sleep(downFor) // the outage
	outboxErrors := pgfOutboxErrors(e.logs.String()[logsAt:])
	srv.Start()
	up := time.Now()
	e.twilio.SetFaults(twiliotest.Faults{})

	waitFor(t, "a text sent after the restart answered 200", func() bool {
		return load.count(func(a pgfAnswer) bool { return ok(a) && a.start.After(up) }) > 0
	})
	waitFor(t, "/readyz 200 after the restart", func() bool {
		_, ok := probe.first(func(s pgfSample) bool { return s.status == 200 && s.start.After(up) })
		return ok
	})
	after := load.count(ok)
	waitFor(t, "100 more texts answered after the restart", func() bool { return load.count(ok) >= after+100 })
	answers := load.halt()
	samples := probe.halt()
	e.waitFor("the code prompts delivered", func() bool {
		for _, phone := range prompted {
			if len(e.textsTo(phone)) == 0 {
				return false
			}
		}
		return true
	})
	outboxBack := time.Since(up)
	for _, phone := range prompted {
		if texts := e.textsTo(phone); len(texts) != 1 || !strings.Contains(texts[0], "reply with the 6-digit code") {
			t.Errorf("texts to %s: %q, want the code prompt once", phone, texts)
		}
	}

	stored := pgfInbound(t, srv.URL())
	var acked, failed, lost, whileDown int
	var maxTook, maxDown time.Duration
	var firstOK time.Time
	for _, a := range answers {
		maxTook = max(maxTook, a.took)
		if a.start.Before(up) && a.end().After(down) {
			whileDown++
			maxDown = max(maxDown, a.took)
		}
		switch {
		case a.err != nil || (a.status != 200 && a.status != 503):
			t.Errorf("text %s: status %d, %v after %s: want 200 or 503", a.sid, a.status, a.err, a.took)
		case a.status == 503:
			failed++
		default:
			acked++
			if !stored[a.sid] {
				lost++
				t.Errorf("text %s answered 200 at %s is not in the database", a.sid, a.end().Sub(down))
			}
			if a.start.After(up) && (firstOK.IsZero() || a.end().Before(firstOK)) {
				firstOK = a.end()
			}
		}
		if a.took > bound {
			t.Errorf("text %s took %s, want at most %s", a.sid, a.took, bound)
		}
	}
	if failed == 0 {
		t.Error("no text was answered 503: the restart did not happen under load")
	}
	var sawDown bool
	var readyBack time.Time
	instances := map[string]bool{}
	for _, s := range samples {
		instances[s.instance] = true
		if s.status == 503 && s.start.After(down) && s.start.Before(up) {
			sawDown = true
		}
		if s.status == 200 && s.start.After(up) && readyBack.IsZero() {
			readyBack = s.start.Add(s.took)
		}
		if s.status != 200 && s.status != 503 || s.took > readyTimeoutPG+time.Second {
			t.Errorf("/readyz at %s: %d after %s", s.start.Sub(down), s.status, s.took)
		}
	}
	if !sawDown {
		t.Error("/readyz never said 503 while the server was down")
	}
	if len(instances) != 1 {
		t.Errorf("/readyz named %d starts of the program, want 1 (no restart): %v", len(instances), instances)
	}
	// Four lanes, each waiting up to 5 s between tries while the database
	// is away: a few errors each, not one per millisecond.
	if outboxErrors == 0 || outboxErrors > 4*(int(downFor/(5*time.Second))+3) {
		t.Errorf("the outbox worker logged %d errors in %s down: want some (it met the outage), and a few (it does not spin)", outboxErrors, downFor)
	}
	t.Logf("requests %d: %d answered 200 (%d before the stop, %d lost), %d answered 503; %d overlapped the %s outage, the longest of them %s (longest of all %s, bound %s)",
		len(answers), acked, before, lost, failed, whileDown, downFor, maxDown.Round(time.Millisecond), maxTook.Round(time.Millisecond), bound)
	t.Logf("recovery after the server took connections again: first 200 text in %s, /readyz 200 in %s, the outbox's %d prompts delivered in %s; outbox errors logged while down: %d",
		firstOK.Sub(up).Round(time.Millisecond), readyBack.Sub(up).Round(time.Millisecond), len(prompted), outboxBack.Round(time.Millisecond), outboxErrors)
}

// TestPGFault_Unresponsive: the server hangs (every process of it
// stopped: connections are taken by the kernel and never answered). Texts
// sent meanwhile are answered 503 within SMSBOT_PG_TIMEOUT, not left
// hanging towards Twilio's 15 s, and record nothing; /readyz says 503
// within its own bound; once the server goes on, the same process answers
// 200 again.
func TestPGFault_Unresponsive(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL hang test skipped in -short mode")
	}
	srv := postgrestest.StartServer(t)
	e := newE2E(t, map[string]string{"SMSBOT_DB": srv.URL(), "SMSBOT_PG_POOL": "4"})
	runProgram(t, []string{"serve"}, e.env, e.base, e.logs)
	timeout := pgfDefault(t, "SMSBOT_PG_TIMEOUT")
	client := &http.Client{Timeout: 20 * time.Second}
	var warm sync.WaitGroup
	for i := range 8 { // the pool's connections open before the hang
		warm.Go(func() {
			if a := pgfText(e, client, e.base, fmt.Sprintf("+155560200%02d", i), "H"); a.status != 200 {
				t.Errorf("before the hang: %+v", a)
			}
		})
	}
	warm.Wait()

	srv.Pause()
	paused := time.Now()
	answers := make([]pgfAnswer, 12)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = pgfText(e, client, e.base, fmt.Sprintf("+155560201%02d", i), "S") })
	}
	// A link opened meanwhile gets a page that says to try again, soon.
	var link pgfSample
	var linkRetry string
	wg.Go(func() {
		link.start = time.Now()
		if res, err := client.Get(e.base + "/l/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); err == nil {
			res.Body.Close()
			link.status, linkRetry = res.StatusCode, res.Header.Get("Retry-After")
		}
		link.took = time.Since(link.start)
	})
	var ready []pgfSample
	for range 3 {
		s := pgfSample{start: time.Now()}
		if res, err := client.Get(e.base + pathReady); err == nil {
			res.Body.Close()
			s.status = res.StatusCode
		}
		s.took = time.Since(s.start)
		ready = append(ready, s)
	}
	wg.Wait()
	hung := time.Since(paused)
	srv.Resume()
	resumed := time.Now()

	var maxTook time.Duration
	for _, a := range answers {
		maxTook = max(maxTook, a.took)
		if a.status != 503 || a.took > timeout+time.Second {
			t.Errorf("text %s with the server hung: %d %v after %s, want 503 within %s", a.sid, a.status, a.err, a.took, timeout+time.Second)
		}
	}
	if link.status != 503 || linkRetry == "" || link.took > 2*timeout+time.Second {
		t.Errorf("link with the server hung: %d (Retry-After %q) after %s, want 503 with Retry-After within %s", link.status, linkRetry, link.took, 2*timeout+time.Second)
	}
	for _, s := range ready {
		if s.status != 503 || s.took > readyTimeoutPG+time.Second {
			t.Errorf("/readyz with the server hung: %d after %s, want 503 within %s", s.status, s.took, readyTimeoutPG+time.Second)
		}
	}
	var back pgfAnswer
	waitFor(t, "a text answered 200 after the hang", func() bool {
		back = pgfText(e, client, e.base, "+15556020200", "H")
		return back.status == 200
	})
	stored := pgfInbound(t, srv.URL())
	for _, a := range answers {
		if stored[a.sid] {
			t.Errorf("text %s answered 503 was recorded", a.sid)
		}
	}
	t.Logf("server hung %s: %d texts answered 503, the longest in %s (bound %s); /readyz 503 in %s, %s, %s; first 200 %s after it went on",
		hung.Round(time.Millisecond), len(answers), maxTook.Round(time.Millisecond), timeout,
		ready[0].took.Round(time.Millisecond), ready[1].took.Round(time.Millisecond), ready[2].took.Round(time.Millisecond),
		back.end().Sub(resumed).Round(time.Millisecond))
}

// TestPGFault_PoolExhausted: a pool of one connection, held by a text
// that waits for a lock. Another text waits SMSBOT_PG_POOL_WAIT for a
// connection, then is answered 503 and changes nothing; the holder is
// answered 503 at SMSBOT_PG_TIMEOUT; once the lock is gone, Twilio's
// retries of both (the same MessageSids) are answered 200.
func TestPGFault_PoolExhausted(t *testing.T) {
	u := postgrestest.SchemaURL(t)
	const poolWait, timeout = 500 * time.Millisecond, 3 * time.Second
	e := newE2E(t, map[string]string{"SMSBOT_DB": u, "SMSBOT_PG_POOL": "1",
		"SMSBOT_PG_POOL_WAIT": poolWait.String(), "SMSBOT_PG_TIMEOUT": timeout.String()})
	runProgram(t, []string{"serve"}, e.env, e.base, e.logs)
	client := &http.Client{Timeout: 20 * time.Second}
	if a := pgfText(e, client, e.base, "+15556030001", "H"); a.status != 200 {
		t.Fatalf("first text: %+v", a)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	snapshot := func() string {
		t.Helper()
		var s string
		err := conn.QueryRow(ctx, `SELECT
			(SELECT string_agg(message_sid, ',' ORDER BY message_sid) FROM inbound) || ' ' ||
			(SELECT string_agg(phone || ':' || state, ',' ORDER BY phone) FROM phones) || ' ' ||
			(SELECT count(*) FROM links)`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	want := snapshot()

	// The holder takes the pool's connection and waits for the lock.
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE inbound IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	holderText := e.form("+15556030002", "S")
	holder := make(chan pgfAnswer, 1)
	go func() {
		a := pgfAnswer{sid: holderText.Get("MessageSid"), start: time.Now()}
		status, _, err := (&pgE2E{e2e: e}).postTo(e.base, holderText)
		a.status, a.err, a.took = status, err, time.Since(a.start)
		holder <- a
	}()
	watcher, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(ctx)
	waitFor(t, "the holder waiting for the lock", func() bool {
		var n int
		err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'inbound'::regclass`).Scan(&n)
		return err == nil && n == 1
	})

	waiting := pgfText(e, client, e.base, "+15556030003", "S")
	if waiting.status != 503 || waiting.took < poolWait || waiting.took > poolWait+time.Second {
		t.Errorf("a text with the pool exhausted: %d %v after %s, want 503 after %s", waiting.status, waiting.err, waiting.took, poolWait)
	}
	h := <-holder
	if h.status != 503 || h.took < timeout || h.took > timeout+time.Second {
		t.Errorf("the holder: %d %v after %s, want 503 after %s", h.status, h.err, h.took, timeout)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(); got != want {
		t.Fatalf("the texts answered 503 changed the database:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(e.logs.String(), "no database connection within 500ms (pool of 1, 1 in use") {
		t.Error("the log does not say that the pool was exhausted")
	}

	// Twilio's retries, the same MessageSids, once the lock is gone.
	retry := e.form("+15556030003", "S")
	retry.Set("MessageSid", waiting.sid)
	for _, f := range []url.Values{holderText, retry} {
		status, reply, err := (&pgE2E{e2e: e}).postTo(e.base, f)
		if status != 200 || err != nil || !linkRE.MatchString(reply) {
			t.Fatalf("retry of %s: %d %q %v", f.Get("MessageSid"), status, reply, err)
		}
	}
	got := snapshot()
	for _, sid := range []string{holderText.Get("MessageSid"), waiting.sid} {
		if !strings.Contains(got, sid) {
			t.Errorf("retry of %s not recorded: %s", sid, got)
		}
	}
	t.Logf("pool of 1 held: the waiting text answered 503 in %s (pool wait %s), the holder in %s (timeout %s)",
		waiting.took.Round(time.Millisecond), poolWait, h.took.Round(time.Millisecond), timeout)
}
