package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
)

// The web-first path end to end, in production mode against the Twilio
// and Auth0 stand-ins: log in at /link, read the code off the page, text
// it from a phone.

var (
	webCodeRE = regexp.MustCompile(`id="code">LINK ([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})<`)
	webPollRE = regexp.MustCompile(`data-poll="([^"]+)"`)
)

// webPage is a person's /link page in a browser of their own.
type webPage struct {
	e    *e2e
	c    *http.Client
	body string
	code string // as shown: 4K7Q-9M2P
}

// webLogIn opens /link in a new browser, logs in as email at the Auth0
// stand-in and returns the page it lands on.
func (e *e2e) webLogIn(email string) *webPage {
	e.t.Helper()
	c := e.browser()
	res, body := fetch(e.t, c, http.MethodGet, e.public+magiclink.PathWebLink, nil)
	if res.StatusCode != 200 || !strings.Contains(body, `name="email"`) {
		e.t.Fatalf("/link led to %s: %d %s", res.Request.URL, res.StatusCode, body)
	}
	status, page := e.logIn(c, res.Request.URL, email)
	m := webCodeRE.FindStringSubmatch(page)
	if status != 200 || m == nil || !strings.Contains(page, "Link a phone to "+email) || !strings.Contains(page, "+1 500 555 0006") {
		e.t.Fatalf("web page after the login: %d %s", status, page)
	}
	return &webPage{e: e, c: c, body: page, code: m[1]}
}

// status is what the page's script sees.
func (w *webPage) status() map[string]string {
	w.e.t.Helper()
	m := webPollRE.FindStringSubmatch(w.body)
	if m == nil {
		w.e.t.Fatal("no poll URL on the page")
	}
	res, body := fetch(w.e.t, w.c, http.MethodGet, w.e.public+html.UnescapeString(m[1]), nil)
	var st map[string]string
	if err := json.Unmarshal([]byte(body), &st); err != nil || res.StatusCode != 200 {
		w.e.t.Fatalf("status: %d %q %v", res.StatusCode, body, err)
	}
	return st
}

// reload fetches the page again.
func (w *webPage) reload() string {
	w.e.t.Helper()
	_, body := fetch(w.e.t, w.c, http.MethodGet, w.e.public+magiclink.PathWebLink, nil)
	return body
}

// audit returns the phone's audit rows as "action user reason".
func (e *e2e) audit(phone string) []string {
	e.t.Helper()
	rows, err := e.db.Query(`SELECT action, user_id, reason FROM audit WHERE phone = ? ORDER BY id`, phone)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, u, r string
		rows.Scan(&a, &u, &r)
		out = append(out, a+" "+u+" "+r)
	}
	return out
}

func (e *e2e) boundTo(phone string) string {
	e.t.Helper()
	var u *string
	e.db.QueryRow(`SELECT user_id FROM phones WHERE phone = ?`, phone).Scan(&u)
	if u == nil {
		return ""
	}
	return *u
}

func TestE2E_WebLink_HappyPath(t *testing.T) {
	e := startE2E(t, nil)
	const phone = "+15555554321"
	if r := e.text(phone, "H"); !strings.Contains(r, e.public+"/link") {
		t.Fatalf("H does not name the web path: %q", r)
	}
	w := e.webLogIn("web@example.com")
	if st := w.status(); st["state"] != "waiting" {
		t.Fatalf("status before: %v", st)
	}
	reply := e.text(phone, "LINK "+w.code)
	if !strings.Contains(reply, "you're subscribed") || !strings.Contains(reply, "w***@example.com") {
		t.Fatalf("LINK reply %q", reply)
	}
	if e.state(phone) != "subscribed" || e.boundTo(phone) != auth0test.UserID("web@example.com") {
		t.Fatalf("state %s, bound to %q", e.state(phone), e.boundTo(phone))
	}
	e.waitFor("app_metadata.phone in Auth0", func() bool { return e.appPhone("web@example.com") == phone })
	if st := w.status(); st["state"] != "linked" || st["last4"] != "4321" {
		t.Fatalf("status after: %v", st)
	}
	if page := w.reload(); !strings.Contains(page, `data-state="linked"`) {
		t.Fatalf("reloaded page: %s", page)
	}
	if a := e.audit(phone); len(a) != 1 || !strings.HasPrefix(a[0], "bind ") || !strings.HasSuffix(a[0], " web code confirmed") {
		t.Fatalf("audit %q", a)
	}
	// The bot never texted a number of its own accord: the only texts are
	// answers to this phone (TwiML), none through the REST API.
	if texts := e.textsTo(phone); len(texts) != 0 {
		t.Fatalf("texts sent to the phone: %q", texts)
	}
	// Commands work; no code or token in the logs.
	if r := e.text(phone, "H"); !strings.Contains(r, "U = unsubscribe") {
		t.Fatalf("H when subscribed: %q", r)
	}
	code := strings.ReplaceAll(w.code, "-", "")
	for _, secret := range []string{w.code, code, phone} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}

