package magiclink

import (
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

var defineRE = regexp.MustCompile(`\{\{define "([a-z_]+)"\}\}`)

// TestPages_EveryLanguageHasEveryString lists the page strings and error
// messages each language lacks (shown in English meanwhile), and the
// strings no page uses.
func TestPages_EveryLanguageHasEveryString(t *testing.T) {
	defines := func(code string) map[string]bool {
		b, err := fs.ReadFile(templateFS, "templates/lang/"+code+".html")
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		out := map[string]bool{}
		for _, m := range defineRE.FindAllStringSubmatch(string(b), -1) {
			out[m[1]] = true
		}
		return out
	}
	want := defines(bot.English.Code)
	for name := range want {
		if strings.HasPrefix(name, "msg_") {
			t.Errorf("en.html defines %s: English messages live in the Go code", name)
		}
	}
	for key := range bot.WebMessages {
		want["msg_"+key] = true
	}
	for key := range webMessages {
		want["msg_"+key] = true
	}
	var missing []string
	for _, l := range bot.Languages[1:] {
		have := defines(l.Code)
		for name := range want {
			if !have[name] {
				missing = append(missing, l.Code+": "+name)
			}
		}
		for name := range have {
			if !want[name] {
				t.Errorf("%s.html defines %s, which nothing uses", l.Code, name)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("page strings without a translation (English is shown meanwhile):\n  %s", strings.Join(missing, "\n  "))
	}
	entries, err := fs.ReadDir(templateFS, "templates/lang")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(bot.Languages) {
		t.Errorf("%d page string files for %d languages", len(entries), len(bot.Languages))
	}
}

// TestMessage_Keyless: an error without a key is English in every
// language, but the database's absence (EUNAVAILABLE), which every store
// words its own way, is translated.
func TestMessage_Keyless(t *testing.T) {
	p, err := newPages()
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{pages: p}
	fr, _ := bot.FindLanguage("fr")
	away := bot.Errorf(bot.EUNAVAILABLE, "We could not handle that just now. Please try again in a minute.")
	if got := string(s.message(fr, away)); got != "Nous n’avons pas pu traiter votre demande pour l’instant. Réessayez dans une minute." {
		t.Errorf("database away, in French: %q", got)
	}
	if got := string(s.message(bot.English, away)); got != "We could not handle that just now. Please try again in a minute." {
		t.Errorf("database away, in English: %q", got)
	}
	if got := string(s.message(fr, bot.Errorf(bot.EINVALID, "<b>no key</b>"))); got != "&lt;b&gt;no key&lt;/b&gt;" {
		t.Errorf("an error without a key: %q", got)
	}
}
