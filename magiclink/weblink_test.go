package magiclink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
)

var (
	webCodeRE = regexp.MustCompile(`id="code">LINK ([2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4})<`)
	pollRE    = regexp.MustCompile(`data-poll="([^"]+)"`)
	svgRE     = regexp.MustCompile(`(?s)<svg[^>]*viewBox="0 0 (\d+) \d+"[^>]*>.*?<path fill="#000" d="([^"]*)"/></svg>`)
	moduleRE  = regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`)
)

// webLogIn opens /link in c, logs in as email and returns the page.
func (e *env) webLogIn(c *http.Client, email string) (*http.Response, string) {
	e.t.Helper()
	res, body := get(e.t, c, e.srv.URL+magiclink.PathWebLink)
	if res.StatusCode != 200 || !strings.Contains(body, `name="email"`) {
		e.t.Fatalf("/link did not lead to the login form: %d %s", res.StatusCode, body)
	}
	return loginAt(e.t, c, res.Request.URL, email)
}

func webCodeOf(t *testing.T, page string) string {
	t.Helper()
	m := webCodeRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no web code on the page:\n%s", page)
	}
	return m[1]
}

// status asks the page's status URL, as its script does.
func (e *env) status(c *http.Client, page string) (int, map[string]string) {
	e.t.Helper()
	m := pollRE.FindStringSubmatch(page)
	if m == nil {
		e.t.Fatalf("no poll URL on the page")
	}
	res, body := get(e.t, c, e.srv.URL+html.UnescapeString(m[1]))
	var st map[string]string
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		e.t.Fatalf("status %d %q: %v", res.StatusCode, body, err)
	}
	return res.StatusCode, st
}

func (e *env) text(from, body string) bot.Result {
	e.t.Helper()
	e.sid++
	res, err := e.engine.HandleSMS(context.Background(), bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", e.sid), From: from, Body: body})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// decodeQR reads the page's inline SVG back into modules and decodes it
// as a phone's camera would.
func decodeQR(t *testing.T, page string) string {
	t.Helper()
	m := svgRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no QR code SVG on the page")
	}
	n, _ := strconv.Atoi(m[1])
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, mod := range moduleRE.FindAllStringSubmatch(m[2], -1) {
		x, _ := strconv.Atoi(mod[1])
		y, _ := strconv.Atoi(mod[2])
		for dy := range scale {
			for dx := range scale {
				img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	return res.GetText()
}

func TestService_WebLink(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	res, page := e.webLogIn(c, "web@example.com")
	if res.StatusCode != 200 || res.Request.URL.Path != magiclink.PathWebLink {
		t.Fatalf("after the login: %d at %s\n%s", res.StatusCode, res.Request.URL, page)
	}
	code := webCodeOf(t, page)
	wantSMS := "sms:+15005550006?&body=LINK%20" + code
	for _, want := range []string{"Link a phone to web@example.com", "+1 500 555 0006",
		"Only text this code from your own phone", "10 minutes", `src="/static/link.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q\n%s", want, page)
		}
	}
	if h := hrefRE.FindStringSubmatch(page); h == nil || html.UnescapeString(h[1]) != wantSMS {
		t.Errorf("sms: button %v, want %q", h, wantSMS)
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "style=") || strings.Contains(page, "onclick") {
		t.Error("the page has inline script or style, which its CSP forbids")
	}
	if got := decodeQR(t, page); got != wantSMS {
		t.Errorf("QR code holds %q, want %q", got, wantSMS)
	}
	if res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("page headers %v", res.Header)
	}
	u, _ := url.Parse(e.srv.URL + magiclink.PathWebLink)
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "smsbot_web" {
			session = ck
		}
	}
	if session == nil || strings.Contains(session.Value, strings.ReplaceAll(code, "-", "")) {
		t.Fatalf("session cookie %v", session)
	}
	// A reload shows the same code; the status says waiting.
	if _, again := get(t, c, e.srv.URL+magiclink.PathWebLink); webCodeOf(t, again) != code {
		t.Fatal("a reload showed another code")
	}
	if st, s := e.status(c, page); st != 200 || s["state"] != bot.WebWaiting {
		t.Fatalf("status before: %d %v", st, s)
	}
	// The text links the phone; the status and the page say so.
	if r := e.text(phone, "LINK "+code); r.State != bot.StateSubscribed || !strings.Contains(r.Reply, "w***@example.com") {
		t.Fatalf("LINK: %+v", r)
	}
	if st, s := e.status(c, page); st != 200 || s["state"] != bot.WebLinked || s["last4"] != "4567" {
		t.Fatalf("status after: %d %v", st, s)
	}
	if _, again := get(t, c, e.srv.URL+magiclink.PathWebLink); !strings.Contains(again, `data-state="linked"`) || !strings.Contains(again, "ending in <strong id=\"last4\">4567") {
		t.Fatalf("page after linking:\n%s", again)
	}
	// Another browser has no session: its status request is refused.
	if st, s := e.status(e.browser(), page); st != http.StatusUnauthorized || s["state"] != bot.WebExpired {
		t.Fatalf("status without a session: %d %v", st, s)
	}
}