// TestE2E_WebLink_AnotherAccountsPage: a code links the phone that texts it
// to the account whose page showed it, and no other. Bob's phone texting
// Alice's code is bound to Alice, and the reply names Alice's (masked)
// account, so Bob can tell; Bob's page and code are untouched, and
// Alice's page shows the phone that linked.
func TestE2E_WebLink_AnotherAccountsPage(t *testing.T) {
	e := startE2E(t, nil)
	const bobPhone = "+15555550611"
	alice := e.webLogIn("alice@example.com")
	bob := e.webLogIn("bob@example.com")
	reply := e.text(bobPhone, "LINK "+alice.code)
	if !strings.Contains(reply, "a***@example.com") || strings.Contains(reply, "b***@") {
		t.Fatalf("reply %q", reply)
	}
	e.waitFor("alice's app_metadata.phone", func() bool { return e.appPhone("alice@example.com") == bobPhone })
	if e.appPhone("bob@example.com") != nil {
		t.Fatal("bob's account got a phone")
	}
	if st := alice.status(); st["state"] != "linked" || st["last4"] != "0611" {
		t.Fatalf("alice's page: %v", st)
	}
	if st := bob.status(); st["state"] != "waiting" {
		t.Fatalf("bob's page: %v", st)
	}
	// Bob unlinks and links his own account with his own code.
	e.text(bobPhone, "U")
	if r := e.text(bobPhone, "LINK "+bob.code); !strings.Contains(r, "b***@example.com") {
		t.Fatalf("bob's own code: %q", r)
	}
	e.waitFor("bob's app_metadata.phone", func() bool { return e.appPhone("bob@example.com") == bobPhone })
}

func TestE2E_WebLink_ExpiredAndReused(t *testing.T) {
	e := startE2E(t, nil)
	const p1, p2 = "+15555550621", "+15555550622"
	w := e.webLogIn("expire@example.com")
	if _, err := e.db.Exec(`UPDATE web_codes SET expires_at = 1`); err != nil {
		t.Fatal(err)
	}
	if r := e.text(p1, "LINK "+w.code); !strings.Contains(r, "expired") || e.boundTo(p1) != "" {
		t.Fatalf("expired code: %q, bound to %q", r, e.boundTo(p1))
	}
	if st := w.status(); st["state"] != "expired" {
		t.Fatalf("status of the expired code: %v", st)
	}
	// The page asks for a new one; it works once.
	res, page := fetch(t, w.c, http.MethodPost, e.public+magiclink.PathWebLinkNew, nil)
	m := webCodeRE.FindStringSubmatch(page)
	if res.StatusCode != 200 || m == nil || m[1] == w.code {
		t.Fatalf("new code: %d %s", res.StatusCode, page)
	}
	w.body, w.code = page, m[1]
	if r := e.text(p1, strings.ToLower(w.code)); !strings.Contains(r, "e***@example.com") { // the bare code, any case
		t.Fatalf("new code: %q", r)
	}
	before := e.snapshot()
	for _, from := range []string{p1, p2} {
		if r := e.text(from, "LINK "+w.code); !strings.Contains(r, "already used") {
			t.Fatalf("reused code from %s: %q", from, r)
		}
	}
	if e.boundTo(p2) != "" || e.boundTo(p1) == "" {
		t.Fatal("a reused code moved the binding")
	}
	// Only the two texts' MessageSids were added.
	after := e.snapshot()
	if strings.Count(after, "\n")-strings.Count(before, "\n") != 3 { // two inbound rows, one new phone row
		t.Fatalf("a reused code changed more than its texts:\nbefore %s\nafter %s", before, after)
	}
}

