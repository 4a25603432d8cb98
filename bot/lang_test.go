package bot_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/smsbot/smsbot/bot"
)

// TestCountryLanguage: each country calling code of the table picks its
// language; the longest code wins; the rest is English.
func TestCountryLanguage(t *testing.T) {
	for phone, want := range map[string]string{
		"+15555550100":   "en", // the US
		"+14165550100":   "en", // Canada: no one language, LANG changes it
		"+17875550100":   "es", // Puerto Rico, inside +1
		"+19395550100":   "es",
		"+18095550100":   "es",    // the Dominican Republic
		"+5215512345678": "es",    // Mexico
		"+34612345678":   "es",    // Spain
		"+5491123456789": "es",    // Argentina
		"+56912345678":   "es",    // Chile
		"+573001234567":  "es",    // Colombia
		"+51912345678":   "es",    // Peru
		"+59312345678":   "es",    // Ecuador
		"+50612345678":   "es",    // Costa Rica
		"+5511912345678": "pt-BR", // Brazil
		"+351912345678":  "pt-BR", // Portugal: pt-PT, spoken to in the Portuguese the bot has
		"+244912345678":  "pt-BR", // Angola
		"+33612345678":   "fr",
		"+3222222222":    "en", // Belgium: no one language
		"+2250712345678": "fr", // Côte d'Ivoire
		"+50934123456":   "fr", // Haiti
		"+4915112345678": "de",
		"+436641234567":  "de", // Austria
		"+41791234567":   "de", // Switzerland
		"+4237912345":    "de", // Liechtenstein
		"+447700900123":  "en", // the UK
		"+8613812345678": "en", // China: not spoken, English
		"+39312345678":   "en", // Italy: not spoken, English
	} {
		tag := bot.CountryLanguage(phone)
		if got := bot.LanguageOf(tag).Code; got != want {
			t.Errorf("%s: %s speaks %s, want %s", phone, tag, got, want)
		}
		p := &bot.Phone{Number: phone}
		if got := p.Lang().Code; got != want {
			t.Errorf("%s with no stored language: %s, want %s", phone, got, want)
		}
	}
	for phone, want := range map[string]string{"+5215512345678": "es-MX", "+351912345678": "pt-PT", "+17875550100": "es-PR", "+15555550100": "en-US", "+8613812345678": "en-US"} {
		if got := bot.CountryLanguage(phone); got != want {
			t.Errorf("CountryLanguage(%s) = %s, want %s", phone, got, want)
		}
	}
	// A stored language wins over the country's.
	if got := (&bot.Phone{Number: "+15555550100", Language: "de"}).Lang().Code; got != "de" {
		t.Errorf("stored de: %s", got)
	}
}

func TestFindLanguage(t *testing.T) {
	for in, want := range map[string]string{
		"ES": "es", "es": "es", "es-MX": "es", "Español": "es", "espanol": "es", "ESPAÑOL": "es",
		"PT": "pt-BR", "pt-br": "pt-BR", "pt-PT": "pt-BR", "português": "pt-BR",
		"fr": "fr", "FRANÇAIS": "fr", "fr-CA": "fr", "de": "de", "Deutsch": "de", "de-AT": "de",
		"en": "en", "English": "en", "en-GB": "en",
	} {
		l, ok := bot.FindLanguage(in)
		if !ok || l.Code != want {
			t.Errorf("FindLanguage(%q) = %s %v, want %s", in, l.Code, ok, want)
		}
	}
	for _, in := range []string{"", "JA", "it", "klingon", "xx", "123456", "zz-ZZ"} {
		if l, ok := bot.FindLanguage(in); ok {
			t.Errorf("FindLanguage(%q) = %s, want none", in, l.Code)
		}
	}
}

