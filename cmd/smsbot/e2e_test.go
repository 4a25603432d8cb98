package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/webhooks"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

const (
	e2eSID    = "AC11111111111111111111111111111111"
	e2eToken  = "e2etoken1111111111111111111111111"
	e2eNumber = "+15005550006"
	e2eClient = "e2e-client"
	e2eSecret = "e2e-client-secret-that-must-not-leak"
	e2eKey    = "e2e-server-key-0123456789abcdef0123456789"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// e2e is the real program started by run on a loopback port, in production
// mode, against local TLS stand-ins of Twilio and Auth0.
type e2e struct {
	t      *testing.T
	base   string // where the server listens
	public string
	dbPath string
	twilio *twiliotest.Server
	auth0  *auth0test.Server
	logs   *syncBuffer
	sid    atomic.Int64
	db     *sql.DB
	env    map[string]string // the program's environment
}

// listenFD listens on a free loopback port and hands the socket over as a
// file descriptor for SMSBOT_ADDR=fd:N: the port stays held from the
// moment it is chosen, so no other process can take it. The program owns
// the descriptor (it closes it).
func listenFD(t *testing.T) (addr, setting string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A descriptor of its own, which no *os.File of the test would close.
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), fmt.Sprintf("fd:%d", fd)
}

// waitFor polls cond every 10 ms until it holds, and fails the test after
// 20 s (a bound for a stuck program, not a speed requirement).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startE2E(t *testing.T, extra map[string]string) *e2e {
	t.Helper()
	e := newE2E(t, extra)
	e.start()
	return e
}

// newE2E starts the stand-ins and prepares the program's environment;
// start runs the program.
func newE2E(t *testing.T, extra map[string]string) *e2e {
	t.Helper()
	e := &e2e{t: t, logs: &syncBuffer{}}
	addr, listenSetting := listenFD(t)
	e.base = "http://" + addr
	e.public = e.base
	dir := t.TempDir()
	e.dbPath = filepath.Join(dir, "e2e.db")

	e.twilio = twiliotest.New(twiliotest.Options{AccountSID: e2eSID, AuthToken: e2eToken, Numbers: []string{e2eNumber}})
	if err := e.twilio.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.twilio.Close() })
	a, err := auth0test.New(auth0test.Options{ClientID: e2eClient, ClientSecret: e2eSecret, CallbackURLs: []string{e.public + magiclink.PathCallback}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.auth0 = a
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, append(e.twilio.CertPEM(), a.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SMSBOT_ADDR":         listenSetting,
		"SMSBOT_DB":           e.dbPath,
		"SMSBOT_PUBLIC_URL":   e.public,
		"SMSBOT_SECRET":       e2eKey,
		"SMSBOT_CA_FILE":      ca,
		"TWILIO_ACCOUNT_SID":  e2eSID,
		"TWILIO_AUTH_TOKEN":   e2eToken,
		"TWILIO_FROM_NUMBER":  e2eNumber,
		"TWILIO_API_URL":      e.twilio.URL(),
		"AUTH0_DOMAIN":        a.Domain(),
		"AUTH0_CLIENT_ID":     e2eClient,
		"AUTH0_CLIENT_SECRET": e2eSecret,
	}
	for k, v := range extra {
		env[k] = v
	}
	e.env = env
	return e
}

// start runs the program and opens its database for the test's checks.
func (e *e2e) start() {
	e.t.Helper()
	runProgram(e.t, []string{"serve"}, e.env, e.base, e.logs)
	var err error
	e.db, err = sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { e.db.Close() })
}

// runProgram runs the program with args and env on base (a loopback URL)
// until the test ends, and returns once /healthz answers.
func runProgram(t *testing.T, args []string, env map[string]string, base string, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down in 15 s")
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", logs)
		}
	})
	waitFor(t, "/healthz", func() bool {
		select {
		case err := <-done:
			t.Fatalf("server exited: %v\n%s", err, logs)
		default:
		}
		return answers(base + "/healthz")
	})
}

// answers reports whether url answers 200.
func answers(url string) bool {
	res, err := http.Get(url)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

type twimlResponse struct {
	Messages []string `xml:"Message"`
}

// post sends a signed inbound SMS webhook and returns the status and the
// TwiML reply ("" for none).
func (e *e2e) post(form url.Values, sig string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+webhooks.PathSMS, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		return res.StatusCode, string(body)
	}
	var tw twimlResponse
	if err := xml.Unmarshal(body, &tw); err != nil {
		e.t.Fatalf("TwiML %q: %v", body, err)
	}
	return 200, strings.Join(tw.Messages, "\n")
}

