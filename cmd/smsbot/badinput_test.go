package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/webhooks"
)

// TestE2E_HostileRequests sends broken and hostile requests to the running
// program. Each gets a clear answer and leaves the database as it was.
func TestE2E_HostileRequests(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_WEB_PER_MINUTE": "100000", "SMSBOT_WEB_BURST": "100000"})
	const phone = "+15555550404"
	// A phone mid-login, with a used and a live link, and a code waiting.
	usedLink := e.linkFrom(e.text(phone, "S"))
	c := e.browser()
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/auth/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	login := e.openLink(c, usedLink)
	res, _ := fetch(t, c, http.MethodPost, login.String(), url.Values{"email": {"hostile@example.com"}})
	callback := res.Header.Get("Location")
	res, page := fetch(t, c, http.MethodGet, e.base+strings.TrimPrefix(callback, e.public), nil)
	code := codeRE.FindStringSubmatch(page)
	if res.StatusCode != 200 || code == nil {
		t.Fatalf("setup login: %d", res.StatusCode)
	}
	token := linkRE.FindStringSubmatch(usedLink)[1]
	// The code prompt is delivered before the table starts, so that the
	// outbox does not change under the snapshots.
	e.waitFor("the code prompt", func() bool { return e.pending() == 0 })

	sign := func(f url.Values) string { return e.sign(f) }
	form := func(mod func(url.Values)) url.Values {
		f := e.form("+15555550405", "hello")
		if mod != nil {
			mod(f)
		}
		return f
	}
	type request struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		sig         string
		status      int
		reply       string // for 200s: the reply must contain this ("" = no message)
	}
	signedForm := func(name string, mod func(url.Values), status int, reply string) request {
		f := form(mod)
		return request{name, "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", f.Encode(), sign(f), status, reply}
	}
	replayed := form(nil)
	reqs := []request{
		{"missing signature", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", form(nil).Encode(), "", 403, ""},
		{"forged signature", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", form(nil).Encode(), "Zm9yZ2Vk", 403, ""},
		{"signature with another token", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", form(nil).Encode(), webhooks.Signature("other", e.public+"/webhooks/twilio/sms", form(nil)), 403, ""},
		{"signature for another URL", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", form(nil).Encode(), webhooks.Signature(e2eToken, "https://evil.example.com/webhooks/twilio/sms", form(nil)), 403, ""},
		{"signature for the status URL", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", form(nil).Encode(), webhooks.Signature(e2eToken, e.public+"/webhooks/twilio/status", form(nil)), 403, ""},
		{"signature over another body", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", form(func(f url.Values) { f.Set("Body", "S") }).Encode(), sign(form(nil)), 403, ""},
		{"wrong content type", "POST", "/webhooks/twilio/sms", "application/json", `{"Body":"S"}`, sign(form(nil)), 415, ""},
		{"no content type", "POST", "/webhooks/twilio/sms", "", form(nil).Encode(), sign(form(nil)), 415, ""},
		{"body over the size limit", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", "Body=" + strings.Repeat("A", webhooks.MaxBody+1), "x", 413, ""},
		{"malformed form encoding", "POST", "/webhooks/twilio/sms", "application/x-www-form-urlencoded", "Body=%G0&From=%", "x", 400, ""},
		signedForm("missing From", func(f url.Values) { f.Del("From") }, 400, ""),
		signedForm("missing Body", func(f url.Values) { f.Del("Body") }, 400, ""),
		signedForm("missing MessageSid", func(f url.Values) { f.Del("MessageSid") }, 400, ""),
		signedForm("MessageSid with SQL", func(f url.Values) { f.Set("MessageSid", "SM' OR '1'='1") }, 400, ""),
		signedForm("From not E.164", func(f url.Values) { f.Set("From", "555-0405") }, 400, ""),
		signedForm("From with letters", func(f url.Values) { f.Set("From", "+1555TWILIO") }, 400, ""),
		signedForm("From alphanumeric sender", func(f url.Values) { f.Set("From", "ACME") }, 400, ""),
		signedForm("repeated Body", func(f url.Values) { f.Add("Body", "S") }, 400, ""),
		{"GET on the webhook", "GET", "/webhooks/twilio/sms", "", "", "", 405, ""},
		{"status callback unsigned", "POST", "/webhooks/twilio/status", "application/x-www-form-urlencoded", "MessageSid=SM00000000000000000000000000000001&MessageStatus=delivered", "", 403, ""},
		{"link token too short", "GET", "/l/abc", "", "", "", 400, ""},
		{"link token too long", "GET", "/l/" + token + token, "", "", "", 400, ""},
		{"link token not base64url", "GET", "/l/" + strings.Repeat("%21", len(token)), "", "", "", 400, ""},
		{"link token unknown", "GET", "/l/" + strings.Repeat("B", len(token)), "", "", "", 404, ""},
		{"link already used", "GET", "/l/" + token, "", "", "", 410, ""},
		{"callback without state", "GET", "/auth/callback?code=abc", "", "", "", 400, ""},
		{"callback with mismatched state", "GET", "/auth/callback?code=abc&state=forged", "", "", "", 410, ""},
		{"callback with an error", "GET", "/auth/callback?error=access_denied&error_description=%3Cscript%3E&state=x", "", "", "", 400, ""},
		{"replayed callback", "GET", strings.TrimPrefix(callback, e.public), "", "", "", 410, ""},
		{"open redirect attempt", "GET", "/auth/callback?state=x&code=y&returnTo=https://evil.example.com", "", "", "", 410, ""},
	}
	// 200s that must change nothing but the phone's own conversation.
	harmless := []struct {
		name, from, body, reply string
	}{
		{"10 KB Body", "+15555550406", strings.Repeat("ü", 5000), "send S"},
		{"NUL bytes", "+15555550406", "S\x00\x00", "send S"},
		{"invalid UTF-8", "+15555550406", "\xff\xfeS", "send S"},
		{"emoji", "+15555550406", "🙂🙂", "send S"},
		{"SQL in Body", "+15555550406", "'; DROP TABLE phones; --", "send S"},
		{"HTML in Body", "+15555550406", "<script>alert(1)</script>", "send S"},
		{"the code from the wrong phone", "+15555550407", code[1], "send S"},
	}

	var buf strings.Builder
	for _, r := range reqs {
		before := e.snapshot()
		req, _ := http.NewRequest(r.method, e.base+r.path, strings.NewReader(r.body))
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		if r.sig != "" {
			req.Header.Set("X-Twilio-Signature", r.sig)
		}
		cl := e.browser()
		cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != r.status {
			t.Errorf("%s: status %d, want %d: %s", r.name, res.StatusCode, r.status, body)
		}
		if loc := res.Header.Get("Location"); loc != "" {
			t.Errorf("%s: redirects to %s", r.name, loc)
		}
		if strings.Contains(string(body), "<script>") {
			t.Errorf("%s: echoes markup", r.name)
		}
		if after := e.snapshot(); after != before {
			t.Errorf("%s changed the database", r.name)
		}
		fmt.Fprintf(&buf, "%d %s\n", res.StatusCode, r.name)
	}
	// The replay of a webhook already answered: same answer, no change.
	_, first := e.post(replayed, sign(replayed))
	before := e.snapshot()
	if status, again := e.post(replayed, sign(replayed)); status != 200 || again != first {
		t.Errorf("replayed signature: %d %q", status, again)
	}
	if e.snapshot() != before {
		t.Error("replayed webhook changed the database")
	}
	victim := e.state(phone)
	for _, h := range harmless {
		if r := e.text(h.from, h.body); !strings.Contains(r, h.reply) {
			t.Errorf("%s: reply %q", h.name, r)
		}
		if e.state(phone) != victim {
			t.Errorf("%s changed the victim's state", h.name)
		}
	}
	// An expired code: the phone's time moved into the past.
	if _, err := e.db.Exec(`UPDATE phones SET expires_at = 1 WHERE phone = ?`, phone); err != nil {
		t.Fatal(err)
	}
	if r := e.text(phone, code[1]); !strings.Contains(r, "expired") || e.state(phone) != "idle" {
		t.Errorf("expired code: %q, state %s", r, e.state(phone))
	}
	t.Logf("%d hostile requests, %d harmless oddities, a replay and an expired code", len(reqs), len(harmless))
}

// TestE2E_WebLimit checks the per-address limit on the link.
func TestE2E_WebLimit(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_WEB_PER_MINUTE": "1", "SMSBOT_WEB_BURST": "3"})
	c := e.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var statuses []int
	for i := 0; i < 5; i++ {
		res, _ := fetch(t, c, http.MethodGet, e.base+"/l/"+strings.Repeat("A", 32), nil)
		statuses = append(statuses, res.StatusCode)
	}
	if fmt.Sprint(statuses) != "[404 404 404 429 429]" {
		t.Fatalf("statuses %v", statuses)
	}
}

// TestE2E_SecurityHeaders checks the headers of the web pages.
func TestE2E_SecurityHeaders(t *testing.T) {
	e := startE2E(t, nil)
	link := e.linkFrom(e.text("+15555550408", "S"))
	c := e.browser()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, path := range []string{strings.TrimPrefix(link, e.public), "/l/nope", "/auth/callback", "/healthz"} {
		res, _ := fetch(t, c, http.MethodGet, e.base+path, nil)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, h)
		}
	}
	// The link's redirect carries no token to Auth0, and the cookie is HttpOnly and Lax.
	res, _ := fetch(t, c, http.MethodGet, link, nil)
	if loc := res.Header.Get("Location"); strings.Contains(loc, linkRE.FindStringSubmatch(link)[1]) {
		t.Errorf("the link token leaks into the Auth0 redirect: %s", loc)
	}
	for _, ck := range res.Cookies() {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie %+v", ck)
		}
	}
}
