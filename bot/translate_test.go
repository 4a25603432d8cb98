package bot

import (
	"strings"
	"testing"
)

// TestRenderIn_Kept: a rendered text is kept and given again, for the same
// language, reply and data only; a text with a login link is never kept.
func TestRenderIn_Kept(t *testing.T) {
	r, _, err := NewLocalReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	render := func(l Language, name string, d ReplyData) string {
		t.Helper()
		s, err := r.RenderIn(l, name, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	d := ReplyData{Name: "smsbot", Left: 3}
	first := render(English, ReplyWrongCode, d)
	if again := render(English, ReplyWrongCode, d); again != first {
		t.Errorf("the same reply twice: %q then %q", first, again)
	}
	for _, c := range []struct {
		what string
		got  string
	}{
		{"another language", render(Languages[1], ReplyWrongCode, d)},
		{"another reply", render(English, ReplyHelpIdle, d)},
		{"other data", render(English, ReplyWrongCode, ReplyData{Name: "smsbot", Left: 2})},
		{"another name", render(English, ReplyWrongCode, ReplyData{Name: "thermo", Left: 3})},
	} {
		if c.got == first {
			t.Errorf("%s gave the kept text %q", c.what, first)
		}
	}
	link := ReplyData{Name: "smsbot", URL: "https://example.com/l/secret-token", Minutes: 15}
	if s := render(English, ReplyLink, link); !strings.Contains(s, link.URL) {
		t.Fatalf("link reply %q lacks its URL", s)
	}
	r.rendered.Range(func(k, _ any) bool {
		if k.(renderKey).data.URL != "" {
			t.Errorf("a text with a login link was kept: %+v", k)
		}
		return true
	})
	for i := range maxRendered + 10 {
		render(English, ReplyWrongCode, ReplyData{Name: "smsbot", Left: i})
	}
	n := 0
	r.rendered.Range(func(any, any) bool { n++; return true })
	if n > maxRendered {
		t.Errorf("%d texts kept, want at most %d", n, maxRendered)
	}
}
