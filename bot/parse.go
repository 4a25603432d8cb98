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
	KindLink                    // LINK and a web code, or a bare web code (Command.Bare)
)

// Command is a parsed inbound text.
type Command struct {
	Kind Kind
	// Code is, for KindCode, the six digits; for KindLink, the web code
	// in canonical form, or "" when what follows LINK is not a code.
	Code string
	Text string // the text, trimmed
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

// Parse reads an inbound text. Keywords match the whole text, trimmed and
// in any case, as carriers match them: "S" is never START, "stop now" is
// not STOP.
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
	return s[:2] + strings.Repeat("*", len(s)-6) + s[len(s)-4:]
}

// LastFour returns the last four digits of a phone number.
func LastFour(s string) string {
	if len(s) < 4 {
		return s
	}
	return s[len(s)-4:]
}
