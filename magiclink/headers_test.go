package magiclink

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHeaders: every page gets the security headers, under their
// canonical names (set in the map directly, a name that is not would be
// a second header no one reads), HSTS only over https; the values shared
// by all answers stay each answer's own, whatever is set or added to
// another's.
func TestHeaders(t *testing.T) {
	for _, https := range []bool{false, true} {
		h := Headers(https)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("X-Frame-Options", "SAMEORIGIN")
			w.Header().Set("Referrer-Policy", "origin")
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		w := httptest.NewRecorder()
		Headers(https)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		for _, sh := range securityHeaders {
			if http.CanonicalHeaderKey(sh.name) != sh.name {
				t.Errorf("%s is not canonical", sh.name)
			}
			if got := w.Header().Values(sh.name); len(got) != 1 || got[0] != sh.value[0] {
				t.Errorf("%s: %q, want %q", sh.name, got, sh.value)
			}
		}
		if w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("Referrer-Policy") != "no-referrer" ||
			w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("headers %v", w.Header())
		}
		if got := w.Header().Get("Strict-Transport-Security"); (got != "") != https {
			t.Errorf("https %v: HSTS %q", https, got)
		}
	}
}
