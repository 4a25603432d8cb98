package devphone

import "strings"

// Twilio's default replies to the carrier keywords on long codes.
const (
	OptOutReply = "You have successfully been unsubscribed. You will not receive any more messages from this number. Reply START to resubscribe."
	OptInReply  = "You have successfully been re-subscribed to messages from this number. Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
	HelpReply   = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)

// keyword is a kind of carrier keyword.
type keyword int

const (
	notKeyword keyword = iota
	optOutKeyword
	optInKeyword
	helpKeyword
)

// keywords are Twilio's default opt-out, opt-in and help keywords
// (Advanced Opt-Out defaults, which add OPTOUT and REVOKE).
var keywords = map[string]keyword{
	"STOP": optOutKeyword, "STOPALL": optOutKeyword, "UNSUBSCRIBE": optOutKeyword, "CANCEL": optOutKeyword,
	"END": optOutKeyword, "QUIT": optOutKeyword, "OPTOUT": optOutKeyword, "REVOKE": optOutKeyword,
	"START": optInKeyword, "YES": optInKeyword, "UNSTOP": optInKeyword,
	"HELP": helpKeyword, "INFO": helpKeyword,
}

// classify tells whether body is a carrier keyword: the whole message,
// one word, any case, surrounding spaces ignored ("STOP please" is not).
func classify(body string) keyword {
	return keywords[strings.ToUpper(strings.TrimSpace(body))]
}

// carrierReply does what Twilio does on its own when phone texts a
// keyword, before forwarding the text to the bot: record the opt-out or
// opt-in and answer with Twilio's default reply. An opt-in keyword is
// answered only when the phone was opted out, and HELP only when it is
// not.
func (p *Phone) carrierReply(phone, body string) (Entry, bool) {
	t := p.opts.Twilio
	if t == nil {
		return Entry{}, false
	}
	var text string
	switch classify(body) {
	case optOutKeyword:
		t.OptOut(phone)
		text = OptOutReply
	case optInKeyword:
		if !t.OptedOut(phone) {
			return Entry{}, false
		}
		t.OptIn(phone)
		text = OptInReply
	case helpKeyword:
		if t.OptedOut(phone) {
			return Entry{}, false
		}
		text = HelpReply
	default:
		return Entry{}, false
	}
	p.log.Info("dev phone: carrier keyword", "from", mask(phone), "keyword", strings.ToUpper(strings.TrimSpace(body)))
	return Entry{
		ID:        newSID("SM"),
		Phone:     phone,
		Direction: "out",
		Source:    SourceTwilio,
		Body:      text,
		Time:      p.now(),
		Status:    "delivered",
		Channel:   "sms",
	}, true
}
