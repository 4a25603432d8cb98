package magiclink_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
)

// clock is a settable time for the service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const unavailable = "Login is unavailable right now. Try again in a minute"

func TestService_HandleLink_Auth0Down(t *testing.T) {
	e := newEnv(t)
	clk := &clock{t: time.Now()}
	e.svc.Now = clk.now
	e.svc.RetryAfter = 5 * time.Second
	e.auth0.SetFaults(auth0test.Faults{Down: true})
	token := e.textS()
	c := e.browser()
	res, body := get(t, c, e.srv.URL+"/l/"+token)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, unavailable) || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("link with Auth0 down: %d %s", res.StatusCode, body)
	}
	if up, known := e.svc.Auth0Reachable(); up || !known {
		t.Fatalf("Auth0Reachable = %v, %v while Auth0 is down", up, known)
	}
	// Auth0 is back, but the next try waits for RetryAfter.
	e.auth0.SetFaults(auth0test.Faults{})
	if res, _ := get(t, c, e.srv.URL+"/l/"+token); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("retried at once: %d", res.StatusCode)
	}
	clk.add(5 * time.Second)
	// The link was not used up by the failed attempts.
	res, body = get(t, c, e.srv.URL+"/l/"+token)
	if res.StatusCode != 200 || !strings.Contains(body, `name="email"`) {
		t.Fatalf("link once Auth0 is back: %d %s", res.StatusCode, body)
	}
	if up, _ := e.svc.Auth0Reachable(); !up {
		t.Fatal("not Auth0Reachable after a login reached Auth0")
	}
	res, body = loginAt(t, c, res.Request.URL, "you@example.com")
	if res.StatusCode != 200 || !codeRE.MatchString(body) {
		t.Fatalf("login once Auth0 is back: %d %s", res.StatusCode, body)
	}
}

func TestService_HandleCallback_Auth0Down(t *testing.T) {
	e := newEnv(t)
	token := e.textS()
	c := e.browserToCallback()
	res, _ := get(t, c, e.srv.URL+"/l/"+token)
	lres, _ := loginAt(t, c, res.Request.URL, "you@example.com")
	cb := lres.Header.Get("Location")
	if u, _ := url.Parse(cb); u == nil || u.Path != "/auth/callback" {
		t.Fatalf("login redirected to %s", cb)
	}
	// Auth0 fails between the login and the code exchange.
	e.auth0.SetFaults(auth0test.Faults{Down: true})
	res, body := get(t, c, cb)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, unavailable) || codeRE.MatchString(body) {
		t.Fatalf("callback with Auth0 down: %d %s", res.StatusCode, body)
	}
	if up, _ := e.svc.Auth0Reachable(); up {
		t.Error("Auth0Reachable after a failed code exchange")
	}
	if res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("the login cookie was dropped: %v", res.Header["Set-Cookie"])
	}
	if st := phoneState(t, e); st != bot.StateAwaitingLogin {
		t.Fatalf("state changed to %s", st)
	}
	// Reloading once Auth0 is back finishes the login: neither the link
	// nor the login was used up.
	e.auth0.SetFaults(auth0test.Faults{})
	res, body = get(t, c, cb)
	if res.StatusCode != 200 || !codeRE.MatchString(body) {
		t.Fatalf("reloaded callback: %d %s", res.StatusCode, body)
	}
	if st := phoneState(t, e); st != bot.StateAwaitingCode {
		t.Fatalf("state %s after the login", st)
	}
}

// countingTransport counts the requests made through it.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return nil, errors.New("no network in this test")
}

func TestConstructors_DoNotDialOut(t *testing.T) {
	ct := &countingTransport{}
	hc := &http.Client{Transport: ct}
	keys, _ := bot.NewKeyring([]byte(strings.Repeat("s", 32)))
	if _, err := magiclink.New(context.Background(), magiclink.Config{
		PublicURL: "https://bot.example.com", Domain: "tenant.example.com", ClientID: "cid", ClientSecret: "csecret", HTTPClient: hc,
	}, nil, keys); err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := magiclink.NewDirectory(context.Background(), magiclink.DirectoryConfig{
		Domain: "tenant.example.com", ClientID: "mid", ClientSecret: "msecret", HTTPClient: hc,
	}); err != nil {
		t.Fatalf("NewDirectory: %v", err)
	}
	if ct.n != 0 {
		t.Fatalf("the constructors made %d requests", ct.n)
	}
}