func TestE2E_WebLink_WrongCodesToTheLimit(t *testing.T) {
	e := startE2E(t, nil)
	const phone, other = "+15555550631", "+15555550632"
	w := e.webLogIn("limit@example.com")
	wrong := "LINK 2222-2222"
	if w.code == "2222-2222" {
		wrong = "LINK 3333-3333"
	}
	before := e.scrape()
	for _, want := range []string{"4 tries left", "3 tries left", "2 tries left", "1 try left", "too many wrong codes"} {
		if r := e.text(phone, wrong); !strings.Contains(r, want) {
			t.Fatalf("wrong code: %q, want %q", r, want)
		}
	}
	for _, body := range []string{wrong, "LINK " + w.code, w.code} {
		if r := e.text(phone, body); r != "" {
			t.Fatalf("%q over the limit answered %q", body, r)
		}
	}
	if e.boundTo(phone) != "" || w.status()["state"] != "waiting" {
		t.Fatal("a code over the limit was checked")
	}
	after := e.scrape()
	const series = `smsbot_limits_hit_total{limit="link_attempts"}`
	if got := sample(after, series) - sample(before, series); got != 4 {
		t.Fatalf("%s moved by %v, want 4 (the last wrong code and three silent texts)", series, got)
	}
	if got := sample(after, `smsbot_inbound_messages_total{command="link",state="idle"}`) - sample(before, `smsbot_inbound_messages_total{command="link",state="idle"}`); got != 8 {
		t.Fatalf("link texts counted %v, want 8", got)
	}
	// Another phone still gets its tries, and the right code links it.
	if r := e.text(other, "LINK "+w.code); !strings.Contains(r, "l***@example.com") {
		t.Fatalf("another phone: %q", r)
	}
}

func TestE2E_WebLink_OptedOutPhone(t *testing.T) {
	e := startE2E(t, nil)
	const phone = "+15555550641"
	w := e.webLogIn("optout@example.com")
	e.text(phone, "STOP")
	for _, body := range []string{"LINK " + w.code, w.code, "LINK 2222-2222"} {
		if r := e.text(phone, body); r != "" {
			t.Fatalf("%q from an opted-out phone answered %q", body, r)
		}
	}
	var misses int
	e.db.QueryRow(`SELECT COUNT(*) FROM link_misses`).Scan(&misses)
	if e.state(phone) != "opted_out" || e.boundTo(phone) != "" || misses != 0 || w.status()["state"] != "waiting" {
		t.Fatalf("state %s, bound %q, %d misses, page %v", e.state(phone), e.boundTo(phone), misses, w.status())
	}
	var jobs int
	e.db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&jobs)
	if jobs != 0 {
		t.Fatalf("%d outbox jobs for an opted-out phone's texts", jobs)
	}
}

// TestE2E_WebLink_Rebinding: a phone bound to account X links account Y
// from Y's page. The phone leaves X (Auth0 too); Y's earlier phone is
// unbound and told; the audit table has every change.
func TestE2E_WebLink_Rebinding(t *testing.T) {
	e := startE2E(t, nil)
	const p, q = "+15555550651", "+15555550652"
	e.subscribe(p, "x@example.com")
	e.subscribe(q, "y@example.com")
	e.waitFor("both phones in Auth0", func() bool {
		return e.appPhone("x@example.com") == p && e.appPhone("y@example.com") == q
	})
	w := e.webLogIn("y@example.com")
	if r := e.text(p, "LINK "+w.code); !strings.Contains(r, "y***@example.com") {
		t.Fatalf("LINK: %q", r)
	}
	e.waitFor("Auth0 updated for both accounts", func() bool {
		return e.appPhone("y@example.com") == p && e.appPhone("x@example.com") == nil
	})
	e.waitFor("the displaced phone told", func() bool {
		for _, m := range e.textsTo(q) {
			if strings.Contains(m, "no longer linked to y***@example.com") {
				return true
			}
		}
		return false
	})
	if e.state(q) != "idle" || e.boundTo(q) != "" {
		t.Fatalf("displaced phone: %s %q", e.state(q), e.boundTo(q))
	}
	pa, qa := strings.Join(e.audit(p), "\n"), strings.Join(e.audit(q), "\n")
	if !strings.Contains(pa, "phone linked to another account") || !strings.Contains(pa, "web code confirmed") || !strings.Contains(qa, "account linked another phone") {
		t.Fatalf("audit:\n%s\n--\n%s", pa, qa)
	}
}

