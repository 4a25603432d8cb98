package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/store/postgres"
	"github.com/smsbot/smsbot/store/postgres/postgrestest"
	"github.com/smsbot/smsbot/store/storetest"
	"github.com/smsbot/smsbot/webhooks"
)

// pgE2E is the program run in production mode on a PostgreSQL schema of
// the test's own, with a pool of its own on that schema for the checks.
type pgE2E struct {
	*e2e
	db *postgres.DB
}

func startPostgresE2E(t *testing.T) *pgE2E {
	t.Helper()
	u := postgrestest.SchemaURL(t)
	e := newE2E(t, map[string]string{"SMSBOT_DB": u, "SMSBOT_PG_POOL": "8"})
	runProgram(t, []string{"serve"}, e.env, e.base, e.logs)
	db, err := postgres.Open(context.Background(), u, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &pgE2E{e2e: e, db: db}
}

// state returns a phone's state in the database, "none" for no row.
func (p *pgE2E) state(phone string) string {
	p.t.Helper()
	ph, err := storetest.LoadPhone(context.Background(), p.db, phone)
	if bot.ErrorCode(err) == bot.ENOTFOUND {
		return "none"
	} else if err != nil {
		p.t.Fatal(err)
	}
	return ph.State
}

// second starts another instance of the program on the same schema, the
// same stand-ins and the same public URL (a load balancer's), and returns
// the base URL it listens on.
func (p *pgE2E) second() string {
	p.t.Helper()
	addr, setting := listenFD(p.t)
	env := make(map[string]string, len(p.env))
	for k, v := range p.env {
		env[k] = v
	}
	env["SMSBOT_ADDR"] = setting
	base := "http://" + addr
	runProgram(p.t, []string{"serve"}, env, base, &syncBuffer{})
	return base
}

// postTo sends a signed inbound SMS webhook to the instance at base and
// returns the status and the raw TwiML. It may run on any goroutine.
func (p *pgE2E) postTo(base string, form url.Values) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, base+webhooks.PathSMS, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", p.sign(form))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// TestE2E_Postgres_Subscribe: the whole subscription flow with serve on
// PostgreSQL: S, the link, the Auth0 stand-in's login, the code page, the
// code prompt texted and its delivery status recorded, the code texted
// back, subscribed, app_metadata.phone at Auth0.
func TestE2E_Postgres_Subscribe(t *testing.T) {
	p := startPostgresE2E(t)
	const phone, email = "+15555554567", "pg@example.com"
	code := p.subscribeCheck(phone, email)
	if p.state(phone) != bot.StateSubscribed {
		t.Fatalf("state %s, want subscribed", p.state(phone))
	}
	p.waitFor("app_metadata.phone in Auth0", func() bool { return p.appPhone(email) == phone })
	// Twilio's status callback for the code prompt, then a late one.
	prompt := p.twilio.MessagesTo(phone)[0]
	for _, status := range []string{"delivered", "sent"} {
		form := url.Values{"MessageSid": {prompt.SID}, "AccountSid": {e2eSID}, "To": {phone}, "From": {e2eNumber}, "MessageStatus": {status}}
		req, _ := http.NewRequest(http.MethodPost, p.base+webhooks.PathStatus, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", webhooks.Signature(e2eToken, p.public+webhooks.PathStatus, form))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("status callback %s: %d", status, res.StatusCode)
		}
	}
	if m, err := p.db.Message(context.Background(), prompt.SID); err != nil || m.Status != "delivered" || m.Phone != phone {
		t.Fatalf("recorded status %+v %v, want delivered", m, err)
	}
	if strings.Contains(p.logs.String(), code) {
		t.Error("the logs contain the code")
	}
}

// subscribeCheck runs the flow on the first instance, checking the code
// prompt, and returns the code.
func (p *pgE2E) subscribeCheck(phone, email string) string {
	p.t.Helper()
	link := p.linkFrom(p.text(phone, "S"))
	c := p.browser()
	status, page := p.logIn(c, p.openLink(c, link), email)
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		p.t.Fatalf("code page: %d %s", status, page)
	}
	p.waitFor("the code prompt text", func() bool {
		texts := p.textsTo(phone)
		return len(texts) == 1 && strings.Contains(texts[0], "reply with the 6-digit code")
	})
	if reply := p.text(phone, m[1]); !strings.Contains(reply, "subscribed") {
		p.t.Fatalf("code reply %q", reply)
	}
	return m[1]
}

// TestE2E_Postgres_TwoInstances: two instances on one schema. A login
// starts on one (link opened there) and finishes on the other (Auth0's
// callback lands there), the code texted to either; the same MessageSid
// delivered to both at once has one effect and both answer the first
// reply.
func TestE2E_Postgres_TwoInstances(t *testing.T) {
	p := startPostgresE2E(t)
	b := p.second()

	for i, codeTo := range []string{p.base, b} {
		phone := []string{"+15555550111", "+15555550112"}[i]
		email := []string{"one@example.com", "two@example.com"}[i]
		link := p.linkFrom(p.text(phone, "S"))
		c := p.browser()
		// The load balancer sends the browser's callback to the other instance.
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == magiclink.PathCallback {
				req.URL.Host = strings.TrimPrefix(b, "http://")
			}
			return nil
		}
		login := p.openLink(c, link)
		res, page := fetch(t, c, http.MethodPost, login.String(), url.Values{"email": {email}})
		m := codeRE.FindStringSubmatch(page)
		if res.StatusCode != 200 || m == nil || res.Request.URL.Host != strings.TrimPrefix(b, "http://") {
			t.Fatalf("code page from %s: %d %s", res.Request.URL, res.StatusCode, page)
		}
		f := p.form(phone, m[1])
		if status, reply, err := p.postTo(codeTo, f); status != 200 || !strings.Contains(reply, "subscribed") {
			t.Fatalf("code texted to %s: %d %q %v", codeTo, status, reply, err)
		}
		if p.state(phone) != bot.StateSubscribed {
			t.Fatalf("state %s, want subscribed", p.state(phone))
		}
		p.waitFor("app_metadata.phone in Auth0", func() bool { return p.appPhone(email) == phone })
	}

	// One MessageSid at both instances at once: one link, one reply.
	const phone = "+15555550113"
	f := p.form(phone, "S")
	replies := make([]string, 2)
	var wg sync.WaitGroup
	for i, base := range []string{p.base, b} {
		wg.Go(func() {
			status, reply, err := p.postTo(base, f)
			if status != 200 || err != nil {
				t.Errorf("instance %d: %d %v", i, status, err)
			}
			replies[i] = reply
		})
	}
	wg.Wait()
	if replies[0] != replies[1] || !linkRE.MatchString(replies[0]) {
		t.Fatalf("the two instances answered differently:\n%s\n%s", replies[0], replies[1])
	}
	var links int
	err := p.db.View(context.Background(), func(tx bot.Tx) (err error) {
		links, err = tx.CountLinks(context.Background(), phone, storetest.T0.AddDate(-10, 0, 0))
		return err
	})
	if err != nil || links != 1 {
		t.Fatalf("links made for one MessageSid: %d %v, want 1", links, err)
	}
}
