package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// Language is a language the bot speaks: its replies, its web pages and
// the keywords people text in it.
type Language struct {
	Tag  language.Tag
	Code string // the BCP 47 tag: the key in SMSBOT_TEMPLATES and the README
	Word string // what LANG takes and lists: "ES"
	Name string // its name in itself: "Español"
	// Names are other words LANG takes for it, matched like keywords.
	Names []string
	// Stop, Start and Help are the keywords smsbot honours itself in this
	// language, matched on the whole text with accents and case ignored.
	// Twilio handles only the English ones (see parse.go), so smsbot
	// answers these itself.
	Stop, Start, Help []string
	// HelpNoun and Rates are "help" and "Msg & data rates may apply" in
	// this language: carriers want both in every HELP reply.
	HelpNoun, Rates string
}

// Languages are the languages the bot speaks. English comes first: it is
// the fallback for any other language, and for a template or page string
// a language lacks.
var Languages = []Language{
	{
		Tag: language.English, Code: "en", Word: "EN", Name: "English",
		Names:    []string{"ENGLISH", "INGLES", "ANGLAIS", "ENGLISCH"},
		HelpNoun: "help", Rates: "Msg & data rates may apply",
	},
	{
		Tag: language.Spanish, Code: "es", Word: "ES", Name: "Español",
		Names:    []string{"ESPANOL", "CASTELLANO", "SPANISH"},
		Stop:     []string{"PARAR", "ALTO", "BAJA", "CANCELAR", "DETENER"},
		Start:    []string{"COMENZAR", "INICIAR", "REANUDAR"},
		Help:     []string{"AYUDA"},
		HelpNoun: "ayuda", Rates: "Pueden aplicarse tarifas de mensajes y datos",
	},
	{
		Tag: language.BrazilianPortuguese, Code: "pt-BR", Word: "PT", Name: "Português",
		Names:    []string{"PORTUGUES", "PORTUGUESE"},
		Stop:     []string{"SAIR", "PARAR", "CANCELAR", "DESCADASTRAR"},
		Start:    []string{"INICIAR", "VOLTAR", "RETOMAR"},
		Help:     []string{"AJUDA"},
		HelpNoun: "ajuda", Rates: "Podem ser cobradas tarifas de mensagens e dados",
	},
	{
		Tag: language.French, Code: "fr", Word: "FR", Name: "Français",
		Names:    []string{"FRANCAIS", "FRENCH"},
		Stop:     []string{"ARRET", "ARRETER", "DESABONNER", "DESINSCRIRE"},
		Start:    []string{"DEMARRER", "REPRENDRE"},
		Help:     []string{"AIDE"},
		HelpNoun: "aide", Rates: "Des frais de SMS et de données peuvent s'appliquer",
	},
	{
		Tag: language.German, Code: "de", Word: "DE", Name: "Deutsch",
		Names:    []string{"DEUTSCH", "GERMAN"},
		Stop:     []string{"STOPP", "ABMELDEN", "ABBESTELLEN", "BEENDEN"},
		Start:    []string{"STARTEN", "FORTSETZEN"},
		Help:     []string{"HILFE"},
		HelpNoun: "hilfe", Rates: "Es können Gebühren für SMS und Daten anfallen",
	},
}

// English is the fallback language.
var English = Languages[0]

// languageMatcher matches a wanted language to one of Languages.
var languageMatcher = language.NewMatcher(languageTags())

func languageTags() []language.Tag {
	tags := make([]language.Tag, len(Languages))
	for i, l := range Languages {
		tags[i] = l.Tag
	}
	return tags
}

// MatchLanguage returns the language of Languages that serves want best,
// and whether it serves it at all: English, false when none does (an
// unknown or unsupported language).
func MatchLanguage(want ...language.Tag) (Language, bool) {
	_, i, conf := languageMatcher.Match(want...)
	if conf < language.High {
		return English, false
	}
	return Languages[i], true
}

// LanguageOf returns the language the bot speaks for a stored or wanted
// language tag such as "es-MX" ("" or an unknown tag: English).
func LanguageOf(tag string) Language {
	if i, ok := knownTags[tag]; ok {
		return Languages[i]
	}
	return matchTag(tag)
}

// knownTags are the tags nearly every phone has stored (a language's
// code, a country's tag of countryLanguages, "" for none), each with the
// index in Languages of the language matchTag finds for it: every text
// asks for its phone's language, and parsing and matching its tag again
// each time costs a microsecond.
var knownTags = func() map[string]int {
	m := map[string]int{}
	add := func(tag string) {
		l := matchTag(tag)
		for i := range Languages {
			if Languages[i].Code == l.Code {
				m[tag] = i
			}
		}
	}
	add("")
	for _, l := range Languages {
		add(l.Code)
	}
	for _, tag := range countryLanguages {
		add(tag)
	}
	return m
}()

