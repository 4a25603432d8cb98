package magiclink_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
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
