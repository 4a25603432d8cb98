package magiclink_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/magiclink"
	"github.com/smsbot/smsbot/magiclink/auth0test"
)

// textSFrom texts S from number and returns the link's token.
func (e *env) textSFrom(number string) string {
	e.t.Helper()
	e.sid++
	res, err := e.engine.HandleSMS(context.Background(), bot.Inbound{MessageSID: fmt.Sprintf("SM%032d", e.sid), From: number, Body: "S"})
	if err != nil {
		e.t.Fatal(err)
	}
	m := linkRE.FindStringSubmatch(res.Reply)
	if m == nil {
		e.t.Fatalf("no link in %q", res.Reply)
	}
	return m[1]
}

// getLang gets u with an Accept-Language header.
func getLang(t *testing.T, c *http.Client, u, accept string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if accept != "" {
		req.Header.Set("Accept-Language", accept)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res, b.String()
}

// TestService_Language_CodePage: a +52 phone's whole login is in
// Spanish, whatever the browser asks for: Auth0 gets ui_locales=es, the
// code page and the used link's error page are Spanish.
func TestService_Language_CodePage(t *testing.T) {
	e := newEnv(t)
	const mx = "+5215512345678"
	token := e.textSFrom(mx)
	c := e.browser()
	res, _ := getLang(t, c, e.srv.URL+"/l/"+token, "de-DE,de;q=0.9")
	authz := res.Request.URL
	if got := authz.Query().Get("ui_locales"); got != "es" {
		t.Errorf("ui_locales %q", got)
	}
	res, body := loginAt(t, c, authz, "tu@example.com")
	if res.StatusCode != 200 || !codeRE.MatchString(body) {
		t.Fatalf("code page: %d %s", res.StatusCode, body)
	}
	for _, want := range []string{`<html lang="es">`, "¿Vincular el teléfono terminado en 5678 a tu@example.com?", "Responde a nuestro SMS con este código", "Abrir Mensajes con el código", "No compartas este código", "Nadie de smsbot te lo pedirá nunca", "El código vale 10 minutos"} {
		if !strings.Contains(body, want) {
			t.Errorf("code page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Never share") || res.Header.Get("Content-Language") != "es" {
		t.Errorf("code page in English, or Content-Language %q", res.Header.Get("Content-Language"))
	}
	res, body = getLang(t, e.browser(), e.srv.URL+"/l/"+token, "fr")
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "Este enlace ya se usó. Envía S por SMS para recibir otro.") || !strings.Contains(body, "Abrir Mensajes para enviar S") || !strings.Contains(body, "Algo no funcionó") {
		t.Fatalf("used link: %d %s", res.StatusCode, body)
	}
}

// TestService_Language_AcceptLanguage: a page that knows no phone (a link
// that does not exist, a callback without its cookie) takes the browser's
// language; one the bot does not speak, or none, is English.
func TestService_Language_AcceptLanguage(t *testing.T) {
	e := newEnv(t)
	unknown := e.srv.URL + "/l/" + strings.Repeat("A", bot.TokenLen)
	for _, tt := range []struct{ accept, lang, want string }{
		{"fr-CA,fr;q=0.9,en;q=0.5", "fr", "Ce lien n’est pas valide."},
		{"ja,pt-BR;q=0.8", "pt-BR", "Este link não é válido."},
		{"de", "de", "Dieser Link ist ungültig."},
		{"es-419", "es", "Este enlace no es válido."},
		{"ja", "en", "This link is not valid."},
		{"", "en", "This link is not valid."},
		{"garbage;;q=x", "en", "This link is not valid."},
	} {
		res, body := getLang(t, e.browser(), unknown, tt.accept)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(body, tt.want) || !strings.Contains(body, `<html lang="`+tt.lang+`">`) {
			t.Errorf("Accept-Language %q: %d, want %s %q:\n%s", tt.accept, res.StatusCode, tt.lang, tt.want, body)
		}
	}
	res, body := getLang(t, e.browser(), e.srv.URL+"/auth/callback?state=x&code=y", "es-MX")
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "Este inicio de sesión es desconocido, caducó") {
		t.Errorf("callback without its cookie: %d %s", res.StatusCode, body)
	}
	// A detail in a translated message is escaped.
	res, body = getLang(t, e.browser(), e.srv.URL+"/auth/callback?state=x&error=%3Cb%3Eaccess_denied", "de")
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Die Anmeldung wurde nicht abgeschlossen (baccess_denied)") {
		t.Errorf("denied login: %d %s", res.StatusCode, body)
	}
}

// TestService_Language_Unavailable: while Auth0 cannot be reached, the
// page says so in the phone's language.
func TestService_Language_Unavailable(t *testing.T) {
	e := newEnv(t)
	e.auth0.SetFaults(auth0test.Faults{Down: true})
	token := e.textSFrom("+4915112345678")
	res, body := getLang(t, e.browser(), e.srv.URL+"/l/"+token, "en")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Die Anmeldung ist gerade nicht erreichbar") {
		t.Fatalf("Auth0 down: %d %s", res.StatusCode, body)
	}
}

// TestService_Language_AccountLocale: the ID token's locale claim reaches
// the engine, which may make it the phone's language for the code page.
func TestService_Language_AccountLocale(t *testing.T) {
	e := newEnv(t)
	e.engine.AccountLocale = true
	e.auth0.PutUser(auth0test.User{Email: "vous@example.com", Locale: "fr-FR"})
	token := e.textS()
	c := e.browser()
	res, _ := get(t, c, e.srv.URL+"/l/"+token)
	res, body := loginAt(t, c, res.Request.URL, "vous@example.com")
	if res.StatusCode != 200 || !strings.Contains(body, "Lier le téléphone se terminant par 4567 à vous@example.com&nbsp;?") {
		t.Fatalf("code page: %d %s", res.StatusCode, body)
	}
}

