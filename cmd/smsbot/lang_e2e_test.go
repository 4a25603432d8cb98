package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
	"github.com/smsbot/smsbot/webhooks/twiliotest"
)

// say renders a built-in reply as the program sends it (SMSBOT_NAME
// smsbot).
func say(t *testing.T, code, name string, d bot.ReplyData) string {
	t.Helper()
	replies, _, err := bot.NewLocalReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := bot.FindLanguage(code)
	if !ok {
		t.Fatalf("no language %s", code)
	}
	d.Name = "smsbot"
	s, err := replies.RenderIn(l, name, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// getWith fetches u with c, sending Accept-Language.
func getWith(t *testing.T, c *http.Client, u, accept string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept-Language", accept)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestE2E_Spanish: a +52 phone is answered in Spanish through a whole
// subscription, the web pages included, in production mode against the
// stand-ins; LANG switches; PARAR opts out, is answered once in Spanish,
// and nothing more reaches the phone (a text queued before is skipped)
// until COMENZAR.
func TestE2E_Spanish(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_OUTBOX_RETRY_BASE": "5s", "SMSBOT_OUTBOX_RETRY_MAX": "5s"})
	const mx = "+5215512345678"
	if r := e.text(mx, "hola"); r != say(t, "es", bot.ReplyHint, bot.ReplyData{}) {
		t.Fatalf("hola: %q", r)
	}
	reply := e.text(mx, "S")
	if !strings.HasPrefix(reply, "smsbot: vincula este teléfono en "+e.public+"/l/") || !strings.Contains(reply, "(vale 15 min). ¿No lo pediste? Ignora esto.") {
		t.Fatalf("S: %q", reply)
	}
	if r := e.text(mx, "H"); r != say(t, "es", bot.ReplyHelpLogin, bot.ReplyData{}) {
		t.Fatalf("H: %q", r)
	}

	// The web: a browser that prefers English still gets Spanish pages,
	// and Auth0 is asked for Spanish.
	c := e.browser()
	res, body := getWith(t, c, e.linkFrom(reply), "en-US,en;q=0.9")
	if res.StatusCode != 200 || res.Request.URL.Query().Get("ui_locales") != "es" || !strings.Contains(body, `<html lang="es">`) {
		t.Fatalf("login page: %d %s\n%s", res.StatusCode, res.Request.URL, body)
	}
	status, page := e.logIn(c, res.Request.URL, "tu@example.com")
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil || !strings.Contains(page, "¿Vincular el teléfono terminado en 5678 a tu@example.com?") || !strings.Contains(page, "No compartas este código.") {
		t.Fatalf("code page %d: %s", status, page)
	}
	code := m[1]
	e.waitFor("the code prompt in Spanish", func() bool {
		texts := e.textsTo(mx)
		return len(texts) == 1 && texts[0] == say(t, "es", bot.ReplyCodePrompt, bot.ReplyData{})
	})
	if r := e.text(mx, code); r != say(t, "es", bot.ReplySubscribed, bot.ReplyData{Email: "t***@example.com"}) {
		t.Fatalf("code: %q", r)
	}
	if r := e.text(mx, "H"); r != say(t, "es", bot.ReplyHelpSub, bot.ReplyData{}) {
		t.Fatalf("H subscribed: %q", r)
	}
	out, _, _ := runCmd(t, e.env, "subscribers", "show", mx)
	if !strings.Contains(out, "es-MX, from the country code") {
		t.Errorf("show:\n%s", out)
	}

	// LANG switches, and the next texts follow.
	if r := e.text(mx, "LANG"); r != say(t, "es", bot.ReplyLanguages, bot.ReplyData{}) {
		t.Fatalf("LANG: %q", r)
	}
	if r := e.text(mx, "lang de"); r != say(t, "de", bot.ReplyLanguageSet, bot.ReplyData{}) {
		t.Fatalf("LANG DE: %q", r)
	}
	if r := e.text(mx, "H"); r != say(t, "de", bot.ReplyHelpSub, bot.ReplyData{}) {
		t.Fatalf("H in German: %q", r)
	}
	if r := e.text(mx, "Idioma español"); r != say(t, "es", bot.ReplyLanguageSet, bot.ReplyData{}) {
		t.Fatalf("IDIOMA ESPAÑOL: %q", r)
	}
	if out, _, _ := runCmd(t, e.env, "subscribers", "show", mx); !strings.Contains(out, "es, chosen with LANG") {
		t.Errorf("show after LANG:\n%s", out)
	}

	// A text waits in the outbox (Twilio fails it, the retry is seconds
	// away) when the phone sends PARAR: the answer comes once, in
	// Spanish, and the waiting text is skipped, never sent.
	e.twilio.SetFaults(twiliotest.Faults{Rate500: 1})
	c = e.browser()
	res, _ = getWith(t, c, e.linkFrom(e.text(mx, "S")), "es")
	if status, _ := e.logIn(c, res.Request.URL, "tu@example.com"); status != 200 {
		t.Fatalf("second login: %d", status)
	}
	var job int64
	e.waitFor("the code prompt's first try", func() bool {
		return e.db.QueryRow(`SELECT id FROM outbox WHERE phone = ? AND state = 'pending' AND attempts >= 1`, mx).Scan(&job) == nil
	})
	sent := len(e.textsTo(mx))
	if r := e.text(mx, "PARAR"); r != say(t, "es", bot.ReplyStopped, bot.ReplyData{}) || e.state(mx) != bot.StateOptedOut {
		t.Fatalf("PARAR: %q, state %s", r, e.state(mx))
	}
	e.twilio.SetFaults(twiliotest.Faults{})
	for _, body := range []string{"hola", "H", "AYUDA", "S", "LANG EN", "PARAR"} {
		if r := e.text(mx, body); r != "" {
			t.Fatalf("%q when opted out: %q", body, r)
		}
	}
	e.waitFor("the waiting text to be skipped", func() bool {
		var state, result string
		e.db.QueryRow(`SELECT state, result FROM outbox WHERE id = ?`, job).Scan(&state, &result)
		return state == "done" && strings.HasPrefix(result, "skipped")
	})
	if n := len(e.textsTo(mx)); n != sent {
		t.Fatalf("%d texts reached the opted-out phone", n-sent)
	}
	_, metrics := fetch(t, http.DefaultClient, http.MethodGet, e.base+"/metrics", nil)
	for _, want := range []string{
		`smsbot_outbound_texts_total{error_code="0",result="skipped"} 1`,
		`smsbot_inbound_messages_total{command="language",state="subscribed"} 3`,
		`smsbot_inbound_messages_total{command="stop",state="opted_out"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if r := e.text(mx, "Comenzar"); r != say(t, "es", bot.ReplyStarted, bot.ReplyData{}) || e.state(mx) != bot.StateSubscribed {
		t.Fatalf("COMENZAR: %q, state %s", r, e.state(mx))
	}
	if r := e.text(mx, "H"); r != say(t, "es", bot.ReplyHelpSub, bot.ReplyData{}) {
		t.Fatalf("H after COMENZAR: %q", r)
	}
}

// TestE2E_StopWordsEveryLanguage: each language's STOP word from a phone
// of its country opts out, is answered once in that language (Twilio is
// not told: it does not know the word), and its START word opts back in.
// Twilio's own STOP stays silent.
func TestE2E_StopWordsEveryLanguage(t *testing.T) {
	e := startE2E(t, nil)
	for _, tt := range []struct{ phone, code string }{
		{"+34612345678", "es"}, {"+5511912345678", "pt-BR"}, {"+351912345678", "pt-BR"}, {"+33612345678", "fr"}, {"+4915112345678", "de"},
	} {
		l, _ := bot.FindLanguage(tt.code)
		if r := e.text(tt.phone, "hi"); r != say(t, tt.code, bot.ReplyHint, bot.ReplyData{}) {
			t.Errorf("%s hi: %q", tt.phone, r)
		}
		stop := strings.ToLower(l.Stop[0])
		if r := e.text(tt.phone, stop); r != say(t, tt.code, bot.ReplyStopped, bot.ReplyData{}) || e.state(tt.phone) != bot.StateOptedOut {
			t.Errorf("%s %s: %q, state %s", tt.phone, stop, r, e.state(tt.phone))
		}
		if r := e.text(tt.phone, l.Help[0]); r != "" {
			t.Errorf("%s %s when opted out: %q", tt.phone, l.Help[0], r)
		}
		if r := e.text(tt.phone, l.Start[0]); r != say(t, tt.code, bot.ReplyStarted, bot.ReplyData{}) || e.state(tt.phone) != bot.StateIdle {
			t.Errorf("%s %s: %q, state %s", tt.phone, l.Start[0], r, e.state(tt.phone))
		}
		// The help names the web-first page: the program offers it.
		if r := e.text(tt.phone, l.Help[0]); r != say(t, tt.code, bot.ReplyHelpIdle, bot.ReplyData{WebURL: e.public + magiclink.PathWebLink}) {
			t.Errorf("%s %s: %q", tt.phone, l.Help[0], r)
		}
		if r := e.text(tt.phone, "STOP"); r != "" || e.state(tt.phone) != bot.StateOptedOut {
			t.Errorf("%s STOP: %q, state %s", tt.phone, r, e.state(tt.phone))
		}
		if len(e.textsTo(tt.phone)) != 0 {
			t.Errorf("%s got texts through the REST API: %q", tt.phone, e.textsTo(tt.phone))
		}
	}
	if out, _, _ := runCmd(t, e.env, "subscribers", "show", "+351912345678"); !strings.Contains(out, "pt-PT, from the country code (texts in pt-BR)") {
		t.Errorf("show +351:\n%s", out)
	}
	// ARRÊT with its accent is ARRET.
	if r := e.text("+33699999999", "Arrêt"); r != say(t, "fr", bot.ReplyStopped, bot.ReplyData{}) {
		t.Errorf("Arrêt: %q", r)
	}
}

// TestE2E_PagesAcceptLanguage: a page that knows no phone (a link that
// does not exist) follows the browser's Accept-Language; one that knows
// the phone follows the phone's language, whatever the browser asks for.
func TestE2E_PagesAcceptLanguage(t *testing.T) {
	e := startE2E(t, map[string]string{"SMSBOT_WEB_BURST": "100"})
	unknown := e.public + bot.LinkPath + strings.Repeat("A", bot.TokenLen)
	for accept, want := range map[string]string{
		"fr-FR,fr;q=0.9": "Ce lien n’est pas valide. Envoyez S par SMS pour en recevoir un nouveau.",
		"pt-PT,pt;q=0.8": "Este link não é válido.",
		"de-CH":          "Dieser Link ist ungültig.",
		"es-MX,es;q=0.9": "Este enlace no es válido.",
		"ja-JP,ja;q=0.9": "This link is not valid.",
		"en-US,en;q=0.9": "This link is not valid.",
	} {
		res, body := getWith(t, e.browser(), unknown, accept)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", accept, res.StatusCode, body)
		}
	}
	// A US phone's used link: English, though the browser asks for French.
	const us = "+15555550777"
	e.subscribe(us, "us@example.com")
	link := e.linkFrom(e.text(us, "S"))
	c := e.browser()
	res, _ := getWith(t, c, link, "fr")
	if q := res.Request.URL.Query(); q.Get("ui_locales") != "en" {
		t.Errorf("ui_locales %q", q.Get("ui_locales"))
	}
	e.logIn(c, res.Request.URL, "us@example.com")
	res, body := getWith(t, e.browser(), link, "fr")
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "This link was already used.") {
		t.Errorf("used link: %d %s", res.StatusCode, body)
	}
}

// TestE2E_TemplatesPerLanguage: SMSBOT_TEMPLATES overrides one language's
// template and leaves the others' alone; the flat form is English.
func TestE2E_TemplatesPerLanguage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "templates.json")
	if err := os.WriteFile(file, []byte(`{"hint": "{{.Name}}: text S, friend.", "es": {"hint": "{{.Name}}: manda S, amigo."}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startE2E(t, map[string]string{"SMSBOT_TEMPLATES": file})
	for phone, want := range map[string]string{
		"+5215512340001": "smsbot: manda S, amigo.",
		"+15555550888":   "smsbot: text S, friend.",
		"+4915112340002": say(t, "de", bot.ReplyHint, bot.ReplyData{}),
	} {
		if r := e.text(phone, "?"); r != want {
			t.Errorf("%s: %q, want %q", phone, r, want)
		}
	}
}

// TestE2E_AccountLocale: the Auth0 user's locale claim becomes the
// phone's language at the login, for the code page and the texts after
// it, unless SMSBOT_ACCOUNT_LOCALE=false.
func TestE2E_AccountLocale(t *testing.T) {
	for _, on := range []bool{true, false} {
		env := map[string]string{}
		if !on {
			env["SMSBOT_ACCOUNT_LOCALE"] = "false"
		}
		e := startE2E(t, env)
		e.auth0.PutUser(auth0test.User{Email: "sie@example.com", Locale: "de-AT"})
		const us = "+15555550999"
		c := e.browser()
		status, page := e.logIn(c, e.openLink(c, e.linkFrom(e.text(us, "S"))), "sie@example.com")
		want, code := "Das Telefon mit der Endung 0999 mit sie@example.com verknüpfen?", "de"
		if !on {
			want, code = "Link the phone ending in 0999 to sie@example.com?", "en"
		}
		if status != 200 || !strings.Contains(page, want) {
			t.Fatalf("locale on=%v: code page %d %s", on, status, page)
		}
		e.waitFor("the code prompt", func() bool {
			texts := e.textsTo(us)
			return len(texts) == 1 && texts[0] == say(t, code, bot.ReplyCodePrompt, bot.ReplyData{})
		})
	}
}

// withAcceptLanguage sends lang as Accept-Language with each request.
type withAcceptLanguage struct {
	rt   http.RoundTripper
	lang string
}

func (a withAcceptLanguage) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", a.lang)
	return a.rt.RoundTrip(r)
}

// TestE2E_WebLinkSpanish: the web-first path in production mode for a
// Spanish speaker: /link in the browser's Spanish (Auth0 asked for it
// too), a Spanish number's wrong and right LINK answered in Spanish, the
// page showing it linked in Spanish.
func TestE2E_WebLinkSpanish(t *testing.T) {
	e := startE2E(t, nil)
	c := e.browser()
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = withAcceptLanguage{rt: rt, lang: "es-ES,es;q=0.9"}
	res, _ := fetch(t, c, http.MethodGet, e.public+magiclink.PathWebLink, nil)
	if got := res.Request.URL.Query().Get("ui_locales"); got != "es" {
		t.Errorf("ui_locales %q", got)
	}
	status, page := e.logIn(c, res.Request.URL, "web@example.com")
	m := webCodeRE.FindStringSubmatch(page)
	if status != 200 || m == nil || !strings.Contains(page, "Vincular un teléfono a web@example.com") || !strings.Contains(page, "Envía este código solo desde tu propio teléfono") {
		t.Fatalf("page: %d %s", status, page)
	}
	const phone = "+34612345678"
	wrong := "LINK 2222-2222"
	if m[1] == "2222-2222" {
		wrong = "LINK 3333-3333"
	}
	if r := e.text(phone, wrong); r != say(t, "es", bot.ReplyLinkWrong, bot.ReplyData{Left: 4}) {
		t.Fatalf("wrong code: %q", r)
	}
	if r := e.text(phone, "LINK "+m[1]); r != say(t, "es", bot.ReplySubscribed, bot.ReplyData{Email: "w***@example.com"}) || e.boundTo(phone) == "" {
		t.Fatalf("LINK: %q, bound to %q", r, e.boundTo(phone))
	}
	_, page = fetch(t, c, http.MethodGet, e.public+magiclink.PathWebLink, nil)
	if !strings.Contains(page, `<p class="done">Vinculado</p>`) || !strings.Contains(page, `El teléfono terminado en <strong id="last4">5678</strong> ya está vinculado a web@example.com`) {
		t.Fatalf("page after linking: %s", page)
	}
}