func (e *e2e) form(from, body string) url.Values {
	return url.Values{
		"MessageSid": {fmt.Sprintf("SM%032x", e.sid.Add(1))},
		"AccountSid": {e2eSID}, "From": {from}, "To": {e2eNumber}, "Body": {body},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
}

func (e *e2e) sign(form url.Values) string {
	return webhooks.Signature(e2eToken, e.public+webhooks.PathSMS, form)
}

// text texts the bot from a phone and returns the reply.
func (e *e2e) text(from, body string) string {
	e.t.Helper()
	f := e.form(from, body)
	status, reply := e.post(f, e.sign(f))
	if status != 200 {
		e.t.Fatalf("text %q: status %d %s", body, status, reply)
	}
	return reply
}

func (e *e2e) state(phone string) string {
	e.t.Helper()
	var st string
	err := e.db.QueryRow(`SELECT state FROM phones WHERE phone = ?`, phone).Scan(&st)
	if err == sql.ErrNoRows {
		return "none"
	} else if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// snapshot is every table's content, to prove a request changed nothing.
func (e *e2e) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT phone, state, expires_at, IFNULL(user_id,''), hex(IFNULL(link_hash,'')), hex(IFNULL(code_mac,'')), code_attempts, reply_count FROM phones ORDER BY phone`,
		`SELECT hex(hash), used_at FROM links ORDER BY hash`,
		`SELECT message_sid FROM inbound ORDER BY message_sid`,
		`SELECT id, kind, phone, state FROM outbox ORDER BY id`,
		`SELECT id, phone, action FROM audit ORDER BY id`,
	} {
		rows, err := e.db.Query(q)
		if err != nil {
			e.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			rows.Scan(ptrs...)
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

// waitFor is waitFor for the test that runs e (runProgram shows the
// server's logs when it fails).
func (e *e2e) waitFor(what string, cond func() bool) {
	e.t.Helper()
	waitFor(e.t, what, cond)
}

// textsTo returns the texts the Twilio stand-in accepted for phone.
func (e *e2e) textsTo(phone string) []string {
	var out []string
	for _, m := range e.twilio.MessagesTo(phone) {
		out = append(out, m.Body)
	}
	return out
}

// browser is a person's browser: cookies, redirects, trusting the Auth0
// stand-in's certificate.
func (e *e2e) browser() *http.Client {
	c := e.auth0.Client()
	c.Jar, _ = cookiejar.New(nil)
	return c
}

var (
	linkRE = regexp.MustCompile(`https?://[^ ]+/l/([A-Za-z0-9_-]+)`)
	codeRE = regexp.MustCompile(`id="code">(\d{6})<`)
)

// linkFrom finds the link in a reply.
func (e *e2e) linkFrom(reply string) string {
	e.t.Helper()
	m := linkRE.FindStringSubmatch(reply)
	if m == nil {
		e.t.Fatalf("no link in %q", reply)
	}
	if !strings.HasPrefix(m[0], e.public+bot.LinkPath) {
		e.t.Fatalf("link %q is not on the public URL", m[0])
	}
	return m[0]
}

func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var res *http.Response
	var err error
	if method == http.MethodPost {
		res, err = c.PostForm(u, form)
	} else {
		res, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// openLink opens the link and returns the login page's URL (at Auth0).
func (e *e2e) openLink(c *http.Client, link string) *url.URL {
	e.t.Helper()
	res, body := fetch(e.t, c, http.MethodGet, link, nil)
	if res.StatusCode != 200 || !strings.Contains(body, `name="email"`) {
		e.t.Fatalf("link led to %s: %d %s", res.Request.URL, res.StatusCode, body)
	}
	return res.Request.URL
}

// logIn submits the login form and returns the code page's status and body.
func (e *e2e) logIn(c *http.Client, login *url.URL, email string) (int, string) {
	e.t.Helper()
	res, body := fetch(e.t, c, http.MethodPost, login.String(), url.Values{"email": {email}})
	return res.StatusCode, body
}

// subscribe runs the whole flow for phone and email; it returns the code.
func (e *e2e) subscribe(phone, email string) string {
	e.t.Helper()
	link := e.linkFrom(e.text(phone, "S"))
	c := e.browser()
	status, page := e.logIn(c, e.openLink(c, link), email)
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		e.t.Fatalf("code page: %d %s", status, page)
	}
	if reply := e.text(phone, m[1]); !strings.Contains(reply, "subscribed") {
		e.t.Fatalf("code reply %q", reply)
	}
	return m[1]
}

func (e *e2e) appPhone(email string) any {
	u, ok := e.auth0.User(auth0test.UserID(email))
	if !ok {
		return nil
	}
	return u.AppMetadata["phone"]
}

func TestE2E_Subscribe(t *testing.T) {
	e := startE2E(t, nil)
	const phone = "+15555554567"
	if r := e.text(phone, "hi"); !strings.Contains(r, "send S to subscribe") {
		t.Fatalf("hi: %q", r)
	}
	link := e.linkFrom(e.text(phone, "S"))
	c := e.browser()
	login := e.openLink(c, link)
	status, page := e.logIn(c, login, "you@example.com")
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil || !strings.Contains(page, "ending in 4567") || !strings.Contains(page, "you@example.com") {
		t.Fatalf("code page %d: %s", status, page)
	}
	code := m[1]
	e.waitFor("the code prompt text", func() bool {
		texts := e.textsTo(phone)
		return len(texts) == 1 && strings.Contains(texts[0], "reply with the 6-digit code")
	})
	reply := e.text(phone, code[:3]+" "+code[3:])
	if !strings.Contains(reply, "You're subscribed") && !strings.Contains(reply, "you're subscribed") {
		t.Fatalf("code reply %q", reply)
	}
	if e.state(phone) != "subscribed" {
		t.Fatalf("state %s", e.state(phone))
	}
	e.waitFor("app_metadata.phone in Auth0", func() bool { return e.appPhone("you@example.com") == phone })

	// U unbinds, here and in Auth0.
	if r := e.text(phone, "U"); !strings.Contains(r, "unsubscribed") {
		t.Fatalf("U: %q", r)
	}
	e.waitFor("app_metadata.phone removed", func() bool { return e.appPhone("you@example.com") == nil })
	if e.state(phone) != "idle" {
		t.Fatalf("state after U: %s", e.state(phone))
	}

	// No token, code or secret in the logs of the whole run.
	logs := e.logs.String()
	token := linkRE.FindStringSubmatch(link)[1]
	for name, secret := range map[string]string{"link token": token, "code": code, "auth token": e2eToken, "client secret": e2eSecret, "server key": e2eKey, "full phone": phone} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", name)
		}
	}
	if !strings.Contains(logs, "+1******4567") {
		t.Errorf("the logs never mention the masked phone")
	}
}