// acceptLanguage sends lang as Accept-Language with every request, as a
// browser does.
type acceptLanguage struct {
	rt   http.RoundTripper
	lang string
}

func (a acceptLanguage) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept-Language", a.lang)
	return a.rt.RoundTrip(r)
}

// browserIn is a browser whose language is lang.
func (e *env) browserIn(lang string) *http.Client {
	c := e.browser()
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = acceptLanguage{rt: rt, lang: lang}
	return c
}

// TestService_Language_WebLink: the web-first page speaks the browser's
// language: Auth0 gets ui_locales, the page's every string, the QR code's
// label and the page after linking are Spanish; the QR code and the sms:
// text stay LINK and the code. An error the page shows is Spanish too.
func TestService_Language_WebLink(t *testing.T) {
	e := newEnv(t)
	c := e.browserIn("es-MX,es;q=0.9,en;q=0.5")
	res, _ := get(t, c, e.srv.URL+magiclink.PathWebLink)
	if got := res.Request.URL.Query().Get("ui_locales"); got != "es" {
		t.Errorf("ui_locales %q", got)
	}
	res, page := loginAt(t, c, res.Request.URL, "web@example.com")
	if res.StatusCode != 200 || res.Header.Get("Content-Language") != "es" {
		t.Fatalf("page: %d %v\n%s", res.StatusCode, res.Header, page)
	}
	code := webCodeOf(t, page)
	for _, want := range []string{
		`<html lang="es">`,
		"<h1>Vincular un teléfono a web@example.com</h1>",
		"Desde el teléfono que quieres vincular, envía por SMS",
		`id="code">LINK ` + code + `<`,
		`al <strong class="number" id="number">&#43;1 500 555 0006</strong>`,
		"Abrir Mensajes con este texto",
		`aria-label="Código QR: envía LINK ` + code + ` al +1 500 555 0006"`,
		"¿Usas otro dispositivo?",
		"<strong>Envía este código solo desde tu propio teléfono.</strong> El teléfono que lo envíe quedará vinculado a web@example.com",
		"durante 10 minutos",
		"Pedir un código nuevo",
		"Te quedan 4 más en este inicio de sesión.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, english := range []string{"Link a phone", "From the phone", "Only text", "Get a new code", "more for this login"} {
		if strings.Contains(page, english) {
			t.Errorf("page has the English %q", english)
		}
	}
	if got, want := decodeQR(t, page), "sms:+15005550006?&body=LINK%20"+code; got != want {
		t.Errorf("QR code holds %q, want %q", got, want)
	}
	if r := e.text("+5215512345678", "LINK "+code); !strings.Contains(r.Reply, "¡listo! Este teléfono queda vinculado a w***@example.com") {
		t.Fatalf("LINK: %+v", r)
	}
	_, page = get(t, c, e.srv.URL+magiclink.PathWebLink)
	for _, want := range []string{`<p class="done">Vinculado</p>`, `El teléfono terminado en <strong id="last4">5678</strong> ya está vinculado a web@example.com`, "¿No es tu teléfono?"} {
		if !strings.Contains(page, want) {
			t.Errorf("page after linking lacks %q\n%s", want, page)
		}
	}
	// A new code after linking: refused, said in Spanish.
	res, err := c.PostForm(e.srv.URL+magiclink.PathWebLinkNew, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(res); !strings.Contains(b, `id="message">Ya se vinculó un teléfono con el código de esta página. Vuelve a iniciar sesión para vincular otro.<`) {
		t.Fatalf("new code after linking: %d %s", res.StatusCode, b)
	}
}

// TestService_Language_WebLinkErrors: the web login's own errors say how
// to start again (open /link, not a text's link) in the browser's
// language: a login that took too long, Auth0 away, /link not offered.
func TestService_Language_WebLinkErrors(t *testing.T) {
	e := newEnv(t)
	clk := &clock{t: time.Now()}
	e.svc.Now = clk.now
	c := e.browserIn("fr-FR")
	res, _ := get(t, c, e.srv.URL+magiclink.PathWebLink)
	clk.add(16 * time.Minute)
	res, body := loginAt(t, c, res.Request.URL, "web@example.com")
	if res.StatusCode != http.StatusGone || !strings.Contains(body, "La connexion a pris trop de temps. Rouvrez /link pour vous reconnecter.") {
		t.Fatalf("a slow web login: %d %s", res.StatusCode, body)
	}
	down := newEnv(t)
	down.auth0.SetFaults(auth0test.Faults{Down: true})
	res, body = get(t, down.browserIn("pt-BR"), down.srv.URL+magiclink.PathWebLink)
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "O login está indisponível agora. Tente daqui a um minuto: abra /link de novo.") {
		t.Fatalf("Auth0 down: %d %s", res.StatusCode, body)
	}
	svc, err := magiclink.New(context.Background(), magiclink.Config{
		PublicURL: e.srv.URL, Domain: e.auth0.Domain(), ClientID: "cid", ClientSecret: "csecret", HTTPClient: e.auth0.Client(),
	}, e.engine, e.engine.Keys)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, magiclink.PathWebLink, nil)
	r.Header.Set("Accept-Language", "de-CH")
	svc.HandleWebLink(w, r)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "Telefone über das Web zu verknüpfen, ist hier nicht eingerichtet.") {
		t.Fatalf("/link without a number: %d %s", w.Code, w.Body)
	}
}