func TestFold(t *testing.T) {
	for in, want := range map[string]string{"arrêt": "ARRET", "Démarrer": "DEMARRER", "STOPP": "STOPP", "ajuda": "AJUDA", "Español": "ESPANOL", "kühlen": "KUHLEN", "Ça": "CA"} {
		if got := bot.Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestParse_Languages: the STOP, START and HELP words of each language,
// accents and case ignored, on the whole text only; LANG.
func TestParse_Languages(t *testing.T) {
	for _, tt := range []struct {
		body    string
		kind    bot.Kind
		keyword string
		arg     string
	}{
		{"PARAR", bot.KindStop, "PARAR", ""},
		{" alto ", bot.KindStop, "ALTO", ""},
		{"Cancelar", bot.KindStop, "CANCELAR", ""},
		{"baja", bot.KindStop, "BAJA", ""},
		{"SAIR", bot.KindStop, "SAIR", ""},
		{"arrêt", bot.KindStop, "ARRET", ""},
		{"ARRET", bot.KindStop, "ARRET", ""},
		{"Désabonner", bot.KindStop, "DESABONNER", ""},
		{"stopp", bot.KindStop, "STOPP", ""},
		{"Abmelden", bot.KindStop, "ABMELDEN", ""},
		{"comenzar", bot.KindStart, "COMENZAR", ""},
		{"INICIAR", bot.KindStart, "INICIAR", ""},
		{"démarrer", bot.KindStart, "DEMARRER", ""},
		{"Starten", bot.KindStart, "STARTEN", ""},
		{"AYUDA", bot.KindCarrierHelp, "AYUDA", ""},
		{"ajuda", bot.KindCarrierHelp, "AJUDA", ""},
		{"Aide", bot.KindCarrierHelp, "AIDE", ""},
		{"HILFE", bot.KindCarrierHelp, "HILFE", ""},
		// Twilio's own words keep no keyword: Twilio answers them.
		{"STOP", bot.KindStop, "", ""},
		{"help", bot.KindCarrierHelp, "", ""},
		{"start", bot.KindStart, "", ""},
		// Whole text only.
		{"parar ya", bot.KindOther, "", ""},
		{"ayuda por favor", bot.KindOther, "", ""},
		{"ALTO ST 20", bot.KindOther, "", ""},
		// LANG.
		{"LANG", bot.KindLanguage, "", ""},
		{"lang es", bot.KindLanguage, "", "es"},
		{"Idioma português", bot.KindLanguage, "", "português"},
		{"LANGUE fr", bot.KindLanguage, "", "fr"},
		{"sprache DE", bot.KindLanguage, "", "DE"},
		{"LANG es por favor", bot.KindOther, "", ""},
		{"LANGUAGES", bot.KindOther, "", ""},
		// S stays S: an S with an accent is not S.
		{"Ś", bot.KindOther, "", ""},
	} {
		c := bot.Parse(tt.body)
		if c.Kind != tt.kind || c.Keyword != tt.keyword || c.Arg != tt.arg {
			t.Errorf("Parse(%q) = kind %d keyword %q arg %q, want %d %q %q", tt.body, c.Kind, c.Keyword, c.Arg, tt.kind, tt.keyword, tt.arg)
		}
	}
	// Every word of every language parses as its kind, and no word is two
	// kinds.
	seen := map[string]bot.Kind{}
	for _, l := range bot.Languages {
		for kind, words := range map[bot.Kind][]string{bot.KindStop: l.Stop, bot.KindStart: l.Start, bot.KindCarrierHelp: l.Help} {
			for _, w := range words {
				if k, ok := seen[w]; ok && k != kind {
					t.Errorf("%s is two kinds of keyword", w)
				}
				seen[w] = kind
				if c := bot.Parse(strings.ToLower(w)); c.Kind != kind || c.Keyword != w {
					t.Errorf("%s (%s): Parse = %+v", w, l.Code, c)
				}
			}
		}
	}
}

// TestKeywordLanguage: a word two languages share is the phone's when its
// language has it, else the first language's.
func TestKeywordLanguage(t *testing.T) {
	es, _ := bot.FindLanguage("es")
	pt, _ := bot.FindLanguage("pt")
	de, _ := bot.FindLanguage("de")
	for _, tt := range []struct {
		word  string
		phone bot.Language
		want  string
	}{
		{"PARAR", pt, "pt-BR"},
		{"PARAR", es, "es"},
		{"PARAR", bot.English, "es"},
		{"SAIR", es, "pt-BR"},
		{"HILFE", es, "de"},
		{"ARRET", de, "fr"},
	} {
		if got := bot.KeywordLanguage(tt.word, tt.phone).Code; got != tt.want {
			t.Errorf("KeywordLanguage(%s, %s) = %s, want %s", tt.word, tt.phone.Code, got, tt.want)
		}
	}
}

// TestTranslations_Complete lists every template a language lacks (a new
// English template needs a text in each), and names no template English
// does not have.
func TestTranslations_Complete(t *testing.T) {
	var missing []string
	for _, l := range bot.Languages[1:] {
		texts, ok := bot.Translations[l.Code]
		if !ok {
			t.Errorf("no translations for %s", l.Code)
			continue
		}
		for name := range bot.DefaultReplies {
			if texts[name] == "" {
				missing = append(missing, l.Code+"/"+name)
			}
		}
		for name := range texts {
			if _, ok := bot.DefaultReplies[name]; !ok {
				t.Errorf("%s has a text for %q, which is not a template", l.Code, name)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("templates without a text (English is sent meanwhile):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(bot.Translations) != len(bot.Languages)-1 {
		t.Errorf("%d translations for %d languages besides English", len(bot.Translations), len(bot.Languages)-1)
	}
}

// TestReplies_EveryLanguageOneSegment renders every template in every
// language with sample data and a public URL host of 40 characters: each
// fits one SMS segment (160 GSM-7 characters, or 70 in UCS-2).
func TestReplies_EveryLanguageOneSegment(t *testing.T) {
	if n := len(bot.SampleHost); n != 40 {
		t.Fatalf("the sample host has %d characters", n)
	}
	r, warnings, err := bot.NewLocalReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w)
	}
	for _, l := range bot.Languages {
		for name := range bot.DefaultReplies {
			for _, left := range []int{1, 4} {
				d := bot.SampleReplyData
				d.Left = left
				s, err := r.RenderIn(l, name, d)
				if err != nil {
					t.Fatalf("%s/%s: %v", l.Code, name, err)
				}
				if n := bot.Segments(s); n != 1 {
					t.Errorf("%s/%s is %d segments (%s, %d characters): %s", l.Code, name, n, bot.Encoding(s), len([]rune(s)), s)
				}
				if !strings.HasPrefix(s, "smsbot: ") {
					t.Errorf("%s/%s does not start with the program name: %s", l.Code, name, s)
				}
				if l.Code != "en" && s == mustRender(t, r, bot.English, name, d) {
					t.Errorf("%s/%s is the English text", l.Code, name)
				}
			}
		}
	}
	// The link carries the URL whole, in every language.
	for _, l := range bot.Languages {
		if s := mustRender(t, r, l, bot.ReplyLink, bot.SampleReplyData); !strings.Contains(s, bot.SampleReplyData.URL+" ") {
			t.Errorf("%s/link does not carry the URL followed by a space: %s", l.Code, s)
		}
	}
}

func mustRender(t *testing.T, r *bot.Replies, l bot.Language, name string, d bot.ReplyData) string {
	t.Helper()
	s, err := r.RenderIn(l, name, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNewLocalReplies_Overrides: an operator's templates per language,
// checked like the built-in ones; a language or template that does not
// exist is refused.
func TestNewLocalReplies_Overrides(t *testing.T) {
	es, _ := bot.FindLanguage("es")
	de, _ := bot.FindLanguage("de")
	r, warnings, err := bot.NewLocalReplies(bot.Overrides{
		"es": {bot.ReplyHint: "{{.Name}}: manda S, amigo."},
		"PT": {bot.ReplyHint: "{{.Name}}: mande S."},
		"en": {bot.ReplyHint: "{{.Name}}: text S."},
	})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("%v %v", warnings, err)
	}
	pt, _ := bot.FindLanguage("pt")
	for _, tt := range []struct {
		l    bot.Language
		want string
	}{{es, "x: manda S, amigo."}, {pt, "x: mande S."}, {bot.English, "x: text S."}} {
		if got := mustRender(t, r, tt.l, bot.ReplyHint, bot.ReplyData{Name: "x"}); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.l.Code, got, tt.want)
		}
	}
	// The other templates and languages keep their built-in texts.
	if got := mustRender(t, r, de, bot.ReplyHint, bot.ReplyData{Name: "x"}); got != "x: S zum Abonnieren, H für Hilfe." {
		t.Errorf("de: %q", got)
	}
	if got := mustRender(t, r, es, bot.ReplyUnknown, bot.ReplyData{Name: "x"}); !strings.Contains(got, "comando desconocido") {
		t.Errorf("es unknown: %q", got)
	}
	// Flat English overrides still work.
	if r, _, err := bot.NewReplies(map[string]string{bot.ReplyHint: "{{.Name}}: S!"}); err != nil || mustRender(t, r, bot.English, bot.ReplyHint, bot.ReplyData{Name: "x"}) != "x: S!" {
		t.Errorf("flat override: %v", err)
	}
	for name, o := range map[string]bot.Overrides{
		"unknown language":      {"it": {bot.ReplyHint: "x"}},
		"a region":              {"es-MX": {bot.ReplyHint: "x"}},
		"a language twice":      {"pt": {bot.ReplyHint: "x"}, "pt-BR": {bot.ReplyHint: "y"}},
		"unknown template":      {"fr": {"nope": "x"}},
		"bad template":          {"de": {bot.ReplyHint: "{{.Name"}},
		"unknown field":         {"es": {bot.ReplyHint: "{{.Nombre}}"}},
		"over 1,600 characters": {"fr": {bot.ReplyHint: strings.Repeat("é", 1601)}},
	} {
		if _, _, err := bot.NewLocalReplies(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Over one segment: a warning that names the language and encoding.
	_, warnings, err = bot.NewLocalReplies(bot.Overrides{"pt-BR": {bot.ReplyHint: strings.Repeat("ã", 71)}})
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "pt-BR/hint") || !strings.Contains(warnings[0], "UCS-2") {
		t.Fatalf("71 UCS-2 characters: %v %v", warnings, err)
	}
}

// TestNewLocalReplies_MissingTranslation: a template a language lacks is
// sent in English, and the load warns about it.
func TestNewLocalReplies_MissingTranslation(t *testing.T) {
	fr := bot.Translations["fr"]
	saved := fr[bot.ReplyHint]
	delete(fr, bot.ReplyHint)
	t.Cleanup(func() { fr[bot.ReplyHint] = saved })
	r, warnings, err := bot.NewLocalReplies(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "hint has no Français text (fr)") {
		t.Errorf("warnings %q", warnings)
	}
	l, _ := bot.FindLanguage("fr")
	if got := mustRender(t, r, l, bot.ReplyHint, bot.ReplyData{Name: "x"}); got != "x: send S to subscribe, H for help." {
		t.Errorf("fr/hint without a text: %q", got)
	}
}