// TestE2E_WebLink_Interleaved: both ways in at once for one account. Y's
// web page is open while phone A links Y by S; A re-links (S, login, code
// shown) and meanwhile phone B texts Y's web code: Y moves to B, A is told.
// Then A's pending code moves Y back to A, and B is told. Y's page shows B,
// the phone its code linked.
func TestE2E_WebLink_Interleaved(t *testing.T) {
	e := startE2E(t, nil)
	const a, b = "+15555550661", "+15555550662"
	w := e.webLogIn("both@example.com")
	e.subscribe(a, "both@example.com")
	link := e.linkFrom(e.text(a, "S"))
	c := e.browser()
	_, page := e.logIn(c, e.openLink(c, link), "both@example.com")
	six := codeRE.FindStringSubmatch(page)
	if six == nil {
		t.Fatalf("code page %s", page)
	}
	if r := e.text(b, "LINK "+w.code); !strings.Contains(r, "b***@example.com") {
		t.Fatalf("B's LINK: %q", r)
	}
	if e.boundTo(a) != "" || e.boundTo(b) == "" || e.state(a) != "awaiting_code" {
		t.Fatalf("after B: A %s %q, B %q", e.state(a), e.boundTo(a), e.boundTo(b))
	}
	e.waitFor("Auth0 names B", func() bool { return e.appPhone("both@example.com") == b })
	if r := e.text(a, six[1]); !strings.Contains(r, "subscribed") {
		t.Fatalf("A's code: %q", r)
	}
	if e.boundTo(b) != "" || e.state(b) != "idle" || e.boundTo(a) == "" {
		t.Fatalf("after A: A %q, B %s %q", e.boundTo(a), e.state(b), e.boundTo(b))
	}
	e.waitFor("Auth0 names A, and both displaced phones were told", func() bool {
		told := func(p string) bool {
			for _, m := range e.textsTo(p) {
				if strings.Contains(m, "no longer linked") {
					return true
				}
			}
			return false
		}
		return e.appPhone("both@example.com") == a && told(a) && told(b)
	})
	if st := w.status(); st["state"] != "linked" || st["last4"] != "0662" {
		t.Fatalf("Y's page: %v", st)
	}
}

// TestE2E_WebLink_Limits: a login gets five codes; /link and the new
// codes are limited per client address (SMSBOT_WEB_*), the page's status
// polls apart from them.
func TestE2E_WebLink_Limits(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_WEB_PER_MINUTE": "1", "SMSBOT_WEB_BURST": "14"})
	w := e.webLogIn("many@example.com") // 3 requests: /link, the callback, /link
	codes := map[string]bool{w.code: true}
	for i := range 4 { // 8 requests: each post and the page it leads to
		res, page := fetch(t, w.c, http.MethodPost, e.public+magiclink.PathWebLinkNew, nil)
		m := webCodeRE.FindStringSubmatch(page)
		if res.StatusCode != 200 || m == nil {
			t.Fatalf("new code %d: %d %s", i, res.StatusCode, page)
		}
		codes[m[1]] = true
	}
	if len(codes) != 5 {
		t.Fatalf("%d distinct codes of 5", len(codes))
	}
	res, page := fetch(t, w.c, http.MethodPost, e.public+magiclink.PathWebLinkNew, nil) // the 12th
	if res.StatusCode != 200 || !strings.Contains(page, "last new code for this login") {
		t.Fatalf("sixth code: %d %s", res.StatusCode, page)
	}
	for i := 13; i <= 15; i++ {
		res, _ := fetch(t, e.browser(), http.MethodGet, e.public+magiclink.PathWebLink, nil)
		if want := i > 14; (res.StatusCode == http.StatusTooManyRequests) != want {
			t.Fatalf("request %d to /link: %d", i, res.StatusCode)
		}
	}
	for range 5 { // the page's polls have a limit of their own
		if st := w.status(); st["state"] != "waiting" {
			t.Fatalf("status: %v", st)
		}
	}
	if got := sample(e.scrape(), `smsbot_limits_hit_total{limit="web_codes"}`); got != 1 {
		t.Fatalf("web_codes limit counted %v times", got)
	}
}

