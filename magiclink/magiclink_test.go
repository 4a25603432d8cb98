package magiclink_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/store"
)

const phone = "+15555554567"

// env is the bot's web side on a local server, logging in at the Auth0
// stand-in over TLS with the real go-auth0 client.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	auth0  *auth0test.Server
	engine *bot.Engine
	db     *store.DB
	svc    *magiclink.Service
	sid    int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t}
	var handler http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	a, err := auth0test.New(auth0test.Options{ClientID: "cid", ClientSecret: "csecret", CallbackURLs: []string{e.srv.URL + "/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.auth0 = a
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"), store.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	keys, _ := bot.NewKeyring([]byte(strings.Repeat("s", 32)))
	replies, _, _ := bot.NewReplies(nil)
	e.engine = &bot.Engine{Store: db, Keys: keys, Replies: replies, PublicURL: e.srv.URL, Limits: bot.DefaultLimits()}
	e.svc, err = magiclink.New(ctx, magiclink.Config{
		PublicURL: e.srv.URL, Domain: a.Domain(), ClientID: "cid", ClientSecret: "csecret",
		BotNumber: "+15005550006", HTTPClient: a.Client(),
	}, e.engine, keys)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(magiclink.Headers(false))
	r.Get("/l/{token}", e.svc.HandleLink)
	r.Get("/auth/callback", e.svc.HandleCallback)
	r.Get(magiclink.PathWebLink, e.svc.HandleWebLink)
	r.Post(magiclink.PathWebLinkNew, e.svc.HandleWebLinkNew)
	r.Get(magiclink.PathWebLinkStatus, e.svc.HandleWebLinkStatus)
	handler = r
	return e
}

// browser follows redirects within our server and the Auth0 stand-in,
// keeping cookies, like a person's browser.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := e.auth0.Client()
	c.Jar = jar
	return c
}

// browserToCallback is a browser that stops at the redirect to our
// callback, so a test can call it itself (later, twice, or changed).
func (e *env) browserToCallback() *http.Client {
	c := e.browser()
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == magiclink.PathCallback {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

var linkRE = regexp.MustCompile(`/l/([A-Za-z0-9_-]+)`)

func (e *env) textS() string {
	e.t.Helper()
	e.sid++
	res, err := e.engine.HandleSMS(context.Background(), bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", e.sid), From: phone, Body: "S"})
	if err != nil {
		e.t.Fatal(err)
	}
	m := linkRE.FindStringSubmatch(res.Reply)
	if m == nil {
		e.t.Fatalf("no link in %q", res.Reply)
	}
	return m[1]
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// loginAt submits the stand-in's login form for the authorize URL.
func loginAt(t *testing.T, c *http.Client, authorize *url.URL, email string) (*http.Response, string) {
	t.Helper()
	res, err := c.PostForm(authorize.String(), url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var hrefRE = regexp.MustCompile(`href="(sms:[^"]*)"`)

var codeRE = regexp.MustCompile(`id="code">(\d{6})<`)

func TestService_Login(t *testing.T) {
	e := newEnv(t)
	token := e.textS()
	c := e.browser()
	res, body := get(t, c, e.srv.URL+"/l/"+token)
	if res.StatusCode != 200 || !strings.Contains(body, `name="email"`) {
		t.Fatalf("link did not lead to the login form: %d %s", res.StatusCode, body)
	}
	authz := res.Request.URL
	q := authz.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorize URL lacks %s: %s", k, authz)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != e.srv.URL+"/auth/callback" {
		t.Errorf("authorize URL %s", authz)
	}
	res, body = loginAt(t, c, authz, "you@example.com")
	m := codeRE.FindStringSubmatch(body)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("callback: %d %s", res.StatusCode, body)
	}
	if h := hrefRE.FindStringSubmatch(body); h == nil || html.UnescapeString(h[1]) != "sms:+15005550006?&body="+m[1] {
		t.Errorf("sms: link %v", h)
	}
	for _, want := range []string{"ending in 4567", "you@example.com", "Never share this code"} {
		if !strings.Contains(body, want) {
			t.Errorf("code page lacks %q", want)
		}
	}
	if res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("code page headers %v", res.Header)
	}
	// The code is bound to this phone and this account.
	e.sid++
	r, err := e.engine.HandleSMS(context.Background(), bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", e.sid), From: phone, Body: m[1]})
	if err != nil || r.State != bot.StateSubscribed {
		t.Fatalf("code: %+v %v", r, err)
	}
	// Replaying the callback (back button, refresh) shows an error and changes nothing.
	res, body = get(t, c, res.Request.URL.String())
	if res.StatusCode < 400 || codeRE.MatchString(body) {
		t.Fatalf("replayed callback: %d %s", res.StatusCode, body)
	}
	// The used link says so.
	res, body = get(t, c, e.srv.URL+"/l/"+token)
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "already used") {
		t.Fatalf("used link: %d %s", res.StatusCode, body)
	}
}

func TestService_HandleLink_Cookie(t *testing.T) {
	e := newEnv(t)
	token := e.textS()
	c := e.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, _ := get(t, c, e.srv.URL+"/l/"+token)
	if res.StatusCode != http.StatusFound {
		t.Fatalf("status %d", res.StatusCode)
	}
	cookies := res.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	ck := cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/auth/callback" || ck.MaxAge <= 0 || ck.MaxAge > 15*60 {
		t.Fatalf("cookie %+v", ck)
	}
	if ck.Secure {
		t.Fatal("Secure cookie on an http public URL would never come back")
	}
	if strings.Contains(ck.Value, token) {
		t.Fatal("cookie carries the link token")
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Host != e.auth0.Domain() || loc.Path != "/authorize" {
		t.Fatalf("redirect to %s", loc)
	}
}

func TestService_HandleLink_TwiceBeforeLogin(t *testing.T) {
	e := newEnv(t)
	token := e.textS()
	c := e.browser()
	first, _ := get(t, c, e.srv.URL+"/l/"+token)  // a link previewer, or a first tab
	second, _ := get(t, c, e.srv.URL+"/l/"+token) // the person
	res, body := loginAt(t, c, second.Request.URL, "you@example.com")
	if res.StatusCode != 200 || !codeRE.MatchString(body) {
		t.Fatalf("second open: %d %s", res.StatusCode, body)
	}
	// The first tab's login now finds the link used.
	res, body = loginAt(t, c, first.Request.URL, "you@example.com")
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "already used") {
		t.Fatalf("first tab after the second logged in: %d %s", res.StatusCode, body)
	}
}

func TestService_HandleCallback_Bad(t *testing.T) {
	e := newEnv(t)
	token := e.textS()
	c := e.browserToCallback()
	res, _ := get(t, c, e.srv.URL+"/l/"+token)
	lres, _ := loginAt(t, c, res.Request.URL, "you@example.com")
	cb, _ := url.Parse(lres.Header.Get("Location"))
	if cb.Path != "/auth/callback" {
		t.Fatalf("login redirected to %s", cb)
	}
	good := cb.Query()
	cases := []struct {
		name   string
		query  url.Values
		status int
		text   string
	}{
		{"missing state", url.Values{"code": {good.Get("code")}}, 400, "incomplete"},
		{"mismatched state", url.Values{"code": {good.Get("code")}, "state": {"forged"}}, 410, "unknown, expired"},
		{"error from auth0", url.Values{"error": {"access_denied"}, "state": {good.Get("state")}}, 400, "did not complete (access_denied)"},
		{"forged code", url.Values{"code": {"nope"}, "state": {good.Get("state")}}, 400, "could not be verified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, c, e.srv.URL+"/auth/callback?"+tc.query.Encode())
			if res.StatusCode != tc.status || !strings.Contains(body, tc.text) {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		})
	}
	// The forged-code attempt used up this login's cookie: the real code now finds no session.
	res, body := get(t, c, e.srv.URL+"/auth/callback?"+good.Encode())
	if res.StatusCode != http.StatusGone || codeRE.MatchString(body) {
		t.Fatalf("callback after its cookie was used: %d", res.StatusCode)
	}
	if st := phoneState(t, e); st != bot.StateAwaitingLogin {
		t.Fatalf("state changed to %s", st)
	}
}

func TestService_HandleLink_Bad(t *testing.T) {
	e := newEnv(t)
	token := e.textS()
	c := e.browser()
	for name, tc := range map[string]struct {
		path   string
		status int
	}{
		"too short":     {"/l/abc", 400},
		"too long":      {"/l/" + token + "AAAA", 400},
		"not base64url": {"/l/" + strings.Repeat("*", len(token)), 400},
		"unknown":       {"/l/" + strings.Repeat("A", len(token)), 404},
	} {
		res, body := get(t, c, e.srv.URL+tc.path)
		if res.StatusCode != tc.status || !strings.Contains(body, "Text S for a new one") || res.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}
	e.engine.Now = func() time.Time { return time.Now().Add(16 * time.Minute) }
	res, body := get(t, c, e.srv.URL+"/l/"+token)
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("expired: %d %s", res.StatusCode, body)
	}
}

func phoneState(t *testing.T, e *env) string {
	var st string
	e.db.View(context.Background(), func(tx bot.Tx) error {
		p, err := tx.Phone(context.Background(), phone)
		if err == nil {
			st = p.State
		}
		return err
	})
	return st
}

func TestDirectory_SetPhone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := auth0test.UserID("you@example.com")
	e.auth0.PutUser(auth0test.User{ID: id, Email: "you@example.com", AppMetadata: map[string]any{"plan": "pro"}})
	d, err := magiclink.NewDirectory(ctx, magiclink.DirectoryConfig{Domain: e.auth0.Domain(), ClientID: "cid", ClientSecret: "csecret", HTTPClient: e.auth0.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetPhone(ctx, id, phone); err != nil {
		t.Fatal(err)
	}
	u, _ := e.auth0.User(id)
	if u.AppMetadata["phone"] != phone || u.AppMetadata["plan"] != "pro" {
		t.Fatalf("app_metadata %v", u.AppMetadata)
	}
	if err := d.SetPhone(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	u, _ = e.auth0.User(id)
	if _, ok := u.AppMetadata["phone"]; ok || u.AppMetadata["plan"] != "pro" {
		t.Fatalf("app_metadata after removal %v", u.AppMetadata)
	}
	var de *bot.DeliveryError
	err = d.SetPhone(ctx, "auth0|nobody", phone)
	if !asDelivery(err, &de) || !de.Permanent || de.Code != 404 {
		t.Fatalf("unknown user: %#v", err)
	}
	e.auth0.SetFaults(auth0test.Faults{Rate429: 1, ResetAfter: 30 * time.Second})
	err = d.SetPhone(ctx, id, phone)
	if !asDelivery(err, &de) || de.Permanent || de.RetryAfter < 20*time.Second {
		t.Fatalf("429: %#v", err)
	}
}

func asDelivery(err error, de **bot.DeliveryError) bool {
	if err == nil {
		return false
	}
	d, ok := err.(*bot.DeliveryError)
	*de = d
	return ok
}

func TestService_HandleLink_SecureCookieOverHTTPS(t *testing.T) {
	e := newEnv(t)
	keys, _ := bot.NewKeyring([]byte(strings.Repeat("s", 32)))
	svc, err := magiclink.New(context.Background(), magiclink.Config{
		PublicURL: "https://bot.example.com", Domain: e.auth0.Domain(), ClientID: "cid", ClientSecret: "csecret", HTTPClient: e.auth0.Client(),
	}, e.engine, keys)
	if err != nil {
		t.Fatal(err)
	}
	token := e.textS()
	r := chi.NewRouter()
	r.Get("/l/{token}", svc.HandleLink)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/l/"+token, nil))
	res := w.Result()
	if res.StatusCode != http.StatusFound || len(res.Cookies()) != 1 || !res.Cookies()[0].Secure {
		t.Fatalf("status %d cookies %+v", res.StatusCode, res.Cookies())
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("redirect_uri") != "https://bot.example.com/auth/callback" {
		t.Fatalf("redirect_uri %s", loc.Query().Get("redirect_uri"))
	}
}
