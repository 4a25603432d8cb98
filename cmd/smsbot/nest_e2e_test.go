package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startDevE2E runs the program in dev mode on a loopback port: the Twilio,
// Auth0 and SDM stand-ins run inside it, and every dev user gets two
// simulated thermostats through a linked Google identity.
func startDevE2E(t *testing.T) *e2e {
	t.Helper()
	e := &e2e{t: t, logs: &syncBuffer{}}
	addr, listenSetting := listenFD(t)
	e.base = "http://" + addr
	e.public = e.base
	e.dbPath = filepath.Join(t.TempDir(), "dev.db")
	env := map[string]string{
		"SMSBOT_ADDR":       listenSetting,
		"SMSBOT_DB":         e.dbPath,
		"SMSBOT_PUBLIC_URL": e.public,
		"TWILIO_AUTH_TOKEN": e2eToken,
	}
	runProgram(t, []string{"serve", "--dev"}, env, e.base, e.logs)
	return e
}

// subscribeDev links phone to a new dev account through the dev login page
// on the bot's own origin.
func (e *e2e) subscribeDev(phone, email string) {
	e.t.Helper()
	link := e.linkFrom(e.text(phone, "S"))
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	status, page := e.logIn(c, e.openLink(c, link), email)
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		e.t.Fatalf("code page: %d %s", status, page)
	}
	if reply := e.text(phone, m[1]); !strings.Contains(reply, "subscribed") {
		e.t.Fatalf("code reply %q", reply)
	}
}

func TestE2E_DevThermostats(t *testing.T) {
	e := startDevE2E(t)
	const phone, other = "+15555556001", "+15555556002"
	if r := e.text(phone, "GT"); !strings.Contains(r, "send S to subscribe") {
		t.Fatalf("GT before subscribing: %q", r)
	}
	e.subscribeDev(phone, "nest@example.com")
	if r := e.text(phone, "H"); !strings.Contains(r, "GT = temps") {
		t.Fatalf("help lacks the thermostat commands: %q", r)
	}
	steps := []struct{ text, want string }{
		{"GT", "Den 19.5C 45% heat 20 heating\nBedroom 75F 40% cool 72 cooling"},
		{"ST den 21", "Den: heat set to 21C"},
		{"MODE bedroom cool", "Bedroom is already in cool mode."},
		{"GT bedroom", "Bedroom 75F 40% cool 72 cooling"},
		{"MODE bedroom heat", "Bedroom: mode set to heat"},
		{"ST bedroom 77", "Bedroom: heat set to 77F"},
		{"MODE bedroom cool", "Bedroom: mode set to cool"},
		{"GT", "Den 19.5C 45% heat 21 heating\nBedroom 75F 40% cool 72 cooling"},
		{"ST bedroom 70", "Bedroom: cool set to 70F"},
		{"GT bedroom", "Bedroom 75F 40% cool 70 cooling"},
		{"ST den 40", "Pick 9-32C."},
		{"MODE den eco", "Den: mode set to eco"},
		{"ST den 22", "Den is in Eco mode; send MODE den heat first."},
		{"GT den", "Den 19.5C 45% eco 16-28"},
		{"GT kitchen", `No thermostat "kitchen". Yours: Den, Bedroom`},
	}
	for _, s := range steps {
		if got := e.text(phone, s.text); got != s.want {
			t.Fatalf("%q:\n got %q\nwant %q", s.text, got, s.want)
		}
	}
	// Another person has thermostats of their own.
	e.subscribeDev(other, "other@example.com")
	if got := e.text(other, "GT den"); got != "Den 19.5C 45% heat 20 heating" {
		t.Fatalf("other GT den %q", got)
	}
	if strings.Contains(e.logs.String(), "ya29.") || strings.Contains(e.logs.String(), "1//dev-") {
		t.Error("the logs carry a Google token")
	}
}

func TestRun_NestNeedsGoogleClient(t *testing.T) {
	env := map[string]string{
		"SMSBOT_PUBLIC_URL": "https://bot.example.com", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "y",
		"TWILIO_FROM_NUMBER": "+15005550006", "AUTH0_DOMAIN": "d", "AUTH0_CLIENT_ID": "c", "AUTH0_CLIENT_SECRET": "s",
		"SDM_PROJECT_ID": "p",
	}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "GOOGLE_CLIENT_ID") || !strings.Contains(err.Error(), "GOOGLE_CLIENT_SECRET") {
		t.Fatalf("SDM_PROJECT_ID without a Google client: %v", err)
	}
	if code := exitCode(err, io.Discard); code != exitUsage {
		t.Errorf("exit code %d", code)
	}
}
