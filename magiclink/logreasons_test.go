package magiclink_test

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// TestService_HandleCallback_LogsFixedReasons: the callback logs neither
// the browser's error parameter nor go-auth0's nonce-mismatch text (which
// quotes the expected nonce), only a fixed reason.
func TestService_HandleCallback_LogsFixedReasons(t *testing.T) {
	e := newEnv(t)
	var logs bytes.Buffer
	e.svc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := e.browserToCallback()

	// A login whose authorize request carried another nonce: the ID token
	// comes back with it and go-auth0 refuses the mismatch.
	res, _ := get(t, c, e.srv.URL+"/l/"+e.textS())
	authorize := *res.Request.URL
	q := authorize.Query()
	q.Set("nonce", "planted-nonce-1234")
	authorize.RawQuery = q.Encode()
	lres, _ := loginAt(t, c, &authorize, "you@example.com")
	cb, _ := url.Parse(lres.Header.Get("Location"))
	if res, body := get(t, c, e.srv.URL+"/auth/callback?"+cb.RawQuery); res.StatusCode != 400 || !strings.Contains(body, "could not be verified") {
		t.Fatalf("nonce mismatch: %d %s", res.StatusCode, body)
	}

	// An error parameter that is no OAuth error code.
	get(t, c, e.srv.URL+"/auth/callback?"+url.Values{"error": {"forged_by_the_browser"}, "state": {"x"}}.Encode())

	out := logs.String()
	for _, leak := range []string{"planted-nonce-1234", "expected", "nonce claim", "forged_by_the_browser"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log carries %q:\n%s", leak, out)
		}
	}
	for _, want := range []string{"reason=\"id token rejected", "error=other"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}