// matchTag is LanguageOf without knownTags.
func matchTag(tag string) Language {
	t, err := language.Parse(tag)
	if err != nil {
		return English
	}
	l, _ := MatchLanguage(t)
	return l
}

// FindLanguage reads what a person or an operator names a language by: a
// tag ("es", "pt-BR", "PT", "es-MX"), or its name ("español",
// "Deutsch"), accents and case ignored. It reports false for a language
// the bot does not speak.
func FindLanguage(s string) (Language, bool) {
	w := Fold(strings.TrimSpace(s))
	if w == "" {
		return Language{}, false
	}
	for _, l := range Languages {
		if w == l.Word || w == Fold(l.Name) || contains(l.Names, w) {
			return l, true
		}
	}
	t, err := language.Parse(s)
	if err != nil {
		return Language{}, false
	}
	return MatchLanguage(t)
}

// Fold is how keywords are compared: upper case, accents dropped
// ("arrêt" is ARRET).
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, norm.NFD.String(s)))
}

// Where a phone's language came from (Phone.LanguageSource).
const (
	LanguageFromCountry = "country" // picked from the country calling code at the first text
	LanguageChosen      = "chosen"  // the person sent LANG
	LanguageFromAccount = "account" // the identity provider's locale claim, after a login
)

// countryLanguages maps country calling codes (and the NANP area codes of
// Spanish-speaking countries and territories) to the language most people
// there read. A code not listed gets English. Countries where no one
// language is read by most people (Belgium, Canada, Luxembourg, ...) are
// left out on purpose: LANG changes the choice.
var countryLanguages = map[string]string{
	"1": "en-US",
	// NANP members that speak Spanish: Puerto Rico, the Dominican Republic.
	"1787": "es-PR", "1939": "es-PR", "1809": "es-DO", "1829": "es-DO", "1849": "es-DO",
	"34": "es-ES", "52": "es-MX", "53": "es-CU", "54": "es-AR", "56": "es-CL", "57": "es-CO",
	"58": "es-VE", "51": "es-PE", "591": "es-BO", "593": "es-EC", "595": "es-PY", "598": "es-UY",
	"502": "es-GT", "503": "es-SV", "504": "es-HN", "505": "es-NI", "506": "es-CR", "507": "es-PA",
	"240": "es-GQ",
	"55":  "pt-BR", "351": "pt-PT", "244": "pt-AO", "258": "pt-MZ", "238": "pt-CV", "245": "pt-GW",
	"239": "pt-ST", "670": "pt-TL",
	"33": "fr-FR", "377": "fr-MC", "262": "fr-RE", "590": "fr-GP", "594": "fr-GF", "596": "fr-MQ",
	"687": "fr-NC", "689": "fr-PF", "508": "fr-PM", "509": "fr-HT", "221": "fr-SN", "225": "fr-CI",
	"223": "fr-ML", "226": "fr-BF", "227": "fr-NE", "228": "fr-TG", "229": "fr-BJ", "224": "fr-GN",
	"235": "fr-TD", "236": "fr-CF", "237": "fr-CM", "241": "fr-GA", "242": "fr-CG", "243": "fr-CD",
	"253": "fr-DJ", "257": "fr-BI", "261": "fr-MG", "269": "fr-KM",
	"49": "de-DE", "43": "de-AT", "41": "de-CH", "423": "de-LI",
}

// CountryLanguage returns the language tag for an E.164 number's country
// calling code ("+5215512345678" is es-MX), "en-US" when the code is not
// in the table. The longest code that matches wins: +1 787 is Puerto
// Rico, +1 elsewhere.
func CountryLanguage(phone string) string {
	digits := strings.TrimPrefix(phone, "+")
	for n := min(4, len(digits)); n > 0; n-- {
		if tag, ok := countryLanguages[digits[:n]]; ok {
			return tag
		}
	}
	return "en-US"
}

// Lang returns the language the bot speaks to the phone: its stored
// language, or the one of its country calling code while none is stored.
func (p *Phone) Lang() Language {
	if p.Language == "" {
		return LanguageOf(CountryLanguage(p.Number))
	}
	return LanguageOf(p.Language)
}

// TwilioKeywords are the keywords Twilio itself acts on (and answers) on
// long codes and toll-free numbers: English only.
func TwilioKeywords() (stop, start, help []string) {
	return append([]string(nil), stopWords...), append([]string(nil), startWords...), append([]string(nil), helpWords...)
}

// CountryLanguages returns the country calling code table: calling code
// (with the area code inside +1) to language tag.
func CountryLanguages() map[string]string {
	m := make(map[string]string, len(countryLanguages))
	for k, v := range countryLanguages {
		m[k] = v
	}
	return m
}
