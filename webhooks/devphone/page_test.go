package devphone_test

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/webhooks/devphone"
)

// get fetches path from the test server without following redirects.
func (e *env) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	c := *e.web.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(e.web.URL + path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return resp, string(b)
}

func TestPhone_Page(t *testing.T) {
	e := newEnv(t, nil, false)

	t.Run("MountWithoutSlashRedirects", func(t *testing.T) {
		resp, _ := e.get(t, "/dev?x=1")
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/dev/?x=1" {
			t.Errorf("GET /dev: %s to %q, want 301 to /dev/?x=1", resp.Status, resp.Header.Get("Location"))
		}
	})

	t.Run("Page", func(t *testing.T) {
		resp, page := e.get(t, "/dev/")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /dev/: %s %s", resp.Status, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		if !strings.Contains(html.UnescapeString(page), "<strong id=\"bot-number\">"+botNumber+"</strong>") {
			t.Error("the page does not show the bot number")
		}
		// Strict CSP: every script has a src, no inline style anywhere, and
		// every URL is relative to the mount point.
		for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(page, -1) {
			if !strings.Contains(tag, `src="static/`) {
				t.Errorf("inline or absolute script: %s", tag)
			}
		}
		if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
			t.Error("the page has inline style or an inline event handler")
		}
		if regexp.MustCompile(`(?i)(src|href)="/`).MatchString(page) {
			t.Error("the page uses an absolute URL; it must work under any mount point")
		}
	})

	t.Run("Static", func(t *testing.T) {
		for path, ctype := range map[string]string{
			"/dev/static/app.js":   "javascript",
			"/dev/static/app.css":  "text/css",
			"/dev/static/icon.svg": "image/svg+xml",
		} {
			resp, body := e.get(t, path)
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), ctype) || body == "" {
				t.Errorf("GET %s: %s %q", path, resp.Status, resp.Header.Get("Content-Type"))
			}
		}
		for _, path := range []string{"/dev/static/nope.js", "/dev/static/", "/dev/static/../page.html"} {
			if resp, _ := e.get(t, path); resp.StatusCode == http.StatusOK {
				t.Errorf("GET %s: %s, want an error", path, resp.Status)
			}
		}
	})

	t.Run("ScriptBuildsNodesNotHTML", func(t *testing.T) {
		_, js := e.get(t, "/dev/static/app.js")
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(js, bad) {
				t.Errorf("app.js uses %s", bad)
			}
		}
		for _, want := range []string{"textContent", "noopener noreferrer", "_blank", "localStorage", "EventSource"} {
			if !strings.Contains(js, want) {
				t.Errorf("app.js lacks %s", want)
			}
		}
	})
}

// TestPhone_Page_WebLink: with the bot's web-first page set, the Dev Phone
// links to it, in a tab of its own beside the phone; without, it does not.
func TestPhone_Page_WebLink(t *testing.T) {
	const web = "http://localhost:8080/link"
	with := newEnv(t, func(o *devphone.Options) { o.WebLinkURL = web }, false)
	_, page := with.get(t, "/dev/")
	m := regexp.MustCompile(`<a id="web-link" href="([^"]+)" target="_blank" rel="noopener"`).FindStringSubmatch(page)
	if m == nil || html.UnescapeString(m[1]) != web {
		t.Fatalf("no link to the web-first page: %v\n%s", m, page)
	}
	without := newEnv(t, nil, false)
	if _, page := without.get(t, "/dev/"); strings.Contains(page, "web-link") {
		t.Fatal("a link to the web-first page without one set")
	}
}
