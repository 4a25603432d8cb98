package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/magiclink/auth0test"
)

// getBody fetches u with c and returns the status and body.
func getBody(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestE2E_Auth0DownAtStart starts the program while Auth0 refuses every
// request: texts are answered, /readyz stays 200, the login says to try
// again, and it works once Auth0 is back, without a restart.
func TestE2E_Auth0DownAtStart(t *testing.T) {
	e := newE2E(t, fastOutbox)
	e.auth0.SetFaults(auth0test.Faults{Down: true})
	e.start()
	const phone = "+15555580001"

	link := e.linkFrom(e.text(phone, "S"))
	if r := e.text(phone, "H"); !strings.Contains(r, "STOP") {
		t.Fatalf("H: %q", r)
	}
	if r := e.text(phone, "123456"); r == "" {
		t.Fatal("a code while awaiting the login got no answer")
	}
	if status, body := getBody(t, http.DefaultClient, e.base+"/readyz"); status != 200 {
		t.Fatalf("/readyz with Auth0 down: %d %s", status, body)
	}

	c := e.browser()
	status, page := getBody(t, c, link)
	if status != http.StatusServiceUnavailable || !strings.Contains(page, "Login is unavailable right now. Try again in a minute") {
		t.Fatalf("link with Auth0 down: %d %s", status, page)
	}
	var unused int
	if err := e.db.QueryRow(`SELECT COUNT(*) FROM links WHERE used_at = 0`).Scan(&unused); err != nil || unused != 1 {
		t.Fatalf("unused links: %d %v", unused, err)
	}
	if _, m := getBody(t, http.DefaultClient, e.base+"/metrics"); !strings.Contains(m, `smsbot_far_end_up{far_end="auth0_login"} 0`) {
		t.Errorf("metrics do not show Auth0 down:\n%s", grepLines(m, "far_end"))
	}

	e.auth0.SetFaults(auth0test.Faults{})
	e.waitFor("the login to work again", func() bool {
		res, err := c.Get(link)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode == 200 && strings.Contains(string(b), `name="email"`)
	})
	status, page = e.logIn(c, e.openLink(c, link), "down@example.com")
	m := codeRE.FindStringSubmatch(page)
	if status != 200 || m == nil {
		t.Fatalf("code page: %d %s", status, page)
	}
	if r := e.text(phone, m[1]); !strings.Contains(r, "subscribed") {
		t.Fatalf("code reply %q", r)
	}
	e.waitFor("app_metadata.phone in Auth0", func() bool { return e.appPhone("down@example.com") == phone })
	if _, m := getBody(t, http.DefaultClient, e.base+"/metrics"); !strings.Contains(m, `smsbot_far_end_up{far_end="auth0_login"} 1`) {
		t.Errorf("metrics do not show Auth0 up:\n%s", grepLines(m, "far_end"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