// TestE2E_Postgres_WebLink: the web-first path on PostgreSQL with two
// instances behind one public URL. The page is served by one; the same
// code texted at once from two phones, one to each instance, links
// exactly one of them, and the page learns which.
func TestE2E_Postgres_WebLink(t *testing.T) {
	p := startPostgresE2E(t)
	other := p.second()
	w := p.webLogIn("pg@example.com")
	const a, b = "+15555550671", "+15555550672"
	replies := make([]string, 2)
	errs := make(chan error, 2)
	for i, target := range []struct{ base, phone string }{{p.base, a}, {other, b}} {
		f := p.form(target.phone, "LINK "+w.code)
		go func() {
			status, reply, err := p.postTo(target.base, f)
			if err == nil && status != 200 {
				err = fmt.Errorf("status %d: %s", status, reply)
			}
			replies[i] = reply
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	linked := 0
	var winner string
	for i, phone := range []string{a, b} {
		if p.state(phone) == "subscribed" {
			linked++
			winner = phone
			if !strings.Contains(replies[i], "p***@example.com") {
				t.Errorf("the linked phone's reply: %q", replies[i])
			}
		} else if !strings.Contains(replies[i], "already used") {
			t.Errorf("the other phone's reply: %q", replies[i])
		}
	}
	if linked != 1 {
		t.Fatalf("%d phones linked with one code: %q", linked, replies)
	}
	if st := w.status(); st["state"] != "linked" || st["last4"] != winner[len(winner)-4:] {
		t.Fatalf("the page: %v, linked %s", st, winner)
	}
	p.waitFor("app_metadata.phone", func() bool { return p.appPhone("pg@example.com") == winner })
}

// TestE2E_WebLink_MessagingService: sending through a Messaging Service,
// the page needs SMSBOT_TEXT_NUMBER to say which number to text. Without
// it /link is not offered, serve says so and H does not name the page;
// with it the page shows that number. A malformed one stops serve.
func TestE2E_WebLink_MessagingService(t *testing.T) {
	const service = "MG0123456789abcdef0123456789abcdef"
	off := startE2E(t, map[string]string{"TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": service})
	res, body := fetch(t, off.browser(), http.MethodGet, off.public+magiclink.PathWebLink, nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, "not set up here") {
		t.Fatalf("/link without a number: %d %s", res.StatusCode, body)
	}
	if !strings.Contains(off.logs.String(), "set SMSBOT_TEXT_NUMBER") {
		t.Error("serve did not say that /link is off")
	}
	if r := off.text("+15555550681", "H"); strings.Contains(r, "/link") {
		t.Errorf("H names a page that is off: %q", r)
	}

	on := startE2E(t, map[string]string{"TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": service, "SMSBOT_TEXT_NUMBER": "+15005550007"})
	c := on.browser()
	res, body = fetch(t, c, http.MethodGet, on.public+magiclink.PathWebLink, nil)
	_, page := on.logIn(c, res.Request.URL, "svc@example.com")
	if !strings.Contains(page, "+1 500 555 0007") || !strings.Contains(page, "sms:&#43;15005550007?&amp;body=LINK%20") {
		t.Fatalf("page with SMSBOT_TEXT_NUMBER: %s", page)
	}

	env := map[string]string{}
	for k, v := range on.env {
		env[k] = v
	}
	env["SMSBOT_TEXT_NUMBER"] = "555-0007"
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SMSBOT_TEXT_NUMBER") {
		t.Fatalf("a malformed SMSBOT_TEXT_NUMBER: %v", err)
	}
}