func TestE2E_HelpInEveryState(t *testing.T) {
	e := startE2E(t, nil)
	const phone = "+15555550001"
	want := func(state, text string) {
		t.Helper()
		if got := e.state(phone); got != state {
			t.Fatalf("state %s, want %s", got, state)
		}
		if r := e.text(phone, "H"); !strings.Contains(r, text) {
			t.Fatalf("H in %s: %q", state, r)
		}
	}
	e.text(phone, "hello")
	want("idle", "S = subscribe")
	link := e.linkFrom(e.text(phone, "S"))
	want("awaiting_login", "open the link")
	c := e.browser()
	_, page := e.logIn(c, e.openLink(c, link), "help@example.com")
	code := codeRE.FindStringSubmatch(page)[1]
	want("awaiting_code", "6-digit code")
	e.text(phone, code)
	want("subscribed", "U = unsubscribe")
	// STOP then START: the carrier answers those; we record and stay silent.
	if r := e.text(phone, "STOP"); r != "" {
		t.Fatalf("STOP answered: %q", r)
	}
	if e.state(phone) != "opted_out" {
		t.Fatalf("state after STOP %s", e.state(phone))
	}
	if r := e.text(phone, "H"); r != "" {
		t.Fatalf("H when opted out answered: %q", r)
	}
	if r := e.text(phone, "START"); r != "" {
		t.Fatalf("START answered: %q", r)
	}
	want("subscribed", "U = unsubscribe")
}

func TestE2E_WrongCodesAndLinks(t *testing.T) {
	e := startE2E(t, nil)
	const phone, other = "+15555550002", "+15555550003"

	// Opening a link twice before logging in, then a reused link.
	link := e.linkFrom(e.text(phone, "S"))
	c := e.browser()
	first := e.openLink(c, link)
	second := e.openLink(c, link)
	if e.state(phone) != "awaiting_login" {
		t.Fatal("opening the link changed the state")
	}
	status, page := e.logIn(c, second, "codes@example.com")
	code := codeRE.FindStringSubmatch(page)
	if status != 200 || code == nil {
		t.Fatalf("login through the second open: %d", status)
	}
	status, page = e.logIn(c, first, "codes@example.com")
	if status != http.StatusGone || !strings.Contains(page, "already used") {
		t.Fatalf("login through the first open after the second: %d %s", status, page)
	}
	res, page := fetch(t, e.browser(), http.MethodGet, link, nil)
	if res.StatusCode != http.StatusGone || !strings.Contains(page, "already used") {
		t.Fatalf("reused link: %d %s", res.StatusCode, page)
	}

	// The code from another phone changes nothing.
	before := e.state(phone)
	if r := e.text(other, code[1]); !strings.Contains(r, "send S") {
		t.Fatalf("code from another phone: %q", r)
	}
	if e.state(phone) != before || e.state(other) != "idle" {
		t.Fatalf("states %s %s", e.state(phone), e.state(other))
	}

	// Wrong codes up to lock-out.
	wrong := "000000"
	if code[1] == wrong {
		wrong = "111111"
	}
	for left := 4; left >= 1; left-- {
		if r := e.text(phone, wrong); !strings.Contains(r, fmt.Sprintf("%d tr", left)) {
			t.Fatalf("wrong code, %d left: %q", left, r)
		}
	}
	if r := e.text(phone, wrong); !strings.Contains(r, "too many times") || e.state(phone) != "idle" {
		t.Fatalf("fifth wrong code: %q, %s", r, e.state(phone))
	}
	if r := e.text(phone, code[1]); strings.Contains(r, "subscribed") {
		t.Fatalf("right code after lock-out: %q", r)
	}

	// An expired link (its time moved into the past in the database).
	link = e.linkFrom(e.text(phone, "S"))
	if _, err := e.db.Exec(`UPDATE links SET expires_at = 1 WHERE phone = ?`, phone); err != nil {
		t.Fatal(err)
	}
	res, page = fetch(t, e.browser(), http.MethodGet, link, nil)
	if res.StatusCode != http.StatusGone || !strings.Contains(page, "expired") {
		t.Fatalf("expired link: %d %s", res.StatusCode, page)
	}
}

