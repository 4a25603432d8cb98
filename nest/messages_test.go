package nest

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

var verbRE = regexp.MustCompile(`%(\[\d+\])?[a-z]`)

// sampleArgs fill each answer the way the code does, with long names.
var sampleArgs = map[string][]any{
	mOffline: {"Bedroom"}, mEcoFirst: {"Bedroom", "bedroom"}, mOffFirst: {"Bedroom", "bedroom"},
	mWantRange: {"Bedroom", "bedroom"}, mWantOne: {"Bedroom", "cool", "bedroom"}, mLowFirst: {"bedroom"},
	mSetDone: {"Bedroom", "heatcool", "19.5-23.5C"}, mNoEco: {"Bedroom"}, mAlreadyEco: {"Bedroom"},
	mModeSet: {"Bedroom", "heatcool"}, mCantDo: {"Bedroom", "heatcool", "heat, cool, off"}, mAlready: {"Bedroom", "heatcool"},
	mWhich: {"Den, Bedroom"}, mNoSuch: {"kitchen", "Den, Bedroom"}, mCouldBe: {"b", "Bedroom, Bathroom"},
	mQuotaChanges: {10, 60}, mQuotaReads: {10, 60}, mQuotaLists: {10, 60},
	mWrongMode: {"Bedroom", "bedroom"}, mGone: {"Bedroom"}, mRefused: {"Bedroom"},
}

// TestMessages_EveryLanguage: every answer in every language, with the
// English one's verbs, each one SMS segment with sample names.
func TestMessages_EveryLanguage(t *testing.T) {
	var missing []string
	for _, l := range bot.Languages {
		m, ok := messages[l.Code]
		if !ok {
			t.Errorf("no answers in %s", l.Code)
			continue
		}
		for key, en := range messagesEN {
			f, ok := m[key]
			if !ok {
				missing = append(missing, l.Code+"/"+key)
				continue
			}
			if got, want := verbs(f), verbs(en); got != want {
				t.Errorf("%s/%s has verbs %s, English %s: %q", l.Code, key, got, want, f)
			}
			s := text(l, key, sampleArgs[key]...)
			if strings.Contains(s, "%!") {
				t.Errorf("%s/%s: %q", l.Code, key, s)
			}
			if n := bot.Segments(s); n != 1 {
				t.Errorf("%s/%s is %d segments (%s, %d characters): %s", l.Code, key, n, bot.Encoding(s), len([]rune(s)), s)
			}
			if l.Code != bot.English.Code && s == text(bot.English, key, sampleArgs[key]...) && key != mOffline {
				t.Errorf("%s/%s is the English text", l.Code, key)
			}
		}
		for key := range m {
			if _, ok := messagesEN[key]; !ok {
				t.Errorf("%s has %q, which English does not", l.Code, key)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("answers without a text (English is sent meanwhile):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(messages) != len(bot.Languages) {
		t.Errorf("answers in %d languages, the bot speaks %d", len(messages), len(bot.Languages))
	}
}

// verbs lists a format's verbs by argument, "1s 2d".
func verbs(f string) string {
	var out []string
	n := 0
	for _, m := range verbRE.FindAllStringSubmatch(f, -1) {
		n++
		i := n
		if m[1] != "" {
			i = int(m[1][1] - '0')
			n = i
		}
		v := m[0][len(m[0])-1:]
		if v == "q" {
			v = "s"
		}
		out = append(out, string(rune('0'+i))+v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
