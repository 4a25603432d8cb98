package bot

import (
	"strings"
	"unicode/utf8"
)

// Kind is what an inbound text asks for.
type Kind int

// The kinds of inbound text.
const (
	KindOther       Kind = iota // anything else: a command for the registry, or noise
	KindSubscribe               // S
	KindHelp                    // H: ours, always answered
	KindCarrierHelp             // HELP, INFO: the carrier's help keywords
	KindStop                    // STOP and its synonyms
	KindStart                   // START and its synonyms
	KindUnsubscribe             // U
	KindCode                    // six digits, spaces or dashes allowed inside
	KindLanguage                // LANG, LANG ES: list or change the language
	KindLink                    // LINK and a web code, or a bare web code (Command.Bare)
)

// Command is a parsed inbound text.
type Command struct {
	Kind Kind
	// Code is, for KindCode, the six digits; for KindLink, the web code
	// in canonical form, or "" when what follows LINK is not a code.
	Code string
	Text string // the text, trimmed
	// Keyword is a STOP, START or HELP word of another language than
	// English ("PARAR"), folded: Twilio does not know it, so smsbot
	// answers it itself, in that language. "" for Twilio's own words.
	Keyword string
	Arg     string // KindLanguage: the language asked for; "" to list them
	// Bare is a KindLink that is the code alone, without the LINK word.
	// Only a phone that is not subscribed may use it: a subscribed
	// phone's other texts are commands.
	Bare bool
}

// LinkWord starts a text that carries a web code: "LINK 4K7Q-9M2P".
const LinkWord = "LINK"

// The carrier keywords Twilio acts on for long codes and toll-free numbers.
var (
	stopWords  = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
	startWords = []string{"START", "YES", "UNSTOP"}
	helpWords  = []string{"HELP", "INFO"}
)

// MaxBodyRunes is the longest text the bot reads; the rest is ignored.
const MaxBodyRunes = 1600

// langWords start a LANG command in each language.
var langWords = []string{"LANG", "LANGUAGE", "IDIOMA", "LANGUE", "SPRACHE"}

// Parse reads an inbound text. Keywords match the whole text, trimmed and
// in any case, as carriers match them: "S" is never START, "stop now" is
// not STOP. The keywords of other languages (Languages) match with accents
// ignored too: ARRÊT is ARRET.
func Parse(body string) Command {
	text := strings.TrimSpace(strings.ToValidUTF8(body, "\uFFFD"))
	if utf8.RuneCountInString(text) > MaxBodyRunes {
		text = string([]rune(text)[:MaxBodyRunes])
	}
	word := strings.ToUpper(text)
	c := Command{Text: text}
	switch {
	case word == "S":
		c.Kind = KindSubscribe
	case word == "H":
		c.Kind = KindHelp
	case word == "U":
		c.Kind = KindUnsubscribe
	case contains(stopWords, word):
		c.Kind = KindStop
	case contains(startWords, word):
		c.Kind = KindStart
	case contains(helpWords, word):
		c.Kind = KindCarrierHelp
	default:
		if k, ok := localKeyword(text); ok {
			c.Kind, c.Keyword = k, Fold(text)
			return c
		}
		if f := strings.Fields(text); len(f) <= 2 && len(f) > 0 && contains(langWords, Fold(f[0])) {
			c.Kind = KindLanguage
			if len(f) == 2 {
				c.Arg = f[1]
			}
			return c
		}
		if code, ok := ParseCode(text); ok {
			c.Kind, c.Code = KindCode, code
		} else if rest, ok := cutLinkWord(word); ok {
			c.Kind = KindLink
			c.Code, _ = ParseWebCode(rest)
		} else if code, ok := ParseWebCode(text); ok {
			c.Kind, c.Code, c.Bare = KindLink, code, true
		}
	}
	return c
}

// cutLinkWord returns what follows LinkWord when word (upper case) starts
// with it as a word of its own.
func cutLinkWord(word string) (string, bool) {
	rest, ok := strings.CutPrefix(word, LinkWord)
	if !ok {
		return "", false
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n' && rest[0] != ':' {
		return "", false
	}
	return strings.TrimLeft(rest, " \t\r\n:"), true
}

// ParseCode reads a six-digit code, allowing spaces and dashes between the
// digits ("482 913", "482-913").
func ParseCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			if b.Len() == CodeDigits {
				return "", false
			}
			b.WriteRune(r)
		case r == ' ' || r == '-':
		default:
			return "", false
		}
	}
	if b.Len() != CodeDigits {
		return "", false
	}
	return b.String(), true
}

// localKeyword reads a STOP, START or HELP word of one of Languages.
func localKeyword(text string) (Kind, bool) {
	if utf8.RuneCountInString(text) > 20 {
		return KindOther, false // no keyword is that long
	}
	w := Fold(text)
	for _, l := range Languages {
		switch {
		case contains(l.Stop, w):
			return KindStop, true
		case contains(l.Start, w):
			return KindStart, true
		case contains(l.Help, w):
			return KindCarrierHelp, true
		}
	}
	return KindOther, false
}

// KeywordLanguage returns the language of a keyword of another language
// than English: the phone's own when the word is one of its language's
// (PARAR is Spanish and Portuguese), else the first language that has
// it.
func KeywordLanguage(word string, phone Language) Language {
	has := func(l Language) bool {
		return contains(l.Stop, word) || contains(l.Start, word) || contains(l.Help, word)
	}
	if has(phone) {
		return phone
	}
	for _, l := range Languages {
		if has(l) {
			return l
		}
	}
	return phone
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// ValidPhone reports whether s is an E.164 number: +, then 7 to 15 digits,
// the first not 0.
func ValidPhone(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MaskPhone hides all but the country prefix and the last four digits:
// +15555554567 becomes +1******4567. Logs carry only masked numbers.
func MaskPhone(s string) string {
	if len(s) < 8 {
		return strings.Repeat("*", len(s))
	}
	// In one buffer: the stars and the concatenation would be two
	// allocations for each text's log line.
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:2])
	for range len(s) - 6 {
		b.WriteByte('*')
	}
	b.WriteString(s[len(s)-4:])
	return b.String()
}

// LastFour returns the last four digits of a phone number.
func LastFour(s string) string {
	if len(s) < 4 {
		return s
	}
	return s[len(s)-4:]
}