func TestE2E_BadRequestsChangeNothing(t *testing.T) {
	e := startE2E(t, nil)
	const phone = "+15555550004"
	e.text(phone, "S")
	before := e.snapshot()

	f := e.form(phone, "S")
	if status, _ := e.post(f, ""); status != 403 {
		t.Fatalf("unsigned: %d", status)
	}
	if status, _ := e.post(f, webhooks.Signature("wrongtoken", e.public+webhooks.PathSMS, f)); status != 403 {
		t.Fatalf("wrong token: %d", status)
	}
	if status, _ := e.post(f, webhooks.Signature(e2eToken, "https://elsewhere.example.com/webhooks/twilio/sms", f)); status != 403 {
		t.Fatalf("other URL: %d", status)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("rejected requests changed the database:\nbefore %s\nafter %s", before, after)
	}

	// A duplicate MessageSid gets the first reply and changes nothing.
	f = e.form(phone, "H")
	_, first := e.post(f, e.sign(f))
	before = e.snapshot()
	status, again := e.post(f, e.sign(f))
	if status != 200 || again != first || first == "" {
		t.Fatalf("duplicate: %d %q vs %q", status, again, first)
	}
	if after := e.snapshot(); after != before {
		t.Fatal("duplicate MessageSid changed the database")
	}
	// A duplicate S returns the same link, and makes no second one.
	f = e.form("+15555550005", "S")
	_, s1 := e.post(f, e.sign(f))
	_, s2 := e.post(f, e.sign(f))
	var links int
	e.db.QueryRow(`SELECT COUNT(*) FROM links WHERE phone = '+15555550005'`).Scan(&links)
	if s1 != s2 || links != 1 {
		t.Fatalf("duplicate S: %q vs %q, %d links", s1, s2, links)
	}
}

func TestRun_ProductionRefusesIncompleteConfig(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"serve"}, func(k string) string {
		if k == "TWILIO_ACCOUNT_SID" {
			return e2eSID
		}
		return ""
	}, io.Discard, &stderr)
	if err == nil {
		t.Fatal("started without configuration")
	}
	for _, want := range []string{"SMSBOT_PUBLIC_URL", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID", "AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not list %s:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "TWILIO_ACCOUNT_SID is not set") {
		t.Error("error lists a setting that is set")
	}
	if code := exitCode(err, io.Discard); code != exitUsage {
		t.Errorf("exit code %d", code)
	}
	err = run(context.Background(), []string{"serve"}, func(k string) string {
		return map[string]string{"SMSBOT_PUBLIC_URL": "http://bot.example.com", "TWILIO_ACCOUNT_SID": "x", "TWILIO_AUTH_TOKEN": "y", "TWILIO_FROM_NUMBER": "+15005550006", "AUTH0_DOMAIN": "d", "AUTH0_CLIENT_ID": "c", "AUTH0_CLIENT_SECRET": "s"}[k]
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "must be https") {
		t.Fatalf("plain http public URL: %v", err)
	}
}

func xmlUnmarshal(s string, v any) error { return xml.Unmarshal([]byte(s), v) }

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

func TestRun_WarnsWhenTheLinkReplyIsLong(t *testing.T) {
	short := startE2E(t, nil)
	long := startE2E(t, map[string]string{"SMSBOT_NAME": strings.Repeat("Acme Home Automation ", 3)})
	const warning = "the link reply takes more than one SMS segment"
	if strings.Contains(short.logs.String(), warning) {
		t.Error("warned about the default link reply")
	}
	if !strings.Contains(long.logs.String(), warning) {
		t.Errorf("no warning for a link reply of two segments:\n%s", long.logs)
	}
}