func TestService_WebLink_NewCode(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	_, page := e.webLogIn(c, "new@example.com")
	first := webCodeOf(t, page)
	var codes = []string{first}
	for i := range 4 {
		res, err := c.PostForm(e.srv.URL+magiclink.PathWebLinkNew, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(res)
		if res.StatusCode != 200 || res.Request.URL.Path != magiclink.PathWebLink {
			t.Fatalf("new code %d: %d %s", i, res.StatusCode, b)
		}
		codes = append(codes, webCodeOf(t, b))
		page = b
	}
	if codes[0] == codes[4] || codes[3] == codes[4] {
		t.Fatalf("codes did not change: %v", codes)
	}
	if !strings.Contains(page, "Log in again for a new code") || strings.Contains(page, `action="/link/new"`) {
		t.Fatal("the fifth code still offers a new one")
	}
	// The old code is dead; the status of an old page says replaced.
	if r := e.text(phone, "LINK "+first); !strings.Contains(r.Reply, "not valid") {
		t.Fatalf("replaced code: %+v", r)
	}
	// A sixth: refused on the page, the code stays.
	res, err := c.PostForm(e.srv.URL+magiclink.PathWebLinkNew, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(res)
	if res.StatusCode != 200 || !strings.Contains(b, "last new code for this login") || webCodeOf(t, b) != codes[4] {
		t.Fatalf("sixth code: %d %s", res.StatusCode, b)
	}
	// ?again=1 logs in afresh: a new login with five codes of its own.
	res, _ = get(t, c, e.srv.URL+magiclink.PathWebLink+"?again=1")
	_, fresh := loginAt(t, c, res.Request.URL, "new@example.com")
	if code := webCodeOf(t, fresh); code == codes[4] || !strings.Contains(fresh, "4 more for this login") {
		t.Fatalf("after logging in again: %s", fresh)
	}
	if st, s := e.status(c, page); st != 200 || s["state"] != bot.WebReplaced {
		t.Fatalf("status of the older login's page: %d %v", st, s)
	}
	// Without a session, a new code starts over at /link.
	res, err = e.browser().PostForm(e.srv.URL+magiclink.PathWebLinkNew, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(res); !strings.Contains(b, `name="email"`) {
		t.Fatalf("new code without a session: %d %s", res.StatusCode, b)
	}
}

func TestService_WebLink_NoNumber(t *testing.T) {
	e := newEnv(t)
	svc, err := magiclink.New(context.Background(), magiclink.Config{
		PublicURL: e.srv.URL, Domain: e.auth0.Domain(), ClientID: "cid", ClientSecret: "csecret", HTTPClient: e.auth0.Client(),
	}, e.engine, e.engine.Keys)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	svc.HandleWebLink(w, httptest.NewRequest(http.MethodGet, magiclink.PathWebLink, nil))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "not set up here") || w.Header().Get("Location") != "" {
		t.Fatalf("/link without a number: %d %s", w.Code, w.Body)
	}
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
